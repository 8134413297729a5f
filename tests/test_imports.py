"""Importing UCDP GED and ACLED exports: both doors, the mapping, re-import, refusals.

The fixtures (tests/data/imports/) are written from the codebooks: every code of every
precision column, the untidy cases real releases hold, and rows that cannot be events.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import psycopg
import pytest
from conftest import bearer

DATA = Path(__file__).parent / "data" / "imports"
GED = DATA / "ucdp-ged.csv"
ACLED = DATA / "acled.csv"
IMPORTS = "/v1/imports"


def _import(runner, dataset: str, path: Path | str, *extra: str, input=None):
    result = runner.invoke(args=["import", dataset, str(path), "--json", *extra], input=input)
    return result, json.loads(result.output) if result.output.startswith("{") else None


def _event(client, identifier: str) -> dict:
    (event,) = client.get("/v1/events", query_string={"identifier": identifier}).get_json()["items"]
    return event


def _ged(client, ged_id: int) -> dict:
    return _event(client, f"ucdp-ged:{ged_id}")


def _counts(database_url: str) -> tuple[int, int]:
    """(events, revisions): every revision is one change-feed entry."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_revisions)"
        ).fetchone()


def _problems(summary: dict, kind: str) -> dict[int, tuple[str, str]]:
    return {item["line"]: (item["field"], item["reason"]) for item in summary[f"{kind}_rows"]}


def _rewritten(source: Path, target: Path, change) -> Path:
    """``source`` with ``change(row)`` applied to every row, written to ``target``."""
    with source.open(newline="") as file:
        reader = csv.DictReader(file)
        rows = [change(row) or row for row in reader]
        header = reader.fieldnames
    with target.open("w", newline="") as file:
        writer = csv.DictWriter(file, header)
        writer.writeheader()
        writer.writerows(rows)
    return target


# -- the command, UCDP GED ----------------------------------------------------------------


def test_ged_import_stores_the_good_rows_and_names_each_rejected_line(runner, client):
    result, summary = _import(runner, "ucdp-ged", GED)
    assert result.exit_code == 1  # rows were rejected
    assert {key: summary[key] for key in ("rows_read", "created", "rejected")} == {
        "rows_read": 25,
        "created": 20,
        "rejected": 5,
    }
    # Line numbers are the file's: the row with a two-line cell (line 20) moves the rest.
    assert _problems(summary, "rejected") == {
        23: ("date_start", "missing: a date is required"),
        24: ("type_of_violence", "unknown code 4 (1, 2 or 3)"),
        25: ("best", "not a number: 'many'"),
        26: ("where_prec", "unknown code 9 (1 to 7)"),
        27: ("date_start", "not a date (YYYY-MM-DD): '2023-02-30'"),
    }
    assert client.get("/v1/events", query_string={"limit": 100}).get_json()["items"]
    assert len(client.get("/v1/events?limit=100").get_json()["items"]) == 20


def test_ged_untidy_rows_are_imported_with_a_warning_naming_line_and_column(runner):
    _, summary = _import(runner, "ucdp-ged", GED)
    warnings = _problems(summary, "warning")
    assert warnings[10][0] == "best" and "high taken as 12" in warnings[10][1]
    assert warnings[11][0] == "best" and "low taken as 2" in warnings[11][1]
    assert warnings[12][0] == "source_office" and "UCDP itself" in warnings[12][1]
    assert warnings[15][0] == "date_end" and "swapped" in warnings[15][1]
    assert warnings[17][0] == "country" and "DR Congo (Zaire)" in warnings[17][1]
    assert warnings[19][0] == "side_a" and "spelled" in warnings[19][1]
    assert summary["warnings"] == len(warnings) == 6


@pytest.mark.parametrize(
    ("ged_id", "dates"),
    [
        (900001, {"date": "2023-05-02"}),  # date_prec 1: the day
        (900002, {"date": "2023-05-03", "end_date": "2023-05-06"}),  # 2: a few days
        (900003, {"date": "2023-05-08", "end_date": "2023-05-14"}),  # 3: a week
        (900004, {"date": "2023-05"}),  # 4: the whole month keeps month precision
        (900005, {"date": "2023"}),  # 5: the whole year keeps year precision
        (900006, {"date": "2023-05-10", "end_date": "2023-05-20"}),  # 4, part of a month
        (900007, {"date": "2023-02-01", "end_date": "2023-06-30"}),  # 5, months
        (900008, {"date": "2023-05-02"}),  # YYYY-MM-DD HH:MM:SS.fff
        (900014, {"date": "2023-05-07", "end_date": "2023-05-09"}),  # reversed: swapped
    ],
)
def test_ged_dates_keep_their_span_and_precision(runner, client, ged_id, dates):
    _import(runner, "ucdp-ged", GED)
    event = _ged(client, ged_id)
    assert {key: event[key] for key in ("date", "end_date") if key in event} == dates


@pytest.mark.parametrize(
    ("ged_id", "precision"),
    [
        (900001, "exact"),
        (900002, "near"),
        (900003, "district"),
        (900004, "region"),
        (900005, "area"),
        (900006, "country"),
        (900007, "international"),
    ],
)
def test_ged_where_prec_maps_to_location_precision(runner, client, ged_id, precision):
    _import(runner, "ucdp-ged", GED)
    assert _ged(client, ged_id)["location"]["precision"] == precision


def test_ged_state_based_row_is_a_combat_between_its_sides(runner, client):
    _import(runner, "ucdp-ged", GED)
    event = _ged(client, 900001)
    assert event["type"] == "combat"
    assert event["key"] == "ucdp-ged-900001"
    assert event["identifiers"] == [
        {"scheme": "ucdp-ged", "value": "900001"},
        {"scheme": "ucdp-ged-relid", "value": "X-900001"},
    ]
    assert [(a["name"], a["kind"], a["role"], a.get("country")) for a in event["actors"]] == [
        ("Government of Russia (Soviet Union)", "state", "side_a", "RU"),
        ("Government of Ukraine", "state", "side_b", "UA"),
    ]
    assert event["actors"][0]["identifiers"] == [{"scheme": "ucdp-actor", "value": "57"}]
    assert event["location"] == {
        "name": "Bakhmut town",
        "region": "Bakhmutskyi raion, Donetsk oblast",
        "country": "UA",
        "lat": 48.5956,
        "lon": 38.0002,
        "precision": "exact",
    }
    details = event["details"]
    assert details["belligerents"] == ["RU", "UA"]
    assert details["casualties"]["killed"] == {"value": 6, "min": 5, "max": 8, "unit": "people"}
    assert [(p["party"], p["killed"]["value"], p.get("population")) for p in
            details["casualties"]["by_party"]] == [
        ("Government of Russia (Soviet Union)", 2, None),
        ("Government of Ukraine", 3, None),
        ("Civilians", 1, "civilian"),
        ("Unknown", 0, "unknown"),
    ]  # fmt: skip
    assert event["sources"] == [
        {
            "publisher": "Reuters",
            "published": "2023-05-02",
            "headline": "Shelling hits town",
            "attributed_to": ["Local officials"],
        }
    ]
    assert {"ucdp-conflict:13243", "ucdp-dyad:15928", "ucdp-clarity:high"} <= set(event["tags"])


def test_ged_one_sided_row_is_an_attack_on_civilians(runner, client):
    _import(runner, "ucdp-ged", GED)
    event = _ged(client, 900017)
    assert event["type"] == "attack"
    assert [(a["name"], a["role"]) for a in event["actors"]] == [
        ("IS", "attacker"),
        ("Civilians", "target"),
    ]
    assert event["details"]["target"] == "civilians"
    assert event["details"]["casualties"]["killed"] == {
        "value": 9,
        "min": 9,
        "max": 11,
        "unit": "people",
    }
    parties = [p["party"] for p in event["details"]["casualties"]["by_party"]]
    assert parties == ["IS", "Civilians", "Unknown"]  # no deaths_b for one-sided violence


def test_ged_untidy_values_are_normalised_as_documented(runner, client):
    _import(runner, "ucdp-ged", GED)
    assert _ged(client, 900009)["details"]["casualties"]["killed"] == {
        "value": 12,
        "min": 5,
        "max": 12,
        "unit": "people",
    }
    assert _ged(client, 900011)["sources"] == [
        {
            "publisher": "UCDP",
            "kind": "other",
            "headline": "UCDP GED event 900011",
            "url": "https://ucdp.uu.se/downloads/index.html#ged_global",
        }
    ]
    assert _ged(client, 900016)["location"]["country"] == "CD"
    # One actor id, one spelling: the variant on line 19 takes the first one met.
    assert _ged(client, 900018)["actors"][0]["name"] == "Government of Russia (Soviet Union)"
    assert "ucdp-clarity:lower" in _ged(client, 900013)["tags"]


def test_ged_sources_are_aligned_by_position(runner, client):
    _import(runner, "ucdp-ged", GED)
    sources = _ged(client, 900012)["sources"]
    assert [(s["publisher"], s["published"], s["headline"]) for s in sources] == [
        ("Reuters", "2023-05-02", "Shelling hits town"),
        ("Kyiv Independent", "2023-05-03", "Two killed in overnight attack"),
    ]
    assert sources[0]["attributed_to"] == ["Local officials", "Ukrainian army"]


# -- re-import and change -----------------------------------------------------------------


def test_importing_the_same_file_again_writes_nothing(runner, client, database_url):
    _import(runner, "ucdp-ged", GED)
    before = _counts(database_url)
    feed = client.get("/v1/changes", query_string={"limit": 1000}).get_json()["items"]
    _, summary = _import(runner, "ucdp-ged", GED)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 20)
    assert _counts(database_url) == before
    assert client.get("/v1/changes", query_string={"limit": 1000}).get_json()["items"] == feed


def test_a_changed_row_makes_one_revision_and_one_change(runner, client, database_url, tmp_path):
    _import(runner, "ucdp-ged", GED)
    events, revisions = _counts(database_url)
    changed = _rewritten(
        GED,
        tmp_path / "changed.csv",
        lambda row: row.update(best="7") if row["id"] == "900001" else None,
    )
    _, summary = _import(runner, "ucdp-ged", changed)
    assert (summary["updated"], summary["unchanged"]) == (1, 19)
    assert _counts(database_url) == (events, revisions + 1)
    event = _ged(client, 900001)
    assert event["version"] == 2
    assert event["details"]["casualties"]["killed"]["value"] == 7
    (change,) = client.get("/v1/changes", query_string={"limit": 1000}).get_json()["items"][
        revisions:
    ]
    assert (change["event_id"], change["version"]) == (event["id"], 2)


def test_rows_imported_again_as_they_are_are_neither_validated_nor_written(
    runner, database_url, monkeypatch
):
    from service.imports import runner as import_runner

    _import(runner, "ucdp-ged", GED)
    before = _counts(database_url)
    validated = []
    real = import_runner.load_event
    monkeypatch.setattr(import_runner, "load_event", lambda raw: validated.append(raw) or real(raw))
    result = runner.invoke(args=["import", "ucdp-ged", str(GED), "--jobs", "1"])
    assert validated == []  # the 20 stored rows were compared, not validated again
    assert "nothing written" in result.output
    assert "0 created, 0 updated, 20 unchanged" in result.output
    assert _counts(database_url) == before


def test_a_row_repeated_in_a_later_batch_validated_ahead_is_written_in_file_order(
    app, client, database_url
):
    """Batches are validated ahead of their write (--jobs 2): a later row whose event an
    earlier batch, not yet written, changes is compared with the store only once that
    batch is written, so the file's last row of an event wins, as in one process."""
    from service.imports import DATASETS
    from service.imports.runner import run_import
    from service.storage import event_store

    with GED.open(newline="") as file:
        rows = list(csv.DictReader(file))
    (row,) = [row for row in rows if row["id"] == "900001"]
    others = [other for other in rows if other["id"] != "900001"][:2]
    with app.app_context():
        store = event_store("import")
        first = run_import(store, DATASETS["ucdp-ged"], [(2, row)])
        assert first.created == 1
        # The stored event has best=6; the file changes it, then changes it back.
        changed = [(2, row | {"best": "7", "high": "8"}), *enumerate(others, start=3), (5, row)]
        summary = run_import(store, DATASETS["ucdp-ged"], changed, batch_rows=1, jobs=2)
    assert summary.updated >= 2, summary
    event = _ged(client, 900001)
    assert event["details"]["casualties"]["killed"]["value"] == 6
    assert event["version"] == 3


def test_a_row_of_an_event_deleted_through_the_api_stays_deleted(runner, client):
    _import(runner, "ucdp-ged", GED)
    assert client.delete(f"/v1/events/{_ged(client, 900001)['id']}").status_code == 204
    _, summary = _import(runner, "ucdp-ged", GED)
    assert (summary["left_deleted"], summary["unchanged"]) == (1, 19)


def test_a_dry_run_counts_as_a_real_run_and_writes_nothing(runner, database_url):
    result, summary = _import(runner, "ucdp-ged", GED, "--dry-run")
    assert summary["dry_run"] is True
    assert (summary["created"], summary["rejected"]) == (20, 5)
    assert _counts(database_url) == (0, 0)
    assert result.exit_code == 1


def test_an_import_killed_half_way_and_run_again_holds_every_row_once(database_url, tmp_path, app):
    """kill -9 during the import of 20,000 rows, then the same command again."""
    rows = 20_000
    with GED.open(newline="") as file:
        reader = csv.DictReader(file)
        template, header = next(reader), reader.fieldnames
    big = tmp_path / "big.csv"
    with big.open("w", newline="") as file:
        writer = csv.DictWriter(file, header)
        writer.writeheader()
        for number in range(rows):
            writer.writerow({**template, "id": str(1_000_000 + number), "relid": f"R-{number}"})
    env = {**os.environ, "DATABASE_URL": database_url, "DEVELOPMENT": "true"}
    command = [sys.executable, "-m", "flask", "--app", "service", "import", "ucdp-ged", str(big)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _counts(database_url)[0] < 2_000:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored = _counts(database_url)[0]
    assert 0 < stored < rows, "the kill came too late to test anything"
    again = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["created"] + summary["unchanged"] == rows
    assert summary["unchanged"] >= stored - 1_000  # a batch in flight was rolled back
    assert _counts(database_url) == (rows, rows)  # each once, each one revision


# -- refusals -----------------------------------------------------------------------------


def test_a_wrong_header_is_refused_naming_the_missing_columns(runner, database_url, tmp_path):
    acled_as_ged = tmp_path / "acled.csv"
    acled_as_ged.write_bytes(ACLED.read_bytes())
    result = runner.invoke(args=["import", "ucdp-ged", str(acled_as_ged)])
    assert result.exit_code == 2
    assert "refused, nothing written" in result.output
    assert "type_of_violence" in result.output and "side_a" in result.output
    assert _counts(database_url) == (0, 0)


def test_a_file_that_cannot_be_read_is_refused(runner, tmp_path):
    result = runner.invoke(args=["import", "acled", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2
    assert "cannot be read" in result.output


def test_a_zip_with_one_csv_a_gzip_and_standard_input_all_read(runner, tmp_path):
    archive = tmp_path / "ged.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(GED, "GEDEvent_v25_1.csv")
        zipped.writestr("README.txt", "not data")
    gzipped = tmp_path / "ged.csv.gz"
    gzipped.write_bytes(gzip.compress(GED.read_bytes()))
    results = [
        _import(runner, "ucdp-ged", archive)[1],
        _import(runner, "ucdp-ged", gzipped)[1],
        _import(runner, "ucdp-ged", "-", input=GED.read_bytes())[1],
    ]
    assert [(r["created"], r["unchanged"], r["rejected"]) for r in results] == [
        (20, 0, 5),
        (0, 20, 5),
        (0, 20, 5),
    ]


def test_a_zip_with_two_csv_files_is_refused(runner, tmp_path):
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(GED, "a.csv")
        zipped.write(GED, "b.csv")
    result = runner.invoke(args=["import", "ucdp-ged", str(archive)])
    assert result.exit_code == 2
    assert "exactly one .csv" in result.output


def test_a_clean_file_exits_zero_even_with_warnings(runner, tmp_path):
    clean = tmp_path / "clean.csv"
    lines = GED.read_text().splitlines(keepends=True)
    clean.write_text("".join(lines[:12]))  # header and the first rows, one with a warning
    result, summary = _import(runner, "ucdp-ged", clean)
    assert (summary["rejected"], summary["warnings"] > 0) == (0, True)
    assert result.exit_code == 0


# -- ACLED --------------------------------------------------------------------------------


def test_acled_import_round_trip(runner, client):
    result, summary = _import(runner, "acled", ACLED)
    assert result.exit_code == 1
    assert (summary["rows_read"], summary["created"], summary["rejected"]) == (26, 21, 5)
    assert _problems(summary, "rejected") == {
        24: ("event_date", "missing: a date is required"),
        25: ("event_type", "unknown event type 'Earthquakes'"),
        26: ("fatalities", "not a number: 'three'"),
        27: ("inter1", "unknown actor type '9' (1 to 8, or its name)"),
        28: ("geo_precision", "unknown code 4 (1, 2 or 3)"),
    }


@pytest.mark.parametrize(
    ("event_id", "kind", "detail"),
    [
        ("UKR90001", "combat", {"outcome": "Armed clash"}),
        ("UKR90004", "attack", {"tactic": "Air/drone strike", "target": "Civilians (Ukraine)"}),
        ("UKR90006", "attack", {"tactic": "Attack"}),
        ("UKR90008", "protest", {"form": "peaceful"}),
        ("UKR90009", "protest", {"form": "with_intervention"}),
        ("UKR90010", "protest", {"form": "excessive_force"}),
        ("UKR90012", "riot", {"form": "violent_demonstration"}),
        ("UKR90013", "riot", {"form": "mob_violence"}),
        ("UKR90014", "meeting", {"format": "negotiation", "outcome": "Agreement"}),
        ("UKR90015", "attack", {"tactic": "Looting/property destruction"}),
        (
            "UKR90016",
            "situation",
            {"subject": "UA", "aspect": "other", "description": "Headquarters or base established"},
        ),
    ],
)
def test_acled_event_types_map_to_kinds(runner, client, event_id, kind, detail):
    _import(runner, "acled", ACLED)
    event = _event(client, f"acled:{event_id}")
    assert event["type"] == kind
    assert {name: event["details"].get(name) for name in detail} == detail


@pytest.mark.parametrize(
    ("event_id", "crowd"),
    [
        ("UKR90008", {"value": 200, "approximate": True}),
        ("UKR90009", {"min": 50, "max": 100}),
        ("UKR90010", {"min": 1000}),
    ],
)
def test_acled_crowd_size_comes_from_tags(runner, client, event_id, crowd):
    _import(runner, "acled", ACLED)
    size = _event(client, f"acled:{event_id}")["details"]["crowd_size"]
    assert {name: size[name] for name in crowd} == crowd
    assert size["unit"] == "people"


@pytest.mark.parametrize(
    ("event_id", "dates", "precision"),
    [
        ("UKR90001", {"date": "2024-03-15"}, "town"),  # time 1, geo 1
        ("UKR90002", {"date": "2024-03-12", "end_date": "2024-03-18"}, "near"),  # 2, 2
        ("UKR90003", {"date": "2024-03"}, "region"),  # 3, 3
        ("UKR90017", {"date": "2025-05-16"}, "town"),  # "16 May 2025"
    ],
)
def test_acled_time_and_geo_precision(runner, client, event_id, dates, precision):
    _import(runner, "acled", ACLED)
    event = _event(client, f"acled:{event_id}")
    assert {key: event[key] for key in ("date", "end_date") if key in event} == dates
    assert event["location"]["precision"] == precision


def test_acled_actors_sources_and_tags(runner, client):
    _import(runner, "acled", ACLED)
    event = _event(client, "acled:UKR90004")
    assert event["key"] == "acled-ukr90004"
    assert [(a["name"], a["kind"], a["role"], a.get("country")) for a in event["actors"]] == [
        ("Military Forces of Russia (2000-)", "armed_force", "attacker", None),
        ("Civilians (Ukraine)", "group", "target", "UA"),
    ]
    assert [s["publisher"] for s in event["sources"]] == [
        "Ministry of Defence of Ukraine",
        "Kyiv Independent",
    ]
    assert event["location"]["region"] == "Avdiivska, Pokrovskyi, Donetsk"
    assert event["summary"].startswith("On 15 March 2024")
    assert event["details"]["casualties"]["killed"] == {"value": 5, "unit": "people"}
    assert {
        "acled-civilian-targeting:Civilian targeting",
        "acled-interaction:78",
        "acled-source-scale:National",
        "acled-disorder:Political violence",
    } <= set(event["tags"])
    associates = _event(client, "acled:UKR90011")["actors"]
    assert [(a["name"], a["role"]) for a in associates] == [
        ("Protesters (Ukraine)", "participant"),
        ("Women (Ukraine)", "with_participant"),
        ("Students (Ukraine)", "with_participant"),
    ]
    assert _event(client, "acled:UKR90018")["sources"][0]["publisher"] == "ACLED"
    assert _event(client, "acled:UKR90019")["location"]["country"] == "UA"


# -- search by identifier -----------------------------------------------------------------


def test_search_by_identifier_is_exact_and_repeatable(runner, client):
    _import(runner, "ucdp-ged", GED)
    _import(runner, "acled", ACLED)
    found = client.get(
        "/v1/events",
        query_string=[("identifier", "ucdp-ged:900001"), ("identifier", "acled:UKR90001")],
    ).get_json()["items"]
    assert sorted(event["key"] for event in found) == ["acled-ukr90001", "ucdp-ged-900001"]
    assert client.get("/v1/events?identifier=ucdp-ged:90000").get_json()["items"] == []


@pytest.mark.parametrize("value", ["900001", "UCDP:900001", "ucdp-ged:", "acled:A\x00B"])
def test_an_identifier_that_is_not_scheme_colon_value_is_400(client, value):
    response = client.get("/v1/events", query_string={"identifier": value})
    assert response.status_code == 400
    assert "identifier" in response.get_json()["errors"]


def test_an_event_written_through_the_api_can_carry_identifiers(client, created):
    from examples import example

    event = example("meeting", identifiers=[{"scheme": "wikidata", "value": "Q1"}])
    created(event)
    assert len(client.get("/v1/events?identifier=wikidata:Q1").get_json()["items"]) == 1
    twice = example(
        "meeting",
        identifiers=[{"scheme": "acled", "value": "X"}, {"scheme": "acled", "value": "X"}],
    )
    response = client.post("/v1/events", json=twice)
    assert response.status_code == 422
    assert "identifiers" in response.get_json()["errors"]


# -- over HTTP ----------------------------------------------------------------------------


def test_http_import_answers_the_summary_and_stores_the_rows(client):
    response = client.post(
        IMPORTS, query_string={"format": "ucdp-ged"}, data=GED.read_bytes(),
        content_type="text/csv",
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    summary = response.get_json()
    assert (summary["rows_read"], summary["created"], summary["rejected"]) == (25, 20, 5)
    assert summary["rejected_rows"][0] == {
        "line": 23,
        "field": "date_start",
        "reason": "missing: a date is required",
    }
    revisions = client.get(f"/v1/events/{_ged(client, 900001)['id']}/revisions").get_json()
    assert revisions["items"][0]["written_by"] == "test-writer"


def test_http_import_takes_gzip_content_encoding(client):
    response = client.post(
        IMPORTS,
        query_string={"format": "acled"},
        data=gzip.compress(ACLED.read_bytes()),
        headers={"Content-Type": "text/csv; charset=utf-8", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 21


def test_http_import_dry_run_writes_nothing(client, database_url):
    response = client.post(
        IMPORTS, query_string={"format": "acled", "dry_run": "true"}, data=ACLED.read_bytes(),
        content_type="text/csv",
    )  # fmt: skip
    assert response.get_json()["created"] == 21
    assert _counts(database_url) == (0, 0)


def test_http_wrong_header_is_400_naming_the_missing_columns(client, database_url):
    response = client.post(
        IMPORTS, query_string={"format": "ucdp-ged"}, data=ACLED.read_bytes(),
        content_type="text/csv",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    problem = response.get_json()
    assert "type_of_violence" in problem["detail"]
    assert problem["errors"]["type_of_violence"] == ["Missing column."]
    assert _counts(database_url) == (0, 0)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/json"}, 415),
        ({"Content-Type": "text/csv", "Content-Encoding": "br"}, 415),
        ({"Content-Type": "text/csv; charset=latin-1"}, 415),
    ],
)
def test_http_import_of_another_media_type_or_coding_is_415(client, headers, status):
    response = client.post(
        IMPORTS, query_string={"format": "acled"}, data=ACLED.read_bytes(), headers=headers
    )
    assert response.status_code == status
    assert response.content_type == "application/problem+json"


def test_http_import_over_the_size_limit_is_413(make_app, database_url):
    client = make_app(IMPORT_MAX_BODY_BYTES=1000).test_client()
    response = client.post(
        IMPORTS, query_string={"format": "acled"}, data=ACLED.read_bytes(),
        content_type="text/csv",
    )  # fmt: skip
    assert response.status_code == 413
    assert _counts(database_url) == (0, 0)


def test_http_import_decompressed_over_the_data_limit_is_413(make_app):
    client = make_app(IMPORT_MAX_DATA_BYTES=100_000).test_client()
    bomb = gzip.compress(ACLED.read_bytes() + b"\n" * 1_000_000)
    response = client.post(
        IMPORTS,
        query_string={"format": "acled"},
        data=bomb,
        headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 413


def test_http_import_body_that_is_not_gzip_is_400(client):
    response = client.post(
        IMPORTS,
        query_string={"format": "acled"},
        data=ACLED.read_bytes(),
        headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("query", [{}, {"format": "gdelt"}, {"format": "acled", "dry_run": "1"}])
def test_http_import_with_a_bad_query_is_400(client, query):
    response = client.post(IMPORTS, query_string=query, data=b"x", content_type="text/csv")
    assert response.status_code == 400


def test_http_import_needs_the_write_scope(client, anonymous):
    body = {"query_string": {"format": "acled"}, "data": b"", "content_type": "text/csv"}
    assert anonymous.post(IMPORTS, **body).status_code == 401
    assert client.post(IMPORTS, headers=bearer("test-reader"), **body).status_code == 403


def test_the_spec_documents_the_import(client):
    operation = client.get("/openapi.json").get_json()["paths"][IMPORTS]["post"]
    assert set(operation["responses"]) >= {"200", "400", "413", "415"}
    assert "text/csv" in operation["requestBody"]["content"]
    assert (
        io.StringIO(
            operation["requestBody"]["content"]["text/csv"]["examples"]["ucdp-ged"]["value"]
        )
        .readline()
        .startswith("id,relid")
    )

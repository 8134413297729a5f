"""The seed data and the `seed` command, against the real database and the HTTP API."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from schemas import Event
from service.seeding import SANDBOX_KEYS, SANDBOX_TO_DELETE, read_seed_file, seed_files
from service.storage import event_store
from service.storage.rows import client_view

REPOSITORY = Path(__file__).resolve().parent.parent
SEEDS = REPOSITORY / "seeds"
SEED_FILES = seed_files([SEEDS])
ARTICLE_SEED = SEEDS / "2025-07-13-ani-lavrov-visits-north-korea.yaml"
# The seed file as main held it before issue 11's corrections.
OLD_ARTICLE_SEED = REPOSITORY / "tests" / "data" / "seeds-before-issue-11.yaml"
SANDBOX_SEED = SEEDS / "sandbox.yaml"
ARTICLE_COUNT = 20
# The article's events and the docs page's sandbox.
SEEDED_COUNT = ARTICLE_COUNT + len(SANDBOX_KEYS)
PLANNED_DEPLOYMENT = "2025-07-north-korea-prepares-25000-30000-more-troops"
VISIT = "2025-07-11-lavrov-visits-north-korea"
KIM_MEETING = "2025-07-12-lavrov-meets-kim-jong-un"
CHOE_TALKS = "2025-07-12-lavrov-choe-son-hui-talks"
PRESS_CONFERENCE = "2025-07-12-lavrov-says-north-korea-backs-war-aims"
MISSILES = "2024-north-korea-sends-ballistic-missiles-to-russia"
SHELLS = "2024-north-korea-sends-artillery-shells-to-russia"
MANUALS = "2025-07-north-korean-artillery-manuals-translated-into-russian"
LOGISTICS = "2025-07-north-korea-russia-troop-ships-and-cargo-planes"
KURSK = "2024-north-korean-troops-fight-in-kursk"
SHORTAGES = "2025-07-russia-faces-frontline-shortages"
RELIANCE = "2025-07-russia-grows-more-reliant-on-north-korean-arms"
FIRST_ROUND = "2024-11-lavrov-choe-son-hui-talks-moscow"
PRAISE = "2024-11-lavrov-praises-close-military-contacts"
MINISTRY_PHOTO = "2025-07-12-russian-foreign-ministry-posts-lavrov-kim-photo"
MINISTRY = "Russian Ministry of Foreign Affairs"
ANI = {"publisher": "ANI", "kind": "news_agency", "published": "2025-07-13"}
CNN = {"name": "CNN", "kind": "broadcaster"}


@pytest.fixture(autouse=True)
def _elsewhere(monkeypatch, tmp_path):
    """``flask seed`` without a path reads the project's seeds/ whatever the working
    directory: these tests run from an empty one."""
    monkeypatch.delenv("SEEDS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)


def _raw_records():
    for path in SEED_FILES:
        for index, record in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))):
            yield pytest.param(record, id=record.get("key", f"{path.name}[{index}]"))


def _seed(app, *paths):
    """Run ``flask seed`` with ``paths`` (none: the default seeds/ folder)."""
    return app.test_cli_runner().invoke(args=["seed", *map(str, paths)])


def _events_by_key(client, source_ids: bool = False) -> dict[str, dict]:
    """Every listed event, through the HTTP API, by natural key; its sources as the seed
    file writes them (without the registry ids of publishers and chain links, which the
    tests of the registry read with ``source_ids``)."""
    response = client.get("/v1/events?limit=100")
    assert response.status_code == 200
    assert response.json["next_cursor"] is None
    events = response.json["items"]
    if not source_ids:
        events = [event | {"sources": _sources_as_written(event)} for event in events]
    return {event["key"]: event for event in events}


def _sources_as_written(event: dict) -> list[dict]:
    sources = []
    for source in event["sources"]:
        source = {name: value for name, value in source.items() if name != "publisher_actor_id"}
        if "attributed_to" in source:
            source["attributed_to"] = [
                {name: value for name, value in link.items() if name != "actor_id"}
                if isinstance(link, dict)
                else link
                for link in source["attributed_to"]
            ]
        sources.append(source)
    return sources


def _write_variant(tmp_path, change) -> Path:
    """A copy of the article's seed file with ``change(records)`` applied; its path."""
    records = yaml.safe_load(ARTICLE_SEED.read_text(encoding="utf-8"))
    change(records)
    path = tmp_path / ARTICLE_SEED.name
    path.write_text(yaml.safe_dump(records, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _record(records: list[dict], key: str) -> dict:
    return next(record for record in records if record["key"] == key)


@pytest.mark.parametrize("record", list(_raw_records()))
def test_seed_record_validates(record):
    Event().load(record)


def test_seed_files_hold_the_article_and_the_sandbox():
    assert SEED_FILES == [ARTICLE_SEED, SANDBOX_SEED]
    sandbox = read_seed_file(SANDBOX_SEED)
    assert {event["key"] for event in sandbox} == SANDBOX_KEYS
    for event in sandbox:  # says what it is wherever it is listed
        assert event["title"].startswith("Sandbox: ") and event["tags"] == ["sandbox"]
        assert event["summary"].startswith("Not a real event.")
        assert "related" not in event


def test_seed_files_hold_every_event_of_the_article_once():
    events = read_seed_file(ARTICLE_SEED)
    keys = [event["key"] for event in events]
    assert len(keys) == len(set(keys)) == ARTICLE_COUNT
    assert Counter(event["type"] for event in events) == {
        "visit": 2,
        "meeting": 3,
        "statement": 2,
        "publication": 1,
        "deployment": 2,
        "combat": 1,
        "casualties": 1,
        "arms_transfer": 2,
        "military_cooperation": 1,
        "logistics_movement": 1,
        "situation": 2,
        "attack": 2,
    }
    linked = {link["event"] for event in events for link in event.get("related", [])}
    assert linked <= set(keys)


def test_seed_creates_every_event(app, client):
    result = _seed(app)
    assert result.exit_code == 0, result.output
    assert f"created {SEEDED_COUNT}, updated 0, unchanged 0" in result.output
    assert len(_events_by_key(client)) == SEEDED_COUNT


def test_seed_twice_changes_nothing(app, client):
    assert _seed(app).exit_code == 0
    before = _events_by_key(client)
    result = _seed(app)
    assert result.exit_code == 0, result.output
    assert f"created 0, updated 0, unchanged {SEEDED_COUNT}" in result.output
    assert _events_by_key(client) == before
    assert {event["version"] for event in before.values()} == {1}


def test_seed_updates_a_changed_record_with_a_revision(app, client, tmp_path):
    assert _seed(app).exit_code == 0
    key = "2025-07-10-russian-drone-attack-on-kyiv-from-all-directions"
    original_title = _events_by_key(client)[key]["title"]
    changed = _write_variant(
        tmp_path,
        lambda records: _record(records, key).update(
            title="Russian drones strike Kyiv from every side"
        ),
    )

    result = _seed(app, changed)

    assert result.exit_code == 0, result.output
    assert f"created 0, updated 1, unchanged {ARTICLE_COUNT - 1}" in result.output
    event = _events_by_key(client)[key]
    assert (event["version"], event["title"]) == (2, "Russian drones strike Kyiv from every side")
    revisions = client.get(f"/v1/events/{event['id']}/revisions").json["items"]
    assert [revision["event"]["title"] for revision in revisions] == [
        original_title,
        "Russian drones strike Kyiv from every side",
    ]


def test_seed_leaves_a_deleted_event_deleted(app, client):
    assert _seed(app).exit_code == 0
    deleted = _events_by_key(client)[PLANNED_DEPLOYMENT]
    with app.app_context():
        event_store().delete(uuid.UUID(deleted["id"]))

    result = _seed(app)

    assert result.exit_code == 0, result.output
    assert f"created 0, updated 0, unchanged {ARTICLE_COUNT - 1}, left deleted 1" in result.output
    assert client.get(f"/v1/events/{deleted['id']}").status_code == 410


def test_seed_restores_the_deleted_sandbox_as_a_new_version_of_its_id(app, client):
    assert _seed(app).exit_code == 0
    sandbox = _events_by_key(client)[SANDBOX_TO_DELETE]
    assert client.delete(f"/v1/events/{sandbox['id']}").status_code == 204
    assert client.get(f"/v1/events/{sandbox['id']}").status_code == 410

    result = _seed(app)

    assert result.exit_code == 0, result.output
    assert f"{SANDBOX_SEED}: created 0, updated 0, unchanged 1, restored 1" in result.output
    restored = client.get(f"/v1/events/{sandbox['id']}")
    assert restored.status_code == 200
    assert restored.headers["ETag"] == '"v3"'
    assert {k: v for k, v in restored.json.items() if k != "updated_at"} == {
        **{k: v for k, v in sandbox.items() if k != "updated_at"},
        "version": 3,
    }
    # The history is appended to: the deletion stays on record, and the change feed
    # tells its followers that the event is back.
    revisions = client.get(f"/v1/events/{sandbox['id']}/revisions").json["items"]
    assert [(r["version"], r["operation"]) for r in revisions] == [
        (1, "create"),
        (2, "delete"),
        (3, "update"),
    ]
    assert "deleted_at" in revisions[1]["event"] and "deleted_at" not in revisions[2]["event"]
    changes = client.get("/v1/changes?limit=100").json["items"]
    assert [(c["version"], c["operation"]) for c in changes if c["event_id"] == sandbox["id"]][
        -2:
    ] == [(2, "delete"), (3, "update")]
    # Searchable again, and seeding once more leaves it.
    assert sandbox["id"] in {e["id"] for e in client.get("/v1/events?tag=sandbox").json["items"]}
    assert f"{SANDBOX_SEED}: created 0, updated 0, unchanged 2" in _seed(app).output


def test_seed_refuses_invalid_yaml_and_loads_nothing(app, client, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("- key: 2025-07-12-x\n  title: [unclosed\n", encoding="utf-8")

    result = _seed(app, broken)

    assert result.exit_code != 0
    assert f"{broken}: not valid YAML at line" in result.output
    assert _events_by_key(client) == {}


def test_seed_refuses_a_file_with_an_invalid_record_and_loads_nothing_from_it(
    app, client, tmp_path
):
    broken = _write_variant(
        tmp_path,
        lambda records: _record(records, PLANNED_DEPLOYMENT)["details"]["personnel"].update(
            min=40000
        ),
    )

    result = _seed(app, broken)

    assert result.exit_code != 0
    assert (
        f"{broken}: record 9 (key '{PLANNED_DEPLOYMENT}'): details.personnel.min: "
        "Must not be greater than max."
    ) in result.output
    assert _events_by_key(client) == {}


def test_seed_names_every_bad_record_by_index_and_field(app, tmp_path):
    def break_records(records):
        records[0]["date"] = "2025-02-30"
        del records[3]["key"]
        records[5]["key"] = records[4]["key"]
        records.append(["not", "an", "event"])

    result = _seed(app, _write_variant(tmp_path, break_records))

    assert result.exit_code != 0
    assert (
        "record 0 (key '2025-07-11-lavrov-visits-north-korea'): date: Not a real calendar date."
    ) in result.output
    assert "record 3: key: Required in a seed" in result.output
    assert (
        "record 5 (key '2025-07-12-lavrov-says-north-korea-backs-war-aims'): key: "
        "Duplicate of record 4."
    ) in result.output
    assert f"record {ARTICLE_COUNT}: _body: An event must be a JSON object." in result.output


def test_seed_rolls_back_a_file_whose_link_names_no_event(app, client, tmp_path):
    broken = _write_variant(
        tmp_path,
        lambda records: records[-1]["related"].__setitem__(
            0, {"event": "2025-07-08-no-such-event", "relation": "follows"}
        ),
    )

    result = _seed(app, broken)

    assert result.exit_code != 0
    assert (
        f"record {ARTICLE_COUNT - 1} (key '2025-07-10-russian-drone-attack-on-kyiv-from-all-"
        "directions'): related.0.event: No event has the id or key '2025-07-08-no-such-event'"
        in result.output
    )
    assert _events_by_key(client) == {}


def test_seed_loads_good_files_and_refuses_only_the_bad_one(app, client, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("- {type: meeting, key: a-meeting}\n", encoding="utf-8")

    result = _seed(app, ARTICLE_SEED, broken)

    assert result.exit_code != 0
    assert f"{ARTICLE_SEED}: created {ARTICLE_COUNT}" in result.output
    assert f"{broken}: record 0 (key 'a-meeting'): title: " in result.output
    assert len(_events_by_key(client)) == ARTICLE_COUNT


def test_seed_refuses_a_key_that_two_files_of_one_run_hold(app, client, tmp_path):
    copy = _write_variant(tmp_path, lambda records: None)

    result = _seed(app, ARTICLE_SEED, copy)

    assert result.exit_code != 0
    assert (
        f"{copy}: record 0 (key '2025-07-11-lavrov-visits-north-korea'): key: Also in "
        f"{ARTICLE_SEED}."
    ) in result.output
    assert len(_events_by_key(client)) == ARTICLE_COUNT


def test_seeded_facts_read_back_through_the_api(app, client):
    assert _seed(app).exit_code == 0
    events = _events_by_key(client)

    # "on Saturday", against a Sunday 13 July 2025 dateline
    meeting = events[KIM_MEETING]
    assert meeting["date"] == "2025-07-12"
    assert meeting["location"] == {
        "name": "Wonsan",
        "region": "Kangwon Province",
        "country": "KP",
        "lat": 39.1528,
        "lon": 127.4436,
        "precision": "town",
    }
    assert meeting["related"] == [
        {"event": "2025-07-11-lavrov-visits-north-korea", "relation": "part_of"}
    ]
    # "on Wednesday"; "a record 728 drones"
    strike = events["2025-07-09-russia-launches-record-728-drones-and-13-missiles"]
    assert strike["date"] == "2025-07-09"
    assert strike["details"]["weapons"][0]["quantity"] == {
        "value": 728,
        "unit": "drones",
        "note": "a record",
    }
    # "25,000 to 30,000", citing Ukrainian intelligence, via CNN, via ANI
    planned = events[PLANNED_DEPLOYMENT]
    assert planned["details"]["personnel"] == {"min": 25000, "max": 30000, "unit": "soldiers"}
    assert planned["details"]["status"] == "planned"
    # "at least 100 ballistic missiles", from a report of 11 UN member states
    missiles = events["2024-north-korea-sends-ballistic-missiles-to-russia"]
    assert missiles["date"] == "2024"
    assert missiles["details"]["items"][0]["quantity"] == {"min": 100, "unit": "ballistic missiles"}
    assert missiles["sources"][0]["attributed_to"] == [
        CNN,
        {"name": "report of 11 UN member states", "kind": "government"},
    ]
    # "around 4,000 ... killed or wounded", an estimate
    casualties = events["2024-north-korean-casualties-estimated-at-4000"]
    assert casualties["certainty"] == "estimated"
    assert casualties["details"]["killed_or_wounded"] == {
        "value": 4000,
        "approximate": True,
        "unit": "soldiers",
    }
    # the words said, relayed by TASS
    statement = events["2025-07-12-lavrov-says-north-korea-backs-war-aims"]
    assert statement["sources"][0]["attributed_to"] == [{"name": "TASS", "kind": "state_media"}]
    assert statement["details"]["quote"].startswith("We exchanged views on the situation")


def test_data_model_page_table_lists_every_seeded_event():
    page = (REPOSITORY / "docs" / "data-model.md").read_text(encoding="utf-8")
    section = page.split("## Seed data", 1)[1].split("\n## ", 1)[0]
    rows = {
        tuple(cells)
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| kind")
        for cells in [[cell.strip() for cell in line.strip("|").split("|")]]
    }
    seeded = {
        (record["type"], _table_date(record), record["title"])
        for record in yaml.safe_load(ARTICLE_SEED.read_text(encoding="utf-8"))
    }
    assert rows == seeded


def _table_date(record: dict) -> str:
    """How the data model page's table writes a record's date."""
    if record.get("date_basis") == "on_or_before":
        return f"on or before {record['date']}"
    if "end_date" in record:
        return f"{record['date']} – {record['end_date']}"
    return record["date"]


# --- Issue 11: each corrected record, as served --------------------------------------


@pytest.fixture
def seeded(app, client) -> dict[str, dict]:
    """The seeds loaded, then every event through the API, by key."""
    result = _seed(app)
    assert result.exit_code == 0, result.output
    return _events_by_key(client)


def test_press_conference_is_part_of_the_visit_not_of_one_meeting(seeded):
    # "at a press conference following the meeting": the article does not say which of
    # Saturday's two meetings, so the statement is tied to the visit only.
    statement = seeded[PRESS_CONFERENCE]
    assert statement["related"] == [{"event": VISIT, "relation": "part_of"}]
    assert (statement["date"], statement["end_date"]) == ("2025-07-12", "2025-07-13")
    for meeting in (KIM_MEETING, CHOE_TALKS):
        assert seeded[meeting]["date"] == "2025-07-12"
        assert {"event": VISIT, "relation": "part_of"} in seeded[meeting]["related"]


def test_planned_troops_are_a_claim_of_ukrainian_intelligence_via_cnn(seeded):
    planned = seeded[PLANNED_DEPLOYMENT]
    assert planned["certainty"] == "claimed"
    assert planned["sources"] == [
        ANI
        | {
            "attributed_to": [
                CNN,
                {"name": "Ukrainian intelligence", "kind": "intelligence_service"},
            ]
        }
    ]


def test_nine_million_shells_are_a_lower_bound_not_an_exact_figure(seeded):
    (item,) = seeded[SHELLS]["details"]["items"]
    assert "value" not in item["quantity"]
    assert item["quantity"]["min"] == 9_000_000


def test_visit_cites_no_ministry_and_is_reported(seeded):
    visit = seeded[VISIT]
    assert visit["certainty"] == "reported"
    # Issue 21: the arrival on Friday and the three days are ANI's own statement; CNN is
    # the source of the "second round" only.
    assert visit["sources"] == [ANI, ANI | {"attributed_to": [CNN]}]
    assert (visit["date"], visit["end_date"], visit["details"]["duration_days"]) == (
        "2025-07-11",
        "2025-07-13",
        3,
    )
    assert "Second round" in visit["details"]["purpose"]
    assert {"event": FIRST_ROUND, "relation": "follows"} in visit["related"]


# --- Issue 21: the audit's corrections, each claim as served --------------------------


def test_talks_with_choe_son_hui_are_anis_own_and_claim_no_round(seeded):
    # "also held talks with ... Choe Son Hui on Saturday": ANI's statement, not CNN's. CNN
    # makes the visit the second round, not these talks.
    talks = seeded[CHOE_TALKS]
    assert talks["sources"] == [ANI]
    assert talks["date"] == "2025-07-12"
    assert talks["details"] == {"format": "talks"}
    assert talks["related"] == [{"event": VISIT, "relation": "part_of"}]


def test_only_the_second_round_is_cnns_in_the_visits_records(seeded):
    # Of the visit's records, only the visit (for its "second round") cites CNN.
    cnn_sourced = {
        key
        for key in (VISIT, CHOE_TALKS, KIM_MEETING)
        for source in seeded[key]["sources"]
        if CNN in source.get("attributed_to", [])
    }
    assert cnn_sourced == {VISIT, KIM_MEETING}
    assert "round" not in seeded[CHOE_TALKS]["details"]


def test_praise_of_very_close_contacts_has_a_time_but_no_place_or_occasion(seeded):
    praise = seeded[PRAISE]
    assert praise["date"] == "2024-11"
    assert praise["details"]["quote"] == "very close contacts"
    for unstated in ("location", "related"):
        assert unstated not in praise
    assert "occasion" not in praise["details"]


def test_the_aerial_campaign_trend_is_no_record(seeded):
    # "Russia has stepped up its aerial campaign": a trend, not an event; no record, and
    # no record's text repeats it.
    for event in seeded.values():
        assert event["type"] != "situation" or event["details"]["aspect"] != "trend"
        text = " ".join(str(event.get(name, "")) for name in ("title", "summary"))
        assert "campaign" not in text.lower(), event["key"]
    attacks = [e for e in seeded.values() if e["type"] == "attack"]
    assert {e["date"] for e in attacks} == {"2025-07-09", "2025-07-10"}


def test_the_russian_foreign_ministry_is_one_registry_actor(seeded, client):
    # As an actor, as a link of an attribution chain and as a publisher: one actor.
    publication = seeded[MINISTRY_PHOTO]
    (actor,) = publication["actors"]
    (chain_link,) = seeded[KIM_MEETING]["sources"][1]["attributed_to"]
    spellings = {actor["name"], chain_link["name"], publication["details"]["publisher"]}
    assert spellings == {MINISTRY}
    listed = client.get("/v1/actors?q=Russian Ministry of Foreign Affairs").get_json()["items"]
    assert [(a["name"], a["kind"]) for a in listed] == [(MINISTRY, "government_body")]
    registry = client.get(f"/v1/actors/{actor['actor_id']}").get_json()
    assert registry["name"] == MINISTRY
    assert {alias.casefold() for alias in [registry["name"], *registry["aliases"]]} >= {
        name.casefold() for name in spellings
    }
    ministry_events = [
        e for e in seeded.values() if any(a["name"] == MINISTRY for a in e.get("actors", []))
    ]
    assert registry["event_count"] == len(ministry_events) == 1
    # Every seeded actor of the ministry, whatever record it is in, has that one id.
    ids = {
        a["actor_id"]
        for e in seeded.values()
        for a in e.get("actors", [])
        if a["name"].casefold() == MINISTRY.casefold()
    }
    assert ids == {actor["actor_id"]}


def test_kim_meeting_reaches_the_ministry_post_through_ani(seeded):
    assert seeded[KIM_MEETING]["sources"] == [
        ANI | {"attributed_to": [CNN]},
        ANI
        | {
            "attributed_to": [{"name": "Russian Ministry of Foreign Affairs", "kind": "government"}]
        },
    ]


def test_logistics_and_manuals_say_no_more_than_the_article(seeded):
    details = seeded[LOGISTICS]["details"]
    assert details["between"] == ["KP", "RU"]
    for unstated in ("cargo", "both_directions", "origin_country", "destination_country"):
        assert unstated not in details
    assert "Korean into" not in seeded[MANUALS]["details"]["description"]


@pytest.mark.parametrize("key", [MANUALS, LOGISTICS, RELIANCE])
def test_undated_facts_are_on_or_before_the_report(seeded, key):
    event = seeded[key]
    assert (event["date"], event["date_basis"]) == ("2025-07-13", "on_or_before")
    assert "end_date" not in event


def test_kursk_point_stands_for_the_region(seeded):
    assert seeded[KURSK]["location"]["precision"] == "region"


def test_the_two_missing_claims_are_records(seeded):
    shortages, reliance = seeded[SHORTAGES], seeded[RELIANCE]
    assert (shortages["type"], shortages["details"]["aspect"]) == ("situation", "shortage")
    assert (reliance["details"]["aspect"], reliance["details"]["counterpart"]) == (
        "dependence",
        "KP",
    )


@pytest.mark.parametrize(
    ("key", "linked"),
    [
        (PLANNED_DEPLOYMENT, VISIT),
        (LOGISTICS, MISSILES),
        (LOGISTICS, SHELLS),
    ],
)
def test_missing_links_are_there(seeded, key, linked):
    assert linked in {link["event"] for link in seeded[key]["related"]}


def test_every_seeded_source_names_its_kind(seeded):
    for event in seeded.values():
        for source in event["sources"]:
            assert source["kind"]
            assert all(
                isinstance(link, dict) and link["kind"] for link in source.get("attributed_to", [])
            )


def test_seed_updates_records_seeded_before_the_corrections_in_place(app, client):
    assert _seed(app, OLD_ARTICLE_SEED).exit_code == 0
    before = _events_by_key(client, source_ids=True)

    result = _seed(app)

    assert result.exit_code == 0, result.output
    assert "created 2, updated 18, unchanged 0" in result.output
    after = _events_by_key(client, source_ids=True)
    assert set(after) == set(before) | {SHORTAGES, RELIANCE} | SANDBOX_KEYS
    for key, old in before.items():
        assert (after[key]["id"], after[key]["version"]) == (old["id"], 2)
        revisions = [
            r["event"] for r in client.get(f"/v1/events/{old['id']}/revisions").json["items"]
        ]
        assert revisions[0] == old
        assert revisions[1] == after[key]
        # The history stays readable: the old version still validates as it was stored.
        Event().load(client_view(revisions[0]))
    assert after[PLANNED_DEPLOYMENT]["certainty"] == "claimed"
    assert _seed(app).output.count("unchanged 20") == 1


# --- Issue 21: the seeds' actors in the registry -------------------------------------


def test_each_seeded_actor_resolves_to_one_registry_actor(seeded, client):
    by_name: dict[tuple[str, str], set[str]] = {}
    for event in seeded.values():
        for actor in event.get("actors", []):
            by_name.setdefault((actor["kind"], actor["name"]), set()).add(actor["actor_id"])
    assert all(len(ids) == 1 for ids in by_name.values()), by_name
    (lavrov,) = by_name[("person", "Sergey Lavrov")]
    lavrovs_events = [
        e for e in seeded.values() if any(a["name"] == "Sergey Lavrov" for a in e.get("actors", []))
    ]
    assert len(lavrovs_events) >= 6
    assert client.get(f"/v1/actors/{lavrov}").get_json()["event_count"] == len(lavrovs_events)
    found = client.get(f"/v1/events?actor_id={lavrov}&limit=100").get_json()["items"]
    assert {e["id"] for e in found} == {e["id"] for e in lavrovs_events}

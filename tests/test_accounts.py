"""Several accounts of one figure (issue 21, item 5): each tied to one of the event's
sources, validated, round-tripped through every write and read, searched and exported."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json

import pytest
from conftest import bearer
from examples import example

from schemas import Event
from service.storage.rows import timestamp

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
UKRAINE = {
    "publisher": "ANI",
    "kind": "news_agency",
    "attributed_to": [{"name": "Ukrainian Ministry of Defence", "kind": "government"}],
}
RUSSIA = {
    "publisher": "TASS",
    "kind": "state_media",
    "attributed_to": [{"name": "Russian Ministry of Defence", "kind": "government"}],
}
# "killed: Ukraine's ministry 500; Russia's ministry 50", the writer's best figure around
# them.
KILLED = {
    "min": 50,
    "max": 500,
    "unit": "people",
    "accounts": [
        {"source": 0, "value": 500, "unit": "people"},
        {"according_to": "Russian Ministry of Defence", "value": 50, "unit": "people"},
    ],
}


def disputed(**killed) -> dict:
    """A casualties report whose killed figure two sources give differently."""
    event = example("casualties", key="disputed-strike")
    event["sources"] = [UKRAINE, RUSSIA]
    event["details"] = {"party": "Civilians", "killed": copy.deepcopy(KILLED) | killed}
    return event


def attack_with(killed: dict, *, key: str) -> dict:
    """An attack whose casualties.killed is ``killed``, from the two sources."""
    event = example("attack", key=key)
    event["sources"] = [UKRAINE, RUSSIA]
    event["details"]["casualties"] = {"killed": killed}
    return event


def problem_errors(response) -> dict:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    return response.get_json()["errors"]


# --- Validation -----------------------------------------------------------------------


def test_accounts_are_stored_and_served_as_written(client, created):
    response, url = created(disputed())
    assert response.get_json()["details"]["killed"] == KILLED
    assert client.get(url).get_json()["details"]["killed"] == KILLED


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda k: k["accounts"][0].update(source=2),
            "details.killed.accounts.0.source",
            "No source 2: the event has 2.",
        ),
        (
            lambda k: k["accounts"][1].update(according_to="Ukraine's General Staff"),
            "details.killed.accounts.1.according_to",
            "Names neither a publisher nor an attribution link",
        ),
        (
            lambda k: k["accounts"][1].update(source=0),
            "details.killed.accounts.1.according_to",
            "attribution chain of source 0",
        ),
        (
            lambda k: k["accounts"][1].pop("according_to"),
            "details.killed.accounts.1",
            "Give source, or according_to, or both.",
        ),
        (
            lambda k: k["accounts"][0].update(unit="soldiers"),
            "details.killed.accounts.0.unit",
            "Must be the figure's unit (people).",
        ),
        (
            lambda k: k["accounts"][0].update(min=600),
            "details.killed.accounts.0.value",
            "Must not be less than min.",
        ),
        (
            lambda k: k["accounts"][0].update(source=True),
            "details.killed.accounts.0.source",
            "Not a valid integer.",
        ),
        (
            lambda k: k["accounts"][0].update(accounts=[]),
            "details.killed.accounts.0.accounts",
            "Unknown field.",
        ),
    ],
)
def test_an_account_that_names_no_source_of_the_event_is_a_422_naming_it(
    client, change, field, message
):
    event = disputed()
    change(event["details"]["killed"])
    errors = problem_errors(client.post("/v1/events", json=event))
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert client.get("/v1/events").get_json()["items"] == []


def test_a_name_two_sources_share_needs_the_source_index(client):
    event = disputed()
    event["sources"].append({"publisher": "Russian Ministry of Defence", "kind": "government"})
    errors = problem_errors(client.post("/v1/events", json=event))
    assert errors == {
        "details.killed.accounts.1.according_to": [
            "Names more than one of the event's sources (1, 2): give source as well."
        ]
    }
    event["details"]["killed"]["accounts"][1]["source"] = 2
    assert client.post("/v1/events", json=event).status_code == 201


def test_accounts_of_every_figure_name_sources_of_their_own_event(client):
    event = attack_with({"value": 3, "unit": "people"}, key="strike")
    event["details"]["weapons"][0]["quantity"]["accounts"] = [
        {"source": 1, "min": 700, "unit": "drones"}
    ]
    event["details"]["casualties"]["by_party"] = [
        {"party": "Civilians", "wounded": {"value": 9, "unit": "people", "accounts": []}}
    ]
    assert list(problem_errors(client.post("/v1/events", json=event))) == [
        "details.casualties.by_party.0.wounded.accounts"
    ]
    event["details"]["casualties"]["by_party"][0]["wounded"]["accounts"] = [
        {"source": 3, "value": 9, "unit": "people"}
    ]
    assert problem_errors(client.post("/v1/events", json=event)) == {
        "details.casualties.by_party.0.wounded.accounts.0.source": ["No source 3: the event has 2."]
    }


# --- Writes: PUT, PATCH, bulk, and the history -----------------------------------------


def test_put_and_patch_keep_and_recheck_accounts(client, created):
    _, url = created(example("casualties", key="disputed-strike"))
    put = client.put(url, json=disputed())
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["details"]["killed"] == KILLED

    # A merge patch replaces the sources: the account naming TASS's chain now names none.
    patched = client.patch(url, json={"sources": [UKRAINE]}, headers=MERGE_PATCH)
    assert list(problem_errors(patched)) == ["details.killed.accounts.1.according_to"]
    assert client.get(url).get_json()["version"] == 2

    changed = {"details": {"killed": {"accounts": [KILLED["accounts"][1]]}}}
    patched = client.patch(url, json=changed, headers=MERGE_PATCH)
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["details"]["killed"]["accounts"] == [KILLED["accounts"][1]]


def test_bulk_stores_accounts_and_names_each_bad_one(client):
    bad = attack_with(
        {"value": 3, "unit": "people", "accounts": [{"source": 4, "value": 3, "unit": "people"}]},
        key="bad",
    )
    response = client.post("/v1/events/bulk", json=[disputed(), bad])
    assert response.status_code == 200
    good, refused = response.get_json()["items"]
    assert good["status"] == 201
    assert refused["errors"] == {
        "details.casualties.killed.accounts.0.source": ["No source 4: the event has 2."]
    }
    stored = client.get(f"/v1/events/{good['id']}").get_json()
    assert stored["details"]["killed"] == KILLED


def test_as_of_reads_show_the_accounts_as_they_were(client, created):
    response, url = created(disputed())
    before = response.get_json()
    changed = {"details": {"killed": {"accounts": None, "value": 120, "min": None, "max": None}}}
    patched = client.patch(url, json=changed, headers=MERGE_PATCH)
    assert patched.status_code == 200, patched.get_json()
    assert "accounts" not in patched.get_json()["details"]["killed"]

    then = before["updated_at"]
    assert client.get(f"{url}?as_of={then}").get_json()["details"]["killed"] == KILLED
    found = client.get(f"/v1/events?as_of={then}&killed_min=500&figures=any").get_json()
    assert [e["id"] for e in found["items"]] == [before["id"]]
    now = timestamp(dt.datetime.now(dt.UTC))
    assert client.get(f"/v1/events?as_of={now}&killed_min=500&figures=any").get_json() == {
        "items": [],
        "next_cursor": None,
    }
    revisions = client.get(f"{url}/revisions").get_json()["items"]
    assert revisions[0]["event"]["details"]["killed"] == KILLED
    assert revisions[1]["event"]["details"]["killed"] == {"value": 120, "unit": "people"}


def test_events_stored_before_accounts_still_validate():
    # A figure stays a Quantity: every shape that validated before validates unchanged.
    for shape in ({"value": 4000, "approximate": True}, {"min": 100}, {"max": 50}):
        event = example("casualties")
        event["details"]["killed_or_wounded"] = shape | {"unit": "soldiers"}
        assert Event().load(event) == event


# --- Search -----------------------------------------------------------------------------


@pytest.fixture
def figures(created) -> dict[str, str]:
    """Events whose killed figures read differently by their best figure and accounts."""
    events = {
        # best reads 50 (its min); an account says 500
        "disputed": disputed(),
        # best reads 120 (the value within its range)
        "estimated": attack_with({"value": 120, "min": 100, "max": 150, "unit": "people"}, key="e"),
        # only an upper bound: reads as nothing, unless an account gives a figure
        "at-most": attack_with(
            {
                "max": 30,
                "unit": "people",
                "accounts": [{"source": 1, "min": 20, "unit": "people"}],
            },
            key="m",
        ),
        "none": example("attack", key="n"),
    }
    return {name: created(event)[0].get_json()["id"] for name, event in events.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("killed_min=0", {"disputed", "estimated"}),
        ("killed_min=50", {"disputed", "estimated"}),
        ("killed_min=51", {"estimated"}),
        ("killed_min=110", {"estimated"}),
        ("killed_min=51&figures=best", {"estimated"}),
        ("killed_min=0&figures=any", {"disputed", "estimated", "at-most"}),
        ("killed_min=200&figures=any", {"disputed"}),
        ("killed_min=500.5&figures=any", set()),
        ("killed_min=21&figures=any", {"disputed", "estimated"}),
        ("killed_min=51&type=attack", {"estimated"}),
        ("killed_max=100", {"disputed"}),
        ("killed_max=120&figures=best", {"disputed", "estimated"}),
        ("killed_max=100&figures=any", {"disputed", "at-most"}),
        ("killed_max=19.5&figures=any", set()),
        ("killed_min=100&killed_max=200", {"estimated"}),
        # Both bounds with `any`: one account within both. The disputed event has some
        # at least 100 (500) and some at most 200 (50), but none between.
        ("killed_min=100&killed_max=200&figures=any", {"estimated"}),
        ("killed_min=20&killed_max=20&figures=any", {"at-most"}),
        ("killed_min=50&killed_max=50&figures=any", {"disputed"}),
    ],
)
def test_killed_min_reads_the_best_figure_or_any_account(client, figures, query, expected):
    response = client.get(f"/v1/events?{query}")
    assert response.status_code == 200, response.get_json()
    names = {
        name for name, id in figures.items() if id in {e["id"] for e in response.json["items"]}
    }
    assert names == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("killed_min=-1", "killed_min"),
        ("killed_min=many", "killed_min"),
        ("killed_min=nan", "killed_min"),
        ("killed_min=1&figures=all", "figures"),
        ("figures=any", "figures"),
        ("killed_max=-1", "killed_max"),
        ("killed_max=1e400", "killed_max"),
        ("killed_min=5&killed_max=4", "killed_max"),
    ],
)
def test_a_bad_figure_filter_is_a_400_naming_it(client, query, field):
    response = client.get(f"/v1/events?{query}")
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == [field]


def test_a_subscription_filter_may_read_figures(client):
    # The subscription's filter is the search's own parameters.
    response = client.post(
        "/v1/subscriptions",
        json={
            "url": "https://93.184.215.14/hook",
            "filter": {"killed_min": "100", "figures": "any"},
        },
        headers=bearer("test-admin"),
    )
    assert response.status_code == 201, response.get_json()
    refused = client.post(
        "/v1/subscriptions",
        json={"url": "https://93.184.215.14/hook", "filter": {"figures": "any"}},
        headers=bearer("test-admin"),
    )
    assert refused.status_code == 422, refused.get_json()


# --- Export -----------------------------------------------------------------------------


def test_csv_gives_the_widest_range_and_the_number_of_accounts(client, figures):
    text = client.get("/v1/events/export?format=csv&sort=date").get_data(as_text=True)
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text))}
    cells = {
        name: (rows[id]["killed_min"], rows[id]["killed_max"], rows[id]["killed_accounts"])
        for name, id in figures.items()
    }
    assert cells == {
        "disputed": ("50", "500", "2"),
        "estimated": ("100", "150", "0"),
        # the figure has no low end; the account no high end
        "at-most": ("", "", "1"),
        "none": ("", "", ""),
    }


def test_ndjson_and_geojson_serve_the_accounts_as_stored(client, created):
    event = disputed()
    event["location"] = {"name": "Kharkiv", "country": "UA", "lat": 49.99, "lon": 36.23}
    created(event)
    (line,) = client.get("/v1/events/export?format=ndjson").get_data(as_text=True).splitlines()
    assert json.loads(line)["details"]["killed"] == KILLED
    collection = json.loads(client.get("/v1/events/export?format=geojson").get_data())
    (feature,) = collection["features"]
    assert feature["properties"]["details"]["killed"] == KILLED


def test_facets_and_export_take_the_figure_filters(client, figures):
    facets = client.get("/v1/events/facets?killed_min=51").get_json()
    assert (facets["total"], facets["type"]) == (1, {"attack": 1})
    exported = client.get("/v1/events/export?format=ndjson&killed_min=200&figures=any")
    assert [json.loads(line)["id"] for line in exported.get_data(as_text=True).splitlines()] == [
        figures["disputed"]
    ]


def test_the_killed_max_migration_fills_the_columns_as_writes_do(tmp_path, database_url):
    """0111 fills killed_fewest and killed_readings of stored events as
    ``rows.killed_readings`` does on write."""
    import json
    import uuid

    import psycopg
    import test_migrate
    from psycopg import conninfo, sql

    from service.migrate import migrate
    from service.storage.rows import killed_readings

    events = [
        disputed(),
        attack_with({"value": 120, "min": 100, "max": 150, "unit": "people"}, key="e"),
        attack_with(
            {"max": 30, "unit": "people", "accounts": [{"source": 1, "min": 20, "unit": "people"}]},
            key="m",
        ),
        attack_with({"max": 30, "unit": "people"}, key="x"),
        example("attack", key="n"),
    ]
    name = f"events_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = conninfo.make_conninfo(**(conninfo.conninfo_to_dict(database_url) | {"dbname": name}))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn, test_migrate.migrations_before(tmp_path, "0111"))
            for n, event in enumerate(events):
                readings = killed_readings(event)
                conn.execute(
                    "INSERT INTO events (id, type, version, body, date_span, certainty, search,"
                    " csv_fields, killed_best, killed_any, created_at, updated_at) VALUES"
                    " (%s, %s, 1, %s, '[2025-07-12,2025-07-12]', 'reported', ''::tsvector, '',"
                    " %s, %s, now(), now())",
                    (
                        uuid.UUID(int=n + 1),
                        event["type"],
                        json.dumps(event),
                        readings["killed_best"],
                        readings["killed_any"],
                    ),
                )
            migrate(conn)
            rows = conn.execute(
                "SELECT killed_fewest, killed_readings FROM events ORDER BY id"
            ).fetchall()
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    expected = [
        (readings["killed_fewest"], readings["killed_readings"])
        for readings in map(killed_readings, events)
    ]
    assert rows == expected
    assert expected[0] == (50, [50, 500, 50]) and expected[3] == (None, None)

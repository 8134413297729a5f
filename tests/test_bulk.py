"""POST /v1/events/bulk: per-item results, atomic mode, NDJSON, limits, re-sent batches."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import psycopg
import pytest
from examples import example

BULK = "/v1/events/bulk"
NDJSON = "application/x-ndjson"


def _keyed(key: str, kind: str = "meeting", **overrides) -> dict:
    return example(kind, key=key, **overrides)


def _bad_personnel(key: str) -> dict:
    event = _keyed(key, "deployment")
    event["details"]["personnel"]["min"] = 40000  # above max
    return event


def _ndjson(*lines: str | dict) -> str:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"


def _revision_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM event_revisions").fetchone()[0]


def _event_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def test_mixed_batch_stores_the_valid_items_and_names_each_bad_field(client):
    response = client.post(
        BULK, json=[_keyed("a"), _bad_personnel("b"), example("visit"), {"type": "meeting"}]
    )

    assert response.status_code == 200
    body = response.get_json()
    items = body["items"]
    assert [(i["index"], i["status"], i["outcome"]) for i in items] == [
        (0, 201, "created"),
        (1, 422, "invalid"),
        (2, 201, "created"),
        (3, 422, "invalid"),
    ]
    assert items[1]["errors"] == {"details.personnel.min": ["Must not be greater than max."]}
    assert "title" in items[3]["errors"] and "sources" in items[3]["errors"]
    assert "id" not in items[1]
    assert body["counts"] == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "left_deleted": 0,
        "invalid": 2,
        "conflict": 0,
    }
    stored = client.get(f"/v1/events/{items[0]['id']}").get_json()
    assert stored["key"] == "a"
    assert stored["version"] == items[0]["version"] == 1
    assert client.get(f"/v1/events/{items[2]['id']}").get_json()["type"] == "visit"


def test_atomic_batch_with_a_bad_item_is_422_naming_every_bad_item_and_stores_nothing(
    client, database_url
):
    response = client.post(
        f"{BULK}?atomic=true", json=[_keyed("a"), _bad_personnel("b"), _keyed("c"), "not an event"]
    )

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == {
        "items.1.details.personnel.min": ["Must not be greater than max."],
        "items.3": ["An event must be a JSON object."],
    }
    assert _event_count(database_url) == 0
    assert _revision_count(database_url) == 0


def test_atomic_batch_of_valid_items_stores_them_all(client):
    response = client.post(f"{BULK}?atomic=true", json=[_keyed("a"), _keyed("b")])

    assert response.status_code == 200
    assert response.get_json()["counts"]["created"] == 2


def test_ndjson_batch_a_bad_line_is_that_items_error(client):
    body = _ndjson(_keyed("a"), '{"type": "meeting", "title": ', "", _keyed("b"))

    response = client.post(BULK, data=body, content_type=NDJSON)

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [i["outcome"] for i in items] == ["created", "invalid", "created"]
    assert items[1]["errors"]["_body"][0].startswith("The line is not valid JSON")


def test_ndjson_line_with_text_postgresql_cannot_store_is_that_items_error(client):
    body = _ndjson(_keyed("a"), '{"type": "meeting", "title": "a\\u0000b"}')

    items = client.post(BULK, data=body, content_type=NDJSON).get_json()["items"]

    assert [i["outcome"] for i in items] == ["created", "invalid"]
    assert items[1]["errors"] == {"_body": ["The line contains a NUL character (\\u0000)."]}


def test_ndjson_bad_line_in_atomic_mode_is_named_by_its_index(client, database_url):
    response = client.post(
        f"{BULK}?atomic=true", data=_ndjson(_keyed("a"), "{nope"), content_type=NDJSON
    )

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["items.1"]
    assert _event_count(database_url) == 0


@pytest.mark.parametrize("as_ndjson", [False, True])
def test_more_items_than_bulk_max_items_is_413(app, client, database_url, as_ndjson):
    app.config["BULK_MAX_ITEMS"] = 2
    events = [_keyed("a"), _keyed("b"), _keyed("c")]

    response = (
        client.post(BULK, data=_ndjson(*events), content_type=NDJSON)
        if as_ndjson
        else client.post(BULK, json=events)
    )

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert "at most 2" in response.get_json()["detail"]
    assert _event_count(database_url) == 0


def test_a_bulk_body_may_exceed_max_body_bytes_up_to_its_own_limit(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    events = [_keyed(f"e{n}") for n in range(3)]
    assert len(json.dumps(events)) > 1000

    assert client.post(BULK, json=events).status_code == 200
    app.config["BULK_MAX_BODY_BYTES"] = 1000
    assert client.post(BULK, json=events).status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/merge-patch+json"])
def test_another_content_type_is_415(client, content_type):
    response = client.post(BULK, data="[]", content_type=content_type)

    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("body", ['{"type": "meeting"}', "[1,", '"events"'])
def test_a_json_body_that_is_not_an_array_is_400(client, body):
    response = client.post(BULK, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_an_empty_batch_writes_nothing(client):
    response = client.post(BULK, json=[])

    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_resent_batch_is_all_unchanged_and_writes_no_revision(client, database_url):
    batch = [_keyed("a"), _keyed("b", "attack"), _keyed("c", "visit")]
    first = client.post(BULK, json=batch).get_json()["items"]
    revisions = _revision_count(database_url)

    again = client.post(BULK, json=batch).get_json()

    assert [i["outcome"] for i in again["items"]] == ["unchanged"] * 3
    assert [(i["id"], i["version"]) for i in again["items"]] == [(i["id"], 1) for i in first]
    assert again["counts"]["unchanged"] == 3
    assert _revision_count(database_url) == revisions


def test_a_changed_item_is_updated_with_the_next_version_and_a_revision(client):
    first = client.post(BULK, json=[_keyed("a"), _keyed("b")]).get_json()["items"]

    again = client.post(BULK, json=[_keyed("a", title="Retitled"), _keyed("b")]).get_json()

    assert [(i["outcome"], i["status"], i["version"]) for i in again["items"]] == [
        ("updated", 200, 2),
        ("unchanged", 200, 1),
    ]
    assert again["items"][0]["id"] == first[0]["id"]
    stored = client.get(f"/v1/events/{first[0]['id']}")
    assert stored.get_json()["title"] == "Retitled"
    assert stored.headers["ETag"] == '"v2"'
    revisions = client.get(f"/v1/events/{first[0]['id']}/revisions").get_json()["items"]
    assert [
        (r["version"], r["operation"], r["written_by"], r["event"]["title"]) for r in revisions
    ] == [
        (1, "create", "test-writer", "Foreign minister meets leader"),
        (2, "update", "test-writer", "Retitled"),
    ]
    assert revisions[0]["event"]["created_at"] == revisions[1]["event"]["created_at"]


def test_events_written_by_bulk_are_searched_and_their_actors_listed(client):
    client.post(BULK, json=[_keyed("a"), _keyed("b", "visit")])
    client.post(
        BULK,
        json=[
            _keyed(
                "a",
                title="Sanctions summit in Pyongyang",
                actors=[
                    {"name": "Choe Son Hui", "kind": "person", "country": "KP", "role": "host"}
                ],
            )
        ],
    )

    found = client.get("/v1/events?q=sanctions&country=KP&date_from=2025-07")
    actors = client.get("/v1/actors").get_json()["items"]

    assert [event["key"] for event in found.get_json()["items"]] == ["a"]
    assert [(actor["name"], actor["event_count"]) for actor in actors] == [("Choe Son Hui", 1)]


def test_an_item_whose_key_was_deleted_is_left_deleted(client):
    created = client.post(BULK, json=[_keyed("a")]).get_json()["items"][0]
    assert client.delete(f"/v1/events/{created['id']}").status_code == 204

    again = client.post(BULK, json=[_keyed("a", title="Back again")]).get_json()["items"][0]

    assert (again["outcome"], again["status"], again["id"]) == ("left_deleted", 410, created["id"])
    assert client.get(f"/v1/events/{created['id']}").status_code == 410


def test_a_key_repeated_in_the_batch_is_a_conflict_for_the_later_items(client):
    response = client.post(BULK, json=[_keyed("a"), _keyed("b"), _keyed("a", title="Other")])

    items = response.get_json()["items"]
    assert [(i["outcome"], i["status"]) for i in items] == [
        ("created", 201),
        ("created", 201),
        ("conflict", 409),
    ]
    assert items[2]["errors"] == {"key": ["Duplicate of item 0 of this request."]}
    assert client.get(f"/v1/events/{items[0]['id']}").get_json()["title"] == (
        "Foreign minister meets leader"
    )


def test_a_repeated_key_in_atomic_mode_is_422(client, database_url):
    response = client.post(f"{BULK}?atomic=true", json=[_keyed("a"), _keyed("a")])

    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "items.1.key": ["Duplicate of item 0 of this request."]
    }
    assert _event_count(database_url) == 0


def test_a_key_posted_before_is_updated_by_bulk(client, created):
    _, url = created(_keyed("a"))

    item = client.post(BULK, json=[_keyed("a", title="New")]).get_json()["items"][0]

    assert (item["outcome"], item["version"]) == ("updated", 2)
    assert client.get(url).get_json()["title"] == "New"


def test_the_atomic_parameter_must_be_a_boolean(client):
    response = client.post(f"{BULK}?atomic=maybe", json=[])

    assert response.status_code == 400
    assert "atomic" in response.get_json()["errors"]


def test_concurrent_batches_with_the_same_keys_in_opposite_orders_neither_fail_nor_repeat(
    app, database_url
):
    keys = [f"k{n:02d}" for n in range(40)]
    batches = [[_keyed(key) for key in keys], [_keyed(key) for key in reversed(keys)]] * 3
    answers: list = [None] * len(batches)

    def send(number: int) -> None:
        answers[number] = app.test_client().post(BULK, json=batches[number])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer.status_code for answer in answers] == [200] * len(batches)
    outcomes = Counter(item["outcome"] for answer in answers for item in answer.get_json()["items"])
    # Each key created once; a batch that met another's uncommitted create says conflict.
    assert outcomes["created"] == len(keys)
    assert set(outcomes) <= {"created", "unchanged", "conflict"}
    assert _event_count(database_url) == len(keys)
    assert _revision_count(database_url) == len(keys)


@pytest.mark.parametrize("atomic", [False, True])
def test_a_key_another_request_creates_meanwhile_is_a_conflict(app, client, database_url, atomic):
    # Another writer inserts key "a" and commits only once the batch waits on that key:
    # the batch's lock read saw no "a", so its insert meets the other's row.
    # The actors are in the registry already, so the batch does not wait on the other
    # writer's new registry entries (resolution runs before the key's lock read).
    from service.storage.actor_registry import resolve_actors
    from service.storage.events import EventStore

    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        resolve_actors(conn, [_keyed("a")])
    inserted, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
            EventStore(None, conn).create(_keyed("a", title="Written by the other"))
            inserted.set()
            release.wait(10)

    def release_once_the_batch_waits() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            deadline = time.monotonic() + 10
            while (
                time.monotonic() < deadline
                and not conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                ).fetchone()[0]
            ):
                time.sleep(0.02)
        release.set()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert inserted.wait(10)
    threading.Thread(target=release_once_the_batch_waits).start()

    response = client.post(f"{BULK}?atomic={str(atomic).lower()}", json=[_keyed("b"), _keyed("a")])
    writer.join()

    conflict = ["Created meanwhile by another request; send this item again."]
    if atomic:
        assert response.status_code == 422
        assert response.get_json()["errors"] == {"items.1.key": conflict}
        assert _event_count(database_url) == 1  # the other writer's, nothing of the batch
    else:
        items = response.get_json()["items"]
        assert [(i["outcome"], i.get("errors")) for i in items] == [
            ("created", None),
            ("conflict", {"key": conflict}),
        ]
        assert _event_count(database_url) == 2
        assert _revision_count(database_url) == 2
    again = client.post(BULK, json=[_keyed("a", title="Written by the other")])
    assert again.get_json()["items"][0]["outcome"] == "unchanged"

"""Links checked on write: ``related[].event`` names a stored event (by id or key) or,
in a bulk write, another item's key; every write path refuses a link to nothing."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from examples import example

BULK = "/v1/events/bulk"
UNKNOWN_KEY = "no-such-event"
UNKNOWN_ID = str(uuid.UUID(int=7))


def _linking(target: str, **overrides) -> dict:
    return example("meeting", related=[{"event": target, "relation": "part_of"}], **overrides)


def _unknown(ref: str) -> list[str]:
    return [f"No event has the id or key {ref!r}, in this request or already stored."]


@pytest.fixture
def target(created):
    """A stored event with a key; returns its body."""
    response, _ = created(example("visit", key="the-visit"))
    return response.get_json()


@pytest.mark.parametrize("ref", [UNKNOWN_KEY, UNKNOWN_ID])
def test_post_with_a_link_to_nothing_is_422_naming_the_field(client, ref):
    response = client.post("/v1/events", json=_linking(ref))

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == {"related.0.event": _unknown(ref)}
    assert client.get("/v1/events").get_json()["items"] == []


@pytest.mark.parametrize("by", ["id", "key", "upper-case id"])
def test_post_may_link_by_id_or_key(client, target, by):
    ref = {"id": target["id"], "key": target["key"], "upper-case id": target["id"].upper()}[by]

    response = client.post("/v1/events", json=_linking(ref))

    assert response.status_code == 201
    assert response.get_json()["related"] == [{"event": ref, "relation": "part_of"}]


def test_the_second_bad_link_is_named_by_its_index(client, target):
    event = example(
        "meeting",
        related=[
            {"event": target["key"], "relation": "part_of"},
            {"event": UNKNOWN_KEY, "relation": "follows"},
        ],
    )

    response = client.post("/v1/events", json=event)

    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["related.1.event"]


def test_put_with_a_link_to_nothing_is_422_and_leaves_the_event(client, created):
    _, url = created(example("meeting"))

    response = client.put(url, json=_linking(UNKNOWN_KEY))

    assert response.status_code == 422
    assert response.get_json()["errors"] == {"related.0.event": _unknown(UNKNOWN_KEY)}
    assert client.get(url).get_json()["version"] == 1


def test_patch_with_a_link_to_nothing_is_422_and_leaves_the_event(client, created):
    _, url = created(example("meeting"))

    response = client.patch(url, json={"related": [{"event": UNKNOWN_ID, "relation": "follows"}]})

    assert response.status_code == 422
    assert response.get_json()["errors"] == {"related.0.event": _unknown(UNKNOWN_ID)}
    assert client.get(url).get_json()["version"] == 1


def test_put_and_patch_may_link_to_a_stored_event(client, created, target):
    _, url = created(example("meeting"))

    assert client.put(url, json=_linking(target["id"])).status_code == 200
    patched = client.patch(url, json={"related": [{"event": "the-visit", "relation": "follows"}]})
    assert patched.status_code == 200
    assert patched.get_json()["related"] == [{"event": "the-visit", "relation": "follows"}]


def test_bulk_item_with_a_link_to_nothing_is_invalid_naming_the_field(client):
    items = client.post(BULK, json=[_linking(UNKNOWN_KEY), example("visit")]).get_json()["items"]

    assert [i["outcome"] for i in items] == ["invalid", "created"]
    assert items[0]["errors"] == {"related.0.event": _unknown(UNKNOWN_KEY)}


def test_bulk_items_may_link_to_keys_of_the_same_batch_in_any_order(client, target):
    batch = [
        _linking("later", key="first"),
        example("visit", key="later"),
        _linking(target["id"], key="third"),
    ]

    items = client.post(BULK, json=batch).get_json()["items"]

    assert [i["outcome"] for i in items] == ["created"] * 3


def test_bulk_link_to_a_refused_item_is_refused_too(client):
    batch = [
        _linking("b", key="a"),
        _linking(UNKNOWN_KEY, key="b"),
        example("meeting", key="c", title=None),
    ]
    batch.append(_linking("c", key="d"))

    items = client.post(BULK, json=batch).get_json()["items"]

    assert [i["outcome"] for i in items] == ["invalid"] * 4
    assert items[0]["errors"] == {"related.0.event": _unknown("b")}
    assert items[3]["errors"] == {"related.0.event": _unknown("c")}


def test_bulk_atomic_names_the_bad_link_and_stores_nothing(client, database_url):
    response = client.post(
        f"{BULK}?atomic=true", json=[example("visit", key="v"), _linking(UNKNOWN_KEY)]
    )

    assert response.status_code == 422
    assert response.get_json()["errors"] == {"items.1.related.0.event": _unknown(UNKNOWN_KEY)}
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_deleting_a_linked_event_leaves_the_link_readable_and_the_target_gone(
    client, created, target
):
    _, url = created(_linking(target["key"]))

    assert client.delete(f"/v1/events/{target['id']}").status_code == 204

    linking = client.get(url)
    assert linking.status_code == 200
    assert linking.get_json()["related"] == [{"event": "the-visit", "relation": "part_of"}]
    assert client.get(f"/v1/events/{target['id']}").status_code == 410


def test_a_deleted_event_may_still_be_linked(client, target):
    client.delete(f"/v1/events/{target['id']}")

    assert client.post("/v1/events", json=_linking("the-visit")).status_code == 201

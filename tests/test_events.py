"""CRUD over /v1/events: create, read, replace, patch, delete, revisions, listing."""

from __future__ import annotations

import copy
import uuid

import pytest
from examples import EXAMPLES, example

from service.storage.events import KEYED_EVENT_IDS

SERVICE_FIELDS = {"id", "version", "created_at", "updated_at"}


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_create_then_get_round_trips_each_kind(client, kind):
    event = example(kind)
    created = client.post("/v1/events", json=event)
    assert created.status_code == 201
    assert created.headers["ETag"] == '"v1"'
    body = copy.deepcopy(created.get_json())
    assert created.headers["Location"] == f"/v1/events/{body['id']}"
    # Each actor comes back as written, with the registry actor it resolved to.
    assert all(uuid.UUID(actor.pop("actor_id")) for actor in body.get("actors", []))
    assert {k: v for k, v in body.items() if k not in SERVICE_FIELDS} == event
    assert body["version"] == 1
    assert body["created_at"] == body["updated_at"]

    fetched = client.get(created.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.get_json() == created.get_json()
    assert fetched.headers["ETag"] == '"v1"'
    assert fetched.mimetype == "application/json"


def test_get_unknown_event_is_404_problem(client):
    response = client.get(f"/v1/events/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_get_with_a_malformed_id_is_404_problem(client):
    response = client.get("/v1/events/not-a-uuid")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_put_replaces_the_whole_event_and_bumps_version(client, created):
    _, url = created(example("meeting", tags=["a"]))
    replacement = example("meeting", title="Replaced")
    del replacement["tags"]
    response = client.put(url, json=replacement)
    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "Replaced"
    assert "tags" not in body
    assert body["version"] == 2
    assert response.headers["ETag"] == '"v2"'
    assert body["created_at"] < body["updated_at"]


def test_put_can_change_the_type(client, created):
    _, url = created(example("meeting"))
    response = client.put(url, json=example("visit"))
    assert response.status_code == 200
    assert response.get_json()["type"] == "visit"


def test_put_accepts_what_get_returned_with_the_service_fields(client, created):
    _, url = created(example("meeting"))
    event = client.get(url).get_json()
    event["title"] = "Edited after a GET"
    response = client.put(url, json=event)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["title"] == "Edited after a GET"
    assert body["version"] == 2 and body["id"] == event["id"]
    assert body["created_at"] == event["created_at"]


def test_put_with_the_version_of_an_older_read_is_412(client, created):
    _, url = created(example("meeting"))
    stale = client.get(url).get_json()
    assert client.put(url, json={**stale, "title": "First"}).status_code == 200
    response = client.put(url, json={**stale, "title": "Second"})
    assert response.status_code == 412
    assert response.mimetype == "application/problem+json"
    assert client.get(url).get_json()["title"] == "First"


def test_put_with_a_version_and_an_if_match_that_disagree_is_412(client, created):
    _, url = created(example("meeting"))
    event = client.get(url).get_json()
    response = client.put(url, json=event, headers={"If-Match": '"v7"'})
    assert response.status_code == 412


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", str(uuid.uuid4())),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("updated_at", "2020-01-01T00:00:00Z"),
    ],
)
def test_put_with_a_service_field_that_is_not_the_stored_one_is_422(client, created, field, value):
    _, url = created(example("meeting"))
    event = client.get(url).get_json()
    response = client.put(url, json={**event, field: value, "title": "Not written"})
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert client.get(url).get_json()["version"] == 1


def test_put_with_a_version_that_is_not_a_number_is_422(client, created):
    _, url = created(example("meeting"))
    event = client.get(url).get_json()
    response = client.put(url, json={**event, "version": "1"})
    assert response.status_code == 422
    assert "version" in response.get_json()["errors"]


def test_an_event_with_a_key_has_the_same_id_wherever_it_is_created(client, created):
    response, _ = created(example("meeting", key="same-key-same-id"))
    assert response.get_json()["id"] == str(uuid.uuid5(KEYED_EVENT_IDS, "same-key-same-id"))


def test_a_key_given_up_by_its_event_can_be_used_again(client, created):
    first, url = created(example("meeting", key="handed-on"))
    assert client.put(url, json=example("meeting", key="moved-on")).status_code == 200
    again, _ = created(example("meeting", key="handed-on"))
    assert again.get_json()["id"] != first.get_json()["id"]
    bulk = client.post("/v1/events/bulk", json=[example("visit", key="moved-away-too")])
    assert bulk.status_code == 200, bulk.get_json()
    bulk_url = f"/v1/events/{bulk.get_json()['items'][0]['id']}"
    assert client.put(bulk_url, json=example("visit", key="elsewhere")).status_code == 200
    reused = client.post("/v1/events/bulk", json=[example("visit", key="moved-away-too")])
    assert reused.get_json()["items"][0]["outcome"] == "created"


def test_patch_merges_objects_and_null_removes(client, created):
    _, url = created(example("meeting"))
    response = client.patch(
        url,
        json={"summary": None, "details": {"round": 2}, "location": {"region": "Kangwon"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert "summary" not in body
    assert body["details"] == {"format": "talks", "topics": ["bilateral relations"], "round": 2}
    assert body["location"]["region"] == "Kangwon"
    assert body["location"]["name"] == "Wonsan"
    assert body["version"] == 2


def test_patch_result_is_revalidated_and_nothing_is_written_on_failure(client, created):
    _, url = created(example("deployment"))
    response = client.patch(url, json={"details": {"personnel": {"min": 5, "max": 1}}})
    assert response.status_code == 422
    assert "details.personnel.min" in response.get_json()["errors"]
    assert client.get(url).get_json()["version"] == 1


def test_patch_cannot_set_read_only_fields(client, created):
    _, url = created(example("meeting"))
    response = client.patch(url, json={"version": 7})
    assert response.status_code == 422
    assert "version" in response.get_json()["errors"]


def test_delete_is_soft_then_reads_are_410(client, created):
    _, url = created(example("meeting"))
    deleted = client.delete(url)
    assert deleted.status_code == 204
    assert deleted.data == b""
    assert "Content-Type" not in deleted.headers
    assert client.get(url).status_code == 410
    assert client.put(url, json=example("meeting")).status_code == 410
    assert client.patch(url, json={"title": "x"}).status_code == 410
    assert client.delete(url).status_code == 410
    revisions = client.get(f"{url}/revisions").get_json()["items"]
    assert [(r["version"], r["operation"]) for r in revisions] == [(1, "create"), (2, "delete")]
    assert "deleted_at" in revisions[-1]["event"]
    assert revisions[-1]["event"]["title"] == revisions[0]["event"]["title"]


def test_revisions_keep_every_version_oldest_first(client, created):
    _, url = created(example("meeting", title="First"))
    client.put(url, json=example("meeting", title="Second"))
    client.patch(url, json={"title": "Third"})
    response = client.get(f"{url}/revisions")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [
        (r["version"], r["operation"], r["event"]["version"], r["event"]["title"]) for r in items
    ] == [(1, "create", 1, "First"), (2, "update", 2, "Second"), (3, "update", 3, "Third")]
    assert {(r["event_id"], r["event"]["id"]) for r in items} == {(url.rsplit("/", 1)[1],) * 2}
    assert [r["recorded_at"] for r in items] == [r["event"]["updated_at"] for r in items]


def test_revisions_of_unknown_event_is_404(client):
    assert client.get(f"/v1/events/{uuid.uuid4()}/revisions").status_code == 404


def test_key_is_unique_and_a_duplicate_is_409(client, created):
    created(example("meeting", key="lavrov-meets-kim"))
    response = client.post("/v1/events", json=example("meeting", key="lavrov-meets-kim"))
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"


def test_listing_is_newest_first_and_pages_by_cursor(client, created):
    ids = [created(example("meeting", title=f"Event {n}"))[0].get_json()["id"] for n in range(5)]
    seen = []
    url = "/v1/events?limit=2"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        page = response.get_json()
        seen += [item["id"] for item in page["items"]]
        assert len(page["items"]) <= 2
        if page["next_cursor"]:
            assert 'rel="next"' in response.headers["Link"]
            url = f"/v1/events?limit=2&cursor={page['next_cursor']}"
        else:
            assert "Link" not in response.headers
            url = None
    assert seen == list(reversed(ids))


def test_listing_leaves_out_deleted_events(client, created):
    created(example("meeting", title="Kept"))
    _, gone = created(example("meeting", title="Gone"))
    client.delete(gone)
    titles = [item["title"] for item in client.get("/v1/events").get_json()["items"]]
    assert titles == ["Kept"]


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjoxfQ", "A" * 60])
def test_listing_rejects_a_forged_cursor_with_400(client, created, cursor):
    created(example("meeting"))
    response = client.get(f"/v1/events?cursor={cursor}")
    assert response.status_code == 400
    assert "cursor" in response.get_json()["errors"]


def test_listing_rejects_a_tampered_cursor_with_400(client, created):
    for _ in range(3):
        created(example("meeting"))
    cursor = client.get("/v1/events?limit=1").get_json()["next_cursor"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    response = client.get(f"/v1/events?cursor={tampered}")
    assert response.status_code == 400


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=true", "unknown=1"])
def test_listing_rejects_bad_parameters_by_name(client, query):
    response = client.get(f"/v1/events?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert query.split("=")[0] in response.get_json()["errors"]

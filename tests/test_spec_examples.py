"""The spec's examples work as "Try it out" sends them, against a server with the seeds.

Each operation's default example (the first of its request examples, its path parameter's
example) is sent as it stands in the served spec, not as the code builds it.
"""

from __future__ import annotations

import pytest

from schemas import EVENT_KINDS
from schemas.common import SOURCE_ACTOR_KINDS
from service.http.examples import event_id
from service.seeding import SANDBOX_TO_CHANGE, SANDBOX_TO_DELETE

EVENT_PATH = "/v1/events/{event_id}"
# The operations that take an event id, each as (path, method).
ON_AN_EVENT = [(EVENT_PATH, m) for m in ("get", "put", "patch", "delete")] + [
    ("/v1/events/{event_id}/revisions", "get")
]
READS = [(path, method) for path, method in ON_AN_EVENT if method == "get"]
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def _request_examples(operation: dict, media_type: str = "application/json") -> dict:
    return operation["requestBody"]["content"][media_type]["examples"]


def _example_id(spec: dict, path: str, method: str = "get") -> str:
    """The `event_id` "Try it out" fills in: the operation's own, else the path's."""
    item = spec["paths"][path]
    parameters = item[method].get("parameters", []) + item.get("parameters", [])
    return next(p for p in parameters if p["name"] == "event_id")["example"]


def _try_default(client, spec: dict, path: str, method: str):
    """Send an operation on an event as "Try it out" does with its defaults."""
    url = path.format(event_id=_example_id(spec, path, method))
    operation = spec["paths"][path][method]
    if method == "put":
        return client.put(url, json=next(iter(_request_examples(operation).values()))["value"])
    if method == "patch":
        examples = _request_examples(operation, MERGE_PATCH["Content-Type"])
        return client.patch(url, json=next(iter(examples.values()))["value"], headers=MERGE_PATCH)
    return client.open(url, method=method.upper())


def test_every_kind_of_event_has_a_create_example(spec):
    create = spec["paths"]["/v1/events"]["post"]
    kinds = {example["value"]["type"] for example in _request_examples(create).values()}
    assert kinds == set(EVENT_KINDS)


@pytest.mark.parametrize("kind", sorted(EVENT_KINDS))
def test_each_create_example_creates_its_event_twice(client, seeded, spec, kind):
    value = _request_examples(spec["paths"]["/v1/events"]["post"])[kind]["value"]
    for _ in range(2):  # no key: trying it again is no conflict
        response = client.post("/v1/events", json=value)
        assert response.status_code == 201, response.get_json()


def test_the_id_examples_name_a_seeded_event(client, seeded, spec):
    for path, method in ON_AN_EVENT:
        url = path.format(event_id=_example_id(spec, path, method))
        assert client.get(url).status_code == 200, (method, url)


def test_the_writes_default_to_the_sandbox_and_the_reads_to_the_article(spec):
    ids = {(path, method): _example_id(spec, path, method) for path, method in ON_AN_EVENT}
    meeting = ids[(EVENT_PATH, "get")]
    assert {ids[read] for read in READS} == {meeting}
    assert ids[(EVENT_PATH, "put")] == ids[(EVENT_PATH, "patch")] == event_id(SANDBOX_TO_CHANGE)
    assert ids[(EVENT_PATH, "delete")] == event_id(SANDBOX_TO_DELETE)
    assert len({meeting, event_id(SANDBOX_TO_CHANGE), event_id(SANDBOX_TO_DELETE)}) == 3


def test_the_replace_example_replaces_the_sandbox_event(client, seeded, spec):
    operation = spec["paths"][EVENT_PATH]["put"]
    value = next(iter(_request_examples(operation).values()))["value"]
    url = EVENT_PATH.format(event_id=_example_id(spec, EVENT_PATH, "put"))
    response = client.put(url, json={**value, "title": "Replaced from the docs page"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["key"] == value["key"] == SANDBOX_TO_CHANGE
    # As it stands, the example puts the seeded sandbox back.
    assert _try_default(client, spec, EVENT_PATH, "put").get_json()["title"] == value["title"]


def test_the_patch_example_patches_the_sandbox_event(client, seeded, spec):
    operation = spec["paths"][EVENT_PATH]["patch"]
    value = next(iter(_request_examples(operation, MERGE_PATCH["Content-Type"]).values()))
    response = _try_default(client, spec, EVENT_PATH, "patch")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["tags"] == value["value"]["tags"]
    assert response.get_json()["key"] == SANDBOX_TO_CHANGE


def test_trying_every_write_twice_leaves_every_other_default_working(client, seeded, spec):
    # Each write's default, twice, in every order the docs page allows: only the second
    # delete of its own sandbox event fails (410, as documented), and nothing else does.
    for first in ("delete", "put", "patch"):
        for method in (first, *(m for m in ("put", "patch", "delete") if m != first)):
            answers = [_try_default(client, spec, EVENT_PATH, method).status_code for _ in "12"]
            assert answers == ([204, 410] if method == "delete" else [200, 200]), method
            for path, read in READS:
                assert _try_default(client, spec, path, read).status_code == 200, (method, path)
        assert client.application.test_cli_runner().invoke(args=["seed"]).exit_code == 0


def test_the_read_example_is_what_a_read_of_the_seeded_event_answers(client, seeded, spec):
    operation = spec["paths"]["/v1/events/{event_id}"]["get"]
    example = operation["responses"]["200"]["content"]["application/json"]["example"]
    read = client.get(f"/v1/events/{example['id']}").get_json()
    # Registry ids are made by each installation's writes: the example shows none.
    for actor in read["actors"]:
        assert actor.pop("actor_id")
    for source in read["sources"]:
        if source.get("kind") in SOURCE_ACTOR_KINDS:
            assert source.pop("publisher_actor_id")
        for link in source.get("attributed_to", []):
            if isinstance(link, dict) and link.get("kind") in SOURCE_ACTOR_KINDS:
                assert link.pop("actor_id")
    service_set = ("created_at", "updated_at")
    assert {k: v for k, v in read.items() if k not in service_set} == {
        k: v for k, v in example.items() if k not in service_set
    }
    assert list(read) == list(example)


def test_each_error_response_shows_an_example_of_its_own_status(spec):
    for name, response in spec["components"]["responses"].items():
        content = response.get("content", {}).get("application/problem+json")
        if content is None or name == "DEFAULT_ERROR":
            continue
        assert content["example"]["title"] == response["description"], name
        assert content["example"]["type"] == "about:blank", name
    statuses = {
        response["content"]["application/problem+json"]["example"]["status"]
        for name, response in spec["components"]["responses"].items()
        if name != "DEFAULT_ERROR" and "content" in response
    }
    assert {400, 404, 409, 412, 422, 503} <= statuses


def test_the_bulk_example_creates_its_events_twice_and_touches_no_seeded_one(client, seeded, spec):
    operation = spec["paths"]["/v1/events/bulk"]["post"]
    value = next(iter(_request_examples(operation).values()))["value"]
    assert value and all("key" not in item for item in value)
    for _ in range(2):
        response = client.post("/v1/events/bulk", json=value)
        assert response.status_code == 200, response.get_json()
        assert {item["outcome"] for item in response.get_json()["items"]} == {"created"}

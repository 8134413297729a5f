"""The spec's examples work as "Try it out" sends them, against a server with the seeds.

Each operation's default example (the first of its request examples, its path parameter's
example) is sent as it stands in the served spec, not as the code builds it.
"""

from __future__ import annotations

import pytest

from schemas import EVENT_KINDS

# Operations whose examples write; each test starts from a freshly seeded store.
ID_PATHS = ("/v1/events/{event_id}", "/v1/events/{event_id}/revisions")


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


@pytest.fixture
def seeded(app):
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output


def _request_examples(operation: dict, media_type: str = "application/json") -> dict:
    return operation["requestBody"]["content"][media_type]["examples"]


def _example_id(spec: dict, path: str) -> str:
    (parameter,) = [p for p in spec["paths"][path]["parameters"] if p["name"] == "event_id"]
    return parameter["example"]


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
    for path in ID_PATHS:
        url = path.format(event_id=_example_id(spec, path))
        assert client.get(url).status_code == 200, url


def test_the_replace_example_replaces_the_seeded_event(client, seeded, spec):
    operation = spec["paths"]["/v1/events/{event_id}"]["put"]
    value = next(iter(_request_examples(operation).values()))["value"]
    url = f"/v1/events/{_example_id(spec, '/v1/events/{event_id}')}"
    response = client.put(url, json={**value, "title": "Replaced from the docs page"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["key"] == value["key"]


def test_the_patch_example_patches_the_seeded_event(client, seeded, spec):
    operation = spec["paths"]["/v1/events/{event_id}"]["patch"]
    value = next(iter(_request_examples(operation, "application/merge-patch+json").values()))
    url = f"/v1/events/{_example_id(spec, '/v1/events/{event_id}')}"
    response = client.patch(
        url, json=value["value"], headers={"Content-Type": "application/merge-patch+json"}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["tags"] == value["value"]["tags"]


def test_the_read_example_is_what_a_read_of_the_seeded_event_answers(client, seeded, spec):
    operation = spec["paths"]["/v1/events/{event_id}"]["get"]
    example = operation["responses"]["200"]["content"]["application/json"]["example"]
    read = client.get(f"/v1/events/{example['id']}").get_json()
    # Registry ids are made by each installation's writes: the example shows none.
    for actor in read["actors"]:
        assert actor.pop("actor_id")
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

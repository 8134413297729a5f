"""/v1/event-types: the registry, and each kind's JSON Schema."""

from __future__ import annotations

import jsonschema
import pytest
from examples import EXAMPLES, example

from schemas import EVENT_KINDS


def test_lists_every_registered_kind(client):
    items = client.get("/v1/event-types").get_json()["items"]
    assert [item["type"] for item in items] == sorted(EVENT_KINDS)
    for item in items:
        assert item["description"]
        assert client.get(item["schema_url"]).status_code == 200


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_json_schema_accepts_the_example_and_rejects_a_broken_one(client, kind):
    response = client.get(f"/v1/event-types/{kind}")
    assert response.status_code == 200
    assert response.mimetype == "application/schema+json"
    schema = response.get_json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "#/components/" not in response.get_data(as_text=True)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(example(kind))
    assert not validator.is_valid(example(kind, type="not-this-kind"))
    assert not validator.is_valid(example(kind, date=2025))


def test_unknown_kind_is_404_problem(client):
    response = client.get("/v1/event-types/wedding")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"

"""Strict validation: every rule answers 422 problem+json naming the field, writing nothing."""

from __future__ import annotations

import pytest
from examples import example

from schemas import limits


def _with(event: dict, path: str, value) -> dict:
    """``event`` with the value at dotted ``path`` set (list indexes as numbers)."""
    node = event
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return event


CASES = [
    # (kind, dotted path set, value, error path, words in the message)
    ("meeting", "colour", "red", "colour", "Unknown field"),
    ("meeting", "location.altitude", 3, "location.altitude", "Unknown field"),
    ("deployment", "details.personnel.guess", 1, "details.personnel.guess", "Unknown field"),
    ("meeting", "id", "x", "id", "Read-only"),
    ("meeting", "created_at", "2025-01-01T00:00:00Z", "created_at", "Read-only"),
    ("meeting", "date", "2025-02-30", "date", "real calendar date"),
    ("meeting", "date", "2025-13", "date", "real calendar date"),
    ("meeting", "date", "12 July 2025", "date", "YYYY"),
    ("meeting", "date", 2025, "date", "string"),
    ("meeting", "end_date", "2025-07-01", "end_date", "before date"),
    ("meeting", "location.country", "XX", "location.country", "ISO 3166-1"),
    ("meeting", "location.country", "kp", "location.country", "ISO 3166-1"),
    ("meeting", "actors.0.country", "SU", "actors.0.country", "ISO 3166-1"),
    ("meeting", "location.lat", 91, "location.lat", "90"),
    ("meeting", "location.lon", -181, "location.lon", "180"),
    ("meeting", "location.lat", "39.1", "location.lat", "number"),
    ("meeting", "location.lat", True, "location.lat", "number"),
    ("deployment", "details.personnel.min", 40000, "details.personnel.min", "greater than max"),
    ("deployment", "details.personnel.min", -1, "details.personnel.min", "negative"),
    ("deployment", "details.personnel.max", True, "details.personnel.max", "number"),
    ("deployment", "details.personnel.max", "30000", "details.personnel.max", "number"),
    ("deployment", "details.personnel.approximate", 1, "details.personnel.approximate",
     "boolean"),
    ("deployment", "details.personnel", {"unit": "soldiers"}, "details.personnel", "Give"),
    ("deployment", "details.personnel", {"value": 1, "min": 2, "unit": "soldiers"},
     "details.personnel.value", "less than min"),
    ("deployment", "details.personnel", {"value": 9, "max": 8, "unit": "soldiers"},
     "details.personnel.value", "greater than max"),
    ("visit", "details.duration_days", True, "details.duration_days", "integer"),
    ("visit", "details.duration_days", 1.5, "details.duration_days", "integer"),
    ("visit", "details.duration_days", 0, "details.duration_days", "greater than"),
    ("meeting", "title", "x" * (limits.TITLE_LENGTH + 1), "title", "Longer than"),
    ("meeting", "title", "   ", "title", "empty"),
    ("meeting", "title", 12, "title", "string"),
    ("meeting", "tags", ["t"] * (limits.TAGS + 1), "tags", "More than"),
    ("meeting", "sources", [], "sources", "Shorter than"),
    ("meeting", "certainty", "certain", "certainty", "Must be one of"),
    ("meeting", "type", "wedding", "type", "Must be one of"),
    ("meeting", "type", 5, "type", "string"),
    ("meeting", "actors.0.wikidata", "150412", "actors.0.wikidata", "match"),
    ("meeting", "sources.0.url", "javascript:alert(1)", "sources.0.url", "URL"),
    ("meeting", "key", "Not A Slug", "key", "match"),
    ("meeting", "sources.0.url", "https://example.org/" + "a" * limits.URL_LENGTH,
     "sources.0.url", "Longer than"),
    ("statement", "details.language", "zz", "details.language", "ISO 639-1"),
    ("statement", "details.language", "RU", "details.language", "ISO 639-1"),
    ("casualties", "details", {"party": "x"}, "details", "at least one"),
    ("statement", "details", {"speaker": "x"}, "details", "at least one"),
    ("meeting", "related", [{"event": "x", "relation": "married_to"}], "related.0.relation",
     "Must be one of"),
]


@pytest.mark.parametrize(("kind", "path", "value", "error_path", "words"), CASES,
                         ids=[f"{c[0]}:{c[1]}={str(c[2])[:20]}" for c in CASES])
def test_invalid_event_is_422_naming_the_field(client, kind, path, value, error_path, words):
    response = client.post("/v1/events", json=_with(example(kind), path, value))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 422
    assert problem["title"] == "Unprocessable Content"
    assert error_path in problem["errors"], problem
    assert any(words in message for message in problem["errors"][error_path]), problem
    assert error_path in problem["detail"]
    assert client.get("/v1/events").get_json()["items"] == []


@pytest.mark.parametrize("field", ["type", "title", "date", "sources", "certainty", "details"])
def test_missing_required_field_is_named(client, field):
    event = example("meeting")
    del event[field]
    response = client.post("/v1/events", json=event)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_every_error_of_a_body_is_reported_at_once(client):
    event = example("deployment", colour="red")
    event["details"]["personnel"]["min"] = -3
    event["location"] = {"name": "Nowhere", "country": "ZZ"}
    errors = client.post("/v1/events", json=event).get_json()["errors"]
    assert {"colour", "details.personnel.min", "location.country"} <= set(errors)


def test_lat_without_lon_is_rejected(client):
    event = example("meeting", location={"name": "Wonsan", "country": "KP", "lat": 39.1})
    response = client.post("/v1/events", json=event)
    assert response.status_code == 422
    assert "location.lon" in response.get_json()["errors"]


@pytest.mark.parametrize("body", [[], "event", 5, False])
def test_a_body_that_is_not_an_object_is_422(client, body):
    response = client.post("/v1/events", json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


def test_partial_dates_are_accepted_at_each_precision(client):
    for date in ("2024", "2024-11", "2024-11-05"):
        assert client.post("/v1/events", json=example(date=date)).status_code == 201


def test_end_date_at_coarser_precision_may_contain_the_date(client):
    event = example(date="2024-11-20", end_date="2024-11")
    assert client.post("/v1/events", json=event).status_code == 201

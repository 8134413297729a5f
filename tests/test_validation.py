"""Strict validation: every rule answers 422 problem+json naming the field, writing nothing."""

from __future__ import annotations

import uuid

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
    ("deployment", "details.personnel.approximate", 1, "details.personnel.approximate", "boolean"),
    ("deployment", "details.personnel", {"unit": "soldiers"}, "details.personnel", "Give"),
    (
        "deployment",
        "details.personnel",
        {"value": 1, "min": 2, "unit": "soldiers"},
        "details.personnel.value",
        "less than min",
    ),
    (
        "deployment",
        "details.personnel",
        {"value": 9, "max": 8, "unit": "soldiers"},
        "details.personnel.value",
        "greater than max",
    ),
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
    (
        "meeting",
        "sources.0.url",
        "https://example.org/" + "a" * limits.URL_LENGTH,
        "sources.0.url",
        "Longer than",
    ),
    ("statement", "details.language", "zz", "details.language", "ISO 639-1"),
    ("statement", "details.language", "RU", "details.language", "ISO 639-1"),
    ("casualties", "details", {"party": "x"}, "details", "at least one"),
    ("statement", "details", {"speaker": "x"}, "details", "at least one"),
    (
        "meeting",
        "related",
        [{"event": "x", "relation": "married_to"}],
        "related.0.relation",
        "Must be one of",
    ),
    # Issue 11: precision, on-or-before dates, best estimates, casualties, source kinds.
    ("meeting", "location.precision", "street", "location.precision", "Must be one of"),
    ("meeting", "date_basis", "after", "date_basis", "Must be one of"),
    ("visit", "date_basis", "on_or_before", "end_date", "on_or_before"),
    (
        "deployment",
        "details.personnel",
        {"value": 31000, "min": 25000, "max": 30000, "unit": "soldiers"},
        "details.personnel.value",
        "greater than max",
    ),
    ("attack", "details.casualties", {}, "details.casualties", "at least one"),
    (
        "attack",
        "details.casualties",
        {"none_reported": True, "killed": {"value": 2, "unit": "people"}},
        "details.casualties.none_reported",
        "Not with figures",
    ),
    (
        "combat",
        "details.casualties",
        {"captured": {"value": 2, "unit": "soldiers"}},
        "details.casualties.captured",
        "Unknown field",
    ),
    (
        "attack",
        "details.casualties",
        {"killed": {"min": 5, "max": 2, "unit": "people"}},
        "details.casualties.killed.min",
        "greater than max",
    ),
    ("meeting", "sources.0.kind", "blog", "sources.0.kind", "Must be one of"),
    (
        "meeting",
        "sources.0.attributed_to",
        [{"name": "CNN", "kind": "tv"}],
        "sources.0.attributed_to.0.kind",
        "Must be one of",
    ),
    (
        "meeting",
        "sources.0.attributed_to",
        [{"kind": "broadcaster"}],
        "sources.0.attributed_to.0.name",
        "Missing",
    ),
    (
        "meeting",
        "sources.0.attributed_to",
        [{"name": "CNN", "url": "x"}],
        "sources.0.attributed_to.0.url",
        "Unknown field",
    ),
    ("meeting", "sources.0.attributed_to", [7], "sources.0.attributed_to.0", "Give a name"),
    ("meeting", "sources.0.attributed_to", [" "], "sources.0.attributed_to.0", "empty"),
    ("logistics_movement", "details.between", ["KP", "RU"], "details.between", "not both"),
    (
        "logistics_movement",
        "details",
        {"between": ["KP"], "means": [{"category": "ship"}]},
        "details.between",
        "Length",
    ),
    (
        "logistics_movement",
        "details",
        {"origin_country": "KP", "means": [{"category": "ship"}]},
        "details.destination_country",
        "Required unless between",
    ),
    ("situation", "details.aspect", "mood", "details.aspect", "Must be one of"),
    ("meeting", "distance_km", 3.5, "distance_km", "Read-only"),
]


@pytest.mark.parametrize(
    ("kind", "path", "value", "error_path", "words"),
    CASES,
    ids=[f"{c[0]}:{c[1]}={str(c[2])[:20]}" for c in CASES],
)
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


def _stored(client, event: dict) -> dict:
    response = client.post("/v1/events", json=event)
    assert response.status_code == 201, response.get_json()
    return client.get(response.headers["Location"]).get_json()


@pytest.mark.parametrize("precision", ["exact", "near", "town", "region", "country"])
def test_location_precision_is_stored(client, precision):
    location = {
        "name": "Kursk region",
        "country": "RU",
        "lat": 51.73,
        "lon": 36.19,
        "precision": precision,
    }
    assert _stored(client, example(location=location))["location"] == location


def test_on_or_before_date_is_stored_without_end_date(client):
    stored = _stored(client, example("situation"))
    assert (stored["date"], stored["date_basis"]) == ("2025-07-13", "on_or_before")


def test_best_estimate_within_bounds_is_stored(client):
    personnel = {
        "value": 27000,
        "min": 25000,
        "max": 30000,
        "approximate": True,
        "unit": "soldiers",
    }
    event = example("deployment")
    event["details"]["personnel"] = personnel
    assert _stored(client, event)["details"]["personnel"] == personnel


@pytest.mark.parametrize("bounds", [{"min": 100}, {"max": 100}, {"min": 100, "max": 100}])
def test_best_estimate_may_equal_a_bound(client, bounds):
    event = example("deployment")
    event["details"]["personnel"] = {"value": 100, "unit": "soldiers"} | bounds
    assert client.post("/v1/events", json=event).status_code == 201


@pytest.mark.parametrize("kind", ["attack", "combat"])
@pytest.mark.parametrize(
    "casualties",
    [
        {"none_reported": True},
        {"killed": {"value": 0, "unit": "civilians"}},
        {
            "killed": {"value": 2, "unit": "civilians"},
            "wounded": {"min": 10, "unit": "civilians"},
            "missing": {"max": 3, "unit": "civilians"},
        },
        {"killed_or_wounded": {"value": 4000, "approximate": True, "unit": "soldiers"}},
    ],
)
def test_attack_and_combat_carry_casualties(client, kind, casualties):
    event = example(kind)
    event["details"]["casualties"] = casualties
    assert _stored(client, event)["details"]["casualties"] == casualties


def test_casualties_left_out_mean_unknown_and_differ_from_none_reported(client):
    unknown = _stored(client, example("attack"))
    none = example("attack")
    none["details"]["casualties"] = {"none_reported": True}
    assert "casualties" not in unknown["details"]
    assert _stored(client, none)["details"]["casualties"] == {"none_reported": True}


def test_source_kinds_on_publisher_and_each_link_and_plain_names_still_valid(client):
    sources = [
        {
            "publisher": "ANI",
            "kind": "news_agency",
            "attributed_to": [{"name": "CNN", "kind": "broadcaster"}, "Ukrainian intelligence"],
        },
        {"publisher": "TASS", "kind": "state_media", "attributed_to": ["Sergey Lavrov"]},
    ]
    stored = _stored(client, example(sources=sources))["sources"]
    # Each publisher and object link of an actor kind gains its registry id (plain names
    # carry no kind, so none); the rest is as sent.
    ani, tass = stored
    assert uuid.UUID(ani.pop("publisher_actor_id")) and uuid.UUID(tass.pop("publisher_actor_id"))
    assert uuid.UUID(ani["attributed_to"][0].pop("actor_id"))
    assert stored == sources


def test_logistics_without_a_direction_names_the_two_countries(client):
    event = example("logistics_movement")
    event["details"] = {"between": ["KP", "RU"], "means": [{"category": "ship"}]}
    assert _stored(client, event)["details"]["between"] == ["KP", "RU"]

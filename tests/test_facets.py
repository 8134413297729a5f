"""GET /v1/events/facets: counts under the search filters, adding up to the search total."""

from __future__ import annotations

import pytest
from examples import example


def test_facets_count_every_live_event(client, ids):
    response = client.get("/v1/events/facets")
    assert response.status_code == 200
    assert response.get_json() == {
        "total": 7,
        "type": {
            "arms_transfer": 1,
            "attack": 1,
            "casualties": 1,
            "meeting": 1,
            "military_cooperation": 1,
            "statement": 1,
            "visit": 1,
        },
        "country": {"RU": 6, "KP": 3, "UA": 1},
        "certainty": {"confirmed": 2, "reported": 2, "claimed": 1, "estimated": 1, "planned": 1},
        "source_kind": {},
        "month": {"2023-09": 1, "2024": 1, "2024-06": 1, "2024-12": 1, "2025-06": 1, "2025-07": 2},
    }


def test_facets_apply_the_search_filters(client, ids):
    facets = client.get("/v1/events/facets?country=KP&date_from=2024&date_to=2024").get_json()
    assert facets == {
        "total": 2,
        "type": {"arms_transfer": 1, "casualties": 1},
        "country": {"KP": 2, "RU": 1},
        "certainty": {"estimated": 1, "reported": 1},
        "source_kind": {},
        "month": {"2024": 1, "2024-12": 1},
    }


def test_facets_of_nothing_are_empty(client, ids):
    assert client.get("/v1/events/facets?q=nonexistentword").get_json() == {
        "total": 0,
        "type": {},
        "country": {},
        "certainty": {},
        "source_kind": {},
        "month": {},
    }


@pytest.mark.parametrize(
    "query",
    [
        "",
        "type=attack&type=meeting",
        "q=Lavrov",
        "country=RU",
        "certainty=reported",
        "date_from=2024-06&date_to=2025-06",
        "bbox=30,45,40,55",
        "source=TASS&tag=diplomacy",
    ],
)
def test_facets_add_up_to_the_search_total(client, ids, query):
    facets = client.get(f"/v1/events/facets?{query}").get_json()
    found = client.get(f"/v1/events?{query}&limit=100").get_json()["items"]
    assert facets["total"] == len(found)
    for facet in ("type", "certainty", "month"):
        assert sum(facets[facet].values()) == facets["total"]
    countries = {}
    for event in found:
        named = {event.get("location", {}).get("country")}
        named |= {actor.get("country") for actor in event.get("actors", [])}
        for country in named - {None}:
            countries[country] = countries.get(country, 0) + 1
    assert facets["country"] == countries


def test_facets_sum_events_that_share_countries_and_a_day(client):
    # Facets count per distinct countries array, source kinds and day first, then sum:
    # events alike in all of them must each count, and a day and a month of one month
    # fall under one month.
    alike = example("meeting", date="2025-07-12")
    for event in (alike, alike, example("meeting", date="2025-07"), example("attack")):
        assert client.post("/v1/events", json=event).status_code == 201
    facets = client.get("/v1/events/facets").get_json()
    assert facets["total"] == 4
    assert facets["country"] == {"KP": 3, "RU": 3}
    assert facets["month"] == {"2025-07": 4}
    assert facets["type"] == {"meeting": 3, "attack": 1}

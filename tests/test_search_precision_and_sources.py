"""Search by location precision, date basis and source kind, and their facets and exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from search_data import create_events

REPORT = {
    "publisher": "ANI",
    "kind": "news_agency",
    "attributed_to": [{"name": "CNN", "kind": "broadcaster"}],
}

# Short name -> event. Comments say what the filters below see in each.
EVENTS = {
    # region point, dated 2024, ANI (news_agency) <- CNN (broadcaster)
    "kursk": {
        "type": "combat",
        "title": "Fighting in the Kursk border region",
        "date": "2024",
        "location": {
            "name": "Kursk region",
            "country": "RU",
            "lat": 51.73,
            "lon": 36.19,
            "precision": "region",
        },
        "sources": [REPORT],
        "certainty": "reported",
        "details": {"belligerents": ["KP", "RU", "UA"]},
    },
    # town point, 2025-07-12, TASS (state_media), plain-name chain
    "wonsan": {
        "type": "meeting",
        "title": "Talks in Wonsan",
        "date": "2025-07-12",
        "location": {
            "name": "Wonsan",
            "country": "KP",
            "lat": 39.15,
            "lon": 127.44,
            "precision": "town",
        },
        "sources": [
            {"publisher": "TASS", "kind": "state_media", "attributed_to": ["Sergey Lavrov"]}
        ],
        "certainty": "reported",
        "details": {"format": "talks"},
    },
    # on or before 2025-07-13, no location, ANI <- CNN <- Ukrainian intelligence
    "manuals": {
        "type": "military_cooperation",
        "title": "Manuals translated",
        "date": "2025-07-13",
        "date_basis": "on_or_before",
        "sources": [
            {
                "publisher": "ANI",
                "kind": "news_agency",
                "attributed_to": [
                    {"name": "CNN", "kind": "broadcaster"},
                    {"name": "Ukrainian intelligence", "kind": "intelligence_service"},
                ],
            }
        ],
        "certainty": "reported",
        "details": {"parties": ["KP", "RU"], "area": "interoperability"},
    },
    # no precision, no source kinds, 2023-03
    "plain": {
        "type": "meeting",
        "title": "An older meeting",
        "date": "2023-03",
        "location": {"name": "Moscow", "country": "RU", "lat": 55.76, "lon": 37.62},
        "sources": [{"publisher": "Reuters"}],
        "certainty": "reported",
        "details": {"format": "talks"},
    },
}


@pytest.fixture
def stored(client) -> dict[str, str]:
    """The events above, stored; short name -> id."""
    return create_events(client, EVENTS)


def _found(client, query: str) -> set[str]:
    response = client.get(f"/v1/events?{query}&limit=100")
    assert response.status_code == 200, response.get_json()
    titles = {event["title"]: name for name, event in EVENTS.items()}
    return {titles[item["title"]] for item in response.get_json()["items"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("location_precision=region", {"kursk"}),
        ("location_precision=town&location_precision=exact", {"wonsan"}),
        ("source_kind=broadcaster", {"kursk", "manuals"}),
        ("source_kind=intelligence_service", {"manuals"}),
        ("source_kind=state_media", {"wonsan"}),
        ("source_kind=ngo", set()),
        ("date_basis=on_or_before", {"manuals"}),
        ("date_basis=on", {"kursk", "wonsan", "plain"}),
        ("source_kind=news_agency&location_precision=region", {"kursk"}),
    ],
)
def test_filters_on_precision_basis_and_source_kind(client, stored, query, expected):
    assert _found(client, query) == expected


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # An on-or-before event may have happened on any day up to its date: a window
        # matches it when the window starts on or before that date.
        ("date_from=2025-07-13", {"manuals"}),
        ("date_from=2025-07-14", set()),
        ("date_from=2024&date_to=2024", {"kursk", "manuals"}),
        ("date_from=2020&date_to=2020", {"manuals"}),
        ("date_to=2023-03", {"plain", "manuals"}),
        ("date_from=2020&date_to=2020&date_basis=on", set()),
    ],
)
def test_date_window_treats_on_or_before_as_may_have_happened_by_its_date(
    client, stored, window, expected
):
    assert _found(client, window) == expected


def test_sort_by_date_puts_on_or_before_first_by_its_open_start(client, stored):
    items = client.get("/v1/events?sort=date").get_json()["items"]
    assert [item["title"] for item in items] == [
        "Manuals translated",
        "An older meeting",
        "Fighting in the Kursk border region",
        "Talks in Wonsan",
    ]


def test_facets_count_source_kinds_and_place_on_or_before_by_its_date(client, stored):
    facets = client.get("/v1/events/facets").get_json()
    assert facets["source_kind"] == {
        "broadcaster": 2,
        "news_agency": 2,
        "intelligence_service": 1,
        "state_media": 1,
    }
    assert facets["month"] == {"2023-03": 1, "2024": 1, "2025-07": 1, "../2025-07": 1}


def test_csv_export_shows_precision_basis_and_source_kinds(client, stored):
    text = client.get("/v1/events/export?format=csv&sort=date").get_data(as_text=True)
    rows = {row["title"]: row for row in csv.DictReader(io.StringIO(text))}
    manuals, kursk = rows["Manuals translated"], rows["Fighting in the Kursk border region"]
    assert (manuals["date"], manuals["date_basis"]) == ("2025-07-13", "on_or_before")
    assert manuals["source_kinds"] == "broadcaster; intelligence_service; news_agency"
    assert (kursk["date_basis"], kursk["location_precision"]) == ("on", "region")
    assert rows["An older meeting"]["location_precision"] == ""


def test_geojson_export_carries_precision_and_date_basis(client, stored):
    located = EVENTS["manuals"] | {
        "title": "Images of ships",
        "location": {
            "name": "Rajin",
            "country": "KP",
            "lat": 42.25,
            "lon": 130.3,
            "precision": "near",
        },
    }
    assert client.post("/v1/events", json=located).status_code == 201
    collection = json.loads(client.get("/v1/events/export?format=geojson").get_data())
    features = {f["properties"]["title"]: f for f in collection["features"]}
    kursk = features["Fighting in the Kursk border region"]
    assert kursk["properties"]["location"]["precision"] == "region"
    assert kursk["geometry"]["coordinates"] == [36.19, 51.73]
    ships = features["Images of ships"]["properties"]
    assert (ships["date"], ships["date_basis"]) == ("2025-07-13", "on_or_before")
    assert ships["location"]["precision"] == "near"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("location_precision=street", "location_precision"),
        ("source_kind=blog", "source_kind"),
        ("date_basis=after", "date_basis"),
    ],
)
def test_bad_new_filter_is_400_naming_it(client, query, name):
    for path in ("/v1/events", "/v1/events/facets", "/v1/events/export"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400
        assert name in response.get_json()["errors"]

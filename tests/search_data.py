"""A small fixed set of events whose search results are checked by hand in the tests.

Short names (``wonsan``, ``visit`` …) stand for each event; the comment on each says what
the filters of the tests see in it.
"""

from __future__ import annotations


def _source(publisher: str) -> list[dict]:
    slug = publisher.lower().replace(" ", "-")
    return [{"publisher": publisher, "url": f"https://example.org/{slug}/1"}]


def _person(name: str, country: str, role: str = "participant") -> dict:
    return {"name": name, "kind": "person", "country": country, "role": role}


def _force(name: str, country: str, role: str = "participant") -> dict:
    return {"name": name, "kind": "armed_force", "country": country, "role": role}


EVENTS: dict[str, dict] = {
    # meeting, 2025-07-12, Wonsan KP (coordinates), Lavrov RU + Kim KP, confirmed, ANI.
    "wonsan": {
        "type": "meeting",
        "title": "Lavrov meets Kim in Wonsan",
        "summary": "Talks on bilateral relations and the war in Ukraine.",
        "date": "2025-07-12",
        "location": {"name": "Wonsan", "country": "KP", "lat": 39.15, "lon": 127.44},
        "actors": [_person("Sergey Lavrov", "RU", "visitor"), _person("Kim Jong Un", "KP", "host")],
        "sources": _source("ANI"),
        "certainty": "confirmed",
        "tags": ["diplomacy"],
        "details": {"format": "talks"},
    },
    # visit, 2025-07-11..13, no place, Lavrov RU (name in capitals), reported, TASS.
    "visit": {
        "type": "visit",
        "title": "Three-day visit to North Korea",
        "date": "2025-07-11",
        "end_date": "2025-07-13",
        "actors": [_person("SERGEY LAVROV", "RU", "visitor")],
        "sources": _source("TASS"),
        "certainty": "reported",
        "tags": ["diplomacy", "visit"],
        "details": {"host_country": "KP", "visitor_country": "RU"},
    },
    # attack, 2025-06 (the month), Kharkiv UA (coordinates), Russian forces RU, claimed.
    "kharkiv": {
        "type": "attack",
        "title": "Drone strike on Kharkiv",
        "summary": "Hundreds of drones hit the city overnight.",
        "date": "2025-06",
        "location": {"name": "Kharkiv", "country": "UA", "lat": 49.99, "lon": 36.23},
        "actors": [_force("Russian Armed Forces", "RU", "attacker")],
        "sources": _source("Reuters"),
        "certainty": "claimed",
        "tags": ["drones"],
        "details": {"attacker": "RU", "target_country": "UA"},
    },
    # arms_transfer, 2024 (the year), no place, Korean People's Army KP, reported, UN panel.
    "missiles": {
        "type": "arms_transfer",
        "title": "Missiles shipped to Russia",
        "date": "2024",
        "actors": [_force("Korean People's Army", "KP", "supplier")],
        "sources": _source("UN panel"),
        "certainty": "reported",
        "tags": ["missiles"],
        "details": {
            "supplier": "KP",
            "recipient": "RU",
            "items": [{"category": "ballistic_missile"}],
        },
    },
    # casualties, 2024-12, Kursk RU (coordinates), Korean People's Army KP, estimated.
    "kursk": {
        "type": "casualties",
        "title": "Soldiers killed near Kursk",
        "date": "2024-12",
        "location": {"name": "Kursk", "country": "RU", "lat": 51.73, "lon": 36.19},
        "actors": [_force("Korean People's Army", "KP", "party")],
        "sources": _source("Reuters"),
        "certainty": "estimated",
        "details": {"party": "North Korean forces", "killed": {"min": 100, "unit": "soldiers"}},
    },
    # statement, 2024-06-15, no place, Zakharova RU, confirmed, TASS; a quote.
    "statement": {
        "type": "statement",
        "title": "Spokeswoman on the alliance",
        "date": "2024-06-15",
        "actors": [_person("Maria Zakharova", "RU", "speaker")],
        "sources": _source("TASS"),
        "certainty": "confirmed",
        "details": {
            "speaker": "Maria Zakharova",
            "quote": "Our cooperation is directed against no one.",
        },
    },
    # military_cooperation, 2023-09, Anadyr RU (lon 177.51: east of 170), planned, ANI.
    "anadyr": {
        "type": "military_cooperation",
        "title": "Exercise near Anadyr",
        "date": "2023-09",
        "location": {"name": "Anadyr", "country": "RU", "lat": 64.73, "lon": 177.51},
        "sources": _source("ANI"),
        "certainty": "planned",
        "details": {"parties": ["KP", "RU"], "area": "training"},
    },
}

# Created last and deleted: must never be found.
DELETED = {
    "type": "attack",
    "title": "Deleted drone strike on Odesa",
    "date": "2025-06-20",
    "location": {"name": "Odesa", "country": "UA", "lat": 46.48, "lon": 30.72},
    "actors": [_person("Sergey Lavrov", "RU")],
    "sources": _source("Reuters"),
    "certainty": "claimed",
    "tags": ["drones"],
    "details": {"attacker": "RU"},
}

# Every live event, in the order sort=date gives (start of the date span, ascending).
BY_DATE = ["anadyr", "missiles", "statement", "kursk", "kharkiv", "visit", "wonsan"]


def create_events(client, events: dict[str, dict]) -> dict[str, str]:
    """POST each event; returns short name -> id."""
    ids = {}
    for name, event in events.items():
        response = client.post("/v1/events", json=event)
        assert response.status_code == 201, response.get_json()
        ids[name] = response.get_json()["id"]
    return ids


def create_all(client) -> dict[str, str]:
    """POST the set (and the deleted one, then DELETE it); returns short name -> id."""
    ids = create_events(client, EVENTS)
    response = client.post("/v1/events", json=DELETED)
    assert client.delete(response.headers["Location"]).status_code == 204
    return ids

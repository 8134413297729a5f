"""One valid event of each kind, for tests to start from and vary."""

from __future__ import annotations

import copy

ANI = {
    "publisher": "ANI",
    "url": "https://example.org/ani/lavrov-wonsan",
    "published": "2025-07-13",
    "attributed_to": ["CNN"],
}

EXAMPLES: dict[str, dict] = {
    "meeting": {
        "type": "meeting",
        "title": "Foreign minister meets leader",
        "summary": "Talks on bilateral relations.",
        "date": "2025-07-12",
        "location": {"name": "Wonsan", "country": "KP", "lat": 39.15, "lon": 127.44},
        "actors": [
            {
                "name": "Sergey Lavrov",
                "kind": "person",
                "country": "RU",
                "role": "visitor",
                "wikidata": "Q150412",
            },
            {"name": "Kim Jong Un", "kind": "person", "country": "KP", "role": "host"},
        ],
        "sources": [ANI],
        "certainty": "confirmed",
        "tags": ["diplomacy"],
        "details": {"format": "talks", "topics": ["bilateral relations"]},
    },
    "visit": {
        "type": "visit",
        "title": "Three-day visit",
        "date": "2025-07-11",
        "end_date": "2025-07-13",
        "sources": [ANI],
        "certainty": "reported",
        "details": {"host_country": "KP", "visitor_country": "RU", "duration_days": 3},
    },
    "statement": {
        "type": "statement",
        "title": "Press conference remarks",
        "date": "2025-07-12",
        "sources": [{"publisher": "ANI", "attributed_to": ["TASS"]}],
        "certainty": "confirmed",
        "details": {
            "speaker": "Sergey Lavrov",
            "quote": "We exchanged views.",
            "occasion": "press conference",
            "language": "ru",
        },
    },
    "deployment": {
        "type": "deployment",
        "title": "Planned additional deployment",
        "date": "2025-07",
        "sources": [{"publisher": "ANI", "attributed_to": ["CNN", "Ukrainian intelligence"]}],
        "certainty": "planned",
        "details": {
            "force": "Korean People's Army",
            "origin_country": "KP",
            "destination_country": "RU",
            "status": "planned",
            "personnel": {"min": 25000, "max": 30000, "unit": "soldiers"},
        },
    },
    "arms_transfer": {
        "type": "arms_transfer",
        "title": "Missiles and shells supplied",
        "date": "2024",
        "sources": [{"publisher": "ANI", "attributed_to": ["report of 11 UN member states"]}],
        "certainty": "reported",
        "details": {
            "supplier": "KP",
            "recipient": "RU",
            "items": [
                {"category": "ballistic_missile", "quantity": {"min": 100, "unit": "missiles"}},
                {"category": "artillery_shell", "quantity": {"value": 9000000, "unit": "shells"}},
            ],
        },
    },
    "casualties": {
        "type": "casualties",
        "title": "Soldiers killed or wounded",
        "date": "2024",
        "sources": [{"publisher": "ANI", "attributed_to": ["Western officials"]}],
        "certainty": "estimated",
        "details": {
            "party": "North Korean forces",
            "population": "military",
            "killed_or_wounded": {"value": 4000, "approximate": True, "unit": "soldiers"},
        },
    },
    "attack": {
        "type": "attack",
        "title": "Record drone and missile attack",
        "date": "2025-07-09",
        "sources": [ANI],
        "certainty": "reported",
        "details": {
            "attacker": "RU",
            "target_country": "UA",
            "record": True,
            "weapons": [
                {"category": "drone", "quantity": {"value": 728, "unit": "drones"}},
                {"category": "missile", "quantity": {"value": 13, "unit": "missiles"}},
            ],
        },
    },
    "combat": {
        "type": "combat",
        "title": "Fighting alongside allied forces",
        "date": "2024",
        "location": {"name": "Kursk", "region": "Kursk Oblast", "country": "RU"},
        "sources": [ANI],
        "certainty": "reported",
        "details": {"belligerents": ["KP", "RU", "UA"], "front": "Kursk"},
    },
    "military_cooperation": {
        "type": "military_cooperation",
        "title": "Manuals translated",
        "date": "2025",
        "sources": [ANI],
        "certainty": "reported",
        "details": {"parties": ["KP", "RU"], "area": "interoperability"},
    },
    "logistics_movement": {
        "type": "logistics_movement",
        "title": "Ships and planes moving",
        "date": "2025",
        "sources": [ANI],
        "certainty": "reported",
        "details": {
            "origin_country": "KP",
            "destination_country": "RU",
            "both_directions": True,
            "observed_by": "satellite_imagery",
            "means": [{"category": "ship"}, {"category": "cargo_aircraft"}],
        },
    },
    "situation": {
        "type": "situation",
        "title": "Growing reliance on imported shells",
        "date": "2025-07-13",
        "date_basis": "on_or_before",
        "sources": [ANI],
        "certainty": "reported",
        "details": {
            "subject": "RU",
            "aspect": "dependence",
            "counterpart": "KP",
            "description": "More dependent on North Korean ammunition.",
        },
    },
    "publication": {
        "type": "publication",
        "title": "Ministry posts a photo",
        "date": "2025-07-12",
        "sources": [ANI],
        "certainty": "reported",
        "details": {
            "publisher": "Russian Ministry of Foreign Affairs",
            "medium": "photo",
            "channel": "Telegram",
        },
    },
}


def example(kind: str = "meeting", **overrides) -> dict:
    """A fresh copy of the example of ``kind``, with top-level fields overridden."""
    event = copy.deepcopy(EXAMPLES[kind])
    event.update(overrides)
    return event

"""Synthetic events that look like the real ones: every kind, the same body shape, mixed
date precisions, hedged figures, several actors and sources, and words whose frequencies
fall off as in real text. Deterministic for a seed."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

# (name, region, country, lat, lon)
PLACES = [
    ("Kyiv", "Kyiv City", "UA", 50.45, 30.52),
    ("Kharkiv", "Kharkiv Oblast", "UA", 49.99, 36.23),
    ("Odesa", "Odesa Oblast", "UA", 46.48, 30.72),
    ("Dnipro", "Dnipropetrovsk Oblast", "UA", 48.46, 35.05),
    ("Zaporizhzhia", "Zaporizhzhia Oblast", "UA", 47.84, 35.14),
    ("Lviv", "Lviv Oblast", "UA", 49.84, 24.03),
    ("Sumy", "Sumy Oblast", "UA", 50.91, 34.80),
    ("Kherson", "Kherson Oblast", "UA", 46.64, 32.61),
    ("Pokrovsk", "Donetsk Oblast", "UA", 48.28, 37.18),
    ("Kursk", "Kursk Oblast", "RU", 51.73, 36.19),
    ("Belgorod", "Belgorod Oblast", "RU", 50.60, 36.59),
    ("Moscow", "Moscow", "RU", 55.76, 37.62),
    ("Rostov-on-Don", "Rostov Oblast", "RU", 47.24, 39.71),
    ("Vladivostok", "Primorsky Krai", "RU", 43.12, 131.89),
    ("Khasan", "Primorsky Krai", "RU", 42.43, 130.64),
    ("Anadyr", "Chukotka", "RU", 64.73, 177.51),
    ("Pyongyang", "Pyongyang", "KP", 39.04, 125.76),
    ("Wonsan", "Kangwon", "KP", 39.15, 127.44),
    ("Rason", "Rason", "KP", 42.26, 130.30),
    ("Najin", "Rason", "KP", 42.25, 130.29),
    ("Seoul", "Seoul", "KR", 37.57, 126.98),
    ("Tokyo", "Tokyo", "JP", 35.68, 139.69),
    ("Beijing", "Beijing", "CN", 39.90, 116.41),
    ("Tehran", "Tehran", "IR", 35.69, 51.39),
    ("Minsk", "Minsk", "BY", 53.90, 27.56),
    ("Warsaw", "Masovia", "PL", 52.23, 21.01),
    ("Berlin", "Berlin", "DE", 52.52, 13.40),
    ("Brussels", "Brussels", "BE", 50.85, 4.35),
    ("Washington", "District of Columbia", "US", 38.91, -77.04),
    ("New York", "New York", "US", 40.71, -74.01),
    ("Ankara", "Ankara", "TR", 39.93, 32.86),
    ("Damascus", "Damascus", "SY", 33.51, 36.29),
    ("Vienna", "Vienna", "AT", 48.21, 16.37),
]
COUNTRIES = [
    "UA",
    "RU",
    "KP",
    "US",
    "CN",
    "KR",
    "JP",
    "IR",
    "BY",
    "PL",
    "DE",
    "FR",
    "GB",
    "TR",
    "SY",
    "BE",
    "AT",
    "IN",
]
STATES = {
    "UA": "Ukraine",
    "RU": "Russia",
    "KP": "North Korea",
    "US": "United States",
    "CN": "China",
    "KR": "South Korea",
    "JP": "Japan",
    "IR": "Iran",
    "BY": "Belarus",
    "PL": "Poland",
    "DE": "Germany",
    "FR": "France",
    "GB": "United Kingdom",
    "TR": "Turkey",
    "SY": "Syria",
    "BE": "Belgium",
    "AT": "Austria",
    "IN": "India",
}
FIRST = [
    "Sergey",
    "Kim",
    "Maria",
    "Andriy",
    "Volodymyr",
    "Dmitry",
    "Choe",
    "Pak",
    "Olena",
    "Antony",
    "Wang",
    "Ali",
    "Yoon",
    "Jens",
    "Rustem",
    "Oleksandr",
    "Valery",
    "Ri",
    "Sun",
    "Mark",
    "Kaja",
    "Fumio",
    "Recep",
    "Alexander",
    "Yulia",
    "Denys",
    "Igor",
]
LAST = [
    "Lavrov",
    "Jong Un",
    "Zakharova",
    "Sybiha",
    "Zelensky",
    "Peskov",
    "Son Hui",
    "Jong Chol",
    "Shoigu",
    "Blinken",
    "Yi",
    "Khamenei",
    "Suk Yeol",
    "Stoltenberg",
    "Umerov",
    "Syrskyi",
    "Gerasimov",
    "Yong Ho",
    "Rutte",
    "Kallas",
    "Kishida",
    "Erdogan",
    "Lukashenko",
    "Svyrydenko",
    "Shmyhal",
    "Belousov",
    "Budanov",
    "Pak Jong",
    "Kozak",
    "Medvedev",
]
PUBLISHERS = [
    "Reuters",
    "AP",
    "AFP",
    "ANI",
    "TASS",
    "Yonhap",
    "KCNA",
    "BBC",
    "CNN",
    "Kyiv Independent",
    "Ukrainska Pravda",
    "RIA Novosti",
    "NK News",
    "Al Jazeera",
    "The Guardian",
    "Financial Times",
    "NHK",
    "ISW",
    "Bloomberg",
    "Interfax",
]
ATTRIBUTIONS = [
    "Ukrainian intelligence",
    "South Korean intelligence",
    "the Kremlin",
    "Western officials",
    "the Pentagon",
    "report of 11 UN member states",
    "local authorities",
    "the General Staff",
    "satellite imagery analysts",
]
TAGS = [
    "diplomacy",
    "drones",
    "missiles",
    "artillery",
    "air defence",
    "frontline",
    "sanctions",
    "energy",
    "civilians",
    "infrastructure",
    "navy",
    "logistics",
    "training",
    "ammunition",
    "prisoners",
    "ceasefire",
    "elections",
    "cyber",
    "nuclear",
    "grain",
    "railway",
    "port",
    "border",
    "mobilisation",
    "exercise",
    "summit",
    "alliance",
    "treaty",
    "humanitarian",
    "evacuation",
]
# Common words first: word i is drawn with weight 1/(i+1), as in natural text.
WORDS = [
    "forces",
    "attack",
    "drone",
    "missile",
    "strike",
    "city",
    "region",
    "talks",
    "ministry",
    "officials",
    "said",
    "military",
    "troops",
    "front",
    "defence",
    "air",
    "shelling",
    "border",
    "cooperation",
    "weapons",
    "ammunition",
    "supply",
    "army",
    "soldiers",
    "killed",
    "wounded",
    "civilian",
    "infrastructure",
    "energy",
    "power",
    "station",
    "port",
    "railway",
    "bridge",
    "village",
    "district",
    "oblast",
    "overnight",
    "morning",
    "night",
    "report",
    "according",
    "intelligence",
    "satellite",
    "images",
    "shows",
    "warehouse",
    "depot",
    "convoy",
    "ships",
    "cargo",
    "aircraft",
    "ballistic",
    "cruise",
    "interceptor",
    "launched",
    "shot",
    "down",
    "damaged",
    "destroyed",
    "building",
    "residential",
    "hospital",
    "school",
    "visit",
    "delegation",
    "leader",
    "president",
    "foreign",
    "minister",
    "agreement",
    "treaty",
    "strategic",
    "partnership",
    "exchange",
    "views",
    "bilateral",
    "relations",
    "support",
    "sovereignty",
    "security",
    "sanctions",
    "economy",
    "trade",
    "grain",
    "fuel",
    "prisoners",
    "exchange",
    "negotiations",
    "ceasefire",
    "offensive",
    "counteroffensive",
    "positions",
    "advance",
    "retreat",
    "trench",
    "artillery",
    "tank",
    "armoured",
    "vehicle",
    "engineers",
    "construction",
    "workers",
    "deployment",
    "rotation",
    "training",
    "manuals",
    "translation",
    "doctrine",
    "interoperability",
    "exercise",
    "joint",
    "naval",
    "fleet",
    "submarine",
    "coast",
    "guard",
    "patrol",
    "airspace",
    "radar",
    "electronic",
    "warfare",
    "jamming",
    "glide",
    "bomb",
    "rocket",
    "launcher",
    "howitzer",
    "shell",
    "stockpile",
    "production",
    "factory",
    "plant",
    "export",
    "import",
    "transfer",
    "shipment",
    "delivery",
    "route",
]
QUOTES = [
    "We will continue to support our allies.",
    "The talks were constructive and frank.",
    "This cooperation is directed against no third country.",
    "Our forces repelled the attack.",
    "Every strike will be answered.",
    "We exchanged views on the situation on the peninsula.",
    "The shipments violate Security Council resolutions.",
    "Air defence shot down most of the drones.",
]


class EventFactory:
    """Makes client-view events (what a client would POST), reproducibly."""

    def __init__(self, seed: int = 2025):
        self.random = random.Random(seed)
        self.word_weights = [1 / (i + 1) for i in range(len(WORDS))]
        self.people = [f"{first} {last}" for first in FIRST for last in LAST]
        self.kinds = {
            "attack": (25, self._attack),
            "statement": (15, self._statement),
            "meeting": (10, self._meeting),
            "visit": (5, self._visit),
            "casualties": (10, self._casualties),
            "deployment": (6, self._deployment),
            "arms_transfer": (6, self._arms_transfer),
            "combat": (12, self._combat),
            "military_cooperation": (4, self._cooperation),
            "logistics_movement": (7, self._logistics),
        }
        self.kind_names = list(self.kinds)
        self.kind_weights = [weight for weight, _ in self.kinds.values()]

    def _words(self, count: int) -> str:
        return " ".join(self.random.choices(WORDS, self.word_weights, k=count))

    def _country(self) -> str:
        # A conflict-heavy mix: the first few countries dominate.
        return self.random.choices(COUNTRIES, [1 / (i + 1) for i in range(len(COUNTRIES))])[0]

    def _quantity(self, unit: str, scale: int) -> dict:
        r = self.random
        shape = r.random()
        if shape < 0.4:
            return {"value": r.randint(1, scale), "unit": unit}
        if shape < 0.6:
            return {"value": r.randint(1, scale), "approximate": True, "unit": unit}
        if shape < 0.8:
            low = r.randint(1, scale)
            return {"min": low, "max": low + r.randint(1, scale), "unit": unit}
        return {"min": r.randint(1, scale), "unit": unit}

    def _date(self) -> tuple[str, str | None]:
        r = self.random
        # Ten years, denser towards the present.
        day = dt.date(2025, 12, 31) - dt.timedelta(days=int(3650 * r.random() ** 1.5))
        precision = r.random()
        if precision < 0.05:
            return str(day.year), None
        if precision < 0.2:
            return day.strftime("%Y-%m"), None
        if r.random() < 0.1:
            return day.isoformat(), (day + dt.timedelta(days=r.randint(1, 5))).isoformat()
        return day.isoformat(), None

    def _actors(self, count: int) -> list[dict]:
        actors = []
        for _ in range(count):
            pick = self.random.random()
            country = self._country()
            if pick < 0.5:
                actors.append(
                    {
                        "name": self.random.choice(self.people),
                        "kind": "person",
                        "country": country,
                        "role": self.random.choice(["speaker", "visitor", "host", "participant"]),
                    }
                )
            elif pick < 0.75:
                actors.append(
                    {
                        "name": STATES[country],
                        "kind": "state",
                        "country": country,
                        "role": self.random.choice(["supplier", "recipient", "party"]),
                    }
                )
            else:
                actors.append(
                    {
                        "name": f"Armed Forces of {STATES[country]}",
                        "kind": "armed_force",
                        "country": country,
                        "role": self.random.choice(["attacker", "target", "party"]),
                    }
                )
        return actors

    def _sources(self) -> list[dict]:
        sources = []
        for publisher in self.random.sample(PUBLISHERS, self.random.choice([1, 1, 1, 2, 3])):
            source = {
                "publisher": publisher,
                "url": f"https://news.example/{publisher.lower().replace(' ', '-')}/"
                f"{self.random.randrange(10**9)}",
            }
            if self.random.random() < 0.4:
                source["attributed_to"] = [self.random.choice(ATTRIBUTIONS)]
            sources.append(source)
        return sources

    def _attack(self, place, actors):
        weapon = self.random.choice(
            ["drone", "ballistic_missile", "cruise_missile", "glide_bomb", "artillery", "rocket"]
        )
        title = f"{weapon.replace('_', ' ').capitalize()} attack on {place[0]}"
        return title, {
            "attacker": self._country(),
            "target_country": place[2],
            "target": self._words(4),
            "weapons": [{"category": weapon, "quantity": self._quantity(weapon + "s", 300)}],
        }

    def _statement(self, place, actors):
        speaker = actors[0]["name"] if actors else self.random.choice(self.people)
        details = {"speaker": speaker, "occasion": "press conference"}
        if self.random.random() < 0.6:
            details["quote"] = self.random.choice(QUOTES)
        else:
            details["gist"] = self._words(12)
        return f"{speaker} on {self._words(2)}", details

    def _meeting(self, place, actors):
        return (
            f"Talks in {place[0]}",
            {
                "format": self.random.choice(
                    ["talks", "summit", "courtesy_call", "strategic_dialogue"]
                ),
                "topics": [self.random.choice(TAGS)],
            },
        )

    def _visit(self, place, actors):
        return (
            f"Delegation visits {place[0]}",
            {
                "host_country": place[2],
                "visitor_country": self._country(),
                "duration_days": self.random.randint(1, 5),
            },
        )

    def _casualties(self, place, actors):
        return (
            f"Casualties near {place[0]}",
            {
                "party": f"{STATES[self._country()]} forces",
                "population": self.random.choice(["military", "civilian", "mixed"]),
                "killed": self._quantity("people", 500),
            },
        )

    def _deployment(self, place, actors):
        return (
            f"Troops deployed to {place[0]}",
            {
                "force": f"Armed Forces of {STATES[self._country()]}",
                "origin_country": self._country(),
                "destination_country": place[2],
                "status": self.random.choice(["planned", "under_way", "deployed"]),
                "personnel": self._quantity("soldiers", 30000),
            },
        )

    def _arms_transfer(self, place, actors):
        return (
            "Weapons shipped to " + STATES[place[2]],
            {
                "supplier": self._country(),
                "recipient": place[2],
                "items": [
                    {
                        "category": self.random.choice(
                            ["ballistic_missile", "artillery_shell", "drone", "rocket"]
                        ),
                        "quantity": self._quantity("items", 100000),
                    }
                ],
            },
        )

    def _combat(self, place, actors):
        return (
            f"Fighting near {place[0]}",
            {"belligerents": sorted({place[2], self._country()}), "front": place[1]},
        )

    def _cooperation(self, place, actors):
        return (
            f"Joint {self.random.choice(['exercise', 'training', 'drills'])} near {place[0]}",
            {
                "parties": sorted({place[2], "RU", "KP"} - {None})[:3],
                "area": self.random.choice(["training", "doctrine", "interoperability"]),
            },
        )

    def _logistics(self, place, actors):
        return (
            f"Cargo moving through {place[0]}",
            {
                "origin_country": self._country(),
                "destination_country": place[2],
                "means": [
                    {
                        "category": self.random.choice(["ship", "train", "cargo_aircraft"]),
                        "quantity": self._quantity("vehicles", 40),
                    }
                ],
                "observed_by": "satellite_imagery",
            },
        )

    def event(self) -> dict:
        """One event, as a client would send it."""
        r = self.random
        kind = r.choices(self.kind_names, self.kind_weights)[0]
        place = r.choice(PLACES)
        actors = self._actors(r.choice([0, 1, 2, 2, 3, 4]))
        title, details = self.kinds[kind][1](place, actors)
        date, end_date = self._date()
        event = {
            "type": kind,
            "title": title,
            "summary": f"{title}. {self._words(r.randint(15, 45)).capitalize()}.",
            "date": date,
        }
        if end_date:
            event["end_date"] = end_date
        located = r.random()
        if located < 0.7:
            event["location"] = {
                "name": place[0],
                "region": place[1],
                "country": place[2],
                "lat": round(place[3] + r.uniform(-0.2, 0.2), 4),
                "lon": round(place[4] + r.uniform(-0.2, 0.2), 4),
            }
        elif located < 0.85:
            event["location"] = {"name": place[0], "country": place[2]}
        if actors:
            event["actors"] = actors
        event["sources"] = self._sources()
        event["certainty"] = r.choice(
            ["confirmed", "reported", "reported", "claimed", "estimated", "planned"]
        )
        event["tags"] = r.sample(TAGS, r.randint(0, 3))
        event["details"] = details
        return event

    def events(self, count: int) -> Iterator[dict]:
        """``count`` events."""
        for _ in range(count):
            yield self.event()

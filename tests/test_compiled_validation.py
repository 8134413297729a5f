"""The compiled event checks against marshmallow: the same answer for every document.

Valid documents (the benchmark's generator, every kind's example, GED rows as mapped) and
thousands of seeded mutations of them (wrong types, bad values, blank and padded text,
unknown and missing members, lists past their limits) are loaded both ways;
``load_event`` must give what ``schemas.Event().load`` gives: the same loaded event (key
order included: it is the stored JSON's), or the same errors.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import string

import marshmallow as ma
import pytest

from bench.generate import EventFactory
from bench.imports import ged_row
from schemas import Event
from schemas.common import figure_accounts
from schemas.fields import CountryCode
from service.imports.cells import RowNotes
from service.imports.ucdp_ged import DATASET
from service.validation import Refused, load_event
from service.validation.compiled import compile_event
from tests.examples import EXAMPLES

EVENT = Event()
COMPILED = compile_event()
MUTATIONS = 6_000

# Values a mutation puts in place of another: every JSON type, and the edges of the rules.
ODD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    1.5,
    3.0,
    -0.0,
    float("nan"),
    float("inf"),
    1e15,
    1e15 + 2,
    10**400,
    "",
    " ",
    "\t\n",
    "a\x00b",
    "x" * 65,
    "x" * 201,
    "x" * 2049,
    " padded ",
    "KP",
    "kp",
    "ZZ",
    "XK",
    "ru",
    "2024",
    "2024-02-29",
    "2023-02-29",
    "0999",
    "2024-13",
    "2024-1-1",
    "https://example.org/a",
    "ftp://example.org",
    "Q150412",
    "Q0",
    "talks",
    "confirmed",
    "on_or_before",
    "region",
    [],
    [1],
    ["x"],
    {},
    {"name": "x"},
]


# Two sources that differ on a figure, and events whose figures carry both accounts.
TWO_SOURCES = [
    {"publisher": "ANI", "attributed_to": [{"name": "Ukrainian Ministry of Defence"}]},
    {"publisher": "TASS", "kind": "state_media", "attributed_to": ["Russian Ministry of Defence"]},
]


def _accounts(unit: str, low: int, high: int) -> list[dict]:
    return [
        {"source": 0, "value": high, "unit": unit},
        {"according_to": "russian ministry of defence", "max": low, "unit": unit},
        {"source": 1, "according_to": "TASS", "min": low, "max": high, "unit": unit},
    ]


def documents_with_accounts() -> list[dict]:
    """Every place a figure sits (casualty totals and parties, troops, counted items) with
    accounts that name their sources by index, by name, and by both."""
    documents = []
    casualties = copy.deepcopy(EXAMPLES["casualties"])
    casualties["sources"] = TWO_SOURCES
    casualties["details"]["killed"] = {
        "min": 50,
        "max": 500,
        "unit": "people",
        "accounts": _accounts("people", 50, 500),
    }
    documents.append(casualties)
    attack = copy.deepcopy(EXAMPLES["attack"])
    attack["sources"] = TWO_SOURCES
    attack["details"]["weapons"][0]["quantity"]["accounts"] = _accounts("drones", 700, 728)
    attack["details"]["casualties"] = {
        "wounded": {"value": 12, "unit": "people", "accounts": _accounts("people", 3, 12)},
        "by_party": [
            {
                "party": "Civilians",
                "killed": {"value": 2, "unit": "people", "accounts": _accounts("people", 0, 2)},
            }
        ],
    }
    documents.append(attack)
    deployment = copy.deepcopy(EXAMPLES["deployment"])
    deployment["sources"] = TWO_SOURCES
    deployment["details"]["personnel"] = {
        "min": 11000,
        "max": 12000,
        "unit": "soldiers",
        "accounts": _accounts("soldiers", 11000, 12000)[:2],
    }
    documents.append(deployment)
    return documents


ACCOUNTED = documents_with_accounts()


def valid_documents() -> list[dict]:
    documents = list(EventFactory(7).events(1_500))
    documents += [copy.deepcopy(example) for example in EXAMPLES.values()]
    # Weighted so that the mutations below reach accounts as often as other figures.
    documents += [copy.deepcopy(document) for document in ACCOUNTED * 40]
    mapper, rng = DATASET.new_mapper(), random.Random(3)
    for number in range(1, 400):
        documents.append(mapper.event(ged_row(number, rng), RowNotes()))
    return documents


VALID = valid_documents()


def outcome(load, document) -> tuple[str, object]:
    """What loading gives: the loaded event as JSON text (so key order counts), or errors."""
    try:
        return "loaded", json.dumps(load(copy.deepcopy(document)))
    except ma.ValidationError as error:
        return "refused", error.messages


def _places(document, path=()):
    """Every (container, key) in a document: dict members and list items."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield document, key
            yield from _places(value)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield document, index
            yield from _places(value)


def mutated(document: dict, rng: random.Random) -> object:
    """A copy of ``document`` with one to three random changes."""
    document = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        places = list(_places(document))
        container, key = rng.choice(places)
        change = rng.randrange(7)
        if change == 0 and isinstance(container, dict):
            del container[key]
        elif change == 1 and isinstance(container, dict):
            container[rng.choice(("extra", "id", "version", "_schema", "Title"))] = "x"
        elif change == 2:
            value = container[key]
            if isinstance(value, list) and value:
                container[key] = value * rng.choice((2, 12, 60))
            else:
                container[key] = [value]
        elif change == 3:
            # A value from elsewhere in the same document: the right kind of value, maybe
            # in the wrong place.
            other, other_key = rng.choice(places)
            container[key] = copy.deepcopy(other[other_key])
        elif change == 4 and isinstance(container[key], str):
            container[key] = rng.choice((" ", "\u3000", "\x00", "", *string.whitespace)).join(
                ("", container[key], "")
            )
        else:
            container[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    return rng.choice((*(document,) * 30, [document], "text", None))


def test_compiled_checks_accept_every_valid_document():
    refused = []
    for document in VALID:
        try:
            COMPILED(copy.deepcopy(document))
        except Refused:
            refused.append(document)
    assert not refused, refused[:3]


@pytest.mark.parametrize("chunk", range(len(VALID) // 500 + 1))
def test_valid_documents_load_as_marshmallow_loads_them(chunk):
    for document in VALID[chunk * 500 : (chunk + 1) * 500]:
        assert outcome(load_event, document) == outcome(EVENT.load, document)


@pytest.mark.parametrize("seed", range(6))
def test_mutated_documents_load_or_fail_as_marshmallow_does(seed):
    rng = random.Random(seed)
    answers = {"loaded": 0, "refused": 0}
    for _ in range(MUTATIONS // 6):
        document = mutated(rng.choice(VALID), rng)
        expected = outcome(EVENT.load, document)
        assert outcome(load_event, document) == expected, document
        answers[expected[0]] += 1
    # Both sides of the rule are exercised: padded text loads, odd values fail.
    assert min(answers.values()) > MUTATIONS // 6 // 20, answers


def test_compiled_checks_accept_only_what_marshmallow_accepts():
    """The fast path alone, without the fallback: anything it loads, marshmallow loads alike."""
    rng = random.Random(99)
    accepted = 0
    for _ in range(3_000):
        document = mutated(rng.choice(VALID), rng)
        try:
            loaded = COMPILED(copy.deepcopy(document))
        except Refused:
            continue
        accepted += 1
        assert outcome(EVENT.load, document) == ("loaded", json.dumps(loaded)), document
    assert accepted > 150


def _account_mutations(document: dict) -> list:
    """Copies of an accounted document whose accounts name other sources, or none."""

    def changed(change):
        copied = copy.deepcopy(document)
        change(copied)
        return copied

    def accounts(doc):
        return [
            account
            for _, figure in figure_accounts(doc["details"])
            for account in figure["accounts"]
        ]

    return [
        changed(lambda d: d.update(sources=d["sources"][:1])),
        changed(lambda d: d["sources"].append({"publisher": "TASS"})),
        changed(lambda d: d["sources"].reverse()),
        changed(lambda d: accounts(d)[0].update(source=19)),
        changed(lambda d: accounts(d)[0].update(source=True)),
        changed(lambda d: accounts(d)[1].update(according_to="Nobody")),
        changed(lambda d: accounts(d)[1].update(according_to=" ANI ")),
        changed(lambda d: accounts(d)[1].update(source=0)),
        changed(lambda d: accounts(d)[-1].update(unit="other things")),
        changed(lambda d: accounts(d)[0].pop("source")),
        changed(lambda d: [a.pop("source", None) for a in accounts(d)]),
        changed(lambda d: accounts(d)[0].update(accounts=[])),
    ]


@pytest.mark.parametrize("document", ACCOUNTED, ids=lambda d: d["type"])
def test_accounts_load_or_fail_as_marshmallow_does(document):
    answers = {"loaded": 0, "refused": 0}
    for variant in [document, *_account_mutations(document)]:
        expected = outcome(EVENT.load, variant)
        assert outcome(load_event, variant) == expected, variant
        answers[expected[0]] += 1
    assert answers["loaded"] >= 2 and answers["refused"] >= 8, answers


def test_country_codes_are_the_fields_codes():
    field = CountryCode()
    example = copy.deepcopy(EXAMPLES["visit"])
    letters = string.ascii_uppercase + string.ascii_lowercase[:3]
    for pair in map("".join, itertools.product(letters, repeat=2)):
        example["details"]["host_country"] = pair
        try:
            field.deserialize(pair)
            expected = True
        except ma.ValidationError:
            expected = False
        try:
            COMPILED(example)
            accepted = True
        except Refused:
            accepted = False
        assert accepted == expected, pair

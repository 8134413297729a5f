"""What schemathesis may not hold against the server: the rules the spec cannot state.

The spec states every rule JSON Schema can (patterns, enums, ranges, "at least one of",
"lat with lon", …). A few rules it cannot: they compare two values, or depend on what is
stored. A request that breaks one is valid by the schema, and the server rightly refuses
it, which schemathesis's ``positive_data_acceptance`` would report. Each such rule is
named here, with why JSON Schema cannot state it, and the exact answer the server gives
for it (status and message): a refusal is forgiven only when every error it names is
one of these. Each rule is also stated in words in the spec's descriptions.

This module is also a schemathesis hooks module, so the CLI runs the same checks:
``SCHEMATHESIS_HOOKS=contract_rules PYTHONPATH=tests st run … --checks all
--exclude-checks positive_data_acceptance,use_after_free`` (see docs/contract.md,
"The contract").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import schemathesis
from conftest import bearer
from schemathesis.core.failures import Failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance, use_after_free

# What the contract test sends with every request: the test writer's key (conftest's
# TEST_KEYS), and no compression, which the WSGI test client would not undo.
HEADERS = {**bearer("test-writer"), "Accept-Encoding": "identity"}


def headers_for(case) -> dict:
    """``HEADERS`` for ``case``, less the key when schemathesis made the headers invalid
    and left the key out: a case that tests a missing Authorization must arrive without
    one, or the server rightly accepts it and the test blames the server."""
    components = getattr(case.meta, "components", None) or {}
    header = components.get(ParameterLocation.HEADER)
    if (
        header is not None
        and header.mode.is_negative
        and "Authorization" not in (case.headers or {})
    ):
        return {name: value for name, value in HEADERS.items() if name != "Authorization"}
    return HEADERS


@dataclass(frozen=True)
class Rule:
    """A rule the server enforces that JSON Schema cannot state, and how its refusal reads."""

    name: str
    why: str  # why JSON Schema cannot state it
    operations: tuple[str, ...]  # "METHOD /path" as schemathesis labels operations
    status: int
    field: str  # regex over the dotted path the problem's `errors` names
    message: str  # regex over the message for that path ("" with `detail`: over the detail)
    detail: bool = False

    def explains(self, label: str, status: int, path: str, message: str) -> bool:
        return (
            label in self.operations
            and status == self.status
            # DOTALL: a generated member name may hold a newline (`details.\nx`), and
            # `.*` must still cover it.
            and re.fullmatch(self.field, path, re.DOTALL) is not None
            and re.search(self.message, message, re.DOTALL) is not None
        )


SEARCHES = ("GET /v1/events", "GET /v1/events/facets", "GET /v1/events/export")
EVENT_WRITES = ("POST /v1/events", "PUT /v1/events/{event_id}", "PATCH /v1/events/{event_id}")
BULK = ("POST /v1/events/bulk",)
IMPORTS = ("POST /v1/imports",)
# A bulk write with atomic=true names a bad item's fields as items.N.field.
ITEM = r"(?:items\.[0-9]+\.)?"

RULES = (
    Rule(
        "date window in order",
        "compares two parameters (date_to must not end before date_from begins)",
        SEARCHES,
        400,
        "date_to",
        "Must not be before date_from",
    ),
    Rule(
        "killed bounds in order",
        "compares two parameters (killed_max must not be less than killed_min)",
        SEARCHES,
        400,
        "killed_max",
        "Must not be less than killed_min",
    ),
    Rule(
        "sort needs its parameter",
        "OpenAPI parameters cannot depend on one another (relevance needs q, distance needs near)",
        SEARCHES,
        400,
        "sort",
        "needs",
    ),
    Rule(
        "figures needs killed_min or killed_max",
        "OpenAPI parameters cannot depend on one another (figures says which figure "
        "killed_min and killed_max read)",
        SEARCHES,
        400,
        "figures",
        "Only with killed_min",
    ),
    Rule(
        "box and point in range",
        "a range of numbers inside one comma-separated text, and minLat <= maxLat",
        SEARCHES,
        400,
        "bbox|near",
        "within|greater than|not be greater",
    ),
    Rule(
        "cursor made by the service",
        "a cursor is signed; its alphabet is stated, its signature cannot be",
        ("GET /v1/events", "GET /v1/actors"),
        400,
        "cursor",
        "Not a cursor of this listing",
    ),
    Rule(
        "as_of in the past",
        "depends on the clock (a future moment), or on how many changes were stored since",
        (*SEARCHES, "GET /v1/events/{event_id}"),
        400,
        "as_of",
        "in the future|updates and deletes",
    ),
    Rule(
        "figures within their bounds",
        "compares two members (min <= max, min <= value <= max)",
        (*EVENT_WRITES, *BULK),
        422,
        rf"{ITEM}(?:details\.)?.*\.(?:min|value)",
        "Must not be (?:greater than max|less than min)",
    ),
    Rule(
        "accounts name the event's sources, in the figure's unit",
        "an account (in `details`) names an index or a name of the envelope's `sources`, "
        "and compares its unit with its figure's",
        (*EVENT_WRITES, *BULK),
        422,
        rf"{ITEM}details\..*\.accounts\.[0-9]+\.(?:source|according_to|unit)",
        "No source|Names neither|Neither the publisher|Names more than one|figure's unit",
    ),
    Rule(
        "end_date not before date",
        "compares two members",
        (*EVENT_WRITES, *BULK),
        422,
        rf"{ITEM}end_date",
        "Must not be before date",
    ),
    Rule(
        "links name stored events",
        "depends on what is stored",
        (*EVENT_WRITES, *BULK),
        422,
        rf"{ITEM}related\.[0-9]+\.event",
        "No event has the id or key",
    ),
    Rule(
        "identifiers are distinct",
        "JSON Schema's uniqueItems compares whole items, not (scheme, value) pairs",
        (*EVENT_WRITES, *BULK, "POST /v1/actors", "PATCH /v1/actors/{actor_id}"),
        422,
        rf"{ITEM}(?:actors\.[0-9]+\.)?identifiers",
        "is given twice",
    ),
    Rule(
        "an actor_id names a registry actor",
        "depends on what is stored",
        (*EVENT_WRITES, *BULK),
        422,
        rf"{ITEM}(?:actors\.[0-9]+\.actor_id|sources\.[0-9]+\.(?:publisher_actor_id"
        r"|attributed_to\.[0-9]+\.actor_id))",
        "No registry actor has the id",
    ),
    Rule(
        "a patch makes a valid event",
        "a merge patch is validated merged into the stored event: its kind decides "
        "`details`, its other members complete the patch's",
        ("PATCH /v1/events/{event_id}",),
        422,
        ".*",
        "",
    ),
    Rule(
        "no NUL in free-form JSON",
        "a patch's `details` is any object (the stored kind decides it), a bulk item any "
        "JSON (one that is not an event is that item's error): no pattern of their members "
        "can say what every text member of the spec says, no NUL",
        ("PATCH /v1/events/{event_id}", *BULK),
        400,
        "",
        "contains a NUL character",
        detail=True,
    ),
    Rule(
        "an atomic bulk write refuses a bad item",
        "any item is taken, but with atomic=true (a query parameter) a bad one refuses the request",
        BULK,
        422,
        r"items\.[0-9]+(?:\..*)?",
        "",
    ),
    Rule(
        "an Idempotency-Key names one request",
        "depends on what was stored under the key before",
        (*EVENT_WRITES[:1], *BULK),
        422,
        "",
        "Idempotency-Key was used with a different request",
        detail=True,
    ),
    Rule(
        "an import's header names the dataset's columns",
        "the body is a CSV text: JSON Schema states a string, not what its first line holds",
        IMPORTS,
        400,
        r"[a-z0-9_]+",
        "Missing column",
    ),
    Rule(
        "an import's body is a CSV file",
        "the body is a CSV text: JSON Schema cannot say a string must be CSV (or gzip, "
        "with Content-Encoding)",
        IMPORTS,
        400,
        "",
        "cannot be imported|not valid gzip",
        detail=True,
    ),
)

# Answers that depend on the stored state only, as 404 and 409 do (which schemathesis
# already expects of valid requests): the event was deleted (410), it has another
# version than If-Match names (412).
STATE_STATUSES = {410: "the event was deleted", 412: "If-Match names another version"}


def refusal_explained(label: str, status: int, body: bytes) -> str | None:
    """The rule (or state) that explains this refusal in full; None if anything is left."""
    if status in STATE_STATUSES:
        return f"state: {STATE_STATUSES[status]}"
    try:
        problem = json.loads(body)
    except ValueError:
        return None
    if not isinstance(problem, dict):
        return None
    named = set()
    errors = problem.get("errors") or {}
    for path, messages in errors.items():
        for message in messages:
            rule = next(
                (
                    rule
                    for rule in RULES
                    if not rule.detail and rule.explains(label, status, path, message)
                ),
                None,
            )
            if rule is None:
                return None
            named.add(rule.name)
    if not errors:
        rule = next(
            (
                rule
                for rule in RULES
                if rule.detail and rule.explains(label, status, "", problem.get("detail", ""))
            ),
            None,
        )
        if rule is None:
            return None
        named.add(rule.name)
    return ", ".join(sorted(named))


def _partly_invalid(case) -> bool:
    """Whether a part of the request was made invalid on purpose.

    Schemathesis's coverage phase may label a case positive whose body is valid while a
    header is not (`If-Match: 0`); the server rightly refuses such a request.
    """
    components = getattr(case.meta, "components", None) or {}
    return any(info.mode.is_negative for info in components.values())


@schemathesis.check
def positive_data_acceptance_but_stated_rules(ctx, response, case):
    """``positive_data_acceptance``, but a refusal fully explained by ``RULES`` passes."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except Failure:
        if _partly_invalid(case) or refusal_explained(
            case.operation.label, response.status_code, response.content
        ):
            return None
        raise


# A deleted event's history stays readable: that is what the revisions are for (the
# spec says so), not a use after free.
HISTORY = "GET /v1/events/{event_id}/revisions"


@schemathesis.check
def use_after_free_but_history(ctx, response, case):
    """``use_after_free``, but the revisions of a deleted event may be read."""
    if case.operation.label == HISTORY:
        return None
    return use_after_free(ctx, response, case)


# Every built-in check runs as it is, but these two, which run through the filters above.
EXCLUDED_CHECKS = (positive_data_acceptance, use_after_free)
ADDED_CHECKS = (positive_data_acceptance_but_stated_rules, use_after_free_but_history)

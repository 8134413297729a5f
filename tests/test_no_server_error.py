"""No input gives a 500: property tests over event bodies and signed cursors.

Each property takes a valid event of some kind and breaks it where Hypothesis chooses —
numbers of any size or form (a 400-digit integer, ``1e400``, ``-0``), any text (NUL,
lone surrogates, very long), nesting far deeper than the model's — and asserts the
answer is a 201 or a 4xx problem, never a server error. The cursor property signs
arbitrary positions with the app's own key, as anyone who knows the key could.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import urllib.parse

import marshmallow as ma
from examples import EXAMPLES
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from schemas import Event
from service.http import cursor as cursors

PROBLEM_JSON = "application/problem+json"
# Deterministic, so a CI run tries exactly what a local run tried.
PROPERTY = settings(
    deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)

# Names a mutation may add to an object: the model's own number and text fields among
# them, so that a quantity gains a `value` beside its `min`, a location a `lat`, and so on.
MEMBER_NAMES = (
    "value",
    "min",
    "max",
    "approximate",
    "unit",
    "note",
    "lat",
    "lon",
    "round",
    "duration_days",
    "name",
    "country",
    "end_date",
    "date",
    "url",
    "quantity",
    "casualties",
    "killed",
    "none_reported",
    "related",
    "x",
    "",
)

# JSON number text, as a client may send it: the grammar of RFC 8259 with long parts.
NUMBER_TEXT = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"-?(0|[1-9][0-9]{0,400})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?", fullmatch=True),
    st.sampled_from(
        [
            "1" + "0" * 309,
            "1" + "0" * 400,
            "-" + "9" * 320,
            "1e400",
            "-1e400",
            "1e-400",
            "-0",
            "-0.0",
            "1E15",
            "1000000000000000.5",
            "3.4028235e38",
        ]
    ),
)
TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=5000),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\ud800",
            "x" * 100_000,
            "2025-02-30",
            "9999-12-31",
            "0000",
            "KP",
            "kp",
            "http://",
            "javascript:alert(1)",
        ]
    ),
)


class RawJson:
    """JSON text to be put into a body as it is (a number beyond what Python can dump)."""

    def __init__(self, text: str):
        self.text = text


def _json_text(value: object) -> str:
    """``value`` as JSON text, each RawJson spliced in verbatim."""
    raws: list[str] = []

    def placeholder(raw: RawJson) -> str:
        raws.append(raw.text)
        return f"@@raw{len(raws) - 1}@@"

    def swap(node):
        if isinstance(node, RawJson):
            return placeholder(node)
        if isinstance(node, dict):
            return {name: swap(item) for name, item in node.items()}
        if isinstance(node, list):
            return [swap(item) for item in node]
        return node

    text = json.dumps(swap(value))
    for index, raw in enumerate(raws):
        text = text.replace(f'"@@raw{index}@@"', raw)
    return text


def _nested(depth: int, kind: str) -> RawJson:
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    return RawJson(opening * depth + "1" + closing * depth)


JSON_LEAF = st.one_of(st.none(), st.booleans(), NUMBER_TEXT.map(RawJson), TEXT)
ANY_VALUE = st.one_of(
    JSON_LEAF,
    st.recursive(
        JSON_LEAF,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.sampled_from(MEMBER_NAMES), children, max_size=4),
        ),
        max_leaves=12,
    ),
    st.builds(_nested, st.integers(1, 3000), st.sampled_from(["list", "object"])),
    st.lists(st.just({"publisher": "ANI"}), min_size=0, max_size=200),
)


def _paths(node, path=()) -> list[tuple]:
    """Every place in ``node``: each member and item, and a new member of each object."""
    places = [path] if path else []
    if isinstance(node, dict):
        places.append((*path, None))  # None: a member the object does not have yet
        for name, child in node.items():
            places.extend(_paths(child, (*path, name)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            places.extend(_paths(child, (*path, index)))
    return places


def _put(node, path: tuple, value, new_name: str):
    """``node`` with ``value`` at ``path`` (a copy; ``None`` in the path: ``new_name``)."""
    head, *rest = path
    if isinstance(node, dict):
        node = dict(node)
        name = new_name if head is None else head
        node[name] = value if not rest else _put(node[name], tuple(rest), value, new_name)
    else:
        node = list(node)
        node[head] = value if not rest else _put(node[head], tuple(rest), value, new_name)
    return node


@st.composite
def broken_events(draw) -> object:
    """A valid example event with one to three places replaced by anything at all."""
    event = EXAMPLES[draw(st.sampled_from(sorted(EXAMPLES)))]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(event)))
        event = _put(event, path, draw(ANY_VALUE), draw(st.sampled_from(MEMBER_NAMES)))
    return event


def _assert_problem(response, allowed: set[int]) -> None:
    event(f"status {response.status_code}")  # --hypothesis-show-statistics shows the mix
    assert response.status_code in allowed or 400 <= response.status_code < 500, (
        response.status_code,
        response.get_data(as_text=True)[:500],
    )
    if response.status_code >= 400:
        assert response.mimetype == PROBLEM_JSON
        assert response.get_json()["status"] == response.status_code


@settings(PROPERTY, max_examples=500)
@given(body=broken_events())
def test_event_schema_raises_only_validation_errors(body):
    try:
        parsed = json.loads(_json_text(body))
    except (ValueError, RecursionError):  # the body reader's 400 (tested over HTTP below)
        return
    with contextlib.suppress(ma.ValidationError):  # anything else fails the test
        Event().load(parsed)


@settings(PROPERTY, max_examples=300)
@given(body=broken_events())
def test_any_event_body_is_created_or_refused_with_a_problem(app, body):
    client = app.test_client()
    response = client.post("/v1/events", data=_json_text(body), content_type="application/json")
    _assert_problem(response, {201})


@settings(PROPERTY, max_examples=100)
@given(patch=st.one_of(broken_events(), ANY_VALUE))
def test_any_merge_patch_is_applied_or_refused_with_a_problem(app, patch):
    client = app.test_client()
    created = client.post("/v1/events", json=EXAMPLES["attack"])
    response = client.patch(
        created.headers["Location"],
        data=_json_text(patch),
        content_type="application/merge-patch+json",
    )
    _assert_problem(response, {200})


def test_integer_of_400_digits_in_a_quantity_is_422_naming_it(client):
    for member in ("value", "min", "max"):
        quantity = {member: RawJson("1" + "0" * 400), "unit": "soldiers"}
        event = dict(EXAMPLES["deployment"])
        event["details"] = dict(event["details"], personnel=quantity)
        response = client.post(
            "/v1/events", data=_json_text(event), content_type="application/json"
        )
        assert response.status_code == 422
        assert f"details.personnel.{member}" in response.get_json()["errors"]


# Search orders whose cursors carry a number, a date or a time, with what each needs.
SORTS = {
    "relevance": "q=Lavrov",
    "distance": "near=127.44,39.15,20000",
    "date": "",
    "-created_at": "",
}


def _signed(app, payload: bytes | tuple[str, object]) -> str:
    """A cursor signed with the app's key: of ``(scope, position)``, or of raw bytes."""
    with app.app_context():
        if isinstance(payload, bytes):
            return cursors.sign(payload)
        return cursors.encode(*payload)


def _scope_of(client, query: str) -> str:
    """The scope a real cursor of this search is signed for."""
    token = client.get(f"/v1/events?limit=1&{query}").get_json()["next_cursor"]
    assert token, "the search needs two matches to hand out a cursor"
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return json.loads(raw[16:])[0]  # after the 16 bytes of signature


POSITION_VALUES = st.one_of(
    st.sampled_from(
        [
            10**400,
            -(10**400),
            1e39,
            -1e39,
            1e308,
            3.4028235e38,
            0,
            -0.0,
            "",
            "2025-13-45",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01",
            "00000000-0000-0000-0000-000000000000",
            True,
            None,
        ]
    ),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
POSITIONS = st.one_of(
    st.lists(POSITION_VALUES, max_size=3),
    st.tuples(POSITION_VALUES, st.uuids().map(str)).map(list),
    st.recursive(POSITION_VALUES, lambda children: st.lists(children, max_size=3), max_leaves=6),
)


@settings(PROPERTY, max_examples=60)
@given(position=POSITIONS)
def test_a_signed_cursor_with_any_position_is_200_or_400_naming_cursor(app, ids, position):
    client = app.test_client()
    for sort, query in SORTS.items():
        search = f"sort={sort}&{query}".rstrip("&")
        token = _signed(app, (_scope_of(client, search), position))
        response = client.get(f"/v1/events?{search}&cursor={urllib.parse.quote(token)}")
        _assert_problem(response, {200})
        if response.status_code == 400:
            assert list(response.get_json()["errors"]) == ["cursor"]


def test_relevance_beyond_a_real_in_a_signed_cursor_is_400(app, client, ids):
    """10**400 overflows a float; 1e39 a PostgreSQL real. Both were 500s."""
    scope = _scope_of(client, "sort=relevance&q=Lavrov")
    for relevance in (10**400, 1e39, 1e-50, math.inf):
        token = _signed(app, (scope, [relevance, "00000000-0000-0000-0000-000000000000"]))
        response = client.get(f"/v1/events?sort=relevance&q=Lavrov&cursor={token}")
        assert response.status_code == 400, relevance
        assert response.get_json()["errors"] == {"cursor": ["Not a cursor of this listing."]}


def test_a_signed_cursor_that_is_not_a_position_is_400(app, client, ids):
    """Payloads signed with the key but not made by the service: nested past Python's
    recursion limit in a cursor short enough to send, not UTF-8, not JSON, a JSON constant."""
    for payload in (b"[" * 300 + b"]" * 300, b"\xff\xfe", b"not json", b'["events:x", NaN]', b"{}"):
        response = client.get(f"/v1/events?cursor={_signed(app, payload)}")
        assert response.status_code == 400, payload[:20]
        assert list(response.get_json()["errors"]) == ["cursor"]

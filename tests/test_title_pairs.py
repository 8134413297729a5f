"""Title matches by word pairs (migration 0130): a narrower way to the same title group."""

from __future__ import annotations

import psycopg
import pytest
from examples import example

from service.storage import search_query


def _pair_keys(conn, query: str):
    return conn.execute("SELECT tsquery_pair_keys(%s::tsquery)", (query,)).fetchone()[0]


def _lexeme_keys(conn, lexemes: list[str]):
    return sorted(conn.execute("SELECT lexeme_pair_keys(%s)", (lexemes,)).fetchone()[0])


@pytest.mark.parametrize(
    "query",
    [
        "'drone'",  # one word: no pair
        "'drone' | 'attack'",
        "'drone' & !'attack'",
        "'drone' & 'attack':A",
        "'drone' & 'att':*",
        "'drone' & 'drone'",  # one distinct word
    ],
)
def test_queries_without_required_pairs_have_no_keys(app, database_url, query):
    with psycopg.connect(database_url) as conn:
        assert _pair_keys(conn, query) is None


@pytest.mark.parametrize(
    ("query", "lexemes"),
    [
        ("'drone' & 'attack' & 'kharkiv'", ["drone", "attack", "kharkiv"]),
        ("'sergey' <-> 'lavrov'", ["sergey", "lavrov"]),
        ("('a' <2> 'b') & 'c'", ["a", "b", "c"]),
        # Quotes and backslashes are doubled in a tsquery's text: read back as they are.
        ("'it''s' & 'back\\\\slash' & 'x'", ["it's", "back\\slash", "x"]),
    ],
)
def test_and_and_phrase_queries_require_every_pair(app, database_url, query, lexemes):
    with psycopg.connect(database_url) as conn:
        assert sorted(_pair_keys(conn, query)) == _lexeme_keys(conn, lexemes)
        # A title holding the words holds the keys: the index's side of the same pairs.
        vector = " ".join(
            "'{}':{}A".format(lexeme.replace("\\", "\\\\").replace("'", "''"), position)
            for position, lexeme in enumerate([*lexemes, "other"], start=1)
        )
        held = conn.execute("SELECT title_pair_keys(%s::tsvector)", (vector,)).fetchone()[0]
        assert set(_pair_keys(conn, query)) <= set(held)


def test_title_matches_by_pairs_are_the_title_matches(client, database_url):
    for title in ("Drone attack on the port", "Drone seen", "Attack at dawn", "Attack, drone"):
        assert client.post("/v1/events", json=example("attack", title=title)).status_code == 201
    args = search_query.build({"q": "drone attack", "sort": "relevance"})
    with psycopg.connect(database_url) as conn:
        pairs = _pair_keys(conn, "'drone' & 'attack'")
        found = conn.execute(
            psycopg.sql.SQL("SELECT body->>'title' FROM events WHERE {} AND {} ORDER BY 1").format(
                args.where_beside_text, search_query.TITLE_MATCH_BY_PAIRS
            ),
            args.params | {"title_pairs": pairs},
        ).fetchall()
        (definition,) = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'events_title_pairs_idx'"
        ).fetchone()
    assert found == [("Attack, drone",), ("Drone attack on the port",)]
    assert "gin (title_pair_keys(search)) WHERE (deleted_at IS NULL)" in definition


# Titles and summaries sharing words in every arrangement: each query below has title
# matches (some by phrase, some tied) and other matches, so pages cross the two groups.
TITLES = [
    "Drone attack on the port",
    "Attack by drone near the port",
    "Drone attack",
    "Drone attack",
    "Port attack, no drone",
    "The port at night",
    "Drone over the port before an attack on it",
    "Sergey Lavrov visits the port",
    "Lavrov, Sergey: a port visit",
]
SUMMARIES = ["A drone attack on the port.", "Quiet.", "Drone, drone, attack, port."]
QUERIES = ["drone attack", "drone attack port", '"drone attack"', '"Sergey Lavrov"', "port"]


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_pages_by_relevance_are_every_match_in_the_documented_order(client, database_url, limit):
    for i, title in enumerate(TITLES):
        event = example("attack", title=title, summary=SUMMARIES[i % len(SUMMARIES)])
        assert client.post("/v1/events", json=event).status_code == 201
    for query in QUERIES:
        served, cursor = [], None
        while True:
            url = f"/v1/events?q={query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            page = client.get(url).get_json()
            served += [item["id"] for item in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                break
        # The documented order, in one statement over every match (search.md).
        key = search_query.SORT_KEYS["relevance"].expression
        with psycopg.connect(database_url) as conn:
            expected = conn.execute(
                psycopg.sql.SQL(
                    "SELECT id::text FROM events WHERE search @@ websearch_to_tsquery("
                    "'english', %(q)s) ORDER BY {} DESC, id DESC"
                ).format(key),
                {"q": query},
            ).fetchall()
        assert served == [row[0] for row in expected], query

"""sort=relevance: title matches first, each group by ts_rank, and keyset pages across them."""

from __future__ import annotations

import json

import psycopg
import pytest
from examples import example

QUERY = "drone attack"


def _event(title: str, summary: str) -> dict:
    # The example attack has no other searched text: title and summary decide.
    return example("attack", title=title, summary=summary)


# Title matches: both words in the title; the adjacent pair ranks above the distant one.
TITLE_ADJACENT = _event("Drone attack on the harbour", "Windows broke in the port.")
TITLE_DISTANT = _event("Drone seen at dawn before the night's attack", "Windows broke.")
# Not a title match, though its summary says "drone attack" again and again: plain
# ts_rank puts it above TITLE_DISTANT (checked below), the title rule does not.
BODY_ONLY = _event("Night in the harbour", " ".join(["Another drone attack."] * 6))
BODY_ONCE = _event("Morning in the harbour", "A drone was seen; an attack followed.")


@pytest.fixture
def stored(client):
    """The events above, stored: name -> id."""
    events = {
        "title_adjacent": TITLE_ADJACENT,
        "title_distant": TITLE_DISTANT,
        "body_only": BODY_ONLY,
        "body_once": BODY_ONCE,
    }
    ids = {}
    for name, event in events.items():
        response = client.post("/v1/events", json=event)
        assert response.status_code == 201, response.get_json()
        ids[response.get_json()["id"]] = name
    return ids


def _names(client, stored, query: str) -> list[str]:
    response = client.get(f"/v1/events?{query}")
    assert response.status_code == 200, response.get_json()
    return [stored[item["id"]] for item in response.get_json()["items"]]


def test_title_matches_come_first_each_group_by_rank(client, stored, database_url):
    order = _names(client, stored, f"q={QUERY}&sort=relevance")
    assert order == ["title_adjacent", "title_distant", "body_only", "body_once"]
    # Plain ts_rank alone would put the repeated summary above the distant title words:
    # the title rule, not an accident of the data, orders them.
    with psycopg.connect(database_url) as conn:
        ranks = dict(
            conn.execute(
                "SELECT body->>'title', ts_rank(search, websearch_to_tsquery('english', %s))"
                " FROM events",
                (QUERY,),
            ).fetchall()
        )
    assert ranks[BODY_ONLY["title"]] > ranks[TITLE_DISTANT["title"]]


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_relevance_pages_cross_from_title_matches_to_the_rest_without_gaps(client, stored, limit):
    # Four title matches and four others, some tied (same text): limits 1 and 2 cross
    # from one group to the other between pages, limit 3 inside a page.
    for n in range(2):
        client.post("/v1/events", json=TITLE_ADJACENT | {"title": f"Drone attack {n}"})
        client.post("/v1/events", json=BODY_ONCE)
    everything = client.get(f"/v1/events?q={QUERY}&limit=100").get_json()["items"]
    served, cursor = [], None
    while True:
        url = f"/v1/events?q={QUERY}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).get_json()
        assert len(page["items"]) <= limit
        served += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(everything) == 8
    assert served == [item["id"] for item in everything]
    titles = [item["title"] for item in everything]
    assert all("Drone" in title for title in titles[:4])
    assert not any("Drone" in title for title in titles[4:])


def test_export_by_relevance_has_the_pages_order(client, stored):
    pages = _names(client, stored, f"q={QUERY}&limit=100")
    exported = client.get(f"/v1/events/export?format=ndjson&q={QUERY}&sort=relevance")
    assert exported.status_code == 200
    lines = [line for line in exported.get_data(as_text=True).splitlines() if line]
    assert [stored[json.loads(line)["id"]] for line in lines] == pages

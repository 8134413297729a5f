"""GET /v1/events as search: each filter, combinations, order, keyset cursors, bad input."""

from __future__ import annotations

import urllib.parse

import flask
import pytest
from search_data import BY_DATE, EVENTS


def found(client, ids, query: str) -> set[str]:
    """Short names of every event the search finds, following every page."""
    names = {value: name for name, value in ids.items()}
    result, url = [], f"/v1/events?{query}"
    for _ in range(50):
        if not url:
            break
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        result += [names[item["id"]] for item in page["items"]]
        url = page["next_cursor"] and response.headers["Link"].split(">")[0].lstrip("<")
    assert len(result) == len(set(result)), "a row was served twice"
    return set(result)


def ordered(client, ids, query: str) -> list[str]:
    """Short names of the first page, in order."""
    names = {value: name for name, value in ids.items()}
    response = client.get(f"/v1/events?{query}")
    assert response.status_code == 200, response.get_json()
    return [names[item["id"]] for item in response.get_json()["items"]]


ALL = set(EVENTS)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ALL),
        # type, repeatable
        ("type=meeting", {"wonsan"}),
        ("type=meeting&type=visit", {"wonsan", "visit"}),
        # actor: whole name, any case, any actor of the event
        ("actor=Sergey%20Lavrov", {"wonsan", "visit"}),
        ("actor=sergey%20lavrov", {"wonsan", "visit"}),
        ("actor=Lavrov", set()),
        ("actor=Maria%20Zakharova&actor=kim%20jong%20un", {"statement", "wonsan"}),
        # country: of the location or of any actor
        ("country=UA", {"kharkiv"}),
        ("country=KP", {"wonsan", "missiles", "kursk"}),
        ("country=UA&country=KP", {"kharkiv", "wonsan", "missiles", "kursk"}),
        ("country=RU", {"wonsan", "visit", "kharkiv", "kursk", "statement", "anadyr"}),
        # location: place name, any case
        ("location=kharkiv", {"kharkiv"}),
        ("location=Wonsan&location=KURSK", {"wonsan", "kursk"}),
        # certainty, tag, source
        ("certainty=reported", {"visit", "missiles"}),
        ("certainty=confirmed&certainty=claimed", {"wonsan", "kharkiv", "statement"}),
        ("tag=diplomacy", {"wonsan", "visit"}),
        ("tag=drones&tag=missiles", {"kharkiv", "missiles"}),
        ("source=Reuters", {"kharkiv", "kursk"}),
        ("source=TASS&source=ANI", {"visit", "statement", "wonsan", "anadyr"}),
        # bbox: minLon,minLat,maxLon,maxLat; across the antimeridian when minLon > maxLon
        ("bbox=30,45,40,55", {"kharkiv", "kursk"}),
        ("bbox=120,35,130,45", {"wonsan"}),
        ("bbox=170,60,-170,70", {"anadyr"}),
        ("bbox=-170,60,170,70", set()),
        # q: title, summary, actor names, place, quotes; web-search syntax
        ("q=Lavrov", {"wonsan", "visit"}),
        ("q=drones", {"kharkiv"}),
        ("q=cooperation", {"statement"}),
        ("q=Wonsan", {"wonsan"}),
        ("q=%22drone%20strike%22", {"kharkiv"}),
        ("q=%22strike%20drone%22", set()),
        ("q=drone%20OR%20missiles", {"kharkiv", "missiles"}),
        ("q=drone%20-kharkiv", set()),
        ("q=Lavrov%20-Wonsan", {"visit"}),
        # combinations: AND across parameters
        ("type=attack&country=UA&date_from=2025-06&date_to=2025-06", {"kharkiv"}),
        ("country=RU&certainty=confirmed", {"wonsan", "statement"}),
        ("q=Lavrov&type=visit", {"visit"}),
        ("country=KP&date_from=2024&date_to=2024", {"missiles", "kursk"}),
        ("source=Reuters&bbox=30,50,40,55", {"kursk"}),
        ("tag=diplomacy&actor=kim%20jong%20un&location=wonsan&q=talks", {"wonsan"}),
        ("type=visit&country=UA", set()),
    ],
)
def test_filter_finds_the_hand_checked_events(client, ids, query, expected):
    assert found(client, ids, query) == expected


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # a year-dated event overlaps a June window; a day inside it too; December does not
        ("date_from=2024-06-01&date_to=2024-06-30", {"missiles", "statement"}),
        ("date_from=2024-06&date_to=2024-06", {"missiles", "statement"}),
        # a three-day span matches on its last day
        ("date_from=2025-07-13", {"visit"}),
        # a month-dated event matches on its first and last day
        ("date_to=2025-06-01", {"anadyr", "missiles", "statement", "kursk", "kharkiv"}),
        ("date_from=2025-06-30&date_to=2025-06-30", {"kharkiv"}),
        ("date_from=2024&date_to=2024", {"missiles", "statement", "kursk"}),
        ("date_from=2025-07-12&date_to=2025-07-12", {"visit", "wonsan"}),
        ("date_from=2026", set()),
        ("date_to=2023-08-31", set()),
    ],
)
def test_date_window_matches_by_overlap_at_each_precision(client, ids, window, expected):
    assert found(client, ids, window) == expected


def test_deleted_events_are_never_found(client, ids):
    for query in ("q=Odesa", "location=Odesa", "type=attack", "date_from=2025-06-20"):
        assert "Deleted drone strike on Odesa" not in str(
            client.get(f"/v1/events?{query}").get_json()
        )


def test_sort_date_orders_by_start_of_span_and_minus_date_reverses(client, ids):
    assert ordered(client, ids, "sort=date") == BY_DATE
    assert ordered(client, ids, "sort=-date") == list(reversed(BY_DATE))


def test_default_order_is_newest_created_first(client, ids):
    created_order = list(EVENTS)
    assert ordered(client, ids, "") == list(reversed(created_order))
    assert ordered(client, ids, "sort=-created_at") == list(reversed(created_order))
    assert ordered(client, ids, "sort=created_at") == created_order


def test_relevance_puts_title_matches_first(client, ids):
    # "Lavrov" is in wonsan's title (weight A) and only among visit's actors (weight B).
    assert ordered(client, ids, "q=Lavrov") == ["wonsan", "visit"]
    assert ordered(client, ids, "q=Lavrov&sort=relevance") == ["wonsan", "visit"]


def test_items_are_the_stored_events_and_page_has_next_cursor(client, ids):
    body = client.get("/v1/events?type=meeting").get_json()
    assert body["next_cursor"] is None
    assert body["items"] == [client.get(f"/v1/events/{ids['wonsan']}").get_json()]


@pytest.mark.parametrize("sort", ["date", "-date", "created_at", "-created_at"])
def test_cursor_round_trip_serves_every_event_once_in_order(client, ids, sort):
    names = {value: name for name, value in ids.items()}
    seen, url = [], f"/v1/events?sort={sort}&limit=2"
    while url:
        response = client.get(url)
        page = response.get_json()
        assert len(page["items"]) <= 2
        seen += [names[item["id"]] for item in page["items"]]
        if page["next_cursor"] is None:
            assert "Link" not in response.headers
            url = None
        else:
            link = response.headers["Link"]
            assert link.endswith('>; rel="next"')
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(link[1:-13]).query)
            assert query == {"sort": [sort], "limit": ["2"], "cursor": [page["next_cursor"]]}
            url = f"/v1/events?sort={sort}&limit=2&cursor={page['next_cursor']}"
    assert seen == ordered(client, ids, f"sort={sort}&limit=100")
    assert len(seen) == len(EVENTS)


def test_relevance_cursor_pages_through_ties(client, ids):
    assert found(client, ids, "q=Lavrov%20OR%20drones%20OR%20Kursk&limit=1") == {
        "wonsan",
        "visit",
        "kharkiv",
        "kursk",
    }


def test_link_keeps_repeated_filters(client, ids):
    response = client.get("/v1/events?country=RU&country=KP&limit=1")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(response.headers["Link"][1:-13]).query)
    assert query["country"] == ["RU", "KP"]


def test_link_is_the_url_flask_builds_for_the_next_page(app, client, ids):
    query = 'q="Lavrov" OR drones OR Kursk OR é!&country=RU&country=KP&country=UA&limit=1&sort=date'
    response = client.get("/v1/events", query_string=query)
    args = flask.Request.parameter_storage_class(urllib.parse.parse_qsl(query))
    args = args.to_dict(flat=False) | {"cursor": response.get_json()["next_cursor"]}
    with app.test_request_context("/v1/events"):
        expected = flask.url_for("events.Events", **args)
    assert response.headers["Link"] == f'<{expected}>; rel="next"'


@pytest.mark.parametrize("sort", ["date", "-date", "-created_at"])
def test_rows_added_while_paging_are_neither_skipped_nor_repeated(client, ids, sort):
    names = {value: name for name, value in ids.items()}
    first = client.get(f"/v1/events?sort={sort}&limit=3").get_json()
    # New events everywhere in the order: before, among and after the rows already served.
    for date in ("2020", "2024-07", "2030"):
        created = client.post("/v1/events", json=EVENTS["anadyr"] | {"date": date})
        assert created.status_code == 201
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = client.get(f"/v1/events?sort={sort}&limit=3&cursor={cursor}").get_json()
        rest += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    served = [item["id"] for item in first["items"]] + rest
    assert len(served) == len(set(served))
    old = [names[i] for i in served if i in names]
    assert sorted(old) == sorted(EVENTS)


def test_cursor_of_another_sort_or_filter_is_400(client, ids):
    cursor = client.get("/v1/events?sort=date&limit=1").get_json()["next_cursor"]
    for query in (
        f"sort=-date&cursor={cursor}",
        f"cursor={cursor}",
        f"sort=date&type=meeting&cursor={cursor}",
    ):
        response = client.get(f"/v1/events?{query}")
        assert response.status_code == 400
        assert "cursor" in response.get_json()["errors"]
    assert client.get(f"/v1/events?sort=date&limit=5&cursor={cursor}").status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c[:-3] + ("AAA" if c[-3:] != "AAA" else "BBB"),
        lambda c: "A" + c[1:] if c[0] != "A" else "B" + c[1:],
        lambda c: c + "AA",
        lambda c: c[:10],
    ],
)
def test_tampered_cursor_is_400(client, ids, change):
    cursor = client.get("/v1/events?limit=1").get_json()["next_cursor"]
    response = client.get(f"/v1/events?cursor={urllib.parse.quote(change(cursor))}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "cursor" in response.get_json()["errors"]


@pytest.mark.parametrize(("limit", "count"), [(1, 1), (3, 3), (100, 7)])
def test_limit_bounds_the_page(client, ids, limit, count):
    assert len(client.get(f"/v1/events?limit={limit}").get_json()["items"]) == count


def test_default_limit_is_20(client):
    for n in range(21):
        client.post("/v1/events", json=EVENTS["anadyr"] | {"title": f"Exercise {n}"})
    page = client.get("/v1/events").get_json()
    assert len(page["items"]) == 20
    assert page["next_cursor"]

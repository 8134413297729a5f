"""GET /v1/actors: every actor of live events, counted; name search tolerant of case and typos."""

from __future__ import annotations

import pytest
from search_data import DELETED, EVENTS


def names(client, query: str = "") -> list[str]:
    response = client.get(f"/v1/actors?{query}")
    assert response.status_code == 200, response.get_json()
    return [actor["name"] for actor in response.get_json()["items"]]


def test_actors_lists_every_actor_with_kind_country_and_event_count(client, ids):
    response = client.get("/v1/actors")
    assert response.status_code == 200
    page = response.get_json()
    # Two spellings, once each: which one stands for the actor depends on the collation.
    assert page["items"][-1].pop("name") in ("Sergey Lavrov", "SERGEY LAVROV")
    assert page == {
        "items": [
            {"name": "Kim Jong Un", "kind": "person", "country": "KP", "event_count": 1},
            {
                "name": "Korean People's Army",
                "kind": "armed_force",
                "country": "KP",
                "event_count": 2,
            },
            {"name": "Maria Zakharova", "kind": "person", "country": "RU", "event_count": 1},
            {
                "name": "Russian Armed Forces",
                "kind": "armed_force",
                "country": "RU",
                "event_count": 1,
            },
            # "Sergey Lavrov" and "SERGEY LAVROV" are one actor; the deleted event's
            # Lavrov does not count.
            {"kind": "person", "country": "RU", "event_count": 2},
        ],
        "next_cursor": None,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=lavrov", ["sergey lavrov"]),
        ("q=LAVROV", ["sergey lavrov"]),
        ("q=Lavrof", ["sergey lavrov"]),
        ("q=Sergei%20Lavrov", ["sergey lavrov"]),
        ("q=zakharov", ["Maria Zakharova"]),
        ("q=korean", ["Korean People's Army"]),
        ("q=people's", ["Korean People's Army"]),
        ("q=armed", ["Russian Armed Forces"]),
        ("q=army", ["Korean People's Army", "Russian Armed Forces"]),  # armed: a typo away
        ("q=Putin", []),
        ("q=%25", []),
        ("q=_", []),
    ],
)
def test_actor_search_ignores_case_and_tolerates_small_typos(client, ids, query, expected):
    assert [name.lower() for name in names(client, query)] == [n.lower() for n in expected]


def test_deleted_events_actors_do_not_count(client, ids):
    created = client.post(
        "/v1/events",
        json=DELETED | {"actors": [{"name": "Only In Deleted", "kind": "person", "role": "x"}]},
    )
    assert names(client, "q=only%20in%20deleted") == ["Only In Deleted"]
    client.delete(created.headers["Location"])
    assert names(client, "q=only%20in%20deleted") == []


def test_changing_an_event_updates_its_actors(client, ids):
    event = EVENTS["statement"] | {
        "actors": [{"name": "Dmitry Peskov", "kind": "person", "country": "RU", "role": "speaker"}]
    }
    assert client.put(f"/v1/events/{ids['statement']}", json=event).status_code == 200
    assert names(client, "q=zakharova") == []
    assert names(client, "q=peskov") == ["Dmitry Peskov"]


def test_actors_page_by_cursor_in_name_order(client, ids):
    seen, url = [], "/v1/actors?limit=2"
    for _ in range(10):
        response = client.get(url)
        page = response.get_json()
        seen += [actor["name"] for actor in page["items"]]
        if page["next_cursor"] is None:
            break
        assert 'rel="next"' in response.headers["Link"]
        url = f"/v1/actors?limit=2&cursor={page['next_cursor']}"
    assert seen == names(client)


def test_actors_cursor_of_another_search_is_400(client, ids):
    cursor = client.get("/v1/actors?limit=1").get_json()["next_cursor"]
    events_cursor = client.get("/v1/events?limit=1").get_json()["next_cursor"]
    assert client.get(f"/v1/actors?q=a&cursor={cursor}").status_code == 400
    assert client.get(f"/v1/actors?cursor={events_cursor}").status_code == 400
    assert client.get(f"/v1/events?cursor={cursor}").status_code == 400

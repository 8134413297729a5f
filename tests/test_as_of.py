"""?as_of= on reads: an event, a search, its facets and export as the store stood then."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid

import pytest
from examples import example
from search_data import EVENTS

from service.storage.rows import timestamp

MICROSECOND = dt.timedelta(microseconds=1)


def moment(body: dict, field: str = "updated_at", shift: dt.timedelta = dt.timedelta()) -> str:
    """A write's own timestamp from its response body, shifted, as an as_of value."""
    return timestamp(dt.datetime.fromisoformat(body[field]) + shift)


def assert_names_as_of(response, message_part: str) -> None:
    assert response.status_code == 400, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert list(problem["errors"]) == ["as_of"]
    assert message_part in " ".join(problem["errors"]["as_of"])


# --- GET /v1/events/{id}?as_of= ---------------------------------------------------------


@pytest.fixture
def history(client):
    """One event written four times: created, patched twice, deleted.

    Returns its URL, the bodies of its three live versions, and a moment after the delete
    (this process's clock is the service's: the test client runs it in-process).
    """
    created = client.post("/v1/events", json=example("meeting"))
    url = created.headers["Location"]
    bodies = [created.get_json()]
    for summary in ("First correction.", "Second correction."):
        patched = client.patch(
            url, json={"summary": summary}, headers={"Content-Type": "application/merge-patch+json"}
        )
        assert patched.status_code == 200
        bodies.append(patched.get_json())
    assert client.delete(url).status_code == 204
    return url, bodies, timestamp(dt.datetime.now(dt.UTC))


def test_event_before_its_creation_is_404(client, history):
    url, bodies, _ = history
    response = client.get(f"{url}?as_of={moment(bodies[0], shift=-MICROSECOND)}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "This event did not exist yet at as_of."


def test_event_at_its_creation_is_version_1(client, history):
    url, bodies, _ = history
    response = client.get(f"{url}?as_of={moment(bodies[0])}")
    assert response.status_code == 200
    assert response.get_json() == bodies[0]
    assert response.headers["ETag"] == '"v1"'


def test_event_between_two_updates_is_the_older_version_with_its_etag(client, history):
    url, bodies, _ = history
    just_before_second = moment(bodies[2], shift=-MICROSECOND)
    response = client.get(f"{url}?as_of={just_before_second}")
    assert response.status_code == 200
    assert response.get_json() == bodies[1]
    assert response.get_json()["summary"] == "First correction."
    assert response.headers["ETag"] == '"v2"'


def test_event_as_of_honours_if_none_match_for_that_version(client, history):
    url, bodies, _ = history
    response = client.get(f"{url}?as_of={moment(bodies[1])}", headers={"If-None-Match": '"v2"'})
    assert response.status_code == 304
    assert response.headers["ETag"] == '"v2"'


def test_event_after_its_deletion_is_410_and_before_it_the_last_version(client, history):
    url, bodies, after_delete = history
    gone = client.get(f"{url}?as_of={after_delete}")
    assert gone.status_code == 410
    assert gone.mimetype == "application/problem+json"
    before = client.get(f"{url}?as_of={moment(bodies[2])}")
    assert before.status_code == 200
    assert before.get_json() == bodies[2]
    assert before.headers["ETag"] == '"v3"'


def test_unknown_event_as_of_is_404(client):
    response = client.get(f"/v1/events/{uuid.uuid4()}?as_of=2025-07-13T00:00:00Z")
    assert response.status_code == 404
    assert response.get_json()["detail"] == "No event has this id."


def test_an_offset_names_the_same_moment_as_utc(client, history):
    url, bodies, _ = history
    utc = dt.datetime.fromisoformat(bodies[1]["updated_at"])
    with_offset = utc.astimezone(dt.timezone(dt.timedelta(hours=9))).isoformat()
    response = client.get(f"{url}?as_of={urllib.parse.quote(with_offset)}")
    assert response.status_code == 200
    assert response.headers["ETag"] == '"v2"'


BAD_MOMENTS = [
    "yesterday",
    "2025-07-13",
    "2025-07-13T12:00:00",
    "20250713T120000Z",
    "2025-07-13T12:00:00 02:00",  # a + sent unencoded arrives as a space
    "2025-02-30T12:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "",
]


@pytest.mark.parametrize("path", ["/v1/events/{id}", "/v1/events"])
@pytest.mark.parametrize("value", BAD_MOMENTS)
def test_a_bad_timestamp_is_a_400_naming_as_of(client, path, value):
    response = client.get(f"{path.format(id=uuid.uuid4())}?as_of={urllib.parse.quote(value)}")
    assert_names_as_of(response, "")


@pytest.mark.parametrize(
    "path", ["/v1/events/{id}", "/v1/events", "/v1/events/facets", "/v1/events/export"]
)
def test_a_moment_in_the_future_is_a_400_naming_as_of(client, path):
    future = timestamp(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    response = client.get(f"{path.format(id=uuid.uuid4())}?as_of={future}")
    assert_names_as_of(response, "Must not be in the future")


# --- GET /v1/events?as_of= and its facets and export -------------------------------------


@pytest.fixture
def since(client):
    """Four events stored; the moment after; then one created, one changed, one deleted.

    Returns (as_of, short name -> id). Since then: ``kharkiv`` changed its text, certainty
    and tag, ``wonsan`` was deleted, ``late`` was created and changed.
    """
    ids = {}
    for name in ("wonsan", "kharkiv", "statement", "anadyr"):
        response = client.post("/v1/events", json=EVENTS[name])
        ids[name] = response.get_json()["id"]
        last = response.get_json()
    as_of = moment(last)
    changed = client.patch(
        f"/v1/events/{ids['kharkiv']}",
        json={
            "title": "Missile strike on Kharkiv",
            "summary": None,
            "certainty": "confirmed",
            "tags": ["missiles"],
        },
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert changed.status_code == 200
    assert client.delete(f"/v1/events/{ids['wonsan']}").status_code == 204
    late = client.post("/v1/events", json={**EVENTS["kharkiv"], "title": "Late drone strike"})
    ids["late"] = late.get_json()["id"]
    assert (
        client.patch(
            late.headers["Location"],
            json={"summary": "Drones again."},
            headers={"Content-Type": "application/merge-patch+json"},
        ).status_code
        == 200
    )
    return as_of, ids


def found(client, ids, query: str) -> list[str]:
    """Short names of every event the search finds, in order, following every page."""
    names = {value: name for name, value in ids.items()}
    result, url = [], f"/v1/events?{query}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        result += [names[item["id"]] for item in page["items"]]
        url = page["next_cursor"] and response.headers["Link"].split(">")[0].lstrip("<")
    return result


@pytest.mark.parametrize(
    ("query", "now", "at_moment"),
    [
        # created after the moment: absent then; deleted after it: present then
        (
            "",
            {"kharkiv", "statement", "anadyr", "late"},
            {"wonsan", "kharkiv", "statement", "anadyr"},
        ),
        # changed after the moment: found by its old text and filters, not by its new ones
        ("q=drones", {"late"}, {"kharkiv"}),
        ("q=missile", {"kharkiv"}, set()),
        ("certainty=claimed", {"late"}, {"kharkiv"}),
        ("certainty=confirmed", {"kharkiv", "statement"}, {"wonsan", "statement"}),
        ("tag=drones", {"late"}, {"kharkiv"}),
        ("tag=missiles", {"kharkiv"}, set()),
        # unchanged since: read from events as they are
        ("type=statement", {"statement"}, {"statement"}),
        ("bbox=170,60,-170,70", {"anadyr"}, {"anadyr"}),
        ("actor=sergey%20lavrov&country=KP", set(), {"wonsan"}),
    ],
)
def test_search_as_of_answers_as_the_store_stood_then(client, since, query, now, at_moment):
    as_of, ids = since
    assert set(found(client, ids, query)) == now
    separator = "&" if query else ""
    assert set(found(client, ids, f"{query}{separator}as_of={as_of}")) == at_moment


def test_search_as_of_serves_the_versions_of_then(client, since):
    as_of, _ = since
    items = client.get(f"/v1/events?as_of={as_of}&type=attack").get_json()["items"]
    assert [(item["title"], item["version"]) for item in items] == [("Drone strike on Kharkiv", 1)]


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "date", "-date"])
def test_search_as_of_pages_by_cursor_in_order(client, since, sort):
    as_of, ids = since
    one_page = found(client, ids, f"as_of={as_of}&sort={sort}&limit=100")
    assert found(client, ids, f"as_of={as_of}&sort={sort}&limit=1") == one_page
    assert sorted(one_page) == ["anadyr", "kharkiv", "statement", "wonsan"]


def test_search_as_of_pages_by_relevance(client, since):
    as_of, ids = since
    query = f"as_of={as_of}&q=drone%20OR%20Lavrov%20OR%20cooperation"
    assert found(client, ids, f"{query}&limit=1") == found(client, ids, query)
    assert set(found(client, ids, query)) == {"kharkiv", "wonsan", "statement"}


def test_a_cursor_stays_bound_to_its_as_of(client, since):
    as_of, _ = since
    first = client.get(f"/v1/events?as_of={as_of}&limit=1").get_json()
    cursor = first["next_cursor"]
    assert client.get(f"/v1/events?as_of={as_of}&limit=1&cursor={cursor}").status_code == 200
    for other in ("", f"as_of={timestamp(dt.datetime.now(dt.UTC))}&"):
        response = client.get(f"/v1/events?{other}limit=1&cursor={cursor}")
        assert response.status_code == 400
        assert list(response.get_json()["errors"]) == ["cursor"]


def test_facets_as_of_count_the_store_of_then(client, since):
    as_of, _ = since
    facets = client.get(f"/v1/events/facets?as_of={as_of}").get_json()
    assert facets["total"] == 4
    assert facets["certainty"] == {"confirmed": 2, "claimed": 1, "planned": 1}
    assert facets["type"] == {"attack": 1, "meeting": 1, "military_cooperation": 1, "statement": 1}
    now = client.get("/v1/events/facets").get_json()
    assert now["certainty"] == {"confirmed": 2, "claimed": 1, "planned": 1}
    assert now["type"] == {"attack": 2, "military_cooperation": 1, "statement": 1}


def test_export_as_of_streams_the_versions_of_then(client, since):
    as_of, ids = since
    response = client.get(f"/v1/events/export?as_of={as_of}&sort=date")
    assert response.status_code == 200
    events = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    names = {value: name for name, value in ids.items()}
    assert [names[event["id"]] for event in events] == ["anadyr", "statement", "kharkiv", "wonsan"]
    assert events[2]["title"] == "Drone strike on Kharkiv"


def test_search_as_of_with_nothing_changed_since_is_the_search_of_now(client, since):
    _, ids = since
    now = timestamp(dt.datetime.now(dt.UTC))
    assert found(client, ids, f"as_of={now}") == found(client, ids, "")


def test_search_as_of_before_too_many_changes_is_a_400_naming_as_of(app, client, since):
    as_of, _ = since
    # Since the moment: two updates and one delete (the creation since does not count).
    app.config["AS_OF_MAX_CHANGES"] = 2
    for path in ("/v1/events", "/v1/events/facets", "/v1/events/export"):
        assert_names_as_of(client.get(f"{path}?as_of={as_of}"), "More than 2 updates and deletes")
    app.config["AS_OF_MAX_CHANGES"] = 3
    assert client.get(f"/v1/events?as_of={as_of}").status_code == 200


def test_search_and_facets_as_of_the_earliest_moment_find_nothing(client, since):
    earliest = "as_of=0001-01-01T00:00:00Z"
    assert client.get(f"/v1/events?{earliest}").get_json() == {"items": [], "next_cursor": None}
    assert client.get(f"/v1/events/facets?{earliest}").get_json()["total"] == 0

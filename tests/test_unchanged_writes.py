"""A PUT or PATCH that changes nothing stores nothing: no version, revision or change."""

from __future__ import annotations

import time

import pytest
from examples import example


def _revisions(client, url: str) -> list[int]:
    return [item["version"] for item in client.get(f"{url}/revisions").get_json()["items"]]


def _feed_until(client, created, marker: str) -> list[tuple[str, int]]:
    """The change feed's (event id, version) pairs, read once a new event is in it.

    The feed serves a commit only once every older transaction on the server has ended,
    and other sessions may hold one for a moment: wait for the marker event to show.
    """
    _, marker_url = created(example(title=marker))
    marker_id = marker_url.rsplit("/", 1)[1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = client.get("/v1/changes?limit=1000").get_json()["items"]
        if any(item["event_id"] == marker_id for item in items):
            return [
                (item["event_id"], item["version"])
                for item in items
                if item["event_id"] != marker_id
            ]
        time.sleep(0.1)
    raise AssertionError("the marker event never reached the change feed")


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda client, url, event: client.put(url, json=event), id="PUT same event"),
        pytest.param(lambda client, url, event: client.patch(url, json={}), id="PATCH {}"),
        pytest.param(
            lambda client, url, event: client.patch(url, json={"title": event["title"]}),
            id="PATCH same title",
        ),
        pytest.param(
            lambda client, url, event: client.patch(url, json={"no_such": None}),
            id="PATCH removing an absent member",
        ),
        pytest.param(
            lambda client, url, event: client.put(url, json=event | {"title": "  x  "}),
            id="PUT equal once stripped",
        ),
    ],
)
def test_a_write_that_changes_nothing_answers_the_current_version(client, created, write):
    event = example("meeting", title="x")
    first, url = created(event)
    response = write(client, url, event)
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == first.headers["ETag"] == '"v1"'
    assert response.get_json() == first.get_json()
    assert _revisions(client, url) == [1]
    assert _feed_until(client, created, "marker") == [(first.get_json()["id"], 1)]


def test_an_unchanged_write_still_honours_if_match(client, created):
    event = example()
    _, url = created(event)
    client.patch(url, json={"title": "changed"})  # now v2
    stale = client.put(url, json=event | {"title": "changed"}, headers={"If-Match": '"v1"'})
    assert stale.status_code == 412
    current = client.put(url, json=event | {"title": "changed"}, headers={"If-Match": '"v2"'})
    assert current.status_code == 200
    assert current.headers["ETag"] == '"v2"'


def test_a_write_that_changes_something_still_makes_a_version(client, created):
    event = example()
    _, url = created(event)
    response = client.put(url, json=event | {"title": "Another title"})
    assert response.headers["ETag"] == '"v2"'
    assert _revisions(client, url) == [1, 2]

"""ETag, If-None-Match (304) and If-Match (412/428) on events; no lost updates."""

from __future__ import annotations

import threading

import pytest
from examples import example


def test_if_none_match_with_current_etag_is_304(client, created):
    response, url = created(example())
    etag = response.headers["ETag"]
    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""
    assert "Content-Type" not in not_modified.headers
    assert not_modified.headers["ETag"] == etag


def test_if_none_match_with_old_etag_is_200(client, created):
    _, url = created(example())
    client.patch(url, json={"title": "Changed"})
    response = client.get(url, headers={"If-None-Match": '"v1"'})
    assert response.status_code == 200
    assert response.headers["ETag"] == '"v2"'


def test_if_none_match_accepts_weak_and_listed_tags(client, created):
    _, url = created(example())
    assert client.get(url, headers={"If-None-Match": 'W/"v1"'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"v9", "v1"'}).status_code == 304


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_with_stale_if_match_is_412_and_changes_nothing(client, created, method):
    _, url = created(example(title="Original"))
    client.patch(url, json={"title": "Second"})
    send = getattr(client, method)
    kwargs = {"headers": {"If-Match": '"v1"'}}
    if method != "delete":
        kwargs["json"] = example(title="Lost") if method == "put" else {"title": "Lost"}
    response = send(url, **kwargs)
    assert response.status_code == 412
    assert response.mimetype == "application/problem+json"
    current = client.get(url).get_json()
    assert (current["title"], current["version"]) == ("Second", 2)


@pytest.mark.parametrize("if_match", ['"v1"', "*", '"v7", "v1"'])
def test_write_with_matching_if_match_succeeds(client, created, if_match):
    _, url = created(example())
    response = client.patch(url, json={"title": "New"}, headers={"If-Match": if_match})
    assert response.status_code == 200


def test_weak_etag_never_satisfies_if_match(client, created):
    _, url = created(example())
    response = client.patch(url, json={"title": "New"}, headers={"If-Match": 'W/"v1"'})
    assert response.status_code == 412


def test_if_match_can_be_made_mandatory(make_app):
    client = make_app(REQUIRE_IF_MATCH=True).test_client()
    url = client.post("/v1/events", json=example()).headers["Location"]
    response = client.patch(url, json={"title": "New"})
    assert response.status_code == 428
    assert response.mimetype == "application/problem+json"
    assert client.patch(url, json={"title": "New"}, headers={"If-Match": '"v1"'}).status_code == 200


def test_concurrent_writers_with_the_same_if_match_only_one_wins(app, created):
    _, url = created(example())
    statuses = []
    barrier = threading.Barrier(6)

    def write(n):
        client = app.test_client()
        barrier.wait()
        response = client.patch(url, json={"title": f"Writer {n}"}, headers={"If-Match": '"v1"'})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [412] * 5
    client = app.test_client()
    assert client.get(url).get_json()["version"] == 2
    assert len(client.get(f"{url}/revisions").get_json()["items"]) == 2


def test_concurrent_writers_without_if_match_lose_no_update(app, created):
    _, url = created(example(tags=[]))
    barrier = threading.Barrier(5)

    def write(n):
        client = app.test_client()
        barrier.wait()
        assert client.patch(url, json={"summary": f"Writer {n}"}).status_code == 200

    threads = [threading.Thread(target=write, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client = app.test_client()
    revisions = client.get(f"{url}/revisions").get_json()["items"]
    assert [r["version"] for r in revisions] == [1, 2, 3, 4, 5, 6]
    assert {r["event"].get("summary") for r in revisions[1:]} == {f"Writer {n}" for n in range(5)}


@pytest.mark.parametrize("if_match", ["", "v1", '"v1', "W/", '"v1";"v2"', 'W/"a" x'])
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_if_match_that_is_not_one_by_its_syntax_is_400_naming_it(client, created, method, if_match):
    event = example()
    _, url = created(event)
    kwargs = {"headers": {"If-Match": if_match}}
    if method != "delete":
        kwargs["json"] = event if method == "put" else {"title": "New"}
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["If-Match"]


@pytest.mark.parametrize("if_match", ['W/""', '""', '"x"', '"v9"'])
def test_if_match_naming_no_current_version_is_412_on_delete_too(client, created, if_match):
    _, url = created(example())
    assert client.delete(url, headers={"If-Match": if_match}).status_code == 412
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_missing_or_bad_body_is_reported_before_if_match(client, created, method):
    _, url = created(example())
    send = getattr(client, method)
    stale = {"If-Match": '"v9"'}
    assert send(url, headers=stale).status_code == 415  # no body, no Content-Type
    assert send(url, headers=stale, data="", content_type="application/json").status_code == 400
    assert send(url, headers=stale, json=[]).status_code == 422
    invalid = {"title": 5} if method == "patch" else example(title=5)
    assert send(url, headers=stale, json=invalid).status_code == 422
    assert (
        send(
            url, headers=stale, json={"title": "New"} if method == "patch" else example()
        ).status_code
        == 412
    )

"""Two instances of the service on one database behave as one: two gunicorn instances on
two ports, sharing SECRET_KEY and the test database."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import LIVE_ENV
from examples import example
from live_http import JSON_TYPE, WRITER, connect, exchange

from bench.servers import Gunicorn

pytestmark = pytest.mark.slow
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def instances(database_url, tmp_path_factory):
    """Instances A and B: one worker each, the same SECRET_KEY."""
    env = LIVE_ENV | {
        "DATABASE_URL": database_url,
        "WEB_CONCURRENCY": "1",
        "SECRET_KEY": "shared by both instances",
    }
    logs = tmp_path_factory.mktemp("two-instances")
    with (
        Gunicorn("service:create_app()", "/readyz", logs / "a.log", env) as a,
        Gunicorn("service:create_app()", "/readyz", logs / "b.log", env) as b,
    ):
        yield a, b


def call(server, method: str, path: str, body=None, headers=None):
    conn = connect(server.base)
    try:
        response, answer = exchange(
            conn, method, path, json.dumps(body).encode() if body is not None else None, headers
        )
        return response, (json.loads(answer) if answer else None)
    finally:
        conn.close()


def create(server, **fields) -> str:
    response, body = call(
        server, "POST", "/v1/events", example("meeting", **fields), WRITER | JSON_TYPE
    )
    assert response.status == 201, body
    return response.getheader("Location")


def test_a_write_on_one_is_read_on_the_other_at_once(instances):
    a, b = instances
    location = create(a, title="Written on A")
    response, body = call(b, "GET", location)
    assert response.status == 200 and body["title"] == "Written on A"
    assert response.getheader("ETag") == '"v1"'


def test_a_cursor_made_by_one_pages_on_the_other(instances):
    a, b = instances
    tag = "cursor-across-instances"
    made = {create(a, title=f"Page {n}", tags=[tag]).rsplit("/", 1)[1] for n in range(5)}
    seen, cursor, servers = [], None, [a, b]
    for page in range(3):
        query = f"/v1/events?tag={tag}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        response, body = call(servers[page % 2], "GET", query)
        assert response.status == 200, body
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
    assert cursor is None
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


def test_concurrent_if_match_writes_through_both_lose_no_update(instances):
    a, b = instances
    location = create(a, title="Contended", tags=[])
    writers, rounds = 4, 4
    errors: list[str] = []

    def add_tags(number: int) -> None:
        mine = [a, b][number % 2]
        other = [a, b][(number + 1) % 2]
        for turn in range(rounds):
            while True:
                # Read on one instance, write with its ETag through the other.
                response, body = call(mine, "GET", location)
                patch = {"tags": [*body["tags"], f"w{number}-{turn}"]}
                response, answer = call(
                    other,
                    "PATCH",
                    location,
                    patch,
                    WRITER | MERGE_PATCH | {"If-Match": response.getheader("ETag")},
                )
                if response.status == 200:
                    break
                if response.status not in (412, 503):
                    errors.append(f"{response.status} {answer}")
                    return

    threads = [threading.Thread(target=add_tags, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    response, body = call(b, "GET", location)
    expected = {f"w{n}-{t}" for n in range(writers) for t in range(rounds)}
    assert set(body["tags"]) == expected and len(body["tags"]) == len(expected)
    assert body["version"] == 1 + writers * rounds
    assert response.getheader("ETag") == f'"v{1 + writers * rounds}"'

"""One body limit whatever the framing: a body over the limit is a 413, never cut at the
limit and stored; in the app alone (bare gunicorn) and behind nginx."""

from __future__ import annotations

import io
import json

import psycopg
import pytest
from conftest import bearer
from examples import example
from live_http import JSON_TYPE, WRITER, assert_problem, connect, exchange, padded_event
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

MIB = 1024 * 1024
BULK = "/v1/events/bulk"


def _stored(database_url: str, title: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM events WHERE body->>'title' = %s", (title,)
        ).fetchone()[0]


def _chunked(app, path: str, body: bytes) -> Response:
    """``body`` posted to ``app`` as a server passes a chunked body: no Content-Length, the
    input stream ended by the server (``wsgi.input_terminated``)."""
    environ = EnvironBuilder(
        path=path, method="POST", content_type="application/json", headers=bearer("test-writer")
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    return Response.from_app(app, environ, buffered=True)


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(app, database_url):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    body = padded_event(example(title="cut short"), 3 * 4096)

    response = _chunked(app, "/v1/events", body)

    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert _stored(database_url, "cut short") == 0


def test_a_chunked_body_of_exactly_the_limit_is_read(app, database_url):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = _chunked(app, "/v1/events", padded_event(example(title="at the limit"), 4096))

    assert response.status_code == 201
    assert _stored(database_url, "at the limit") == 1


def test_a_chunked_bulk_body_has_the_bulk_limit(app, database_url):
    app.config.update(MAX_CONTENT_LENGTH=1024, BULK_MAX_BODY_BYTES=8192)
    batch = json.dumps([example(title="bulk in chunks")]).encode()

    over_max = batch + b" " * (4096 - len(batch))
    assert _chunked(app, BULK, over_max).status_code == 200
    over_bulk = batch + b" " * (3 * 8192)
    response = _chunked(app, BULK, over_bulk)
    assert response.status_code == 413
    assert _stored(database_url, "bulk in chunks") == 1


@pytest.mark.parametrize("stack", ["live_gunicorn", "live_nginx"])
def test_over_the_limit_is_413_however_framed_through_a_real_server(request, stack, database_url):
    server = request.getfixturevalue(stack)
    body = padded_event(example(title=f"3 MB through {stack}"), 3 * MIB)
    for chunked in (False, True):
        response, answer = exchange(
            connect(server.base), "POST", "/v1/events", body, WRITER | JSON_TYPE, chunked=chunked
        )
        assert_problem(response, answer, 413)
    assert _stored(database_url, f"3 MB through {stack}") == 0


@pytest.mark.parametrize("stack", ["live_gunicorn", "live_nginx"])
def test_bulk_bodies_meet_the_bulk_limit_however_framed_through_a_real_server(
    request, stack, database_url
):
    server = request.getfixturevalue(stack)
    title = f"bulk through {stack}"
    batch = json.dumps([example(title=title)]).encode()
    # Over MAX_BODY_BYTES but within BULK_MAX_BODY_BYTES (32 MiB): read whole.
    response, answer = exchange(
        connect(server.base),
        "POST",
        BULK,
        batch + b" " * (2 * MIB),
        WRITER | JSON_TYPE,
        chunked=True,
    )
    assert response.status == 200, answer[:300]
    # Over BULK_MAX_BODY_BYTES: refused, the array at its start not stored again.
    for chunked in (False, True):
        response, answer = exchange(
            connect(server.base),
            "POST",
            f"{BULK}?atomic=true",
            batch + b" " * (33 * MIB),
            WRITER | JSON_TYPE,
            chunked=chunked,
        )
        assert_problem(response, answer, 413)
    assert _stored(database_url, title) == 1

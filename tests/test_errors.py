"""Every error is application/problem+json: 400, 404, 405, 413, 415, 500, 503."""

from __future__ import annotations

import json
import time

import pytest
from examples import example

from service import create_app

PROBLEM = "application/problem+json"


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True).lower()
    return body


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "meeting", "title": "a\\u0000b"}',  # NUL: PostgreSQL cannot store it
        b'{"type": "meeting", "title": "x", "details": {"\\u0000": 1}}',
        b'{"type": "meeting", "title": "\\ud800 lone surrogate"}',
        b"[" * 5000 + b"]" * 5000,  # nesting past the recursion limit
    ],
)
def test_json_that_postgresql_or_python_cannot_take_is_400(client, created, raw):
    _assert_problem(client.post("/v1/events", data=raw, content_type="application/json"), 400)
    _, url = created(example())
    _assert_problem(client.put(url, data=raw, content_type="application/json"), 400)
    _assert_problem(client.patch(url, data=raw, content_type="application/json"), 400)


@pytest.mark.parametrize("raw", [b"{", b'{"title": }', b"\xff\xfe", b"NaN", b'{"a": Infinity}'])
def test_malformed_json_is_400(client, raw):
    response = client.post("/v1/events", data=raw, content_type="application/json")
    _assert_problem(response, 400)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
def test_a_body_that_is_not_json_is_415(client, content_type):
    kwargs = {"data": json.dumps(example())}
    if content_type:
        kwargs["content_type"] = content_type
    _assert_problem(client.post("/v1/events", **kwargs), 415)


def test_merge_patch_media_type_is_accepted_only_on_patch(client, created):
    _, url = created(example())
    response = client.post(
        "/v1/events", data=json.dumps(example()), content_type="application/merge-patch+json"
    )
    _assert_problem(response, 415)
    response = client.patch(
        url, data=json.dumps({"title": "x"}), content_type="application/merge-patch+json"
    )
    assert response.status_code == 200


def test_a_body_over_the_limit_is_413(make_app):
    client = make_app(MAX_CONTENT_LENGTH=2048).test_client()
    event = example(summary="x" * 3000)
    body = _assert_problem(client.post("/v1/events", json=event), 413)
    assert body["title"] == "Content Too Large"


def test_default_body_limit_is_one_mebibyte(client):
    limit = 1024 * 1024
    base = json.dumps(example(summary=""))

    def body_of(size: int) -> str:
        return base.replace('"summary": ""', '"summary": "' + "x" * (size - len(base)) + '"')

    assert len(body_of(limit + 1)) == limit + 1
    over = client.post("/v1/events", data=body_of(limit + 1), content_type="application/json")
    _assert_problem(over, 413)
    # At the limit the body is read (and then refused for its overlong summary).
    at = client.post("/v1/events", data=body_of(limit), content_type="application/json")
    assert at.status_code == 422


def test_unknown_route_is_404_problem(client):
    _assert_problem(client.get("/v2/nothing"), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/v1/events", {"GET", "HEAD", "OPTIONS", "POST"}),
        (
            "post",
            "/v1/events/00000000-0000-0000-0000-000000000000",
            {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "PUT"},
        ),
        ("put", "/v1/event-types", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    response = getattr(client, method)(path)
    _assert_problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) == allowed


def test_an_unexpected_exception_is_a_500_problem_without_traceback(database_url, caplog):
    app = create_app({"TESTING": False, "DATABASE_URL": database_url})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    body = _assert_problem(response, 500)
    assert "secret internals" not in json.dumps(body)
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "conflict", ["DeadlockDetected", "SerializationFailure", "TransactionRollback"]
)
def test_a_conflicting_transaction_is_a_503_worth_retrying(database_url, conflict):
    import psycopg

    app = create_app({"TESTING": True, "DATABASE_URL": database_url})

    @app.get("/conflict")
    def conflicting():
        # What PostgreSQL raises in one of two transactions that wait on each other, or
        # that a serializable transaction cannot commit beside another.
        raise getattr(psycopg.errors, conflict)("could not commit")

    response = app.test_client().get("/conflict")
    body = _assert_problem(response, 503)
    assert "nothing was written" in body["detail"]
    assert response.headers["Retry-After"] == "5"


def test_an_unreachable_database_is_503_with_retry_after(make_app):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    client = make_app(
        DATABASE_POOL_TIMEOUT=5, DATABASE_URL="postgresql://nobody@127.0.0.1:9/none"
    ).test_client()
    started = time.monotonic()
    body = _assert_problem(client.get("/v1/events/00000000-0000-0000-0000-000000000000"), 503)
    # At once, not after the pool timeout: the database is known not to answer.
    assert time.monotonic() - started < 1
    assert "database" in body["detail"]
    assert (
        client.get("/v1/events/00000000-0000-0000-0000-000000000000/revisions").headers[
            "Retry-After"
        ]
        == "5"
    )
    _assert_problem(client.post("/v1/events", json=example()), 503)
    _assert_problem(client.get("/readyz"), 503)
    assert client.get("/healthz").status_code == 200


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    unsafe = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert unsafe.headers["X-Request-ID"] != "<script>"


def test_each_request_logs_one_json_line_with_its_id(client):
    import io
    import json
    import logging

    handler = next(h for h in logging.getLogger().handlers if getattr(h, "events_json", False))
    stream, handler.stream = handler.stream, io.StringIO()
    try:
        client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("events.test").exception("failed")
        lines = [json.loads(line) for line in handler.stream.getvalue().splitlines()]
    finally:
        handler.stream = stream
    access = next(line for line in lines if line["logger"] == "events.access")
    assert list(access) == [
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "path",
        "status",
        "duration_ms",
    ]
    assert access["level"] == "INFO"
    assert (access["message"], access["request_id"]) == ("request", "abc-123")
    assert (access["method"], access["path"], access["status"]) == ("GET", "/healthz", 200)
    assert access["duration_ms"] >= 0
    failure = next(line for line in lines if line["logger"] == "events.test")
    assert failure["message"] == "failed"
    assert "request_id" in failure
    assert "ValueError: boom" in failure["exc_info"]


def test_connections_killed_by_a_database_restart_cost_no_failed_request(app, database_url):
    import time

    import psycopg

    client = app.test_client()
    assert client.get("/readyz").status_code == 200  # the pool now holds a connection
    with psycopg.connect(database_url, autocommit=True) as admin:
        killed = [
            row[0]
            for row in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'events-service'"
            )
        ]
        assert killed
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (killed,))
        # "Afterwards": once the backends are gone, as after a restart. (A request in the
        # same millisecond as the kill can still meet the dying connection: the poll
        # sees its end only once the server has sent it.)
        deadline = time.monotonic() + 5
        while (
            admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (killed,)
            ).fetchone()[0]
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/events", json=example()).status_code == 201


def test_connection_check_works_past_file_descriptor_1023(make_app):
    import os
    import resource

    # Descriptors up to 1023 are held, so the pool's connections get descriptors past it
    # (where select() fails); the rest of the limit is room for the pool, the app and pytest.
    needed = 1024 + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard limit of open files is {hard}; this test needs {needed}")
    held = []
    try:
        if soft != resource.RLIM_INFINITY and soft < needed:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        while not held or held[-1] < 1024:
            held.append(os.open(os.devnull, os.O_RDONLY))
        app = make_app(DATABASE_POOL_MIN_SIZE=1, DATABASE_POOL_MAX_SIZE=2)
        with app.extensions["events_db_pool"].connection() as conn:
            assert conn.fileno() > 1023
        client = app.test_client()
        assert client.get("/readyz").status_code == 200  # a connection above fd 1023
        assert client.get("/readyz").status_code == 200  # ...checked when reused
    finally:
        for descriptor in held:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_query_cancelled_by_an_operator_is_a_503_worth_retrying(make_app, database_url):
    import threading

    import psycopg

    client = make_app().test_client()
    answers = []
    with (
        psycopg.connect(database_url, autocommit=True) as admin,
        psycopg.connect(database_url) as blocker,
    ):
        blocker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        waiting = threading.Thread(
            target=lambda: answers.append(
                client.get("/v1/events/00000000-0000-0000-0000-000000000000")
            )
        )
        waiting.start()
        deadline = time.monotonic() + 10
        while not admin.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name"
            " = 'events-service' AND wait_event_type = 'Lock'"
        ).fetchall():
            assert time.monotonic() < deadline, "the request never waited for the lock"
            time.sleep(0.01)
        waiting.join(10)
        blocker.rollback()
    body = _assert_problem(answers[0], 503)
    assert "cancelled" in body["detail"] and "too expensive" not in body["detail"]
    assert answers[0].headers["Retry-After"] == "5"


def test_a_statement_timeout_is_a_503_that_names_the_query_as_too_expensive(make_app, database_url):
    import psycopg

    client = make_app(DATABASE_STATEMENT_TIMEOUT_MS=200).test_client()
    with psycopg.connect(database_url) as blocker:
        # Holding this lock makes the service's query wait past its statement timeout.
        blocker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        response = client.get("/v1/events/00000000-0000-0000-0000-000000000000")
        blocker.rollback()
    body = _assert_problem(response, 503)
    assert "too expensive" in body["detail"] and "narrow" in body["detail"]
    assert "200 ms" in body["detail"]
    # Repeating the same query would time out again: nothing invites a retry.
    assert "Retry-After" not in response.headers
    # The connection survives its cancelled statement: the database is not marked down.
    assert client.get("/readyz").status_code == 200

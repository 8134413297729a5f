"""After an early error on a request with a large body, a keep-alive connection is still
usable, or the answer says `Connection: close` and the server closes it: never an answer
that promises keep-alive on a connection the server then drops (a client's next request
on it failed with RemoteDisconnected). Real sockets, through nginx and bare gunicorn."""

from __future__ import annotations

import pytest
from examples import example
from live_http import JSON_TYPE, WRITER, assert_problem, connect, exchange, padded_event

MIB = 1024 * 1024
LARGE = padded_event(example(), 512 * 1024)  # within the limit, more than gunicorn drains
TOO_LARGE = padded_event(example(), 3 * MIB)

# name -> (method, path, headers, body, chunked, status)
EARLY_ERRORS = {
    "413": ("POST", "/v1/events", WRITER | JSON_TYPE, TOO_LARGE, False, 413),
    "413 chunked": ("POST", "/v1/events", WRITER | JSON_TYPE, TOO_LARGE, True, 413),
    "415": ("POST", "/v1/events", WRITER | {"Content-Type": "text/plain"}, LARGE, False, 415),
    "405": ("DELETE", "/v1/events", WRITER | JSON_TYPE, LARGE, False, 405),
    "404": ("POST", "/v1/no-such-thing", WRITER | JSON_TYPE, LARGE, False, 404),
    "401": ("POST", "/v1/events", JSON_TYPE, LARGE, False, 401),
    "401 chunked": ("POST", "/v1/events", JSON_TYPE, LARGE, True, 401),
}


@pytest.mark.parametrize("stack", ["live_nginx", "live_gunicorn"])
@pytest.mark.parametrize("case", list(EARLY_ERRORS))
def test_after_an_early_error_the_connection_is_usable_or_closed_and_says_so(request, stack, case):
    server = request.getfixturevalue(stack)
    method, path, headers, body, chunked, status = EARLY_ERRORS[case]
    conn = connect(server.base)
    # Several times over: a server that closes a connection it called keep-alive fails
    # only some of the follow-ups (the close races the client's next request).
    for _ in range(5):
        response, answer = exchange(conn, method, path, body, headers, chunked=chunked)
        assert_problem(response, answer, status)
        kept = response.getheader("Connection", "keep-alive").lower() != "close"
        socket_before = conn.sock
        follow_up, listed = exchange(conn, "GET", "/v1/events?limit=1")
        assert follow_up.status == 200, listed[:300]
        if kept:
            assert conn.sock is socket_before, "kept alive, yet the follow-up reconnected"
    conn.close()


@pytest.mark.parametrize("stack", ["live_nginx", "live_gunicorn"])
def test_an_early_error_with_a_small_body_keeps_the_connection(request, stack):
    server = request.getfixturevalue(stack)
    conn = connect(server.base)
    response, answer = exchange(conn, "POST", "/v1/events", b'{"title": "x"}', JSON_TYPE)
    assert_problem(response, answer, 401)
    assert response.getheader("Connection", "keep-alive").lower() == "keep-alive"
    socket_before = conn.sock
    follow_up, _ = exchange(conn, "GET", "/v1/events?limit=1")
    assert follow_up.status == 200
    assert conn.sock is socket_before
    conn.close()

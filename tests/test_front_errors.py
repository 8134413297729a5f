"""What the front layer answers itself is problem+json too, and the longest request the
spec allows gets through it (and through bare gunicorn) instead of a 414 or 431."""

from __future__ import annotations

import json
import socket
import urllib.parse

import pytest
from conftest import bearer
from examples import example
from live_http import JSON_TYPE, WRITER, assert_problem, connect, exchange, padded_event

from bench.servers import NGINX_INSTALL_HINT, Nginx, free_port

# The spec's longest search: each repeatable free-text filter at its 20 values of 200
# characters, and q at its 500.
LONGEST_SEARCH = "/v1/events?" + urllib.parse.urlencode(
    [("q", "q" * 500)]
    + [
        (name, f"{n:02d}" + "v" * 198)
        for name in ("actor", "location", "tag", "source")
        for n in range(20)
    ]
)


def _raw(server, request: bytes) -> tuple[int, dict, bytes]:
    """Send ``request`` as bytes on a new socket; the status, headers and body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _assert_raw_problem(status: int, headers: dict, body: bytes, expected: int) -> None:
    assert status == expected, body[:300]
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    problem = json.loads(body)
    assert problem["status"] == expected and problem["title"] and problem["detail"]


def test_the_longest_search_the_spec_allows_fits(live_nginx, live_gunicorn):
    assert len(LONGEST_SEARCH) > 16_000  # over gunicorn's default 4,094 and nginx's 8 KiB
    for server in (live_nginx, live_gunicorn):
        response, body = exchange(connect(server.base), "GET", LONGEST_SEARCH)
        assert response.status == 200, body[:300]


def test_nginx_answers_a_body_over_the_limit_with_a_problem(live_nginx):
    response, body = exchange(
        connect(live_nginx.base),
        "POST",
        "/v1/events",
        padded_event(example(), 2 * 1024 * 1024),
        WRITER | JSON_TYPE,
    )
    problem = assert_problem(response, body, 413)
    assert problem["instance"] == "/v1/events"
    assert response.getheader("Cache-Control") == "no-store"


def test_nginx_answers_a_request_line_over_its_buffer_with_a_problem(live_nginx):
    _assert_raw_problem(
        *_raw(live_nginx, b"GET /v1/events?q=" + b"a" * 40_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        414,
    )


def test_nginx_answers_a_header_over_its_buffer_with_a_problem(live_nginx):
    _assert_raw_problem(
        *_raw(
            live_nginx, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n"
        ),
        431,
    )


def test_nginx_answers_a_malformed_request_with_a_problem(live_nginx):
    _assert_raw_problem(*_raw(live_nginx, b"NOT HTTP AT ALL\r\n\r\n"), 400)


def test_nginx_does_not_serve_metrics_even_with_a_key(live_nginx, live_gunicorn):
    key = bearer("test-metrics")
    for path in ("/metrics", "/metrics?x=1", "//metrics", "/%6Detrics"):
        response, body = exchange(connect(live_nginx.base), "GET", path, headers=key)
        assert_problem(response, body, 404)
    # Prometheus scrapes gunicorn itself, with the key.
    response, body = exchange(connect(live_gunicorn.base), "GET", "/metrics", headers=key)
    assert response.status == 200 and b"events_http_requests_total" in body


def test_nginx_answers_a_path_it_serves_itself_with_a_problem(live_nginx):
    response, body = exchange(connect(live_nginx.base), "GET", "/_problem/413")
    assert_problem(response, body, 404)


@pytest.mark.skipif(not Nginx.available(), reason=NGINX_INSTALL_HINT)
def test_nginx_answers_for_a_service_that_is_down_with_a_problem_and_retry_after():
    with Nginx(f"127.0.0.1:{free_port()}") as nginx:  # nothing listens there
        response, body = exchange(connect(nginx.base), "GET", "/v1/events")
    problem = assert_problem(response, body, 502)
    assert problem["instance"] == "/v1/events"
    assert response.getheader("Retry-After") == "5"

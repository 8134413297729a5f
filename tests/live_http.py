"""Requests over real sockets to a running server, with http.client (no client library that
retries or pools behind the test's back)."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator

from conftest import bearer

WRITER = bearer("test-writer")
JSON_TYPE = {"Content-Type": "application/json"}


def connect(base: str, timeout: float = 30) -> http.client.HTTPConnection:
    """A keep-alive connection to ``base`` (http://host:port)."""
    url = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """``data`` in pieces, for a body sent with Transfer-Encoding: chunked."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def exchange(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body=None,
    headers: dict | None = None,
    chunked: bool = False,
):
    """Send one request on ``conn`` and read its whole answer: (response, body bytes)."""
    conn.request(
        method,
        path,
        body=chunks(body) if chunked else body,
        headers=headers or {},
        encode_chunked=chunked,
    )
    response = conn.getresponse()
    return response, response.read()


def padded_event(event: dict, size: int) -> bytes:
    """``event`` as JSON followed by spaces up to ``size`` bytes: JSON at any cut past the
    event's text, so a body cut short at a limit would still parse and be stored."""
    text = json.dumps(event).encode()
    assert len(text) < size
    return text + b" " * (size - len(text))


def assert_problem(response, body: bytes, status: int) -> dict:
    """``response`` is a problem+json of ``status``; its parsed body."""
    assert response.status == status, body[:300]
    assert response.getheader("Content-Type", "").startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"] == "about:blank"
    assert problem["title"] and problem["detail"]
    return problem

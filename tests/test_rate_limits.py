"""Rate limits: per API key, per address for anonymous reads, shared, failing open."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid

import pytest
from conftest import bearer
from examples import example
from flask.testing import FlaskClient
from limits import parse
from limits.strategies import SlidingWindowCounterRateLimiter

from service.http.rate_limits import SWEEP_EVERY_SECONDS, SweepingMemoryStorage

REDIS = ("127.0.0.1", 6379)


def _redis_is_up() -> bool:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
        return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not _redis_is_up(),
    reason="no Redis at 127.0.0.1:6379 (CI has one; `apt-get install redis-server` runs one)",
)


@pytest.fixture
def no_key_client(make_app):
    """Makes an app and a test client of it that sends no API key."""

    def make(**config):
        app = make_app(**config)
        return FlaskClient(app, app.response_class)

    return make


def test_writes_over_the_keys_limit_are_429_and_write_nothing(make_app):
    client = make_app(RATE_LIMIT_WRITE="3/minute").test_client()
    answers = [client.post("/v1/events", json=example()) for _ in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"write";q=3;w=60'
    assert answers[0].headers["RateLimit"].startswith('"write";r=2;t=')
    refused = answers[3]
    assert refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit"].startswith('"write";r=0;')
    assert len(client.get("/v1/events").json["items"]) == 3
    # Another key has its own allowance.
    assert (
        client.post("/v1/events", json=example(), headers=bearer("test-admin")).status_code == 201
    )


def test_anonymous_reads_are_limited_per_address(no_key_client):
    client = no_key_client(RATE_LIMIT_ANONYMOUS="2/minute")
    statuses = [
        client.get(
            "/v1/events",
            headers={"X-Forwarded-For": f"10.0.0.{n}"},
            environ_base={"REMOTE_ADDR": "192.0.2.1"},
        ).status_code
        for n in range(3)
    ]
    # Without trusted proxies, X-Forwarded-For is the client's word and is ignored.
    assert statuses == [200, 200, 429]
    other = client.get("/v1/events", environ_base={"REMOTE_ADDR": "192.0.2.2"})
    assert other.status_code == 200
    assert other.headers["RateLimit-Policy"] == '"anonymous";q=2;w=60'


def test_anonymous_limits_count_the_forwarded_client_behind_a_trusted_proxy(no_key_client):
    client = no_key_client(RATE_LIMIT_ANONYMOUS="1/minute", TRUSTED_PROXIES=1)
    proxy = {"REMOTE_ADDR": "10.1.1.1"}
    first = client.get(
        "/v1/events", headers={"X-Forwarded-For": "198.51.100.7"}, environ_base=proxy
    )
    second = client.get(
        "/v1/events", headers={"X-Forwarded-For": "198.51.100.8"}, environ_base=proxy
    )
    again = client.get(
        "/v1/events", headers={"X-Forwarded-For": "198.51.100.7"}, environ_base=proxy
    )
    assert [first.status_code, second.status_code, again.status_code] == [200, 200, 429]


def test_a_key_reads_under_its_own_limit(no_key_client):
    client = no_key_client(RATE_LIMIT_ANONYMOUS="1/minute", RATE_LIMIT_READ="5/minute")
    assert client.get("/v1/events").status_code == 200
    assert client.get("/v1/events").status_code == 429
    keyed = client.get("/v1/events", headers=bearer("test-reader"))
    assert keyed.status_code == 200
    assert keyed.headers["RateLimit-Policy"] == '"read";q=5;w=60'


@needs_redis
def test_instances_sharing_redis_share_the_count(make_app):
    shared = {
        "RATE_LIMIT_WRITE": "2/minute",
        "RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/0",
        "RATE_LIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
    }
    one, two = make_app(**shared).test_client(), make_app(**shared).test_client()
    statuses = [
        one.post("/v1/events", json=example()).status_code,
        two.post("/v1/events", json=example()).status_code,
        one.post("/v1/events", json=example()).status_code,
        two.post("/v1/events", json=example()).status_code,
    ]
    assert statuses == [201, 201, 429, 429]


def test_requests_go_through_when_the_store_is_down(make_app, caplog):
    client = make_app(
        RATE_LIMIT_WRITE="1/minute", RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:1/0"
    ).test_client()
    with caplog.at_level(logging.WARNING):
        statuses = [client.post("/v1/events", json=example()).status_code for _ in range(3)]
    assert statuses == [201, 201, 201]
    warnings = [r for r in caplog.records if "rate-limit store unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per request


def test_the_in_process_store_counts_without_a_thread_and_sweeps_ended_windows(monkeypatch):
    # limits' own memory store starts a timer thread every 10 ms under load, and the
    # request that starts it waits for it; ours sweeps inline instead.
    storage = SweepingMemoryStorage("memory://")
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    limiter = SlidingWindowCounterRateLimiter(storage)
    # An hour: five hits 15 ms apart never straddle two windows (with a second they did,
    # one run in some 15, and the weighted previous window let the fourth through).
    limit = parse("3/hour")
    hits = []
    for _ in range(5):
        hits.append(limiter.hit(limit, "read", "key:a"))
        time.sleep(0.015)
    assert hits == [True, True, True, False, False]
    assert started == []
    # An ended window no request reads again is dropped by the next sweep.
    storage.storage["ended"], storage.expirations["ended"] = 1, time.time() - 1
    storage._swept_at -= SWEEP_EVERY_SECONDS
    limiter.hit(limit, "read", "key:b")
    assert "ended" not in storage.storage

"""Deliverers as real processes (`flask --app service deliver`): several at once, SIGTERM
and SIGKILL."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest
from conftest import bearer
from examples import example
from webhooks import receiver, wait_until

pytestmark = pytest.mark.slow
ADMIN = bearer("test-admin")


@pytest.fixture
def client(make_app):
    """A test client of an app that accepts loopback subscribers."""
    return make_app(WEBHOOKS_ALLOW_PRIVATE_TARGETS=True).test_client()


@contextmanager
def deliver_process(database_url: str):
    """One `flask --app service deliver` on the test database; SIGTERM at the end."""
    env = os.environ | {
        "DATABASE_URL": database_url,
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOKS_RETRY_BASE_SECONDS": "0.05",
        "WEBHOOKS_RETRY_MAX_SECONDS": "0.2",
        "WEBHOOKS_POLL_SECONDS": "0.02",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("NATS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "service", "deliver"], env=env
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _subscribe(client, url: str) -> dict:
    response = client.post("/v1/subscriptions", json={"url": url}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_two_deliverers_send_every_change_once(client, database_url):
    with receiver() as hook:
        subs = [_subscribe(client, hook.url(f"/{i}")) for i in range(4)]
        with deliver_process(database_url), deliver_process(database_url):
            written = 0
            for i in range(40):
                location = client.post(
                    "/v1/events", json=example("meeting", title=f"e{i}")
                ).headers["Location"]
                assert client.patch(location, json={"title": f"e{i} v2"}).status_code == 200
                written += 2
            wait_until(
                lambda: len(hook.accepted()) >= written * len(subs),
                timeout=60,
                what="every change at every subscription",
            )
            threading.Event().wait(0.5)  # time for a duplicate to show, were there one
        per_path = collections.Counter((r.path, r.headers["webhook-id"]) for r in hook.accepted())
        assert len(per_path) == written * len(subs)
        assert set(per_path.values()) == {1}, "a change was delivered twice"
        for i in range(len(subs)):
            versions = collections.defaultdict(list)
            for r in hook.accepted(f"/{i}"):
                versions[r.json["subject"]].append(r.json["data"]["version"])
            assert all(v == [1, 2] for v in versions.values())


def test_a_deliverer_killed_mid_delivery_is_followed_by_a_redelivery(client, database_url):
    with receiver(hold=threading.Event()) as hook:
        sub = _subscribe(client, hook.url())
        client.post("/v1/events", json=example("meeting"))
        with deliver_process(database_url) as first:
            wait_until(lambda: hook.received, what="the first attempt to arrive")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        hook.hold.set()  # the first attempt's answer goes to a dead process
        change_id = hook.received[0].headers["webhook-id"]
        with deliver_process(database_url):
            wait_until(lambda: len(hook.received) >= 2, timeout=30, what="the redelivery")
            wait_until(
                lambda: client.get(
                    f"/v1/subscriptions/{sub['id']}/deliveries", headers=ADMIN
                ).get_json()["items"],
                what="the delivery to be recorded",
            )
        assert hook.received[1].headers["webhook-id"] == change_id
        (row,) = client.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=ADMIN).get_json()[
            "items"
        ]
        assert row["status"] == "delivered" and row["change_id"] == change_id


def test_sigterm_finishes_the_attempt_in_flight(client, database_url):
    with receiver(hold=threading.Event()) as hook:
        sub = _subscribe(client, hook.url())
        client.post("/v1/events", json=example("meeting"))
        with deliver_process(database_url) as worker:
            wait_until(lambda: hook.received, what="the attempt to arrive")
            worker.send_signal(signal.SIGTERM)
            threading.Event().wait(0.3)
            assert worker.poll() is None, "it stopped before its attempt ended"
            hook.hold.set()
            assert worker.wait(30) == 0
        (row,) = client.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=ADMIN).get_json()[
            "items"
        ]
        assert row["status"] == "delivered"
        assert len(hook.received) == 1

"""Webhook delivery end to end: real receivers on loopback ports, the deliverer's own loop,
signatures checked with `standardwebhooks`, bodies read with `cloudevents`."""

from __future__ import annotations

import datetime as dt
import json
import time

import psycopg
import pytest
from conftest import bearer
from examples import example
from search_data import create_all
from webhooks import FAST, deliverer, receiver, wait_until

ADMIN = bearer("test-admin")


def _subscribe(client, url: str, **body) -> dict:
    response = client.post("/v1/subscriptions", json={"url": url, **body}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _subscription(client, subscription_id: str) -> dict:
    return client.get(f"/v1/subscriptions/{subscription_id}", headers=ADMIN).get_json()


def _deliveries(client, subscription_id: str, **args) -> list[dict]:
    response = client.get(
        f"/v1/subscriptions/{subscription_id}/deliveries", query_string=args, headers=ADMIN
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


@pytest.fixture
def fast_app(make_app):
    return make_app(**FAST)


@pytest.fixture
def fast_client(fast_app):
    return fast_app.test_client()


def test_a_change_arrives_as_a_signed_cloudevent(fast_app, fast_client):
    with receiver() as hook:
        sub = _subscribe(fast_client, hook.url())
        created = fast_client.post("/v1/events", json=example("meeting")).get_json()
        with deliverer(fast_app):
            (got,) = wait_until(lambda: hook.accepted(), what="the delivery")
        assert got.headers["Content-Type"] == "application/cloudevents+json"
        assert got.verified(sub["secret"])["data"] == created
        event = got.cloudevent()
        assert event.get_specversion() == "1.0"
        assert event.get_type() == "events.event.created"
        assert event.get_subject() == created["id"]
        assert event.get_id() == got.headers["webhook-id"]
        assert event.get_dataschema() == "http://localhost:8000/v1/event-types/meeting"
        assert event.get_data() == created
        # The id is a change feed position: /v1/changes resumes right after it.
        after = fast_client.get("/v1/changes", query_string={"after": event.get_id()})
        assert after.get_json()["items"] == []
        (row,) = _deliveries(fast_client, sub["id"])
        assert row["status"] == "delivered"
        assert row["change_id"] == event.get_id()


def test_500_twice_then_200_is_delivered_once_in_order(fast_app, fast_client):
    with receiver(script=[500, 500]) as hook:
        sub = _subscribe(fast_client, hook.url())
        response = fast_client.post("/v1/events", json=example("meeting", title="v1"))
        url = response.headers["Location"]
        for title in ("v2", "v3"):
            assert fast_client.patch(url, json={"title": title}).status_code == 200
        with deliverer(fast_app):
            wait_until(lambda: len(hook.accepted()) >= 3, what="three deliveries")
            time.sleep(0.3)  # time for a duplicate to show, were there one
        accepted = [r.verified(sub["secret"]) for r in hook.accepted()]
        assert [c["data"]["version"] for c in accepted] == [1, 2, 3]
        assert [c["type"] for c in accepted] == ["events.event.created"] + [
            "events.event.updated"
        ] * 2
        assert [r.answered for r in hook.received] == [500, 500, 200, 200, 200]
        rows = sorted(_deliveries(fast_client, sub["id"]), key=lambda r: r["version"])
        assert [(r["version"], r["status"], r["attempts"]) for r in rows] == [
            (1, "delivered", 3),
            (2, "delivered", 1),
            (3, "delivered", 1),
        ]
        assert _subscription(fast_client, sub["id"])["failing_since"] is None


def test_one_failing_event_does_not_hold_back_the_others(fast_app, fast_client):
    with receiver() as hook:
        sub = _subscribe(fast_client, hook.url())
        first = fast_client.post("/v1/events", json=example("meeting", title="first"))
        second = fast_client.post("/v1/events", json=example("meeting", title="second"))
        first_id, second_id = first.get_json()["id"], second.get_json()["id"]
        failed = []

        def answer(path, body):
            if json.loads(body)["subject"] == first_id and not failed:
                failed.append(body)
                return 500
            return 200

        hook.answer = answer
        with deliverer(fast_app):
            wait_until(lambda: len(hook.accepted()) >= 2, what="both events")
        subjects = [r.verified(sub["secret"])["subject"] for r in hook.accepted()]
        assert subjects == [second_id, first_id]


def test_410_disables_the_subscription(fast_app, fast_client):
    with receiver(script=[410]) as hook:
        sub = _subscribe(fast_client, hook.url())
        fast_client.post("/v1/events", json=example("meeting"))
        with deliverer(fast_app):
            wait_until(
                lambda: _subscription(fast_client, sub["id"])["status"] == "disabled",
                what="the subscription to be disabled",
            )
            fast_client.post("/v1/events", json=example("meeting", title="after"))
            time.sleep(0.3)
        stored = _subscription(fast_client, sub["id"])
        assert "410" in stored["disabled_reason"]
        assert len(hook.received) == 1  # nothing after the 410
        (row,) = _deliveries(fast_client, sub["id"])
        assert row["status"] == "failed" and row["last_status_code"] == 410


def test_failing_for_too_long_disables_with_the_reason(make_app, database_url):
    app = make_app(**FAST, WEBHOOKS_DISABLE_AFTER_DAYS=1)
    client = app.test_client()
    with receiver(answer=lambda path, body: 503) as hook:
        sub = _subscribe(client, hook.url())
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "UPDATE subscriptions SET failing_since = now() - interval '2 days' WHERE id = %s",
                (sub["id"],),
            )
        client.post("/v1/events", json=example("meeting"))
        with deliverer(app):
            wait_until(lambda: _subscription(client, sub["id"])["status"] == "disabled")
        reason = _subscription(client, sub["id"])["disabled_reason"]
        assert "failed for more than 1 days" in reason and "503" in reason


FILTERS = [
    {},
    {"type": ["attack"]},
    {"type": ["meeting", "visit"]},
    {"country": ["UA"]},
    {"actor": ["sergey lavrov"]},
    {"q": "drone"},
    {"tag": ["diplomacy"]},
    {"bbox": "120,30,135,45"},
    {"near": "36.2,50.0,100"},
    {"certainty": ["confirmed"], "country": ["KP"]},
    {"date_from": "2025-07", "date_to": "2025-07-31"},
    {"source": ["TASS"]},
]


def test_filters_take_exactly_what_search_finds(fast_app, fast_client, database_url):
    create_all(fast_client)  # before the subscriptions: they start from the beginning
    with receiver() as hook:
        subs = [
            _subscribe(fast_client, hook.url(f"/{i}"), filter=f, start="0.0")
            for i, f in enumerate(FILTERS)
        ]
        with deliverer(fast_app):
            end = _last_change(database_url)
            wait_until(
                lambda: all(
                    _position(_subscription(fast_client, s["id"])["position"]) >= end for s in subs
                ),
                what="every subscription to reach the last change",
            )
            wait_until(
                lambda: not any(_deliveries(fast_client, s["id"], status="pending") for s in subs)
            )
    for i, (sub, query) in enumerate(zip(subs, FILTERS, strict=True)):
        latest = {}
        for r in hook.accepted(f"/{i}"):
            change = r.verified(sub["secret"])
            latest[change["subject"]] = change["type"]
        live = {subject for subject, kind in latest.items() if kind != "events.event.deleted"}
        found = fast_client.get("/v1/events", query_string=query | {"limit": 100}).get_json()
        assert live == {e["id"] for e in found["items"]}, query


def test_a_subscription_from_now_starts_at_the_feeds_present(fast_app, fast_client, database_url):
    """`now` is the feed's horizon: an earlier change comes too only while a transaction
    older than it was still running (on a shared server, another database's may be)."""
    fast_client.post("/v1/events", json=example("meeting", title="before"))
    before = _last_change(database_url)
    with receiver() as hook:
        sub = _subscribe(fast_client, hook.url())
        fast_client.post("/v1/events", json=example("meeting", title="after"))
        with deliverer(fast_app):
            wait_until(lambda: any(r.json["data"]["title"] == "after" for r in hook.accepted()))
            time.sleep(0.2)
    titles = [r.verified(sub["secret"])["data"]["title"] for r in hook.accepted()]
    expected = ["before", "after"] if before > _position(sub["position"]) else ["after"]
    assert titles == expected


def _position(text: str) -> tuple[int, int]:
    txid, seq = text.split(".")
    return int(txid), int(seq)


def _last_change(database_url) -> tuple[int, int]:
    with psycopg.connect(database_url) as conn:
        txid, seq = conn.execute(
            "SELECT txid::text, seq FROM event_revisions"
            " ORDER BY event_revisions.txid DESC, seq DESC LIMIT 1"
        ).fetchone()
    return int(txid), seq


def test_rotation_signs_with_both_secrets_inside_the_window(make_app):
    app = make_app(**FAST, WEBHOOKS_SECRET_OVERLAP_HOURS=1)
    client = app.test_client()
    with receiver() as hook:
        old = _subscribe(client, hook.url())["secret"]
        rotated = client.post(f"/v1/subscriptions/{_first_id(client)}/rotate-secret", headers=ADMIN)
        assert rotated.status_code == 200
        new = rotated.get_json()["secret"]
        assert new != old and new.startswith("whsec_")
        client.post("/v1/events", json=example("meeting"))
        with deliverer(app):
            (got,) = wait_until(lambda: hook.accepted())
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        assert got.verified(old) == got.verified(new)


def test_after_the_window_only_the_new_secret_signs(make_app):
    from standardwebhooks.webhooks import WebhookVerificationError

    app = make_app(**FAST, WEBHOOKS_SECRET_OVERLAP_HOURS=0.5 / 3600)
    client = app.test_client()
    with receiver() as hook:
        old = _subscribe(client, hook.url())["secret"]
        new = client.post(
            f"/v1/subscriptions/{_first_id(client)}/rotate-secret", headers=ADMIN
        ).get_json()["secret"]
        time.sleep(0.6)
        client.post("/v1/events", json=example("meeting"))
        with deliverer(app):
            (got,) = wait_until(lambda: hook.accepted())
        got.verified(new)
        with pytest.raises(WebhookVerificationError):
            got.verified(old)


def _first_id(client) -> str:
    return client.get("/v1/subscriptions", headers=ADMIN).get_json()["items"][0]["id"]


def test_deliveries_list_and_retry(fast_app, fast_client, make_app):
    slow = make_app(
        **FAST | {"WEBHOOKS_RETRY_BASE_SECONDS": 3600, "WEBHOOKS_RETRY_MAX_SECONDS": 3600}
    )
    with receiver(script=[500]) as hook:
        sub = _subscribe(fast_client, hook.url())
        fast_client.post("/v1/events", json=example("meeting"))
        with deliverer(slow):
            wait_until(lambda: hook.received)
            wait_until(lambda: _deliveries(fast_client, sub["id"]))
        (row,) = _deliveries(fast_client, sub["id"])
        assert row["status"] == "pending" and row["last_status_code"] == 500
        assert row["attempts"] == 1
        assert dt.datetime.fromisoformat(row["next_attempt_at"]) > dt.datetime.now(dt.UTC)
        retry_url = f"/v1/subscriptions/{sub['id']}/deliveries/{row['id']}/retry"
        retried = fast_client.post(retry_url, headers=ADMIN)
        assert retried.status_code == 200, retried.get_json()
        with deliverer(slow):
            wait_until(lambda: hook.accepted(), what="the retried delivery")
            wait_until(lambda: _deliveries(fast_client, sub["id"])[0]["status"] == "delivered")
        again = fast_client.post(retry_url, headers=ADMIN)
        assert again.status_code == 409
        assert again.content_type == "application/problem+json"
        missing = fast_client.post(
            f"/v1/subscriptions/{sub['id']}/deliveries/999999/retry", headers=ADMIN
        )
        assert missing.status_code == 404


def test_a_disabled_subscription_enabled_again_delivers_what_failed(fast_app, fast_client):
    with receiver(script=[410]) as hook:
        sub = _subscribe(fast_client, hook.url())
        fast_client.post("/v1/events", json=example("meeting"))
        with deliverer(fast_app):
            wait_until(lambda: _subscription(fast_client, sub["id"])["status"] == "disabled")
            enabled = fast_client.patch(
                f"/v1/subscriptions/{sub['id']}", json={"status": "active"}, headers=ADMIN
            )
            assert enabled.status_code == 200
            assert enabled.get_json()["disabled_reason"] is None
            wait_until(lambda: hook.accepted(), what="the redelivery")
        assert _deliveries(fast_client, sub["id"])[0]["status"] == "delivered"


def test_the_guard_is_checked_again_at_delivery(make_app, fast_client):
    """Made while loopback was allowed, a subscription to 127.0.0.1 is refused by a
    deliverer that does not allow it: the attempt is refused, never sent."""
    strict = make_app(**FAST | {"WEBHOOKS_ALLOW_PRIVATE_TARGETS": False})
    with receiver() as hook:
        sub = _subscribe(fast_client, hook.url())
        fast_client.post("/v1/events", json=example("meeting"))
        with deliverer(strict):
            wait_until(lambda: _deliveries(fast_client, sub["id"]))
        (row,) = _deliveries(fast_client, sub["id"])
        assert row["status"] == "pending"
        assert "must be https" in row["last_error"]
        assert hook.received == []


def test_the_delivery_log_has_one_json_line_per_attempt(fast_app, fast_client, caplog):
    from service.observability import configure_logging

    caplog.set_level("INFO", logger="service.delivery")
    with receiver(script=[500]) as hook:
        _subscribe(fast_client, hook.url())
        fast_client.post("/v1/events", json=example("meeting"))
        with deliverer(fast_app):
            wait_until(lambda: hook.accepted())
    attempts = [r for r in caplog.records if r.getMessage() == "webhook attempt"]
    assert [(a.attempt, a.outcome, a.status) for a in attempts] == [
        (1, "failed", 500),
        (2, "delivered", 200),
    ]
    configure_logging("INFO")  # the service's own handler: one JSON object per line
    import logging

    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "events_json", False)]
    line = json.loads(handler.format(attempts[0]))
    assert line["logger"] == "service.delivery" and line["change_id"] == attempts[0].change_id


def test_delivered_rows_past_their_retention_are_pruned(fast_app, fast_client, database_url):
    """WEBHOOKS_DELIVERIES_RETENTION_DAYS (30 by default): the deliverer deletes delivered
    rows older than that; waiting and failed ones stay, however old, and so do newer ones."""
    sub = _subscribe(fast_client, "http://127.0.0.1:9/hook")
    made = [("delivered", "40 days"), ("pending", "40 days"), ("failed", "40 days")]
    made += [("delivered", "29 days")]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for seq, (status, age) in enumerate(made, 1):
            conn.execute(
                "INSERT INTO deliveries (subscription_id, change_txid, change_seq, event_id,"
                " version, operation, status, next_attempt_at, created_at) VALUES (%s, '1',"
                " %s, gen_random_uuid(), 1, 'create', %s, now() + interval '1 day',"
                " now() - %s::interval)",
                (sub["id"], seq, status, age),
            )

        def left():
            return conn.execute(
                "SELECT status, created_at < now() - interval '30 days' FROM deliveries"
                " WHERE subscription_id = %s ORDER BY change_seq",
                (sub["id"],),
            ).fetchall()

        with deliverer(fast_app):
            wait_until(lambda: len(left()) == 3, what="the old delivered row to go")
        assert left() == [("pending", True), ("failed", True), ("delivered", False)]


def test_an_update_that_leaves_the_filter_is_delivered_and_the_next_is_not(fast_app, fast_client):
    """A subscriber that got version 1 learns of version 2 when 2 no longer matches (it
    left the filter); version 3, after a version that did not match, is not sent; a
    version that matches again is."""
    with receiver() as hook:
        sub = _subscribe(fast_client, hook.url(), filter={"q": "zeppelin"})
        location = fast_client.post(
            "/v1/events", json=example("meeting", title="A zeppelin summit")
        ).headers["Location"]
        for title in ("A plain summit", "A plain summit, again", "The zeppelin is back"):
            assert fast_client.patch(location, json={"title": title}).status_code == 200
        other = fast_client.post("/v1/events", json=example("meeting", title="Unrelated"))
        fast_client.patch(other.headers["Location"], json={"title": "Still unrelated"})
        with deliverer(fast_app):
            wait_until(lambda: len(hook.accepted()) >= 3, what="three deliveries")
            time.sleep(0.3)  # time for a fourth to show, were there one
    got = [r.verified(sub["secret"])["data"] for r in hook.accepted()]
    assert [(d["version"], d["title"]) for d in got] == [
        (1, "A zeppelin summit"),
        (2, "A plain summit"),
        (4, "The zeppelin is back"),
    ]


def test_connections_to_one_receiver_are_capped_over_all_its_subscriptions(make_app):
    # Three subscriptions to one receiver, each free to send 32 at once: without the cap
    # some 90 connections would be open together; with it, three. Kept alive, so that a
    # connection is counted until the deliverer closes it, not until the server's thread
    # gets round to it after answering.
    app = make_app(**FAST, WEBHOOKS_CONNECTIONS_PER_TARGET=3)
    client = app.test_client()
    with receiver(pause=0.02, keep_alive=True) as hook:
        for path in ("/a", "/b", "/c"):
            _subscribe(client, hook.url(path))
        for i in range(30):
            client.post("/v1/events", json=example("meeting", title=f"m{i}"))
        with deliverer(app):
            wait_until(lambda: len(hook.accepted()) >= 90, what="30 changes at 3 paths")
        assert hook.most_connections == 3
        per_path = {path: len(hook.accepted(path)) for path in ("/a", "/b", "/c")}
        assert per_path == {"/a": 30, "/b": 30, "/c": 30}


def test_resolved_targets_evict_the_oldest_url_not_all():
    import asyncio

    from service.delivery.targets import ResolvedTargets, TargetPolicy

    targets = ResolvedTargets(TargetPolicy(True, (80,)), ttl=60, size=2)
    urls = [f"http://127.0.0.{i}/hook" for i in (1, 2, 3)]

    async def resolve_all():
        for url in urls:
            await targets.resolve(url)

    asyncio.run(resolve_all())
    assert list(targets._known) == urls[1:]

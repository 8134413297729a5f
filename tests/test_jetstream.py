"""The JetStream publisher, against the NATS server at NATS_URL (127.0.0.1:4222 here).

Without a server these tests skip and say why; CI sets REQUIRE_NATS=true (.ci/run starts
or checks the server first), and then a missing server fails them instead.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import socket
import uuid

import pytest
from examples import example
from webhooks import FAST, deliverer, wait_until

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


def _reachable(url: str) -> bool:
    host, _, port = url.removeprefix("nats://").partition(":")
    try:
        socket.create_connection((host, int(port or 4222)), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def nats_url():
    if not _reachable(NATS_URL):
        reason = (
            f"no NATS server with JetStream at {NATS_URL} (set NATS_URL, or start nats-server -js)"
        )
        if os.environ.get("REQUIRE_NATS", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    return NATS_URL


async def _read_all(url: str, stream: str, subject: str, count: int) -> list:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        consumer = await js.pull_subscribe(subject, durable=None, stream=stream)
        messages = []
        while len(messages) < min(count, info.state.messages):
            batch = await consumer.fetch(count, timeout=5)
            for message in batch:
                await message.ack()
            messages += batch
        return messages, info
    finally:
        await nc.close()


async def _delete_stream(url: str, stream: str) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def test_a_consumer_reads_a_burst_once_in_order_per_event(make_app, nats_url):
    name = f"TEST_{uuid.uuid4().hex[:10].upper()}"
    prefix = f"test.{name.lower()}"
    app = make_app(**FAST, NATS_URL=nats_url, NATS_STREAM=name, NATS_SUBJECT_PREFIX=prefix)
    client = app.test_client()
    try:
        written = []
        with deliverer(app):
            for i in range(20):
                location = client.post(
                    "/v1/events", json=example("meeting", title=f"e{i}")
                ).headers["Location"]
                for title in ("v2", "v3"):
                    assert client.patch(location, json={"title": title}).status_code == 200
                written.append(location.rsplit("/", 1)[1])
            wait_until(
                lambda: asyncio.run(_count(nats_url, name)) >= 60,
                timeout=60,
                what="60 messages on the stream",
            )
        messages, info = asyncio.run(_read_all(nats_url, name, f"{prefix}.>", 60))
        assert info.config.max_age == pytest.approx(7 * 86400)
        bodies = [json.loads(m.data) for m in messages]
        assert len({b["id"] for b in bodies}) == len(bodies) == 60
        assert {m.subject for m in messages} == {f"{prefix}.meeting"}
        assert all(
            m.headers["Nats-Msg-Id"] == b["id"] for m, b in zip(messages, bodies, strict=False)
        )
        versions = collections.defaultdict(list)
        for body in bodies:
            versions[body["subject"]].append(body["data"]["version"])
        assert set(versions) == set(written)
        assert all(v == [1, 2, 3] for v in versions.values())
    finally:
        asyncio.run(_delete_stream(nats_url, name))


async def _count(url: str, stream: str) -> int:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    except NotFoundError:
        return 0
    finally:
        await nc.close()


def test_a_republished_change_is_dropped_by_its_message_id(make_app, nats_url, database_url):
    """A publisher that restarts before recording its position sends again: JetStream
    keeps one copy of each change."""
    import psycopg

    name = f"TEST_{uuid.uuid4().hex[:10].upper()}"
    prefix = f"test.{name.lower()}"
    app = make_app(**FAST, NATS_URL=nats_url, NATS_STREAM=name, NATS_SUBJECT_PREFIX=prefix)
    client = app.test_client()
    try:
        client.post("/v1/events", json=example("meeting"))
        with deliverer(app):
            wait_until(lambda: asyncio.run(_count(nats_url, name)) >= 1)
        with psycopg.connect(database_url) as conn:
            conn.execute("UPDATE stream_positions SET position_txid = '0', position_seq = 0")
        with deliverer(app):
            wait_until(lambda: _stream_position(database_url) != (0, 0), what="the republish")
        assert asyncio.run(_count(nats_url, name)) == 1
    finally:
        asyncio.run(_delete_stream(nats_url, name))


def _stream_position(database_url) -> tuple[int, int]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        txid, seq = conn.execute(
            "SELECT position_txid::text, position_seq FROM stream_positions"
        ).fetchone()
    return int(txid), seq

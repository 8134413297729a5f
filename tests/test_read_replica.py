"""DATABASE_READ_URL: search, facets, export, actors and the change feed read from a real
streaming replica; writes, reads by id and as_of reads from the primary; a replica that is
down sends reads to the primary; a lagging one serves what it has replayed.

The replica lags on purpose here: its replay is paused (``pg_wal_replay_pause``), so what
the primary writes meanwhile is on the primary only, and an answer that lacks it came from
the replica.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import psycopg
import pytest
from conftest import bearer, prepare_database
from examples import example

from bench.replication import PrimaryWithReplica
from service import create_app

pytestmark = pytest.mark.slow
DATABASE = "events"


@pytest.fixture(scope="module")
def pair():
    """A primary holding a migrated database, and its streaming replica."""
    with PrimaryWithReplica() as pair:
        with psycopg.connect(pair.primary.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        prepare_database(pair.primary.url(DATABASE))
        pair.wait_replayed()
        yield pair


@pytest.fixture
def replica_app(pair):
    with psycopg.connect(pair.primary.url(DATABASE)) as conn:
        conn.execute("TRUNCATE events, event_revisions, idempotency_keys CASCADE")
    pair.wait_replayed()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": pair.primary.url(DATABASE),
            "DATABASE_READ_URL": pair.replica.url(DATABASE),
            "DATABASE_POOL_MIN_SIZE": 1,
            "DATABASE_POOL_MAX_SIZE": 2,
            "DATABASE_READ_POOL_TIMEOUT": 1,
            "DATABASE_READ_RETRY_SECONDS": 2,
            "AS_OF_MAX_CHANGES": 100,
        }
    )
    yield app
    app.extensions["events_read_db"].close()
    app.extensions["events_db_pool"].close()


@contextmanager
def replay_paused(pair):
    """The replica stops applying the primary's WAL: it lags until the block ends."""
    with psycopg.connect(pair.replica.url(DATABASE), autocommit=True) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")


def titles(response) -> set[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return {item["title"] for item in response.get_json()["items"]}


def service_connections(pair) -> int:
    """Connections of the service open on the replica."""
    with psycopg.connect(pair.replica.url(DATABASE), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'events-service'"
        ).fetchone()[0]


def test_replica_reads_serve_what_it_has_replayed_and_writes_go_to_the_primary(pair, replica_app):
    client = replica_app.test_client()
    old = client.post(
        "/v1/events",
        json=example(
            title="Replayed", actors=[{"name": "Old Actor", "kind": "person", "role": "host"}]
        ),
    )
    assert old.status_code == 201
    pair.wait_replayed()
    feed_start = client.get("/v1/changes?after=now").get_json()["next_cursor"]
    moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    time.sleep(1.2)

    with replay_paused(pair):
        new = client.post(
            "/v1/events",
            json=example(
                title="Not yet replayed",
                actors=[{"name": "New Actor", "kind": "person", "role": "host"}],
            ),
        )
        # The write, and the read by id right after it: the primary's.
        assert new.status_code == 201
        by_id = client.get(new.headers["Location"])
        assert by_id.status_code == 200 and by_id.get_json()["title"] == "Not yet replayed"
        # A PATCH under If-Match reads the current version on the primary: no 412.
        patched = client.patch(
            new.headers["Location"],
            json={"summary": "Patched."},
            headers={
                "If-Match": by_id.headers["ETag"],
                "Content-Type": "application/merge-patch+json",
            },
        )
        assert patched.status_code == 200, patched.get_json()

        # Search, facets, export, actors and the change feed: the replica's, which has not
        # replayed the new event yet.
        assert titles(client.get("/v1/events")) == {"Replayed"}
        assert client.get("/v1/events/facets").get_json()["total"] == 1
        export = client.get("/v1/events/export?format=ndjson").get_data(as_text=True)
        assert "Replayed" in export and "Not yet replayed" not in export
        actors = {a["name"] for a in client.get("/v1/actors").get_json()["items"]}
        assert "Old Actor" in actors and "New Actor" not in actors
        assert client.get(f"/v1/changes?after={feed_start}").get_json()["items"] == []
        assert service_connections(pair) >= 1
        # as_of builds a temporary table, which a standby refuses: the primary serves it.
        as_of = client.get(f"/v1/events?as_of={moment}")
        assert titles(as_of) == {"Replayed"}

    pair.wait_replayed()
    assert titles(client.get("/v1/events")) == {"Replayed", "Not yet replayed"}
    changes = client.get(f"/v1/changes?after={feed_start}").get_json()["items"]
    assert [change["version"] for change in changes] == [1, 2]


def test_reads_go_to_the_primary_while_the_replica_is_down(pair, replica_app):
    client = replica_app.test_client()
    assert client.post("/v1/events", json=example(title="Stored")).status_code == 201
    pair.wait_replayed()
    assert titles(client.get("/v1/events")) == {"Stored"}
    pair.replica.stop()
    try:
        started = time.monotonic()
        # The first read waits for the replica's pool timeout (1 s), then reads from the
        # primary; the next ones skip the replica at once for the retry interval.
        assert titles(client.get("/v1/events")) == {"Stored"}
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(5):
            assert titles(client.get("/v1/events")) == {"Stored"}
            assert client.get("/v1/actors").status_code == 200
        assert first < 3
        assert time.monotonic() - started < 1
        metrics = client.get("/metrics", headers=bearer("test-metrics")).get_data(as_text=True)
        fallbacks = [
            line
            for line in metrics.splitlines()
            if line.startswith("events_db_read_fallbacks_total ")
        ]
        assert fallbacks and float(fallbacks[0].split()[1]) >= 11
    finally:
        pair.replica.start()
    # Back: after the retry interval, reads go to the replica again.
    time.sleep(2.1)
    with replay_paused(pair):
        assert client.post("/v1/events", json=example(title="Later")).status_code == 201
        assert titles(client.get("/v1/events")) == {"Stored"}

"""A database restart: the service recovers by itself, and no acknowledged write is lost.

This test restarts a PostgreSQL of its own (embedded, in a temporary directory), never the
server the rest of the suite uses.
"""

from __future__ import annotations

import pgserver
import psycopg
import pytest
from conftest import prepare_database
from examples import example

from service import create_app


@pytest.fixture
def own_server(tmp_path):
    """An embedded PostgreSQL that this test may stop and start."""
    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="delete")
    yield server
    server.cleanup()


def test_service_recovers_after_a_database_restart_without_failed_requests(own_server):
    url = own_server.get_uri("postgres")
    prepare_database(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "DATABASE_POOL_MIN_SIZE": 2,
                      "DATABASE_POOL_MAX_SIZE": 2, "DATABASE_POOL_TIMEOUT": 5})
    client = app.test_client()
    acknowledged = [client.post("/v1/events", json=example(title=f"Before {n}"))
                    for n in range(5)]
    assert all(response.status_code == 201 for response in acknowledged)

    # -m fast: every backend is terminated, as in a crash-restart or failover.
    pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=own_server.pgdata,
                    user=own_server.system_user)

    statuses = [client.get(response.headers["Location"]).status_code
                for response in acknowledged]
    statuses += [client.post("/v1/events", json=example(title=f"After {n}")).status_code
                 for n in range(5)]
    assert statuses == [200] * 5 + [201] * 5
    with psycopg.connect(url) as conn:
        titles = {row[0] for row in conn.execute("SELECT body->>'title' FROM events")}
    assert titles == {f"Before {n}" for n in range(5)} | {f"After {n}" for n in range(5)}
    app.extensions["events_db_pool"].close()

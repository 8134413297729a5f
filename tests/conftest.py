"""Fixtures: one real PostgreSQL database per test run, emptied between tests.

With DATABASE_URL set (CI: the machine's PostgreSQL), a database named
``events_test_<random>`` is created on that server and dropped at the end; the database
named in the URL is only used to issue CREATE/DROP DATABASE. Without it, an embedded
PostgreSQL is started in a temporary directory.
"""

from __future__ import annotations

import os
import tempfile
import uuid

import psycopg
import pytest
from psycopg import conninfo, sql

from service import create_app
from service.embedded_postgres import quiet
from service.migrate import migrate

quiet()


def _server_url():
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="events-test-pg-") as data:
        server = pgserver.get_server(data, cleanup_mode="delete")
        yield server.get_uri("postgres")
        server.cleanup()


@pytest.fixture(scope="session")
def database_url():
    """URL of a fresh, migrated database that lives for the test run."""
    servers = _server_url()
    admin_url = next(servers)
    name = f"events_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = name
    url = conninfo.make_conninfo(**params)
    with psycopg.connect(url) as conn:
        migrate(conn)
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        next(servers, None)


@pytest.fixture
def app(database_url):
    """The app on the test database, emptied before each test."""
    with psycopg.connect(database_url) as conn:
        conn.execute("TRUNCATE events, event_revisions CASCADE")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url,
                      "DATABASE_POOL_MIN_SIZE": 1, "DATABASE_POOL_MAX_SIZE": 4})
    yield app
    app.extensions["events_db_pool"].close()


@pytest.fixture
def created(client):
    """Create an event through the API; returns (response, url)."""

    def create(event: dict):
        response = client.post("/v1/events", json=event)
        assert response.status_code == 201, response.get_json()
        return response, response.headers["Location"]

    return create


@pytest.fixture
def ids(client):
    """The fixed search data set (tests/search_data.py), stored; short name -> id."""
    from search_data import create_all

    return create_all(client)

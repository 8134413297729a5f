"""Fixtures: one real PostgreSQL database per test run, emptied between tests.

With DATABASE_URL set (CI: the machine's PostgreSQL), a database named
``events_test_<random>`` is created on that server and dropped at the end; the database
named in the URL is only used to issue CREATE/DROP DATABASE. Without it, an embedded
PostgreSQL is started in a temporary directory.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import uuid

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from psycopg import conninfo, sql
from werkzeug.datastructures import Headers

from service import auth, create_app
from service.embedded_postgres import ensure_system_user, quiet, wait_patiently
from service.migrate import migrate

quiet()
# Embedded servers (the run's own without DATABASE_URL, and those tests stop and start)
# may take more than pgserver's 10 s to start on a busy machine.
wait_patiently()
# The service refuses the public default SECRET_KEY with a DATABASE_URL: the apps the tests
# make, and the servers they start (which inherit the environment), sign with this run's.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))


def _server_url():
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    import pgserver

    ensure_system_user()  # as root: says so when it adds pgserver's user
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
    prepare_database(url)
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        next(servers, None)


# One API key per scope, made once per run: name -> (scopes, key).
TEST_KEYS = {
    name: (scopes, auth.new_key())
    for name, scopes in {
        "test-reader": ["read"],
        "test-writer": ["write"],
        "test-admin": ["admin"],
        "test-metrics": ["metrics"],
        "test-subscriber": ["subscribe"],
    }.items()
}


def prepare_database(url: str) -> None:
    """Migrate the database at ``url`` and store the test keys in it."""
    with psycopg.connect(url) as conn:
        migrate(conn)
        for name, (scopes, (prefix, key)) in TEST_KEYS.items():
            conn.execute(
                "INSERT INTO api_keys (name, prefix, secret_hash, scopes)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
                (name, prefix, auth.key_digest(key), scopes),
            )


def bearer(name: str) -> dict:
    """The Authorization header of a test key: ``test-reader``, ``test-writer``, ``test-admin``,
    ``test-metrics``, ``test-subscriber``."""
    return {"Authorization": f"Bearer {TEST_KEYS[name][1][1]}"}


class KeyedClient(FlaskClient):
    """A test client that calls as the `test-writer` key unless a request says otherwise.

    Every write needs a key; tests of other behaviour should not each have to send one.
    It is every app's test client here (tests make apps of their own, too); the
    ``anonymous`` fixture sends no key.
    """

    def open(self, *args, **kwargs):
        headers = Headers(kwargs.get("headers"))
        if "Authorization" not in headers:
            headers.update(bearer("test-writer"))
        kwargs["headers"] = headers
        return super().open(*args, **kwargs)


Flask.test_client_class = KeyedClient


@pytest.fixture
def app(database_url):
    """The app on the test database, emptied before each test (the test keys stay)."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "TRUNCATE events, event_revisions, idempotency_keys, actors, actor_aliases,"
            " actor_identifiers, subscriptions, deliveries, stream_positions CASCADE"
        )
        conn.execute("UPDATE api_keys SET revoked_at = NULL, last_used_at = NULL")
        conn.execute(
            "DELETE FROM api_keys WHERE name NOT IN (SELECT unnest(%s::text[]))", (list(TEST_KEYS),)
        )
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "DATABASE_POOL_MIN_SIZE": 1,
            "DATABASE_POOL_MAX_SIZE": 4,
        }
    )
    yield app
    app.extensions["events_db_pool"].close()


@pytest.fixture
def make_app(database_url, app):  # `app` empties the database
    """Apps with settings of their own, on the test database; ``make_app(**config)``.

    Each one's pool is closed after the test, whether it passed or not.
    """
    made = []

    def make(**config):
        made.append(create_app({"TESTING": True, "DATABASE_URL": database_url, **config}))
        return made[-1]

    yield make
    for each in made:
        each.extensions["events_db_pool"].close()


@pytest.fixture
def anonymous(app):
    """A test client that sends no API key."""
    return FlaskClient(app, app.response_class, use_cookies=True)


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


@pytest.fixture
def runner(app):
    """Runs the app's management commands (``flask --app service …``) in-process."""
    return app.test_cli_runner()


# Real servers on loopback ports, one of each for the run: gunicorn under the service's
# own config, and nginx under the repo's template in front of it (the production stack).
# Rate limits are lifted: these tests send many requests from one address.
LIVE_ENV = {
    "RATE_LIMIT_WRITE": "1000000/minute",
    "RATE_LIMIT_READ": "1000000/minute",
    "RATE_LIMIT_ANONYMOUS": "1000000/minute",
    "LOG_LEVEL": "WARNING",
}


@pytest.fixture(scope="session")
def live_gunicorn(database_url, tmp_path_factory):
    """gunicorn serving the app on the test database, as ``gunicorn_conf`` configures it."""
    from bench.servers import Gunicorn

    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with Gunicorn(
        "service:create_app()", "/readyz", log, LIVE_ENV | {"DATABASE_URL": database_url}
    ) as server:
        yield server


@pytest.fixture(scope="session")
def live_nginx(live_gunicorn):
    """nginx in front of ``live_gunicorn``; skipped where nginx is not installed."""
    from bench.servers import NGINX_INSTALL_HINT, Nginx

    if not Nginx.available():
        pytest.skip(NGINX_INSTALL_HINT)
    with Nginx(f"127.0.0.1:{live_gunicorn.port}") as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    """Chromium, driven by Playwright, for one test module (see tests/browser.py)."""
    import browser as shared

    with shared.require_browser().sync_playwright() as playwright:
        launched = shared.launch(playwright)
        yield launched
        launched.close()


@pytest.fixture
def seeded(app):
    """The seeds, loaded into the (emptied) test database the live servers serve."""
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    return app

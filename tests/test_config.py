"""Settings the service refuses: the public default SECRET_KEY outside development."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from service import create_app, gunicorn_conf
from service.config import DEFAULT_SECRET_KEY, InsecureConfiguration
from service.db import get_db


@pytest.fixture
def no_secret_key(monkeypatch):
    """The environment of a deployment that forgot SECRET_KEY."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DEVELOPMENT", raising=False)


def test_the_default_secret_key_is_refused_with_a_database_url(no_secret_key, database_url):
    with pytest.raises(InsecureConfiguration) as refused:
        create_app({"DATABASE_URL": database_url})
    message = str(refused.value)
    assert "SECRET_KEY" in message and "DEVELOPMENT=true" in message


def test_an_empty_secret_key_is_the_default(no_secret_key, monkeypatch, database_url):
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(InsecureConfiguration):
        create_app({"DATABASE_URL": database_url})


@pytest.mark.parametrize("development", ["true", "1", "yes"])
def test_the_development_flag_allows_the_default(
    no_secret_key, monkeypatch, database_url, development
):
    monkeypatch.setenv("DEVELOPMENT", development)
    app = create_app({"DATABASE_URL": database_url})
    assert app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY


def test_the_embedded_database_allows_the_default(no_secret_key, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app()  # no database is started until a request needs one
    assert app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY


def test_a_secret_key_of_its_own_is_used(no_secret_key, monkeypatch, database_url):
    monkeypatch.setenv("SECRET_KEY", "a long random value")
    assert create_app({"DATABASE_URL": database_url}).config["SECRET_KEY"] == "a long random value"


def test_gunicorn_refuses_to_start_and_says_why(no_secret_key, database_url, tmp_path):
    # The production command, with DATABASE_URL and no SECRET_KEY: no worker boots.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"SECRET_KEY", "DEVELOPMENT"}
    }
    env |= {"DATABASE_URL": database_url, "WEB_CONCURRENCY": "1"}
    done = subprocess.run(
        gunicorn_conf.command("127.0.0.1:0"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr


@pytest.mark.parametrize(
    ("environ", "expected"), [({}, "200000 20000"), ({"GUNICORN_MAX_REQUESTS": "5000"}, "5000 500")]
)
def test_workers_are_recycled_after_the_configured_number_of_requests(
    environ, expected, monkeypatch
):
    monkeypatch.delenv("GUNICORN_MAX_REQUESTS", raising=False)
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import service.gunicorn_conf as c; print(c.max_requests, c.max_requests_jitter)",
        ],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")[0]
    assert printed == expected


def test_a_worker_freezes_what_it_built_at_start_out_of_the_collectors_sight():
    gc.unfreeze()
    try:
        gunicorn_conf.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_services_connections_run_without_jit_and_with_the_statement_timeout(make_app):
    app = make_app(DATABASE_STATEMENT_TIMEOUT_MS=1234)
    with app.app_context(), get_db().connection() as conn:
        assert conn.execute("SHOW jit").fetchone()[0] == "off"
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "1234ms"

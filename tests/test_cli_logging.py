"""Management commands print their result and nothing else; the server logs at INFO.

Without LOG_LEVEL, ``flask --app service <command>`` logs at WARNING (on stderr), so its
output is its result; a server (gunicorn's workers, any app made outside the flask
command line) logs at INFO. LOG_LEVEL, when set, decides for both.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from service import create_app


def flask(database_url, *args, **environ):
    env = {name: value for name, value in os.environ.items() if name != "LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "service", *args],
        env=env | {"DATABASE_URL": database_url} | environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.parametrize(
    ("command", "printed"),
    [
        (["migrate"], "database is up to date\n"),
        (["keys", "revoke", "test-reader"], "revoked key 'test-reader'"),
        (["keys", "list"], "NAME "),
    ],
)
def test_a_command_prints_its_result_and_no_log_line(app, database_url, command, printed):
    done = flask(database_url, *command)
    assert done.stdout.startswith(printed)
    assert done.stderr == ""


def test_log_level_makes_a_command_log(app, database_url):
    done = flask(database_url, "migrate", LOG_LEVEL="INFO")
    assert done.stdout == "database is up to date\n"
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert {"level": "INFO", "logger": "service.db"}.items() <= lines[0].items()


def test_the_server_logs_at_info_by_default(monkeypatch, database_url):
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    made = create_app({"TESTING": True, "DATABASE_URL": database_url})
    try:
        assert logging.getLogger().level == logging.INFO
    finally:
        made.extensions["events_db_pool"].close()

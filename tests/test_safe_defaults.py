"""Defaults for someone who just runs it: loopback only, the project's seeds from anywhere,
and a command that stops the embedded PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest
from pgserver.utils import PostmasterInfo

from bench.servers import free_port
from service import create_app, embedded_postgres


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.slow
def test_serve_listens_on_loopback_only_and_seeds_from_any_folder(database_url, tmp_path):
    # No events but those serve seeds (other tests leave theirs in the run's database).
    with psycopg.connect(database_url) as conn:
        conn.execute("TRUNCATE events, event_revisions, idempotency_keys CASCADE")
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("SEEDS_DIR", None)
    env.pop("BIND", None)
    serve = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "service", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert serve.poll() is None, "serve exited"
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/v1/events?type=visit", timeout=2
                ) as answer:
                    body = answer.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "serve never answered"
                time.sleep(0.3)
        # The article's visit, seeded from the project's seeds/ though serve ran elsewhere.
        assert "lavrov-visits-north-korea" in body
        other = _other_address()
        if other is not None:
            with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
                pass
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)


@pytest.fixture
def server_dir():
    """A folder the embedded server's own user can reach: not under pytest's tmp_path,
    whose /tmp/pytest-of-root another pytest run may close to others (mode 0700) while
    this one runs."""
    path = Path(tempfile.mkdtemp(prefix="events-embedded-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_db_stop_stops_the_embedded_postgresql(server_dir, monkeypatch):
    tmp_path = server_dir
    monkeypatch.setenv("EMBEDDED_POSTGRES_DIR", str(tmp_path / "postgres"))
    app = create_app({"TESTING": True, "DATABASE_URL": None})
    runner = app.test_cli_runner()
    url = embedded_postgres.start(app.instance_path)
    assert url.startswith("postgresql://")
    info = PostmasterInfo.read_from_pgdata(tmp_path / "postgres")
    assert info is not None and info.is_running()
    try:
        result = runner.invoke(args=["db", "stop"])
        assert result.exit_code == 0, result.output
        assert "stopped the embedded PostgreSQL" in result.output
        # Gone: its pid file removed and its process ended (a zombie until reaped, when
        # this process is its parent's parent).
        assert PostmasterInfo.read_from_pgdata(tmp_path / "postgres") is None
        assert info.process.status() == psutil.STATUS_ZOMBIE or not info.process.is_running()
        again = runner.invoke(args=["db", "stop"])
        assert again.exit_code == 0
        assert "no embedded PostgreSQL is running" in again.output
    finally:
        embedded_postgres.stop(app.instance_path)


def test_embedded_start_waits_longer_than_pgservers_ten_seconds():
    calls = []
    pg_ctl = embedded_postgres.patient(lambda args, **kwargs: calls.append((args, kwargs)))
    pg_ctl(["-w", "start"], pgdata="/nowhere", timeout=10)  # as pgserver starts a server
    pg_ctl(["-w", "stop"], pgdata="/nowhere")
    (_, started), (_, stopped) = calls
    assert started["timeout"] == embedded_postgres.START_TIMEOUT_SECONDS >= 60
    assert started["env"]["PGCTLTIMEOUT"] == str(int(embedded_postgres.START_TIMEOUT_SECONDS))
    assert "timeout" not in stopped


def test_embedded_starts_go_through_the_patient_pg_ctl():
    from pgserver import postgres_server

    embedded_postgres.wait_patiently()
    assert postgres_server.pg_ctl.patient


@pytest.fixture
def as_root_without_pgservers_user(monkeypatch):
    """This process seen as root, on a machine with no `pgserver` user yet but a useradd
    (wherever this test's own PATH finds one: a user's PATH often lacks /usr/sbin); the
    useradd calls it would make, recorded instead of made."""

    def no_such_user(name):
        raise KeyError(name)

    calls = []

    def useradd(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(embedded_postgres.os, "geteuid", lambda: 0)
    monkeypatch.setattr(embedded_postgres.pwd, "getpwnam", no_such_user)
    monkeypatch.setattr(embedded_postgres.subprocess, "run", useradd)
    monkeypatch.setattr(
        embedded_postgres.shutil,
        "which",
        lambda name: f"/usr/sbin/{name}" if name == "useradd" else None,
    )
    return calls


def test_as_root_the_user_added_for_postgresql_is_announced_in_one_line(
    as_root_without_pgservers_user, capsys
):
    embedded_postgres.ensure_system_user()
    assert as_root_without_pgservers_user == [["useradd", "-s", "/bin/bash", "pgserver"]]
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("notice: running as root: adding the system user 'pgserver'")
    assert "useradd" in line


def test_as_root_without_useradd_the_run_command_stops_with_one_clear_error(
    as_root_without_pgservers_user, monkeypatch, tmp_path
):
    monkeypatch.setattr(embedded_postgres.shutil, "which", lambda name: None)
    monkeypatch.setenv("EMBEDDED_POSTGRES_DIR", str(tmp_path / "postgres"))
    app = create_app({"TESTING": True, "DATABASE_URL": None})
    with app.app_context():  # as `flask --app service serve` runs it
        result = app.test_cli_runner().invoke(args=["serve"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: running as root, the embedded PostgreSQL needs")
    assert "no useradd" in result.output and "DATABASE_URL" in result.output
    assert "Traceback" not in result.output
    assert as_root_without_pgservers_user == []  # nothing was run
    assert not (tmp_path / "postgres").exists()


def test_as_root_a_failing_useradd_is_one_clear_error(as_root_without_pgservers_user, monkeypatch):
    monkeypatch.setattr(
        embedded_postgres.subprocess,
        "run",
        lambda argv, **kwargs: subprocess.CompletedProcess(
            argv, 1, "", "useradd: cannot lock /etc/passwd; try again later.\n"
        ),
    )
    with pytest.raises(embedded_postgres.Unavailable, match="cannot lock /etc/passwd"):
        embedded_postgres.ensure_system_user()


@pytest.mark.parametrize(("euid", "user_exists"), [(1000, False), (0, True)])
def test_nothing_is_added_for_a_non_root_user_or_when_the_user_exists(
    monkeypatch, capsys, euid, user_exists
):
    calls = []
    monkeypatch.setattr(embedded_postgres.os, "geteuid", lambda: euid)
    monkeypatch.setattr(
        embedded_postgres.pwd, "getpwnam", lambda name: name if user_exists else {}[name]
    )
    monkeypatch.setattr(embedded_postgres.subprocess, "run", lambda *a, **k: calls.append(a))
    embedded_postgres.ensure_system_user()
    assert calls == [] and capsys.readouterr().err == ""

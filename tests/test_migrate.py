"""The migration runner: applies each file once, even when run twice or twice at once."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import conninfo, sql

from service.migrate import migrate, pending_files


@pytest.fixture
def empty_database(database_url):
    """A brand-new database on the test server, dropped afterwards."""
    name = f"events_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo.conninfo_to_dict(database_url)
    params["dbname"] = name
    yield conninfo.make_conninfo(**params)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_migrate_twice_is_a_no_op(empty_database):
    with psycopg.connect(empty_database) as conn:
        first = migrate(conn)
        second = migrate(conn)
        applied = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY 1")]
    assert first == [path.name for path in pending_files()]
    assert second == []
    assert applied == first


def test_two_processes_migrating_at_once_apply_each_file_once(empty_database):
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            with psycopg.connect(empty_database) as conn:
                barrier.wait()
                results.append(migrate(conn))
        except Exception as error:  # collected: the assertion below names it
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results, key=len) == [[], [path.name for path in pending_files()]]


def test_migrate_command_reports_up_to_date(app):
    result = app.test_cli_runner().invoke(args=["migrate"])
    assert result.exit_code == 0
    assert "up to date" in result.output

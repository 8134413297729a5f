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


def test_0010_keeps_rows_stored_before_it_searchable(empty_database, tmp_path):
    # A database at 0003 holding one event, as main stored it before issue 11.
    for path in pending_files():
        if path.name < "0010":
            (tmp_path / path.name).write_text(path.read_text())
    body = (
        '{"id":"6f1c1f8e-4d7b-4d7e-9a53-1f0c2b9e0a01","type":"meeting","title":"Old",'
        '"date":"2024","sources":[{"publisher":"ANI","attributed_to":["CNN"]}],'
        '"certainty":"reported","details":{"format":"talks"}}'
    )
    with psycopg.connect(empty_database) as conn:
        migrate(conn, tmp_path)
        conn.execute(
            "INSERT INTO events (id, type, version, body, date_span, date_precision, certainty,"
            " lat, lon, search, created_at, updated_at) VALUES (%s, 'meeting', 1, %s,"
            " '[2024-01-01,2024-12-31]', 'year', 'reported', 51.7, 36.2, ''::tsvector,"
            " now(), now())",
            ("6f1c1f8e-4d7b-4d7e-9a53-1f0c2b9e0a01", body),
        )
        conn.commit()

        assert migrate(conn) == [path.name for path in pending_files() if path.name >= "0010"]
        row = conn.execute(
            "SELECT date_basis, source_kinds, location_precision, body::text FROM events"
            " WHERE point(lon, lat) <@ box(point(36, 51), point(37, 52))"
        ).fetchone()
    assert row == ("on", [], None, body)


def migrations_before(tmp_path, first_left_out: str):
    """A folder of the migrations numbered below ``first_left_out``: the schema as it was."""
    import shutil

    from service.migrate import MIGRATIONS

    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name < first_left_out:
            shutil.copy(path, before)
    return before


def test_registry_migration_merges_stored_actors_by_kind_and_normalised_name(
    empty_database, tmp_path
):
    import json

    before = migrations_before(tmp_path, "0060")
    actors = [
        [{"name": "Sergey Lavrov", "kind": "person"}, {"name": "Russia", "kind": "state"}],
        [{"name": "SÉRGEY LAVROV", "kind": "person", "wikidata": "Q150412"}],
        [{"name": "Russia", "kind": "armed_force"}],
    ]
    with psycopg.connect(empty_database, autocommit=True) as conn:
        migrate(conn, before)
        for n, event_actors in enumerate(actors):
            conn.execute(
                "INSERT INTO events (id, type, version, body, date_span, certainty, search,"
                " csv_fields, created_at, updated_at) VALUES (%s, 'meeting', 1, %s,"
                " '[2025-07-12,2025-07-12]', 'reported', ''::tsvector, '', now(), now())",
                (uuid.UUID(int=n + 1), json.dumps({"actors": event_actors})),
            )
        migrate(conn)
        merged = conn.execute("SELECT kind, names FROM actor_registry_migration").fetchall()
        assert sorted((kind, set(names)) for kind, names in merged) == [
            ("armed_force", {"Russia"}),
            ("person", {"SÉRGEY LAVROV", "Sergey Lavrov"}),
            ("state", {"Russia"}),
        ]
        lavrov = conn.execute(
            "SELECT actor_id FROM actor_identifiers WHERE value = 'Q150412'"
        ).fetchone()[0]
        assert conn.execute(
            "SELECT id FROM events WHERE actor_ids @> ARRAY[%s::uuid] ORDER BY id", (lavrov,)
        ).fetchall() == [(uuid.UUID(int=1),), (uuid.UUID(int=2),)]


def test_figure_migration_fills_the_killed_columns_and_csv_cells_of_stored_events(
    empty_database, tmp_path
):
    import copy
    import json

    from examples import EXAMPLES

    from service.storage.csv_line import csv_fields
    from service.storage.rows import killed_readings, search_columns

    before = migrations_before(tmp_path, "0090")
    events = [copy.deepcopy(example) for example in EXAMPLES.values()]
    for killed in ({"value": 4000}, {"min": 100.5}, {"max": 50}, {"value": 7, "min": 3}):
        casualties = copy.deepcopy(EXAMPLES["casualties"])
        casualties["details"]["killed"] = {"unit": "people"} | killed
        attack = copy.deepcopy(EXAMPLES["attack"])
        attack["details"]["casualties"] = {"killed": {"unit": "people"} | killed}
        events += [casualties, attack]
    stored = ("actor_names", "tags", "publishers", "source_kinds")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        migrate(conn, before)
        for n, event in enumerate(events):
            columns = search_columns(event)
            conn.execute(
                "INSERT INTO events (id, type, version, body, date_span, certainty, search,"
                " csv_fields, actor_names, tags, publishers, source_kinds, created_at,"
                " updated_at) VALUES (%s, %s, 1, %s, '[2025-07-12,2025-07-12]', 'reported',"
                " ''::tsvector, '', %s, %s, %s, %s, now(), now())",
                (
                    uuid.UUID(int=n + 1),
                    event["type"],
                    json.dumps(event, ensure_ascii=False, separators=(",", ":")),
                    *(columns[name] for name in stored),
                ),
            )
        assert migrate(conn) == [p.name for p in pending_files() if p.name >= "0090"]
        rows = conn.execute(
            "SELECT csv_fields, killed_best, killed_any FROM events ORDER BY id"
        ).fetchall()
    assert [row[0] for row in rows] == [csv_fields(event) for event in events]
    assert [(row[1], row[2]) for row in rows] == [
        (readings["killed_best"], readings["killed_any"])
        for readings in map(killed_readings, events)
    ]
    assert sum(row[1] is not None for row in rows) == 6

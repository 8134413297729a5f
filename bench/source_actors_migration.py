"""Time migration 0110 on N stored events, every one citing resolvable sources (the worst
case: each row is updated): 60% a news agency and a newspaper, 40% a news agency and a
government link. A scratch database on the local server, dropped afterwards.

    python -m bench.source_actors_migration 1000000
"""

import pathlib
import shutil
import sys
import tempfile
import time
import uuid

import psycopg
from psycopg import sql

from service.migrate import MIGRATIONS, migrate

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
STORED = """
INSERT INTO events (id, type, version, body, date_span, certainty, search, csv_fields,
                    created_at, updated_at)
SELECT gen_random_uuid(), 'meeting', 1,
       json_build_object('title', 't', 'sources', json_build_array(
           json_build_object(
               'publisher', (ARRAY['Reuters', 'AP', 'AFP', 'ANI', 'TASS', 'Yonhap'])[1 + n %% 6],
               'kind', 'news_agency'),
           CASE WHEN n %% 5 < 2
                THEN json_build_object('publisher', 'ANI', 'attributed_to', json_build_array(
                    json_build_object(
                        'name', (ARRAY['Ukrainian intelligence', 'the Kremlin',
                                       'Western officials', 'the Pentagon'])[1 + n %% 4],
                        'kind', 'government')))
                ELSE json_build_object('publisher', 'Local paper ' || (n %% 500),
                                       'kind', 'newspaper') END)),
       '[2025-07-12,2025-07-12]', 'reported', ''::tsvector, '', now(), now()
FROM generate_series(1, %s) AS n
"""


def main(count: int) -> None:
    name = f"events_test_mig0110_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        before = pathlib.Path(tempfile.mkdtemp())
        for path in sorted(MIGRATIONS.glob("*.sql")):
            if path.name < "0110":
                shutil.copy(path, before)
        with psycopg.connect(SERVER.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
            migrate(conn, before)
            conn.execute(STORED, (count,))
            conn.execute("VACUUM ANALYZE events")
            started = time.monotonic()
            migrate(conn)
            took = time.monotonic() - started
            actors = conn.execute("SELECT count(*) FROM actors").fetchone()[0]
            print(f"{count} events: 0110 and later took {took:.1f} s; {actors} registry actors")
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main(int(sys.argv[1]))

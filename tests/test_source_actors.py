"""Publishers and attribution-chain links as registry actors (issue 21, item 7): resolved on
write by the rules of event actors under the actor kind their source kind names, searched by
``source_actor_id=``, counted apart, moved by a merge, built for stored events by 0110; and a
writer holds the registry actors it resolved, so a merge cannot retire one meanwhile."""

from __future__ import annotations

import json
import threading
import time
import uuid

import psycopg
import pytest
import test_migrate
from conftest import bearer
from examples import example

from schemas import SOURCE_KINDS, Event
from schemas.common import SOURCE_ACTOR_KINDS
from service.migrate import migrate
from service.storage.actor_registry import ActorRegistry
from service.storage.bulk import write_events
from service.storage.events import EventStore
from service.storage.rows import client_view, search_columns

# A new database migrated as the test needs (test_migrate's fixture).
empty_database = test_migrate.empty_database
MINISTRY = "Russian Ministry of Foreign Affairs"
MINISTRY_POST = "2025-07-12-russian-foreign-ministry-posts-lavrov-kim-photo"
KIM_MEETING = "2025-07-12-lavrov-meets-kim-jong-un"


def _cited(*sources: dict, **overrides) -> dict:
    return example("meeting", sources=list(sources), **overrides)


def _ministry_source() -> dict:
    return {"publisher": "russian ministry of foreign affairs", "kind": "government"}


def test_the_ministry_as_actor_chain_link_and_publisher_is_one_registry_actor(seeded, client):
    events = {e["key"]: e for e in client.get("/v1/events?limit=100").get_json()["items"]}
    (actor,) = events[MINISTRY_POST]["actors"]
    (link,) = events[KIM_MEETING]["sources"][1]["attributed_to"]
    assert (actor["name"], actor["kind"], link["name"], link["kind"]) == (
        MINISTRY,
        "government_body",
        MINISTRY,
        "government",
    )
    assert link["actor_id"] == actor["actor_id"]
    # As a publisher (no seed has it as one: a new event's source, spelt in lower case).
    published = client.post("/v1/events", json=_cited(_ministry_source()))
    assert published.status_code == 201, published.get_json()
    assert published.json["sources"][0]["publisher_actor_id"] == actor["actor_id"]
    assert published.json["sources"][0]["publisher"] == "russian ministry of foreign affairs"

    registry = client.get(f"/v1/actors/{actor['actor_id']}").get_json()
    assert (registry["event_count"], registry["source_event_count"]) == (1, 2)
    # actor_id= is the events it takes part in; source_actor_id= the events citing it.
    by_actor = client.get(f"/v1/events?actor_id={actor['actor_id']}").get_json()["items"]
    assert [e["key"] for e in by_actor] == [MINISTRY_POST]
    citing = client.get(f"/v1/events?source_actor_id={actor['actor_id']}").get_json()["items"]
    assert {e["id"] for e in citing} == {events[KIM_MEETING]["id"], published.json["id"]}


def test_every_seeded_publisher_and_kind_link_has_one_id_per_name(seeded, client):
    ids: dict[tuple[str, str], set[str]] = {}
    for event in client.get("/v1/events?limit=100").get_json()["items"]:
        for source in event["sources"]:
            cited = [(source["publisher"], source.get("kind"), source.get("publisher_actor_id"))]
            cited += [
                (link["name"], link.get("kind"), link.get("actor_id"))
                for link in source.get("attributed_to", [])
                if isinstance(link, dict)
            ]
            for name, kind, actor_id in cited:
                ids.setdefault((name, SOURCE_ACTOR_KINDS.get(kind)), set()).add(actor_id)
    resolvable = {key: found for key, found in ids.items() if key[1] is not None}
    assert ("ANI", "media") in resolvable and ("CNN", "media") in resolvable
    assert all(len(found) == 1 and None not in found for found in resolvable.values())
    # `other` (the sandbox's documentation) names no actor kind: no id.
    assert all(found == {None} for key, found in ids.items() if key[1] is None)


def test_a_source_without_an_actor_kind_gets_no_id_unless_it_gives_one(client, created):
    plain, _ = created(
        _cited(
            {"publisher": "ANI", "attributed_to": ["CNN", {"name": "Someone"}]},
            {"publisher": "A channel", "kind": "social_media"},
            {"publisher": "Documentation", "kind": "other"},
        )
    )
    (ani, channel, documentation) = plain.json["sources"]
    assert ani == {"publisher": "ANI", "attributed_to": ["CNN", {"name": "Someone"}]}
    assert "publisher_actor_id" not in channel and "publisher_actor_id" not in documentation

    tass, _ = created(_cited({"publisher": "TASS", "kind": "state_media"}))
    tass_id = tass.json["sources"][0]["publisher_actor_id"]
    given, _ = created(
        _cited(
            {"publisher": "ТАСС", "publisher_actor_id": tass_id},
            {"publisher": "X", "attributed_to": [{"name": "tass", "actor_id": tass_id}]},
        )
    )
    assert given.json["sources"][0]["publisher_actor_id"] == tass_id
    assert given.json["sources"][1]["attributed_to"][0]["actor_id"] == tass_id
    registry = client.get(f"/v1/actors/{tass_id}").get_json()
    assert registry["kind"] == "media"
    assert registry["source_event_count"] == 2


def test_a_given_id_naming_no_registry_actor_is_a_422_naming_its_field(client):
    unknown = str(uuid.uuid4())
    response = client.post(
        "/v1/events",
        json=_cited(
            {"publisher": "ANI", "kind": "news_agency"},
            {"publisher": "AP", "attributed_to": [{"name": "CNN", "actor_id": unknown}]},
        ),
    )
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "sources.1.attributed_to.0.actor_id" in json.dumps(response.get_json())
    response = client.post(
        "/v1/events", json=_cited({"publisher": "ANI", "publisher_actor_id": unknown})
    )
    assert response.status_code == 422
    assert "sources.0.publisher_actor_id" in json.dumps(response.get_json())


def test_a_publisher_resolves_to_an_event_actor_of_its_kind_and_not_of_another(client, created):
    actor, _ = created(
        example(
            "meeting",
            actors=[{"name": "Pentagon", "kind": "government_body", "role": "speaker"}],
        )
    )
    pentagon = actor.json["actors"][0]["actor_id"]
    cited, _ = created(
        _cited(
            {"publisher": "ANI", "attributed_to": [{"name": "PENTAGON", "kind": "government"}]},
            {"publisher": "Pentagon", "kind": "newspaper"},
        )
    )
    assert cited.json["sources"][0]["attributed_to"][0]["actor_id"] == pentagon
    # Same name, another kind (media): another registry actor.
    assert cited.json["sources"][1]["publisher_actor_id"] != pentagon


def test_bulk_and_a_put_without_the_ids_leave_the_event_unchanged(client, created):
    event = _cited({"publisher": "ANI", "kind": "news_agency"}, key="cited-bulk")
    first = client.post("/v1/events/bulk", json=[event])
    assert first.status_code == 200, first.get_json()
    again = client.post("/v1/events/bulk", json=[event]).get_json()
    assert [item["outcome"] for item in again["items"]] == ["unchanged"]
    stored = client.get("/v1/events?source=ANI").get_json()["items"][0]
    assert "publisher_actor_id" in stored["sources"][0]
    put = client.put(f"/v1/events/{stored['id']}", json=event)
    assert put.status_code == 200
    assert put.json["version"] == stored["version"]


def test_a_merge_moves_publishers_and_chain_links_to_the_survivor(client, created):
    cited, _ = created(
        _cited(
            {"publisher": "Agency One", "kind": "news_agency"},
            {"publisher": "X", "attributed_to": [{"name": "Agency One", "kind": "newspaper"}]},
        )
    )
    duplicate = cited.json["sources"][0]["publisher_actor_id"]
    assert cited.json["sources"][1]["attributed_to"][0]["actor_id"] == duplicate
    survivor = client.post("/v1/actors", json={"name": "Agency 1", "kind": "media"}).json["id"]
    merged = client.post(
        f"/v1/actors/{duplicate}/merge", json={"into": survivor}, headers=bearer("test-admin")
    )
    assert merged.status_code == 200, merged.get_json()
    assert merged.get_json()["events"] == [cited.json["id"]]
    event = client.get(f"/v1/events/{cited.json['id']}").get_json()
    assert event["sources"][0]["publisher_actor_id"] == survivor
    assert event["sources"][1]["attributed_to"][0]["actor_id"] == survivor
    assert event["version"] == 2
    # The old id finds the survivor's citing events.
    found = client.get(f"/v1/events?source_actor_id={duplicate}").get_json()["items"]
    assert [e["id"] for e in found] == [cited.json["id"]]
    assert client.get(f"/v1/actors/{survivor}").get_json()["source_event_count"] == 1


def test_source_actor_kind_in_sql_is_the_model_s_mapping(database_url):
    with psycopg.connect(database_url) as conn:
        in_sql = dict(
            conn.execute(
                "SELECT k, source_actor_kind(k) FROM unnest(%s::text[]) AS k",
                (list(SOURCE_KINDS),),
            ).fetchall()
        )
    assert {k: v for k, v in in_sql.items() if v is not None} == SOURCE_ACTOR_KINDS


def test_the_migration_resolves_stored_sources_and_leaves_bodies_and_revisions(
    empty_database, tmp_path
):
    before = test_migrate.migrations_before(tmp_path, "0110")
    stored = [
        _cited(
            {"publisher": "TASS", "kind": "state_media"},
            {"publisher": "ANI", "attributed_to": ["CNN", {"name": "tass", "kind": "newspaper"}]},
        ),
        _cited({"publisher": "Tass", "kind": "news_agency", "attributed_to": ["Kremlin"]}),
        _cited({"publisher": "ANI"}),
        _cited({"publisher": "Ministry", "kind": "government"}),
    ]
    with psycopg.connect(empty_database, autocommit=True) as conn:
        migrate(conn, before)
        # A government_body actor the ministry of the stored source must resolve to.
        ministry = uuid.uuid4()
        conn.execute(
            "INSERT INTO actors (id, name, kind) VALUES (%s, 'MINISTRY', 'government_body')",
            (ministry,),
        )
        conn.execute(
            "INSERT INTO actor_aliases VALUES ('government_body', 'ministry', 'MINISTRY', %s)",
            (ministry,),
        )
        for n, event in enumerate(stored):
            body = json.dumps(event, separators=(",", ":"))
            conn.execute(
                "INSERT INTO events (id, type, version, body, date_span, certainty, search,"
                " csv_fields, created_at, updated_at) VALUES (%s, 'meeting', 1, %s,"
                " '[2025-07-12,2025-07-12]', 'reported', ''::tsvector, '', now(), now())",
                (uuid.UUID(int=n + 1), body),
            )
            conn.execute(
                "INSERT INTO event_revisions (event_id, version, operation, body, recorded_at)"
                " VALUES (%s, 1, 'create', %s, now())",
                (uuid.UUID(int=n + 1), body),
            )
        bodies = conn.execute("SELECT body::text FROM events ORDER BY id").fetchall()
        assert migrate(conn)[0] == "0110_source_actors.sql"
        rows = conn.execute("SELECT source_actor_ids FROM events ORDER BY id").fetchall()
        made = conn.execute(
            "SELECT a.name, a.kind, m.names FROM actor_registry_migration m"
            " JOIN actors a ON a.id = m.actor_id ORDER BY a.name"
        ).fetchall()
        assert conn.execute("SELECT body::text FROM events ORDER BY id").fetchall() == bodies
        revisions = conn.execute("SELECT body::text FROM event_revisions").fetchall()
    # TASS (state media), tass (a newspaper) and Tass (a news agency): one media actor.
    assert [(name, kind, sorted(names)) for name, kind, names in made] == [
        ("TASS", "media", ["TASS", "Tass", "tass"])
    ]
    tass = rows[1][0]
    assert len(tass) == 1 and rows[0][0] == tass
    assert rows[2][0] == []
    assert rows[3][0] == [ministry]
    for (body,) in revisions:
        Event().load(client_view(json.loads(body)))


def _wait_for_a_lock_wait(database_url: str, seconds: float = 10) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            ).fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


@pytest.mark.parametrize("cited", [False, True], ids=["actor", "publisher"])
def test_a_write_during_a_merge_names_the_survivor_not_the_retired_duplicate(
    client, created, database_url, cited
):
    """Two connections: a merge holds its transaction open; a writer resolving the
    duplicate's name meanwhile waits for it (a key share on the actors it resolved), then
    names the survivor. Without the lock it committed the duplicate's id."""
    if cited:
        first, _ = created(_cited({"publisher": "Agency Two", "kind": "news_agency"}))
        duplicate = first.json["sources"][0]["publisher_actor_id"]
        survivor_body = {"name": "Agency 2", "kind": "media"}
        later = _cited({"publisher": "AGENCY TWO", "kind": "broadcaster"})
    else:
        person = {"name": "Duplicate Person", "kind": "person", "role": "speaker"}
        first, _ = created(example("meeting", actors=[person]))
        duplicate = first.json["actors"][0]["actor_id"]
        survivor_body = {"name": "Survivor Person", "kind": "person"}
        later = example("meeting", actors=[person | {"name": "duplicate person"}])
    survivor = client.post("/v1/actors", json=survivor_body).json["id"]
    written: list = []

    def write() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            written.append(EventStore(None, conn).create(Event().load(later)))

    with psycopg.connect(database_url) as merging:
        merging.execute("SELECT 1")  # a transaction open: the merge's is a savepoint in it
        ActorRegistry(merging).merge(uuid.UUID(duplicate), uuid.UUID(survivor))
        writer = threading.Thread(target=write)
        writer.start()
        waited = _wait_for_a_lock_wait(database_url, seconds=3)
        merging.commit()
    writer.join()

    assert waited
    (stored,) = written
    body = json.loads(stored.body)
    resolved = body["sources"][0]["publisher_actor_id"] if cited else body["actors"][0]["actor_id"]
    assert resolved == survivor
    assert client.get(f"/v1/actors/{duplicate}").status_code == 308
    with psycopg.connect(database_url) as conn:
        column = "source_actor_ids" if cited else "actor_ids"
        assert conn.execute(f"SELECT {column} FROM events WHERE id = %s", (stored.id,)).fetchone()[
            0
        ] == [uuid.UUID(survivor)]


def test_search_columns_hold_the_cited_ids():
    actor_id = str(uuid.uuid4())
    event = Event().load(
        _cited(
            {"publisher": "A", "publisher_actor_id": actor_id},
            {"publisher": "B", "attributed_to": ["C", {"name": "D", "actor_id": actor_id}]},
        )
    )
    assert search_columns(event)["source_actor_ids"] == [uuid.UUID(actor_id)]


def test_a_bulk_write_resolves_sources_as_a_single_write_does(app, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        store = EventStore(None, conn, written_by="bulk")
        events = [Event().load(_cited({"publisher": "Wire", "kind": "news_agency"}))] * 2
        outcomes = write_events(store, events)
        single = store.create(Event().load(_cited({"publisher": "WIRE", "kind": "newspaper"})))
        ids = conn.execute(
            "SELECT DISTINCT unnest(source_actor_ids) FROM events WHERE id = ANY(%s)",
            ([o.id for o in outcomes] + [single.id],),
        ).fetchall()
    assert len(ids) == 1

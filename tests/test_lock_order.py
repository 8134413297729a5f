"""Writers take their locks in one order (service/storage/events.py, LOCK_ORDER): stored
events, then the actor registry, then new events. A single update locks its event before it
resolves actors; a bulk batch and an actor merge do the same, so none of them waits on
another in a ring (a deadlock: PostgreSQL would roll one of them back)."""

from __future__ import annotations

import random
import threading
import time
import uuid

import psycopg
from examples import example

from schemas import Event
from service.storage.bulk import write_events
from service.storage.events import EventStore, WriteOrderConflict

EVENT = Event()


def _newcomer(name: str) -> dict:
    return {"name": name, "kind": "person", "country": "KP", "role": "host"}


def _keyed(key: str, actor_name: str, title: str = "Talks") -> dict:
    return example(key=key, title=title, actors=[_newcomer(actor_name)])


def _wait_until_a_backend_waits_on_a_lock(database_url: str, seconds: float = 10) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting:
                return True
            time.sleep(0.02)
    return False


def test_an_update_holding_its_event_and_a_batch_naming_the_same_new_actor_both_commit(
    app, client, database_url
):
    """The ring that was possible: the update holds the event and wants the new actor's
    alias; the batch had claimed that alias first and then wanted the event."""
    name = f"Newcomer {uuid.uuid4().hex[:8]}"
    created = client.post("/v1/events", json=_keyed("shared", "Known host"))
    assert created.status_code == 201
    event_id = uuid.UUID(created.json["id"])
    errors: list = []

    def update() -> None:
        def change(current: dict) -> dict:
            # The event is locked now; let the batch start and wait on something first.
            batch.start()
            assert _wait_until_a_backend_waits_on_a_lock(database_url)
            return EVENT.load(current | {"actors": [_newcomer(name)], "title": "Updated"})

        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                EventStore(None, conn, written_by="single").update(event_id, change)
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    outcomes: list = []

    def bulk() -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                store = EventStore(None, conn, written_by="bulk")
                outcomes.extend(write_events(store, [EVENT.load(_keyed("shared", name))]))
        except BaseException as error:
            errors.append(error)

    batch = threading.Thread(target=bulk)
    single = threading.Thread(target=update)
    single.start()
    single.join()
    batch.join()

    assert errors == []
    assert [outcome.outcome for outcome in outcomes] == ["updated"]
    with psycopg.connect(database_url) as conn:
        versions = conn.execute(
            "SELECT version, written_by FROM event_revisions WHERE event_id = %s ORDER BY version",
            (event_id,),
        ).fetchall()
        actors = conn.execute(
            "SELECT count(*) FROM actor_aliases WHERE alias = %s", (name,)
        ).fetchone()[0]
    # The update committed first (the batch waited on the event), then the batch.
    assert versions == [(1, "test-writer"), (2, "single"), (3, "bulk")]
    assert actors == 1


def test_a_merge_and_an_update_naming_a_new_spelling_of_the_duplicate_both_commit(
    app, client, database_url
):
    """The merge locks the duplicate's events before the actors: an update that holds one
    of them and claims a spelling of the duplicate (a key share on its actor) finishes
    first, instead of waiting on the merge's actor lock while the merge waits on it."""
    created = client.post("/v1/events", json=_keyed("merged-event", "Duplicate Person"))
    event_id = uuid.UUID(created.json["id"])
    duplicate = created.json["actors"][0]["actor_id"]
    survivor = client.post(
        "/v1/actors", json={"name": "Survivor Person", "kind": "person", "country": "KP"}
    ).json["id"]
    errors: list = []

    def update() -> None:
        def change(current: dict) -> dict:
            merger.start()
            assert _wait_until_a_backend_waits_on_a_lock(database_url)
            respelt = current["actors"][0] | {"name": "Duplicate Person Jr."}
            return EVENT.load(current | {"actors": [respelt]})

        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                EventStore(None, conn, written_by="single").update(event_id, change)
        except BaseException as error:
            errors.append(error)

    answers: list = []
    merger = threading.Thread(
        target=lambda: answers.append(
            app.test_client().post(
                f"/v1/actors/{duplicate}/merge",
                json={"into": survivor},
                headers={"Authorization": _admin()},
            )
        )
    )
    single = threading.Thread(target=update)
    single.start()
    single.join()
    merger.join()

    assert errors == []
    assert [answer.status_code for answer in answers] == [200], answers[0].get_json()
    event = client.get(f"/v1/events/{event_id}").json
    assert event["actors"][0]["actor_id"] == survivor
    assert event["actors"][0]["name"] == "Duplicate Person Jr."


def _admin() -> str:
    from conftest import bearer

    return bearer("test-admin")["Authorization"]


def test_concurrent_single_writes_and_batches_on_the_same_events_and_new_actors(app, database_url):
    """Random single updates and bulk batches over four events, each round naming actors
    nobody has named before: no writer is ever rolled back for a deadlock. (A write that
    met WriteOrderConflict, the change feed's rule, is sent again, as the 503 says.)"""
    keys = [f"contested-{n}" for n in range(4)]
    setup = app.test_client()
    ids = {}
    for key in keys:
        response = setup.post("/v1/events", json=_keyed(key, "Known host"))
        assert response.status_code == 201
        ids[key] = uuid.UUID(response.json["id"])
    failures: list = []
    retried: list = []

    def write(store: EventStore, rng: random.Random, seed: int, names: list[str]) -> None:
        if rng.random() < 0.5:
            key = rng.choice(keys)
            event = EVENT.load(_keyed(key, rng.choice(names), title=f"Single {seed}"))
            store.update(ids[key], lambda current: event)
        else:
            chosen = rng.sample(keys, rng.randint(2, 4))
            batch = [
                EVENT.load(_keyed(key, rng.choice(names), title=f"Bulk {seed}")) for key in chosen
            ]
            outcomes = {outcome.outcome for outcome in write_events(store, batch)}
            if not outcomes <= {"updated", "unchanged"}:
                failures.append(outcomes)

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with psycopg.connect(database_url, autocommit=True) as conn:
            store = EventStore(None, conn, written_by=f"writer-{seed}")
            for round_number in range(12):
                names = [f"Newcomer {round_number}-{n}" for n in range(3)]
                for _ in range(10):
                    try:
                        write(store, rng, seed, names)
                        break
                    except WriteOrderConflict:
                        retried.append(seed)
                    except Exception as error:  # a deadlock above all; reported below
                        failures.append(error)
                        return

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    with psycopg.connect(database_url) as conn:
        # One registry actor per new name, whichever writer named it first.
        repeated = conn.execute(
            "SELECT alias, count(*) FROM actor_aliases GROUP BY alias HAVING count(*) > 1"
        ).fetchall()
    assert repeated == []

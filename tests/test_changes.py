"""The change feed: every change once, in an order a consumer can follow forever."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict

import psycopg
import pytest
from examples import example
from psycopg import conninfo

from schemas import Event
from service.storage.events import EventStore, WriteOrderConflict

EVENT = Event()


def _follow(client, after: str | None = None, limit: int = 100) -> tuple[list[dict], str]:
    query = {"limit": limit} | ({"after": after} if after is not None else {})
    response = client.get("/v1/changes", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.json["items"], response.json["next_cursor"]


def _drain(client, after: str | None) -> tuple[list[dict], str]:
    seen = []
    while True:
        items, after = _follow(client, after, limit=3)
        if not items:
            return seen, after
        seen.extend(items)


def test_feed_lists_creates_updates_and_deletes_with_who_wrote_them(client, created):
    _, url = created(example("meeting", title="First"))
    client.patch(url, json={"title": "Second"})
    client.delete(url)
    items, _ = _follow(client)
    event_id = url.rsplit("/", 1)[1]
    assert [(i["event_id"], i["operation"], i["version"], i["written_by"]) for i in items] == [
        (event_id, "create", 1, "test-writer"),
        (event_id, "update", 2, "test-writer"),
        (event_id, "delete", 3, "test-writer"),
    ]
    assert [i["event"]["title"] for i in items] == ["First", "Second", "Second"]
    assert "deleted_at" in items[2]["event"]  # the tombstone
    assert all(i["recorded_at"] == i["event"]["updated_at"] for i in items)


def test_pages_follow_the_cursor_and_an_empty_page_returns_it(client, created):
    for n in range(5):
        created(example(title=f"Event {n}"))
    first, cursor = _follow(client, limit=2)
    rest, end = _drain(client, cursor)
    assert [i["event"]["title"] for i in first + rest] == [f"Event {n}" for n in range(5)]
    empty = client.get("/v1/changes", query_string={"after": end})
    assert empty.json == {"items": [], "next_cursor": end}
    assert f"after={end}" in empty.headers["Link"]
    created(example(title="Later"))
    later, _ = _follow(client, end)
    assert [i["event"]["title"] for i in later] == ["Later"]


def test_after_now_starts_from_the_present(client, created):
    created(example(title="Before"))
    _, now = _follow(client, "now")
    created(example(title="After"))
    items, _ = _follow(client, now)
    assert [i["event"]["title"] for i in items] == ["After"]


@pytest.mark.parametrize("after", ["abc", "1.2.3", "-1.0", "01.0", "1.", "now1", "1" * 25 + ".0"])
def test_a_cursor_that_is_not_one_is_400(client, after):
    response = client.get("/v1/changes", query_string={"after": after})
    assert response.status_code == 400
    assert "after" in response.json["errors"]


def test_a_change_committed_late_is_not_skipped(client, database_url):
    """A transaction that took the lower seq commits after a higher one was readable."""
    # The example's actors in the registry first: "Fast", naming the same new actors,
    # would wait for "Slow"; here only the feed's order is under test.
    _register_example_actors(client)
    with psycopg.connect(database_url) as slow:
        slow_store = EventStore(None, slow, written_by="slow")
        with slow.transaction():
            slow_store.create(EVENT.load(example(title="Slow")))  # lower seq, uncommitted
            assert client.post("/v1/events", json=example(title="Fast")).status_code == 201
            # A consumer polling now must not be handed "Fast" past "Slow"'s position.
            held, cursor = _follow(client)
            assert held == []
        items, _ = _drain(client, cursor)
    assert [i["event"]["title"] for i in items] == ["Slow", "Fast"]
    with psycopg.connect(database_url) as conn:
        by_seq = [
            row[0]
            for row in conn.execute("SELECT body->>'title' FROM event_revisions ORDER BY seq")
        ]
    # Slow holds the lower seq: a feed that served Fast by seq while Slow was still
    # running would have moved its consumers past Slow for good.
    assert by_seq == ["Slow", "Fast"]


def test_the_feed_orders_transaction_ids_as_numbers_not_as_text(client, created, database_url):
    """Across a power of ten (995 -> 1002 on a fresh server), the feed keeps its order."""
    ten, nine = (created(example(title=title))[0].json["id"] for title in ("Ten", "Nine"))
    with psycopg.connect(database_url) as conn:
        for event_id, txid in ((ten, "10"), (nine, "9")):
            conn.execute(
                "UPDATE event_revisions SET txid = %s::xid8 WHERE event_id = %s", (txid, event_id)
            )
    first, cursor = _follow(client, limit=1)
    second, cursor = _follow(client, cursor, limit=1)
    assert [i["event"]["title"] for i in first + second] == ["Nine", "Ten"]
    assert _follow(client, cursor)[0] == []


def test_a_transaction_in_another_database_does_not_hold_the_feed_back(client, database_url):
    """Transaction ids are server-wide, but another database's cannot write these revisions."""
    other = conninfo.make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(other) as elsewhere, psycopg.connect(database_url) as here:
        _, cursor = _follow(client)
        with elsewhere.transaction():
            # An id, and nothing written: what a long report or batch there holds.
            elsewhere.execute("SELECT pg_current_xact_id()")
            assert client.post("/v1/events", json=example(title="Seen")).status_code == 201
            items, cursor = _follow(client, cursor)
            assert [i["event"]["title"] for i in items] == ["Seen"]
            # One running in this database still holds it back: it may yet commit here.
            with here.transaction():
                here.execute("SELECT pg_current_xact_id()")
                assert client.post("/v1/events", json=example(title="Held")).status_code == 201
                assert _follow(client, cursor)[0] == []
            assert [i["event"]["title"] for i in _follow(client, cursor)[0]] == ["Held"]


def _writer(
    database_url: str, event_ids: list, stop_at: float, rounds: int, seed: int, failures: list
) -> None:
    rng = random.Random(seed)
    with psycopg.connect(database_url, autocommit=True) as conn:
        store = EventStore(None, conn, written_by=f"writer-{seed}")
        for _ in range(rounds):
            if time.monotonic() > stop_at:
                return
            new = []
            # Several writes in one transaction, held open a while, so transactions
            # overlap and commit in another order than they began. Its updates in id
            # order, as every writer locks stored events (events.LOCK_ORDER): a
            # transaction of several writes is the caller's to order.
            count = rng.randint(1, 3)
            updates = sorted(
                {rng.choice(event_ids) for _ in range(count) if event_ids and rng.random() < 0.6}
            )
            creates = count - len(updates)
            try:
                with conn.transaction():
                    for event_id in updates:
                        summary = {"summary": f"{rng.random()}"}
                        store.update(event_id, lambda current, s=summary: EVENT.load(current | s))
                    for _ in range(creates):
                        new.append(store.create(EVENT.load(example())).id)
                    time.sleep(rng.random() * 0.02)
                event_ids.extend(new)  # others may update them once committed
            except WriteOrderConflict:
                # Rolled back; a retry would get a newer transaction id.
                continue
            except Exception as error:  # pragma: no cover - reported below
                failures.append(error)
                return


def _register_example_actors(client) -> None:
    """The example's actors in the registry first: a transaction that makes a new registry
    actor holds its name (a unique alias) until it commits, and a writer holding it while
    it goes on to lock events would break the lock order."""
    for actor in example()["actors"]:
        registered = {name: actor[name] for name in ("name", "kind", "country")}
        if "wikidata" in actor:
            registered["identifiers"] = [{"scheme": "wikidata", "value": actor["wikidata"]}]
        assert client.post("/v1/actors", json=registered).status_code == 201


def test_consumer_sees_every_change_once_and_each_events_versions_in_order(client, database_url):
    _register_example_actors(client)
    event_ids: list = []
    failures: list = []
    stop_at = time.monotonic() + 20
    writers = [
        threading.Thread(
            target=_writer, args=(database_url, event_ids, stop_at, 25, seed, failures)
        )
        for seed in range(6)
    ]
    seen: list[dict] = []
    cursor = None
    for writer in writers:
        writer.start()
    while any(writer.is_alive() for writer in writers):
        items, cursor = _follow(client, cursor, limit=7)
        seen.extend(items)
    for writer in writers:
        writer.join()
    rest, _ = _drain(client, cursor)
    seen.extend(rest)
    assert not failures

    with psycopg.connect(database_url) as conn:
        stored = sorted(conn.execute("SELECT event_id::text, version FROM event_revisions"))
    served = [(item["event_id"], item["version"]) for item in seen]
    assert len(stored) > 100
    assert len(served) == len(set(served)), "a change was served twice"
    assert sorted(served) == stored, "a change was missed"
    versions = defaultdict(list)
    for event_id, version in served:
        versions[event_id].append(version)
    assert all(v == sorted(v) for v in versions.values()), "versions out of order"


def test_a_write_older_than_the_version_it_follows_is_refused_then_retried(
    client, created, database_url
):
    """An older transaction cannot add a version after a newer one: the feed would misorder."""
    _, url = created(example(title="Shared"))
    event_id = url.rsplit("/", 1)[1]
    with psycopg.connect(database_url) as old:
        store = EventStore(None, old, written_by="old")
        with pytest.raises(WriteOrderConflict), old.transaction():
            store.create(EVENT.load(example(title="Takes a transaction id first")))
            assert client.patch(url, json={"title": "Newer"}).status_code == 200
            store.update(event_id, lambda current: EVENT.load(current | {"title": "Older"}))
    # Rolled back, nothing of it stays; in a new transaction (a newer id) it succeeds.
    with psycopg.connect(database_url, autocommit=True) as conn:
        EventStore(None, conn).update(
            event_id, lambda current: EVENT.load(current | {"title": "Retried"})
        )
    items, _ = _drain(client, None)
    assert [(i["version"], i["event"]["title"]) for i in items] == [
        (1, "Shared"),
        (2, "Newer"),
        (3, "Retried"),
    ]

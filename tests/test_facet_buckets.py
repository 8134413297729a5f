"""Facets from the counts kept by writes (migration 0071) against facets counted from the
rows: the same answer on random filters, after every kind of write, and under concurrent
writers."""

from __future__ import annotations

import dataclasses
import random
import threading

import psycopg
import pytest
from examples import example

from bench.generate import EventFactory
from schemas import SOURCE_KINDS
from service.storage import search_query
from service.storage.search import search_store

BULK = "/v1/events/bulk"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}

# The cells as kept (folded and not), and as counted afresh from the live rows.
KEPT = """
    SELECT scope, type, last_month, first_month, certainty, date_basis, date_precision,
           facet, value, sum(n)
    FROM (SELECT scope, type, last_month, first_month, certainty, date_basis,
                 date_precision, facet, value, n FROM facet_buckets
          UNION ALL
          SELECT scope, type, last_month, first_month, certainty, date_basis,
                 date_precision, facet, value, n FROM facet_bucket_deltas) AS kept
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""
COUNTED = """
    SELECT cell.*, count(*)
    FROM events e,
         facet_cells(e.type, e.certainty, e.countries, e.source_kinds, e.date_precision,
                     e.date_basis, e.date_span) AS cell
    WHERE e.deleted_at IS NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""


def kept_and_counted(database_url: str) -> tuple[list, list]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(KEPT).fetchall(), conn.execute(COUNTED).fetchall()


@pytest.fixture
def fold_every(database_url):
    """Sets how many deltas pass between folds, for the test; restores the default."""

    def set_to(rows: int) -> None:
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "CREATE OR REPLACE FUNCTION facet_buckets_fold_every() RETURNS bigint"
                f" LANGUAGE sql STABLE AS 'SELECT {int(rows)}::bigint'"
            )

    yield set_to
    set_to(10_000)


def varied(factory: EventFactory, rng: random.Random, n: int) -> dict:
    """A generated event, given what the generator never makes: source kinds (on
    publishers and on attribution links), on-or-before dates, and a key for bulk."""
    event = factory.event()
    for source in event["sources"]:
        if rng.random() < 0.5:
            source["kind"] = rng.choice(SOURCE_KINDS[:5])
        for i, link in enumerate(source.get("attributed_to", [])):
            if rng.random() < 0.5:
                source["attributed_to"][i] = {"name": link, "kind": rng.choice(SOURCE_KINDS[3:8])}
    if len(event["date"]) == 10 and rng.random() < 0.15:
        event.pop("end_date", None)
        event["date_basis"] = "on_or_before"
    event["key"] = f"varied-{n}"
    return event


def store_varied_events(client, rng: random.Random, count: int = 240) -> list[dict]:
    """``count`` events written by bulk and single writes, then changed every way a write
    can change what facets count: PATCHes, deletes, and restores by a bulk re-write."""
    factory = EventFactory(rng.randrange(10**6))
    events = [varied(factory, rng, n) for n in range(count)]
    half = count // 2
    for start in range(0, half, 40):
        response = client.post(BULK, json=events[start : min(start + 40, half)])
        assert response.status_code == 200, response.get_json()
        assert all(item["status"] in (200, 201) for item in response.get_json()["items"])
    urls = []
    for event in events[half:]:
        response = client.post("/v1/events", json=event)
        assert response.status_code == 201, response.get_json()
        urls.append(response.headers["Location"])
    for url in rng.sample(urls, 20):
        patch = rng.choice(
            [
                {"certainty": "confirmed"},
                {"date": "2019-02"},
                {"date": "2023", "end_date": None},
                {"location": {"country": "FR"}},
                {"sources": [{"publisher": "X", "kind": "broadcaster"}]},
                {"title": "Only the title"},
            ]
        )
        response = client.patch(url, json=patch, headers=MERGE_PATCH)
        assert response.status_code in (200, 422), response.get_json()
    deleted = rng.sample(range(half), 30)
    by_key = {}
    cursor = None
    while True:
        page = client.get("/v1/events?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        for item in page.get_json()["items"]:
            by_key[item.get("key")] = item["id"]
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            break
    for n in deleted:
        assert client.delete(f"/v1/events/{by_key[f'varied-{n}']}").status_code == 204
    # Restored: a bulk write of a deleted event's key brings it back.
    restored = [events[n] for n in deleted[:10]]
    assert client.post(BULK, json=restored).status_code == 200
    return events


def random_filters(rng: random.Random) -> dict:
    """Filters the kept counts can answer, drawn at random."""
    args: dict = {}
    if rng.random() < 0.5:
        args["type"] = rng.sample(sorted(EventFactory().kinds), rng.choice([1, 1, 2, 3]))
    if rng.random() < 0.4:
        args["certainty"] = rng.sample(
            ["confirmed", "reported", "claimed", "estimated", "planned"], rng.choice([1, 2])
        )
    if rng.random() < 0.2:
        args["date_basis"] = [rng.choice(["on", "on_or_before"])]
    scope = rng.random()
    if scope < 0.4:
        args["country"] = [rng.choice(["UA", "RU", "KP", "US", "CN", "FR", "IN"])]
    elif scope < 0.6:
        args["source_kind"] = [rng.choice(SOURCE_KINDS[:8])]
    year = rng.randint(2016, 2025)
    month = rng.randint(1, 12)
    window = rng.random()
    if window < 0.2:
        args["date_from"] = str(year)
    elif window < 0.4:
        args["date_from"], args["date_to"] = f"{year}-{month:02}", f"{year + rng.randint(0, 1)}-12"
    elif window < 0.5:
        args["date_from"], args["date_to"] = f"{year}-{month:02}-01", f"{year}-{month:02}"
    elif window < 0.6:
        args["date_to"] = f"{year}-02-{29 if year % 4 == 0 else 28}"
    elif window < 0.7:
        args["date_from"], args["date_to"] = f"{year}-{month:02}", f"{year}-{month:02}"
    return args


def both_ways(query: search_query.EventQuery) -> tuple[dict, dict]:
    store = search_store()
    return store.facets(query), store.facets(dataclasses.replace(query, buckets=None))


def test_summed_and_counted_facets_agree_on_random_filters(app, client, database_url):
    rng = random.Random(20)
    store_varied_events(client, rng)
    kept, counted = kept_and_counted(database_url)
    assert kept == counted
    with app.app_context():
        everything, counted_everything = both_ways(search_query.build({}))
        assert everything == counted_everything
        assert everything["source_kind"] and any(m.startswith("../") for m in everything["month"])
        nonempty = 0
        for _ in range(300):
            args = random_filters(rng)
            query = search_query.build(args)
            assert query.buckets is not None, args
            summed, rows = both_ways(query)
            assert summed == rows, args
            nonempty += summed["total"] > 0
        assert nonempty > 150


@pytest.mark.parametrize(
    "args",
    [
        {"q": "attack"},
        {"country": ["UA", "RU"]},
        {"country": ["UA"], "source_kind": ["state_media"]},
        {"source_kind": ["state_media", "military"]},
        {"date_from": "2024-03-02"},
        {"date_to": "2024-03-30"},
        {"tag": ["diplomacy"]},
        {"actor": ["Sergey Lavrov"]},
        {"bbox": (30.0, 45.0, 40.0, 55.0)},
        {"near": (36.23, 49.99, 25.0)},
        {"location_precision": ["exact"]},
    ],
)
def test_filters_the_kept_counts_cannot_answer_are_counted(args):
    assert search_query.build(args).buckets is None


def test_a_window_of_whole_months_is_summed_whatever_its_spelling():
    for args in (
        {"date_from": "2024", "date_to": "2024"},
        {"date_from": "2024-03-01", "date_to": "2024-05-31"},
        {"date_from": "2024-02", "date_to": "2024-02-29"},
        {"type": ["attack"], "country": ["UA"], "date_from": "2024-03", "date_to": "2024-05"},
    ):
        assert search_query.build(args).buckets is not None, args


def test_http_facets_are_the_same_by_either_path(app, client):
    store_varied_events(client, random.Random(7), count=80)
    for query in ("", "type=attack&certainty=reported", "country=RU", "source_kind=news_agency"):
        summed = client.get(f"/v1/events/facets?{query}").get_json()
        # The same filters and a window that cuts a month but leaves every event in: the
        # rows are counted.
        counted = client.get(f"/v1/events/facets?{query}&date_from=1000-01-02").get_json()
        assert summed == counted
        assert summed["total"] > 0


def test_concurrent_writers_leave_exact_counts(app, make_app, database_url, fold_every):
    # Folds every 300 deltas: dozens of folds run while the writers write.
    fold_every(300)
    writer_app = make_app(DATABASE_POOL_MIN_SIZE=1, DATABASE_POOL_MAX_SIZE=8)
    errors: list = []

    def write(worker: int) -> None:
        rng = random.Random(worker)
        factory = EventFactory(worker)
        client = writer_app.test_client()
        try:
            urls = []
            for round_ in range(6):
                batch = [varied(factory, rng, worker * 1000 + round_ * 10 + i) for i in range(10)]
                response = client.post(BULK, json=batch)
                assert response.status_code == 200, response.get_json()
                for item in response.get_json()["items"]:
                    urls.append(f"/v1/events/{item['id']}")
                response = client.post(
                    "/v1/events", json=varied(factory, rng, -worker - 1 - 100 * round_)
                )
                assert response.status_code == 201, response.get_json()
                urls.append(response.headers["Location"])
                url = rng.choice(urls)
                if rng.random() < 0.5:
                    client.delete(url)
                else:
                    client.patch(url, json={"certainty": "claimed"}, headers=MERGE_PATCH)
        except Exception as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    kept, counted = kept_and_counted(database_url)
    assert sum(row[-1] for row in counted if row[0] == "" and row[7] == "event") >= 8 * 6 * 10
    assert kept == counted
    with psycopg.connect(database_url) as conn:
        folded = conn.execute("SELECT count(*) FROM facet_buckets").fetchone()[0]
        waiting = conn.execute("SELECT count(*) FROM facet_bucket_deltas").fetchone()[0]
    assert folded > 0 and waiting < 300 + 8 * 2_000
    with app.app_context():
        for args in ({}, {"country": ["UA"]}, {"type": ["attack"], "date_from": "2024"}):
            summed, rows = both_ways(search_query.build(args))
            assert summed == rows


def test_a_fold_keeps_every_count(app, client, database_url):
    store_varied_events(client, random.Random(3), count=60)
    before, _ = kept_and_counted(database_url)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT facet_buckets_fold()").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM facet_bucket_deltas").fetchone()[0] == 0
    after, counted = kept_and_counted(database_url)
    assert before == after == counted


def test_actor_facet_counts_registry_actors(app, client):
    lavrov = {"name": "Sergey Lavrov", "kind": "person", "country": "RU", "role": "visitor"}
    spelled = {**lavrov, "name": "sergey LAVROV"}
    kim = {"name": "Kim Jong Un", "kind": "person", "country": "KP", "role": "host"}
    for actors in ([lavrov, kim], [spelled], [lavrov], [kim]):
        response = client.post("/v1/events", json=example("meeting", actors=actors))
        assert response.status_code == 201, response.get_json()
    client.post("/v1/events", json=example("attack"))
    facets = client.get("/v1/events/facets?facet=actor").get_json()
    assert [(a["name"], a["count"]) for a in facets["actor"]] == [
        ("Sergey Lavrov", 3),
        ("Kim Jong Un", 2),
    ]
    assert facets["total"] == 5 and facets["type"] == {"meeting": 4, "attack": 1}
    actor_id = facets["actor"][0]["id"]
    assert client.get(f"/v1/actors/{actor_id}").get_json()["name"] == "Sergey Lavrov"
    # The rest of the answer is what it is without the actor facet.
    without = client.get("/v1/events/facets").get_json()
    assert {k: v for k, v in facets.items() if k != "actor"} == without
    filtered = client.get(f"/v1/events/facets?facet=actor&actor_id={actor_id}").get_json()
    assert filtered["total"] == 3
    assert client.get("/v1/events/facets?facet=country").status_code == 400

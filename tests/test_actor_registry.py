"""The actor registry: resolution on every write path, race-free; /v1/actors/{id}; merge."""

from __future__ import annotations

import threading
import uuid

import psycopg
from conftest import bearer
from examples import example

from service.storage.bulk import write_events
from service.storage.events import EventStore


def _with_actors(*actors: dict, **overrides) -> dict:
    return example("meeting", actors=list(actors), **overrides)


def _person(name: str, **extra) -> dict:
    return {"name": name, "kind": "person", "role": "speaker"} | extra


def _actor_ids(body: dict) -> list[str]:
    return [actor["actor_id"] for actor in body["actors"]]


def _registry_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM actors").fetchone()[0]


def test_spellings_differing_in_case_and_accents_resolve_to_one_actor(client, created):
    first, _ = created(_with_actors(_person("Sergey Lavrov")))
    second, _ = created(_with_actors(_person("SÉRGEY lavrov")))
    other_kind, _ = created(_with_actors(_person("Sergey Lavrov") | {"kind": "group"}))
    (one,), (same,), (other,) = map(_actor_ids, (first.json, second.json, other_kind.json))
    assert one == same != other
    # The name stays as the source wrote it.
    assert second.json["actors"][0]["name"] == "SÉRGEY lavrov"
    actor = client.get(f"/v1/actors/{one}").get_json()
    # One alias per normalised name: the first spelling stands for both.
    assert actor["aliases"] == ["Sergey Lavrov"]
    assert actor["event_count"] == 2


def test_an_identifier_resolves_whatever_the_name(client, created):
    first, _ = created(_with_actors(_person("Sergey Lavrov", wikidata="Q150412")))
    second, _ = created(_with_actors(_person("Lavrov, S.", wikidata="Q150412")))
    assert _actor_ids(first.json) == _actor_ids(second.json)
    actor = client.get(f"/v1/actors/{_actor_ids(first.json)[0]}").get_json()
    assert actor["identifiers"] == [{"scheme": "wikidata", "value": "Q150412"}]
    assert set(actor["aliases"]) == {"Sergey Lavrov", "Lavrov, S."}


def test_a_name_with_another_identifier_of_the_same_scheme_is_another_actor(created):
    first, _ = created(_with_actors(_person("Mohammed Ali", wikidata="Q36107")))
    second, _ = created(_with_actors(_person("Mohammed Ali", wikidata="Q1000001")))
    assert _actor_ids(first.json) != _actor_ids(second.json)


def test_an_unknown_actor_id_is_422_naming_the_field(client):
    unknown = str(uuid.uuid4())
    response = client.post("/v1/events", json=_with_actors(_person("X", actor_id=unknown)))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["actors.0.actor_id"]
    bulk = client.post("/v1/events/bulk", json=[_with_actors(_person("X", actor_id=unknown))])
    assert bulk.get_json()["items"][0]["errors"] == {
        "actors.0.actor_id": [f"No registry actor has the id {unknown}."]
    }


def test_a_given_actor_id_is_kept_and_the_spelling_learnt(client, created):
    first, _ = created(_with_actors(_person("Kim Jong Un")))
    (kim,) = _actor_ids(first.json)
    second, _ = created(_with_actors(_person("Kim Jong-un", actor_id=kim)))
    assert _actor_ids(second.json) == [kim]
    assert "Kim Jong-un" in client.get(f"/v1/actors/{kim}").get_json()["aliases"]


def test_put_without_actor_ids_is_unchanged(client, created):
    response, url = created(_with_actors(_person("Choe Son Hui")))
    sent = {
        k: v
        for k, v in response.json.items()
        if k not in ("id", "version", "created_at", "updated_at")
    }
    sent["actors"] = [{k: v for k, v in a.items() if k != "actor_id"} for a in sent["actors"]]
    again = client.put(url, json=sent)
    assert again.status_code == 200
    assert again.json["version"] == 1


def test_bulk_and_single_writes_resolve_alike(client, created):
    single, _ = created(_with_actors(_person("Maria Zakharova")))
    bulk = client.post("/v1/events/bulk", json=[_with_actors(_person("maria zakharova"))])
    event_id = bulk.get_json()["items"][0]["id"]
    stored = client.get(f"/v1/events/{event_id}").get_json()
    assert _actor_ids(stored) == _actor_ids(single.json)


def test_twenty_concurrent_writers_with_one_new_identifier_make_one_actor(app, database_url):
    barrier = threading.Barrier(20)
    results: list[str] = []
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                barrier.wait(10)
                # Half by single write, half by bulk: one resolution step under both.
                event = _with_actors(
                    _person(f"Spelling {n}", identifiers=[{"scheme": "ucdp-actor", "value": "77"}])
                )
                if n % 2:
                    stored = EventStore(None, conn).create(event)
                    body = conn.execute(
                        "SELECT body::text FROM events WHERE id = %s", (stored.id,)
                    ).fetchone()[0]
                else:
                    (outcome,) = write_events(EventStore(None, conn), [event])
                    body = conn.execute(
                        "SELECT body::text FROM events WHERE id = %s", (outcome.id,)
                    ).fetchone()[0]
                results.append(body)
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(results) == 20
    assert _registry_count(database_url) == 1
    with psycopg.connect(database_url) as conn:
        aliases = conn.execute("SELECT count(*) FROM actor_aliases").fetchone()[0]
        assert len({tuple(row[0]) for row in conn.execute("SELECT actor_ids FROM events")}) == 1
    assert aliases == 20  # every spelling learnt


def test_actor_id_search_equals_the_union_of_its_spellings_searches(client, created):
    spellings = ["Government of Syria", "Syrian government", "Assad regime"]
    first, _ = created(_with_actors(_person(spellings[0]) | {"kind": "state"}))
    (syria,) = _actor_ids(first.json)
    for name in spellings[1:]:
        created(_with_actors(_person(name) | {"kind": "state", "actor_id": syria}))
    created(_with_actors(_person("Someone else")))

    def found(query: str) -> set[str]:
        return {event["id"] for event in client.get(f"/v1/events?{query}").get_json()["items"]}

    union = set().union(*(found(f"actor={name}") for name in spellings))
    assert len(union) == 3
    assert found(f"actor_id={syria}") == union
    assert found(f"actor_id={syria}&actor_id={uuid.uuid4()}") == union


def test_create_and_change_a_registry_actor(client):
    response = client.post(
        "/v1/actors",
        json={
            "name": "Ministry of Foreign Affairs of Russia",
            "kind": "government_body",
            "country": "RU",
            "aliases": ["Russian foreign ministry"],
            "identifiers": [{"scheme": "wikidata", "value": "Q1054965"}],
        },
    )
    assert response.status_code == 201, response.get_json()
    url = response.headers["Location"]
    assert client.get(url).get_json()["aliases"] == [
        "Ministry of Foreign Affairs of Russia",
        "Russian foreign ministry",
    ]
    changed = client.patch(url, json={"aliases": ["Russian MFA"]})
    assert changed.status_code == 200, changed.get_json()
    assert "Russian MFA" in changed.get_json()["aliases"]
    taken = client.post("/v1/actors", json={"name": "Russian MFA", "kind": "government_body"})
    assert taken.status_code == 409
    assert "name" in taken.get_json()["errors"]
    event = client.post(
        "/v1/events",
        json=_with_actors(
            {"name": "russian foreign ministry", "kind": "government_body", "role": "x"}
        ),
    ).get_json()
    assert _actor_ids(event) == [url.rsplit("/", 1)[1]]


def test_registry_writes_need_scope(client, anonymous):
    body = {"name": "A", "kind": "person"}
    assert anonymous.post("/v1/actors", json=body).status_code == 401
    assert client.post("/v1/actors", json=body, headers=bearer("test-reader")).status_code == 403


def test_merge_moves_names_and_events_and_the_old_id_answers_308(client, created):
    first, first_url = created(_with_actors(_person("Assad regime") | {"kind": "state"}))
    second, _ = created(_with_actors(_person("Government of Syria") | {"kind": "state"}))
    (duplicate,), (survivor,) = _actor_ids(first.json), _actor_ids(second.json)

    assert client.post(f"/v1/actors/{duplicate}/merge", json={"into": survivor}).status_code == 403
    merged = client.post(
        f"/v1/actors/{duplicate}/merge", json={"into": survivor}, headers=bearer("test-admin")
    )
    assert merged.status_code == 200, merged.get_json()
    assert merged.get_json()["events"] == [first.json["id"]]

    moved = client.get(f"/v1/actors/{duplicate}")
    assert moved.status_code == 308
    assert moved.headers["Location"] == f"/v1/actors/{survivor}"
    actor = client.get(f"/v1/actors/{survivor}").get_json()
    assert set(actor["aliases"]) == {"Assad regime", "Government of Syria"}
    assert actor["event_count"] == 2
    # The event names the survivor now, in a new version the change feed lists.
    event = client.get(first_url).get_json()
    assert (event["version"], _actor_ids(event)) == (2, [survivor])
    assert event["actors"][0]["name"] == "Assad regime"
    # The change feed serves revisions (storage/changes.py): this one is the merge's.
    revisions = client.get(f"{first_url}/revisions").get_json()["items"]
    assert [(r["operation"], r["written_by"]) for r in revisions] == [
        ("create", "test-writer"),
        ("update", "test-admin"),
    ]
    # Search by either id finds both; a new event of the old spelling resolves to the survivor.
    found = client.get(f"/v1/events?actor_id={duplicate}").get_json()["items"]
    assert len(found) == 2
    later, _ = created(_with_actors(_person("assad regime") | {"kind": "state"}))
    assert _actor_ids(later.json) == [survivor]

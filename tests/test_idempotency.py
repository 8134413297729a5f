"""Idempotency-Key on POST: a retry gets the first response; one key, one write."""

from __future__ import annotations

import threading
import uuid

import psycopg
from conftest import bearer
from examples import example


def _count_events(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


def test_a_retry_gets_the_first_response_and_writes_nothing(client, database_url):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/v1/events", json=example(), headers=key)
    again = client.post("/v1/events", json=example(), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    for header in ("Location", "ETag", "Content-Type"):
        assert again.headers[header] == first.headers[header]
    assert again.data == first.data
    assert _count_events(database_url) == 1


def test_the_same_key_with_another_body_is_422(client, database_url):
    key = {"Idempotency-Key": "order-17"}
    assert client.post("/v1/events", json=example(), headers=key).status_code == 201
    reused = client.post("/v1/events", json=example(title="Other"), headers=key)
    assert reused.status_code == 422
    assert reused.mimetype == "application/problem+json"
    assert "Idempotency-Key" in reused.json["detail"]
    assert _count_events(database_url) == 1


def test_keys_belong_to_one_api_key(client, database_url):
    key = {"Idempotency-Key": "shared-name"}
    assert client.post("/v1/events", json=example(), headers=key).status_code == 201
    other = client.post("/v1/events", json=example(), headers=key | bearer("test-admin"))
    assert other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers
    assert _count_events(database_url) == 2


def test_an_error_is_not_kept_so_a_corrected_retry_goes_through(client, database_url):
    key = {"Idempotency-Key": "fix-and-retry"}
    bad = client.post("/v1/events", json=example(date="2025-02-30"), headers=key)
    assert bad.status_code == 422
    good = client.post("/v1/events", json=example(), headers=key)
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good.headers
    assert _count_events(database_url) == 1


def test_a_request_while_the_first_is_running_is_409(client, database_url):
    key = "in-flight"
    with psycopg.connect(database_url) as conn:
        key_id = conn.execute("SELECT id FROM api_keys WHERE name = 'test-writer'").fetchone()[0]
        # What the first request holds while it runs.
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, %s))", (key, key_id))
        response = client.post("/v1/events", json=example(), headers={"Idempotency-Key": key})
        assert response.status_code == 409
        assert response.headers["Retry-After"] == "1"
        assert response.mimetype == "application/problem+json"
    assert _count_events(database_url) == 0
    assert (
        client.post("/v1/events", json=example(), headers={"Idempotency-Key": key}).status_code
        == 201
    )


def test_fifty_concurrent_requests_with_one_key_create_one_event(make_app, database_url):
    app = make_app(DATABASE_POOL_MAX_SIZE=10)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    barrier = threading.Barrier(50)
    responses = []

    def post():
        client = app.test_client()
        barrier.wait()
        responses.append(client.post("/v1/events", json=example(), headers=key))

    threads = [threading.Thread(target=post) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert len(responses) == 50
    assert _count_events(database_url) == 1
    locations = {r.headers["Location"] for r in responses if r.status_code == 201}
    assert len(locations) == 1


def test_an_expired_key_is_swept_and_may_be_used_again(make_app, database_url):
    client = make_app(IDEMPOTENCY_TTL_SECONDS=0).test_client()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, headers,"
            " body, expires_at) SELECT id, 'old-' || n, '', 201, '{}', '',"
            " now() - interval '1 day'"
            " FROM api_keys, generate_series(1, 5) n WHERE name = 'test-writer'"
        )
    key = {"Idempotency-Key": "short-lived"}
    assert client.post("/v1/events", json=example(), headers=key).status_code == 201
    again = client.post("/v1/events", json=example(), headers=key)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    with psycopg.connect(database_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM idempotency_keys WHERE key LIKE 'old-%'"
        ).fetchone()[0]
    assert left == 0
    assert _count_events(database_url) == 2


def test_a_key_that_is_not_one_is_400(client, database_url):
    for bad in ("x" * 256, "with space", "caf\u00e9"):
        response = client.post("/v1/events", json=example(), headers={"Idempotency-Key": bad})
        assert response.status_code == 400, bad
    assert _count_events(database_url) == 0


def test_the_key_is_checked_after_the_api_key(anonymous):
    response = anonymous.post("/v1/events", json=example(), headers={"Idempotency-Key": "k"})
    assert response.status_code == 401


def test_a_retried_bulk_write_is_replayed_not_written_again(client, database_url):
    key = {"Idempotency-Key": "batch-2025-07-13"}
    batch = [example(title=f"Item {n}") for n in range(3)]
    first = client.post("/v1/events/bulk", json=batch, headers=key)
    again = client.post("/v1/events/bulk", json=batch, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert _count_events(database_url) == 3
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM event_revisions").fetchone()[0] == 3

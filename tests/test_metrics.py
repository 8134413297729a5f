"""``/metrics``: Prometheus text, by route template, summed over gunicorn's workers; for
keys with the ``metrics`` (or ``admin``) scope unless ``METRICS_PUBLIC`` is set."""

from __future__ import annotations

import threading
import urllib.request

import pytest
from conftest import LIVE_ENV, TEST_KEYS, bearer
from examples import example
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from bench.servers import Gunicorn, free_port

BY_ID = "/v1/events/<uuid:event_id>"


def samples(text: str) -> dict[tuple, float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict, name: str, **labels) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client, headers=None) -> dict:
    response = client.get(
        "/metrics", headers=bearer("test-metrics") if headers is None else headers
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


@pytest.fixture
def counted_app(app):
    """The app, with events_stored recounted at every scrape."""
    app.config["EVENTS_COUNT_INTERVAL_SECONDS"] = 0
    app.extensions["events_metrics"].interval = 0
    return app


def test_requests_are_counted_by_route_template_method_and_status(counted_app, client, created):
    _, url = created(example("meeting"))
    before = scrape(client)
    for _ in range(3):
        assert client.get(url).status_code == 200
    assert client.get("/v1/events/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("events_http_requests_total", route=BY_ID, method="GET", status="200") == 3
    assert delta("events_http_requests_total", route=BY_ID, method="GET", status="404") == 1
    assert delta("events_http_requests_total", route="(unmatched)", method="GET", status="404") == 1
    # The raw path is never a label: one series per route, not per id.
    assert not any(url in str(key) for key in after)
    assert delta("events_http_request_duration_seconds_count", route=BY_ID, method="GET") == 4
    assert delta("events_http_request_duration_seconds_sum", route=BY_ID, method="GET") > 0
    # The pool of this process: at least one connection open, none lent between requests.
    assert value(after, "events_db_pool_connections", pool="primary") >= 1
    assert value(after, "events_db_pool_connections_in_use", pool="primary") == 0
    assert value(after, "events_db_pool_requests_waiting", pool="primary") == 0


def test_events_stored_by_type_follows_creates_and_deletes(counted_app, client, created):
    _, first = created(example("meeting"))
    created(example("meeting"))
    created(example("visit"))
    stored = scrape(client)
    assert value(stored, "events_stored", type="meeting") == 2
    assert value(stored, "events_stored", type="visit") == 1
    # Every registered kind is there, at 0 when none is stored.
    assert ("events_stored", (("type", "attack"),)) in stored
    assert value(stored, "events_stored", type="attack") == 0
    assert client.delete(first).status_code == 204
    assert value(scrape(client), "events_stored", type="meeting") == 1


def test_events_stored_is_not_recounted_within_the_interval(app, client, created):
    app.extensions["events_metrics"].interval = 3600
    created(example("meeting"))
    counted = value(scrape(client), "events_stored", type="meeting")
    created(example("meeting"))
    assert value(scrape(client), "events_stored", type="meeting") == counted


def test_database_errors_are_counted_by_kind(make_app):
    # A server nobody listens on: the database is found down, refused at once. (Public
    # metrics, scraped with no key: a key is checked against the database.)
    app = make_app(
        DATABASE_URL=f"postgresql://127.0.0.1:{free_port()}/x",
        DATABASE_POOL_TIMEOUT=0.3,
        DATABASE_CONNECT_TIMEOUT=1,
        METRICS_PUBLIC=True,
    )
    client = FlaskClient(app, app.response_class, use_cookies=False)
    before = scrape_without_database(client)
    response = client.get("/v1/events/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 503
    after = scrape_without_database(client)
    assert (
        value(after, "events_db_errors_total", kind="connection")
        - value(before, "events_db_errors_total", kind="connection")
    ) == 1


def scrape_without_database(client) -> dict:
    """A scrape that does not fail for want of a database (its events count does)."""
    client.application.extensions["events_metrics"].interval = float("inf")
    client.application.extensions["events_metrics"].counted_at = 0.0
    return scrape(client, headers={})


def test_metrics_need_a_key_by_default(anonymous):
    response = anonymous.get("/metrics")
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="events"'


@pytest.mark.parametrize("name", ["test-metrics", "test-admin"])
def test_metrics_answer_a_key_with_the_metrics_or_admin_scope(client, name):
    response = client.get("/metrics", headers=bearer(name))
    assert response.status_code == 200
    assert "events_http_requests_total" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["test-reader", "test-writer"])
def test_metrics_refuse_a_key_without_the_scope(client, name):
    response = client.get("/metrics", headers=bearer(name))
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    assert 'error="insufficient_scope", scope="metrics"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("public", [False, True])
def test_metrics_refuse_a_wrong_key_public_or_not(app, client, public):
    app.config["METRICS_PUBLIC"] = public
    wrong = TEST_KEYS["test-metrics"][1][1][:-1] + "x"  # its prefix, another secret
    for header in (f"Bearer {wrong}", "Bearer not-a-key"):
        response = client.get("/metrics", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.content_type == "application/problem+json"
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("public", [False, True])
def test_metrics_refuse_a_revoked_key_public_or_not(app, client, runner, public):
    app.config["METRICS_PUBLIC"] = public
    assert client.get("/metrics", headers=bearer("test-metrics")).status_code == 200
    assert runner.invoke(args=["keys", "revoke", "test-metrics"]).exit_code == 0
    response = client.get("/metrics", headers=bearer("test-metrics"))
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert "revoked" in response.get_json()["detail"]


def test_metrics_public_only_when_set_explicitly(make_app, monkeypatch):
    monkeypatch.delenv("METRICS_PUBLIC", raising=False)
    assert make_app().config["METRICS_PUBLIC"] is False
    monkeypatch.setenv("METRICS_PUBLIC", "true")
    app = make_app()
    public = FlaskClient(app, app.response_class, use_cookies=False)  # sends no key
    response = public.get("/metrics")
    assert response.status_code == 200
    assert "events_http_requests_total" in response.get_data(as_text=True)
    # A key with no scope for it is not refused where anyone may scrape.
    assert public.get("/metrics", headers=bearer("test-reader")).status_code == 200


@pytest.mark.slow
def test_counts_are_summed_over_gunicorns_workers(database_url, tmp_path):
    metrics_dir = tmp_path / "metrics"
    env = LIVE_ENV | {
        "DATABASE_URL": database_url,
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "SECRET_KEY": "metrics test",
    }
    with Gunicorn("service:create_app()", "/healthz", tmp_path / "gunicorn.log", env) as server:

        def get(path: str) -> bytes:
            headers = bearer("test-metrics") if path == "/metrics" else {}
            request = urllib.request.Request(server.base + path, headers=headers)
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.read()

        before = samples(get("/metrics").decode())
        # Many connections at once, so that both workers answer some.
        per_thread, threads = 25, 8

        def load():
            for _ in range(per_thread):
                get("/v1/events?limit=1")

        workers = [threading.Thread(target=load) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        # Both workers wrote counts of their own (one file each, named by its pid)...
        pids = {process.pid for process in server.workers()}
        assert len(pids) == 2
        written = {int(path.stem.rsplit("_", 1)[1]) for path in metrics_dir.glob("counter_*.db")}
        assert pids <= written
        # ...and every scrape, whichever worker answers it, gives the sum of both.
        for _ in range(6):
            after = samples(get("/metrics").decode())
            served = value(
                after, "events_http_requests_total", route="/v1/events", method="GET", status="200"
            ) - value(
                before, "events_http_requests_total", route="/v1/events", method="GET", status="200"
            )
            assert served == per_thread * threads
            # Both workers' pools, each with at least its one connection.
            assert value(after, "events_db_pool_connections", pool="primary") >= 2

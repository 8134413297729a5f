"""The edge: CORS, security headers, caching rules, compression and 406."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re

import pytest
from examples import example

LONG = example(summary="A summary long enough to be worth compressing. " * 40)
PREFLIGHT = {
    "Origin": "https://analyst.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "Authorization, Idempotency-Key, Content-Type",
}


@pytest.fixture
def cors_app(make_app):
    return make_app(CORS_ORIGINS=["https://analyst.example"])


def test_every_answer_has_security_headers(client, created):
    _, url = created(example())
    for response in (client.get(url), client.get("/v1/nothing"), client.post("/v1/events")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert (
            response.headers["Content-Security-Policy"]
            == "default-src 'none'; frame-ancestors 'none'"
        )


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_the_docs_page_may_run_its_own_assets_and_nothing_else(client, encoding):
    page = client.get("/docs")
    script = re.search(rb"<script>(.*?)</script>", page.data, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
    csp = client.get("/docs", headers={"Accept-Encoding": encoding}).headers[
        "Content-Security-Policy"
    ]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'none'"
    # Its own assets, and its one inline script by hash: no other script may run.
    assert directives["script-src"] == f"'self' 'sha256-{digest}'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe-eval" not in csp and "http" not in csp


def test_cache_control_never_stores_writes_or_errors_and_revalidates_reads(client, created):
    response, url = created(example())
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get(url).headers["Cache-Control"] == "private, no-cache"
    assert client.get("/v1/events").headers["Cache-Control"] == "private, no-cache"
    assert (
        client.get("/v1/events/00000000-0000-0000-0000-000000000000").headers["Cache-Control"]
        == "no-store"
    )
    assert client.patch(url, json={"title": "x"}).headers["Cache-Control"] == "no-store"
    assert client.get("/openapi.json").headers["Cache-Control"] == "public, max-age=3600"
    assert (
        client.get("/docs/assets/swagger-ui.css").headers["Cache-Control"] == "public, max-age=3600"
    )


def test_cors_is_off_by_default(client):
    response = client.options("/v1/events", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/v1/events", headers={"Origin": "https://analyst.example"}).headers
    )


def test_cors_preflight_allows_the_listed_origin_its_methods_and_headers(cors_app):
    client = cors_app.test_client()
    response = client.options("/v1/events", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://analyst.example"
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"authorization", "idempotency-key", "content-type"} <= allowed
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    answer = client.get("/v1/events", headers={"Origin": "https://analyst.example"})
    exposed = {h.strip() for h in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Location", "Link", "Retry-After", "X-Request-ID", "RateLimit"} <= exposed


def test_cors_ignores_an_origin_not_on_the_list(cors_app):
    client = cors_app.test_client()
    response = client.options("/v1/events", headers=PREFLIGHT | {"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_json_is_gzipped_when_accepted_and_its_etag_says_so(client, created):
    _, url = created(LONG)
    plain = client.get(url)
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert json.loads(gzip.decompress(zipped.data)) == plain.json
    assert len(zipped.data) < len(plain.data) / 3
    assert (plain.headers["ETag"], zipped.headers["ETag"]) == ('"v1"', '"v1:gzip"')
    # Either tag names version 1, for revalidation and for If-Match.
    cached = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": '"v1:gzip"'})
    assert cached.status_code == 304 and cached.headers["ETag"] == '"v1:gzip"'
    assert (
        client.patch(url, json={"title": "x"}, headers={"If-Match": '"v1:gzip"'}).status_code == 200
    )


def test_a_streamed_export_is_gzipped_when_accepted(client, created):
    for n in range(5):
        created(LONG | {"title": f"Event {n}"})
    response = client.get("/v1/events/export?format=ndjson", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    lines = gzip.decompress(response.data).decode().splitlines()
    assert sorted(json.loads(line)["title"] for line in lines) == [f"Event {n}" for n in range(5)]


def test_a_read_in_a_type_the_client_does_not_accept_is_406(client, created):
    created(example())
    response = client.get("/v1/events", headers={"Accept": "application/xml"})
    assert response.status_code == 406
    assert response.mimetype == "application/problem+json"
    assert (
        client.get(
            "/v1/events/export?format=csv", headers={"Accept": "application/json"}
        ).status_code
        == 406
    )
    for accept in ("text/csv", "text/*", "*/*", "application/json;q=0.5, text/csv"):
        assert (
            client.get("/v1/events/export?format=csv", headers={"Accept": accept}).status_code
            == 200
        ), accept
    assert client.get("/v1/events", headers={"Accept": "application/*"}).status_code == 200


def test_a_write_whose_answer_the_client_would_refuse_is_406_and_writes_nothing(client):
    response = client.post("/v1/events", json=example(), headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert client.get("/v1/events").json["items"] == []


def test_a_delete_answers_whatever_the_accept_since_its_answer_has_no_body(client, created):
    _, url = created(example())
    response = client.delete(url, headers={"Accept": "application/problem+json"})
    assert response.status_code == 204

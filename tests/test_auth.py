"""API keys: who may write, who may read, and what is kept of a key (never the key)."""

from __future__ import annotations

import logging
import re
import uuid

import psycopg
import pytest
from conftest import TEST_KEYS, bearer
from examples import example
from flask.testing import FlaskClient

WRITE_REQUESTS = [
    ("post", "/v1/events"),
    ("put", "/v1/events/{id}"),
    ("patch", "/v1/events/{id}"),
    ("delete", "/v1/events/{id}"),
]


def _operations(client, scope: str) -> list[tuple[str, str]]:
    """(method, path) of every operation whose spec names ``scope``, from the served spec."""
    spec = client.get("/openapi.json").get_json()
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters" and operation.get("x-required-scope") == scope:
                found.append((method, path))
    return found


def _call(client, method: str, path: str, event_id: str, **kwargs):
    url = path.replace("{id}", event_id).replace("{event_id}", event_id)
    url = url.replace("{kind}", "meeting")
    body = {"json": example()} if method in ("post", "put", "patch") else {}
    # Any other id (an actor's, a subscription's, a delivery's): one of the type the spec
    # declares that names nothing, so the request reaches the route and meets its key check.
    types = _path_parameter_types(client, path)
    url = re.sub(r"\{(\w+_id)\}", lambda found: _unknown_value(types[found.group(1)]), url)
    return getattr(client, method)(url, **body, **kwargs)


_PARAMETER_TYPES: dict[str, dict[str, dict]] = {}


def _path_parameter_types(client, path: str) -> dict[str, dict]:
    """The schema of each path parameter of ``path``, as the served spec declares it."""
    if not _PARAMETER_TYPES:
        spec = client.get("/openapi.json").get_json()
        for template, item in spec["paths"].items():
            declared = {}
            for operation in [item, *(o for m, o in item.items() if m != "parameters")]:
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path":
                        declared[parameter["name"]] = parameter["schema"]
            _PARAMETER_TYPES[template] = declared
    return _PARAMETER_TYPES[path]


def _unknown_value(schema: dict) -> str:
    if schema.get("type") == "integer":
        return str(schema.get("maximum", 2**31 - 1))
    assert schema.get("format") == "uuid", f"no unknown value for a path parameter {schema}"
    return str(uuid.uuid4())


def _names_no_event(path: str) -> bool:
    """Whether the path holds an id other than the event's, which _call fills with none."""
    return re.search(r"\{(?!id\}|event_id\}|kind\})\w+\}", path) is not None


@pytest.fixture
def event_id(created):
    _, url = created(example())
    return url.rsplit("/", 1)[1]


def test_spec_declares_the_bearer_scheme_and_each_operations_scope(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "evs_<prefix>_<secret>",
        "description": spec["components"]["securitySchemes"]["apiKey"]["description"],
    }
    writes = _operations(client, "write")
    every_write = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("post", "put", "patch", "delete")
    }
    # Subscriptions are managed with the `subscribe` scope (checked below), not `write`.
    subscribing = set(_operations(client, "subscribe"))
    assert {(m, p) for m, p in every_write if p.startswith("/v1/subscriptions")} <= subscribing
    every_write -= subscribing
    # Merging actors is an administrator's (scope `admin`), not a writer's.
    administering = set(_operations(client, "admin"))
    assert ("post", "/v1/actors/{actor_id}/merge") in administering
    every_write -= administering
    assert set(writes) == every_write
    for method, path in subscribing:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"apiKey": []}], f"{method} {path}"
        assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"
    assert {(m, p.replace("{id}", "{event_id}")) for m, p in WRITE_REQUESTS} <= every_write
    for method, path in writes:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"apiKey": []}], f"{method} {path}"
        assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"
    for method, path in _operations(client, "read"):
        # Open by default: no requirement (the docs page shows no padlock).
        operation = spec["paths"][path][method]
        assert operation["security"] == [], f"{method} {path}"


@pytest.mark.parametrize(
    "settings", [{}, {"REQUIRE_READ_KEY": True}, {"METRICS_PUBLIC": True}], ids=str
)
def test_each_operations_declared_security_is_what_an_anonymous_request_meets(
    make_app, event_id, settings
):
    # The padlock on the docs page is the spec's `security`: an operation that declares a
    # requirement refuses a request without a key (401), and one that declares none
    # answers it, whatever the server's settings.
    app = make_app(**settings)
    anonymous = FlaskClient(app, app.response_class)
    spec = anonymous.get("/openapi.json").get_json()
    declared, refused = {}, {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            requirements = operation.get("security", spec["security"])
            # One requirement met is enough; an empty one (`{}`) is met by sending nothing.
            declared[(method, path)] = bool(requirements) and {} not in requirements
            refused[(method, path)] = _call(anonymous, method, path, event_id).status_code == 401
    assert declared == refused
    assert any(declared.values()) and not all(declared.values())
    reads = _operations(anonymous, "read")
    assert all(declared[read] == bool(settings.get("REQUIRE_READ_KEY")) for read in reads)
    assert declared[("get", "/metrics")] == (not settings.get("METRICS_PUBLIC"))


def test_every_write_without_a_key_is_401_with_a_bearer_challenge(client, anonymous, event_id):
    for method, path in _operations(client, "write"):
        response = _call(anonymous, method, path, event_id)
        assert response.status_code == 401, f"{method} {path}"
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="events"'
    assert client.get(f"/v1/events/{event_id}").json["version"] == 1


@pytest.mark.parametrize(
    "header",
    [
        "Bearer evs_0123456789_" + "A" * 43,  # well formed, unknown
        f"Bearer {TEST_KEYS['test-writer'][1][1][:-1]}x",  # a known prefix, a wrong secret
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Bearer",
    ],
)
def test_every_write_with_a_bad_key_is_401_invalid_token(client, event_id, header):
    for method, path in _operations(client, "write"):
        response = _call(client, method, path, event_id, headers={"Authorization": header})
        assert response.status_code == 401, f"{method} {path}"
        assert response.mimetype == "application/problem+json"
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert client.get(f"/v1/events/{event_id}").json["version"] == 1


def test_every_write_with_a_read_only_key_is_403(client, event_id):
    for method, path in _operations(client, "write"):
        response = _call(client, method, path, event_id, headers=bearer("test-reader"))
        assert response.status_code == 403, f"{method} {path}"
        assert response.mimetype == "application/problem+json"
        assert 'error="insufficient_scope", scope="write"' in response.headers["WWW-Authenticate"]
    assert client.get(f"/v1/events/{event_id}").json["version"] == 1


def test_admin_scope_includes_write(client):
    response = client.post("/v1/events", json=example(), headers=bearer("test-admin"))
    assert response.status_code == 201


def test_a_revoked_key_is_401(app, client, runner):
    assert client.post("/v1/events", json=example()).status_code == 201
    result = runner.invoke(args=["keys", "revoke", "test-writer"])
    assert result.exit_code == 0, result.output
    response = client.post("/v1/events", json=example())
    assert response.status_code == 401
    assert "revoked" in response.json["detail"]


def test_reads_are_open_by_default_but_a_bad_key_on_them_is_401(anonymous, event_id):
    assert anonymous.get(f"/v1/events/{event_id}").status_code == 200
    assert anonymous.get("/v1/events").status_code == 200
    response = anonymous.get("/v1/events", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_require_read_key_makes_every_read_need_the_read_scope(make_app, event_id):
    client = make_app(REQUIRE_READ_KEY=True).test_client()
    reads = _operations(client, "read")
    assert len(reads) >= 8
    for method, path in reads:
        with _call(client, method, path, event_id, headers={"Authorization": ""}) as nokey:
            assert nokey.status_code == 401, f"{method} {path}"
        for key in ("test-reader", "test-writer", "test-admin"):
            with _call(client, method, path, event_id, headers=bearer(key)) as response:
                # Past the key check: the event's pages answer; an unknown actor is a 404.
                expected = 404 if _names_no_event(path) else 200
                assert response.status_code == expected, f"{method} {path} as {key}"
    # The spec, the docs and the probes stay open: they are how one finds out.
    for url in ("/openapi.json", "/docs", "/healthz", "/readyz"):
        assert client.get(url, headers={"Authorization": ""}).status_code == 200


def test_each_revision_records_the_name_of_the_key_that_wrote_it(client, created):
    _, url = created(example())
    client.patch(url, json={"title": "Changed"}, headers=bearer("test-admin"))
    client.delete(url)
    revisions = client.get(f"{url}/revisions").json["items"]
    assert [(r["operation"], r["written_by"]) for r in revisions] == [
        ("create", "test-writer"),
        ("update", "test-admin"),
        ("delete", "test-writer"),
    ]


def test_no_key_is_stored_or_logged_in_plain_text(app, client, database_url, runner, caplog):
    result = runner.invoke(args=["keys", "create", "--name", "ingest", "--scope", "write"])
    key = result.stdout.strip().splitlines()[-1]
    with caplog.at_level(logging.DEBUG):
        assert (
            client.post(
                "/v1/events", json=example(), headers={"Authorization": f"Bearer {key}"}
            ).status_code
            == 201
        )
        client.post("/v1/events", json=example(), headers={"Authorization": f"Bearer {key}x"})
    assert key not in caplog.text
    with psycopg.connect(database_url) as conn:
        dump = conn.execute(
            "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM api_keys) t"
        ).fetchone()[0]
        revisions = conn.execute(
            "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM event_revisions) t"
        ).fetchone()[0]
    prefix, secret = key[:14], key[15:]
    assert secret not in dump and secret not in revisions
    assert prefix in dump  # the prefix is kept, to find the key


def test_keys_command_creates_lists_and_revokes(runner, client):
    created = runner.invoke(
        args=["keys", "create", "--name", "mirror", "--scope", "read", "--scope", "write"]
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("evs_") and len(key) == 4 + 10 + 1 + 43
    prefix = key[:14]

    assert (
        client.post(
            "/v1/events", json=example(), headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 201
    )
    listed = runner.invoke(args=["keys", "list"])
    line = next(line for line in listed.output.splitlines() if line.startswith("mirror"))
    assert prefix in line and "read,write" in line and key not in listed.output
    assert line.split()[-1] == "-"  # not revoked
    assert "UTC" in line.split(prefix)[1]  # created and last used are shown

    again = runner.invoke(args=["keys", "create", "--name", "mirror", "--scope", "read"])
    assert again.exit_code != 0 and "exists already" in again.output

    revoked = runner.invoke(args=["keys", "revoke", prefix])
    assert revoked.exit_code == 0 and "mirror" in revoked.output
    assert (
        client.post(
            "/v1/events", json=example(), headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 401
    )
    unknown = runner.invoke(args=["keys", "revoke", "nobody"])
    assert unknown.exit_code != 0


def test_keys_command_refuses_an_unknown_scope(runner):
    result = runner.invoke(args=["keys", "create", "--name", "x", "--scope", "root"])
    assert result.exit_code != 0
    assert "root" in result.output


def test_unknown_event_id_with_a_bad_key_is_still_401(anonymous):
    response = anonymous.delete(f"/v1/events/{uuid.uuid4()}")
    assert response.status_code == 401

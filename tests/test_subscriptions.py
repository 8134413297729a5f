"""``/v1/subscriptions``: who may subscribe, what a subscription may point at (the SSRF
guard), and filters validated as search validates them."""

from __future__ import annotations

import pytest
from conftest import bearer

ADMIN = bearer("test-admin")
SUBSCRIBER = bearer("test-subscriber")
PUBLIC = "https://93.184.215.14/hook"  # a public address, never connected to here


def _create(client, headers=ADMIN, **body):
    return client.post("/v1/subscriptions", json={"url": PUBLIC, **body}, headers=headers)


def test_the_secret_is_shown_once(client):
    created = _create(client)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["secret"].startswith("whsec_")
    assert body["filter"] == {} and body["status"] == "active"
    shown = client.get(created.headers["Location"], headers=ADMIN).get_json()
    assert "secret" not in shown
    assert all(
        "secret" not in s
        for s in client.get("/v1/subscriptions", headers=ADMIN).get_json()["items"]
    )


@pytest.mark.parametrize(
    ("key", "status"), [("test-writer", 403), ("test-reader", 403), ("test-metrics", 403)]
)
def test_subscribing_needs_the_subscribe_scope(client, key, status):
    assert _create(client, bearer(key)).status_code == status


def test_a_subscriber_sees_only_its_own(client):
    mine = _create(client, SUBSCRIBER).get_json()
    theirs = _create(client, ADMIN).get_json()
    listed = client.get("/v1/subscriptions", headers=SUBSCRIBER).get_json()["items"]
    assert [s["id"] for s in listed] == [mine["id"]]
    assert client.get(f"/v1/subscriptions/{theirs['id']}", headers=SUBSCRIBER).status_code == 404
    assert client.delete(f"/v1/subscriptions/{theirs['id']}", headers=SUBSCRIBER).status_code == 404
    every = client.get("/v1/subscriptions", headers=ADMIN).get_json()["items"]
    assert {s["id"] for s in every} == {mine["id"], theirs["id"]}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://[fd00::1]/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://100.64.0.1/hook", "reserved"),
        ("http://93.184.215.14/hook", "must be https"),
        ("https://93.184.215.14:8443/hook", "Port 8443 is not allowed"),
        ("https://user:pw@93.184.215.14/hook", "user name"),
        ("ftp://93.184.215.14/hook", "must be https"),
    ],
)
def test_the_guard_refuses_each_class_of_address(client, url, reason):
    response = _create(client, url=url)
    assert response.status_code == 422
    assert reason in response.get_json()["errors"]["url"][0]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8123/hook", True),
        ("http://localhost:8123/hook", True),
        ("https://10.1.2.3/hook", False),
        ("https://169.254.169.254/hook", False),
        ("https://192.168.1.1/hook", False),
    ],
)
def test_allowing_private_targets_allows_loopback_only(make_app, url, allowed):
    client = make_app(WEBHOOKS_ALLOW_PRIVATE_TARGETS=True).test_client()
    assert (_create(client, url=url).status_code == 201) is allowed


def test_a_patch_is_guarded_too(client):
    created = _create(client).get_json()
    response = client.patch(
        f"/v1/subscriptions/{created['id']}", json={"url": "https://10.0.0.1/"}, headers=ADMIN
    )
    assert response.status_code == 422 and "url" in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("filter", "field"),
    [
        ({"type": ["no-such-kind"]}, "filter.type"),
        ({"type": "attack"}, "filter.type"),  # repeatable: a list
        ({"country": ["XX"]}, "filter.country"),
        ({"bbox": "1,2,3"}, "filter.bbox"),
        ({"near": "0,0,0"}, "filter.near"),
        ({"date_from": "2025-07", "date_to": "2025-06"}, "filter.date_to"),
        ({"as_of": "2025-01-01T00:00:00Z"}, "filter.as_of"),
        ({"sort": "date"}, "filter.sort"),
        ({"q": ""}, "filter.q"),
        ({"nope": 1}, "filter.nope"),
        ([], "filter"),
    ],
)
def test_filters_are_validated_as_search_validates_them(client, filter, field):
    response = _create(client, filter=filter)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"], response.get_json()


def test_a_bad_start_names_start(client):
    response = _create(client, start="yesterday")
    assert response.status_code == 422 and "start" in response.get_json()["errors"]


def test_patch_changes_only_what_it_names(client):
    created = _create(client, filter={"type": ["attack"]}, description="ops").get_json()
    url = f"/v1/subscriptions/{created['id']}"
    patched = client.patch(url, json={"status": "disabled"}, headers=ADMIN).get_json()
    assert patched["status"] == "disabled" and patched["filter"] == {"type": ["attack"]}
    assert patched["description"] == "ops" and patched["disabled_reason"]
    assert client.patch(url, json={"status": "paused"}, headers=ADMIN).status_code == 422
    assert client.delete(url, headers=ADMIN).status_code == 204
    assert client.get(url, headers=ADMIN).status_code == 404

"""The published contract: openapi.yaml is what the app serves, valid, documented; /docs offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate

OPENAPI_YAML = Path(__file__).parent.parent / "openapi.yaml"
REGENERATE = "flask --app service openapi write --format=yaml openapi.yaml"


def test_committed_openapi_yaml_is_what_the_app_serves(client):
    served = client.get("/openapi.yaml")
    assert served.status_code == 200
    assert served.get_data(as_text=True) == OPENAPI_YAML.read_text(), (
        f"openapi.yaml is stale: run `{REGENERATE}`"
    )


def test_committed_yaml_and_served_json_are_one_document_in_one_order(client):
    # Compared as ordered documents: generators read the first content type of a response
    # as its main one, so a reordered copy gives integrators a different client.
    committed = yaml.safe_load(OPENAPI_YAML.read_text())
    served = json.loads(client.get("/openapi.json").get_data())
    assert json.dumps(committed) == json.dumps(served)
    assert list(committed)[:2] == ["openapi", "info"]


def test_spec_is_valid_openapi_3_1(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_operation_is_documented(client):
    spec = client.get("/openapi.json").get_json()
    global_tags = {tag["name"] for tag in spec["tags"]}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            where = f"{method.upper()} {path}"
            assert operation.get("operationId"), where
            assert operation.get("summary"), where
            assert operation.get("description"), where
            assert operation.get("tags") and set(operation["tags"]) <= global_tags, where


def test_error_responses_are_documented_as_problem_json(client):
    spec = client.get("/openapi.json").get_json()
    for name, response in spec["components"]["responses"].items():
        if "content" in response:
            assert list(response["content"]) == ["application/problem+json"], name


def test_event_union_has_a_type_discriminator_over_every_kind(client):
    from schemas import EVENT_KINDS

    event = client.get("/openapi.json").get_json()["components"]["schemas"]["Event"]
    assert event["discriminator"]["propertyName"] == "type"
    assert set(event["discriminator"]["mapping"]) == set(EVENT_KINDS)
    assert len(event["oneOf"]) == len(EVENT_KINDS)


def test_docs_page_is_served_with_no_external_url(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "swagger-ui" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the docs page loads a CDN"
    assert '"validatorUrl": null' in html, "Swagger UI would call validator.swagger.io"
    for asset in re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', html):
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.data) > 1000, asset


def test_docs_page_opens_the_operation_a_link_names(client):
    # Swagger UI's deepLinking: /docs#/events/listEvents expands that operation.
    html = client.get("/docs").get_data(as_text=True)
    assert '"deepLinking": true' in html


def test_the_root_sends_a_person_to_the_docs_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/docs"


def test_the_favicon_is_a_small_icon_not_a_404(anonymous):
    # Browsers ask for it on their own when a person opens /docs.
    response = anonymous.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/x-icon"
    icon = response.get_data()
    assert icon[:4] == b"\0\0\1\0" and len(icon) < 2048  # an ICO file, one image
    assert response.headers["Cache-Control"] in ("public, max-age=86400", "max-age=86400, public")
    assert anonymous.head("/favicon.ico").status_code == 200
    assert "/favicon.ico" not in anonymous.get("/openapi.json").get_json()["paths"]

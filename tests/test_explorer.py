"""The explorer page (/explore) and its assets, through the Flask test client."""

from __future__ import annotations

import re

import pytest

from service.explorer import ASSET_MAX_AGE, STATIC, asset_url

ASSET_URL = re.compile(r'(?:src|href|data-atlas)="(/explore/assets/[^"]+)"')
# A URL a page could fetch; XML namespaces are names, never fetched.
EXTERNAL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/\"' )]", re.IGNORECASE)
NAMESPACES = ("http://www.w3.org/2000/svg",)


def _external_urls(text: str) -> list[str]:
    for namespace in NAMESPACES:
        text = text.replace(namespace, "")
    return EXTERNAL.findall(text)


def test_the_page_is_html_under_a_csp_allowing_only_this_server(anonymous):
    response = anonymous.get("/explore")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_data(as_text=True)
    # Nothing inline for the CSP to refuse: no inline script, style element or attribute.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


def test_the_page_has_the_search_filters_with_labels(anonymous):
    html = anonymous.get("/explore").get_data(as_text=True)
    for name in (
        "q",
        "type",
        "country",
        "actor",
        "date_from",
        "date_to",
        "certainty",
        "source_kind",
        "location_precision",
        "bbox",
    ):
        assert f'name="{name}"' in html, name
        assert f'<label for="{name}"' in html, name
    assert '<html lang="en">' in html


def test_assets_have_a_content_hash_and_a_long_cache(anonymous):
    html = anonymous.get("/explore").get_data(as_text=True)
    urls = ASSET_URL.findall(html)
    assert len(urls) == 4  # style sheet, topojson-client, our script, the atlas
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert re.search(r"\.[0-9a-f]{12}(\.[a-z]+)?$", url), url
        assert response.headers["Cache-Control"] == f"public, max-age={ASSET_MAX_AGE}, immutable"
        assert ASSET_MAX_AGE >= 365 * 24 * 3600
        response.close()


def test_an_asset_under_another_hash_is_not_served(anonymous):
    good = asset_url("explorer.js")
    stale = re.sub(r"\.[0-9a-f]{12}\.js$", ".000000000000.js", good)
    assert anonymous.get(stale).status_code == 404
    assert anonymous.get("/explore/assets/explorer.js").status_code == 404
    assert anonymous.get("/explore/assets/../__init__.py").status_code == 404


def test_assets_are_their_files(anonymous):
    for name in ("explorer.js", "explorer.css", "vendor/world-atlas/countries-110m.json"):
        response = anonymous.get(asset_url(name))
        assert response.get_data() == (STATIC / name).read_bytes()
        response.close()


@pytest.mark.parametrize(
    "name",
    ["explorer.js", "explorer.css", "vendor/topojson-client/topojson-client.min.js"],
)
def test_no_external_urls_in_the_assets(name):
    text = (STATIC / name).read_text()
    if name.startswith("vendor/"):
        # The vendored build's first line is its licence comment, naming its home page.
        first, _, text = text.partition("\n")
        assert first.startswith("// https://github.com/topojson/topojson-client v3.1.0")
    assert _external_urls(text) == []


def test_no_external_urls_in_the_page(anonymous):
    html = anonymous.get("/explore").get_data(as_text=True)
    assert _external_urls(html) == []


def test_the_vendored_files_keep_their_versions_and_licences():
    import json

    for package, version in (("world-atlas", "2.0.2"), ("topojson-client", "3.1.0")):
        folder = STATIC / "vendor" / package
        assert json.loads((folder / "package.json").read_text())["version"] == version
        assert "Copyright" in (folder / "LICENSE").read_text()


def test_the_page_needs_no_key_when_reads_do(make_app):
    app = make_app(REQUIRE_READ_KEY=True)
    from flask.testing import FlaskClient

    client = FlaskClient(app, app.response_class)
    assert client.get("/explore").status_code == 200
    assert client.get(asset_url("explorer.js")).status_code == 200
    assert client.get("/v1/events").status_code == 401


def test_the_docs_link_to_the_explorer(anonymous):
    spec = anonymous.get("/openapi.json").get_json()
    assert "/explore" in spec["info"]["description"]

"""The explorer in a real browser (Debian's Chromium, driven by Playwright for Python)
against the real gunicorn, with the seeds loaded.

Every test also checks that the page logged no console error, raised no uncaught
exception, and sent no request off its origin (any such request is aborted and recorded).
Skipped where /usr/bin/chromium or playwright is absent. ``EXPLORER_SCREENSHOTS=1`` also
saves the main views as PNG under docs/explorer/.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path

import browser as shared
import pytest

sync_api = shared.require_browser()

REPOSITORY = Path(__file__).resolve().parents[1]
AXE = REPOSITORY / "tests" / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPOSITORY / "docs" / "explorer"

pytestmark = pytest.mark.slow  # starts a browser (and uses the live gunicorn)


def get_json(base: str, path: str, params=()) -> dict:
    query = urllib.parse.urlencode(list(params), doseq=True)
    with urllib.request.urlopen(f"{base}{path}{'?' + query if query else ''}") as answer:
        return json.load(answer)


class Page(shared.Page):
    """The explorer in a browser page on the live server."""

    def open(self, path: str = "/explore"):
        self.page.goto(self.base + path)
        self.ready()
        return self.page

    def ready(self):
        self.page.wait_for_selector("body[data-ready]", timeout=15000)
        assert self.page.get_attribute("body", "data-ready") == "true", self.page.inner_text(
            "#message"
        )

    def reset_ready(self):
        self.page.evaluate("delete document.body.dataset.ready")


@pytest.fixture
def page(browser, live_gunicorn, seeded):
    opened = Page(browser, live_gunicorn.base)
    yield opened
    opened.close()


def all_events(base: str, params=()) -> list[dict]:
    events, cursor = [], None
    while True:
        query = [*params, ("limit", 100)] + ([("cursor", cursor)] if cursor else [])
        body = get_json(base, "/v1/events", query)
        events += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return events


def pins(page) -> set[str]:
    return set(page.eval_on_selector_all("#points circle", "cs => cs.map(c => c.dataset.id)"))


def listed(page) -> list[str]:
    return page.eval_on_selector_all("#list > li", "lis => lis.map(li => li.dataset.id)")


def screenshot(page, name: str):
    if os.environ.get("EXPLORER_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_map_shows_the_seeded_points(page, live_gunicorn):
    events = all_events(live_gunicorn.base)
    located = {
        e["id"]
        for e in events
        if "lat" in e.get("location", {}) and e["location"].get("precision") != "country"
    }
    country_only = [e for e in events if e.get("location", {}).get("precision") == "country"]
    assert located and country_only  # the seeds have both
    p = page.open()
    assert p.locator("#countries path").count() > 150  # the 110m countries
    assert pins(p) == located
    # A pin's style follows its precision; a country-precision point is no pin.
    for e in events:
        precision = e.get("location", {}).get("precision")
        if e["id"] in located:
            assert p.get_attribute(f'#points circle[data-id="{e["id"]}"]', "data-precision") == (
                precision or "unstated"
            )
    assert not any(e["id"] in pins(p) for e in country_only)
    assert "Located only to a country" in p.inner_text("#country-only")
    screenshot(p, "explore")


def test_a_filter_narrows_the_list_to_what_the_api_search_returns(page, live_gunicorn):
    p = page.open()
    everything = listed(p)
    page.reset_ready()
    p.select_option("#type", ["attack", "combat"])
    p.fill("#country", "ua")
    p.click("#search button[type=submit]")
    page.ready()
    params = [("type", "attack"), ("type", "combat"), ("country", "UA")]
    expected = [e["id"] for e in get_json(live_gunicorn.base, "/v1/events", params)["items"]]
    assert expected and len(expected) < len(everything)
    assert listed(p) == expected
    # The state is in the address: opening it again gives the same list.
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(p.url).query)
    assert query == {"type": ["attack", "combat"], "country": ["UA"]}
    page.reset_ready()
    p.goto(p.url)
    page.ready()
    assert listed(p) == expected
    assert p.input_value("#country") == "UA"
    # Back: the search before, its list and its (empty) form.
    page.reset_ready()
    p.go_back()
    page.ready()
    assert listed(p) == everything
    assert p.input_value("#country") == ""
    assert p.eval_on_selector("#type", "s => s.selectedOptions.length") == 0


def test_more_pages_through_the_next_cursor(page, live_gunicorn):
    p = page.open("/explore?limit=8")  # 22 seeds (the sandbox's two): pages of 8, 8 and 6
    assert len(listed(p)) == 8 and p.is_visible("#more")
    for shown in (16, 22):
        p.click("#more")
        # A locator waits without evaluating a string (which the page's CSP refuses).
        sync_api.expect(p.locator("#list > li")).to_have_count(shown)
    expected = [e["id"] for e in all_events(live_gunicorn.base)]  # the same default order
    assert listed(p) == expected
    assert p.is_hidden("#more")


def test_the_timeline_counts_are_the_facets(page, live_gunicorn):
    p = page.open("/explore?country=KP")
    months = get_json(live_gunicorn.base, "/v1/events/facets", [("country", "KP")])["month"]
    shown = p.eval_on_selector_all(
        "#timeline > li", "lis => lis.map(li => [li.dataset.month, Number(li.dataset.count)])"
    )
    assert dict(shown) == months
    assert len(shown) == len(months) > 1
    for month, count in shown:
        assert p.inner_text(f'#timeline > li[data-month="{month}"] .n') == str(count)


def _event_id(base: str, key: str) -> str:
    return next(e["id"] for e in all_events(base) if e.get("key") == key)


def test_an_event_shows_its_hedges_and_attribution_chain(page, live_gunicorn):
    base = live_gunicorn.base
    troops = _event_id(base, "2025-07-north-korea-prepares-25000-30000-more-troops")
    p = page.open(f"/explore?event={troops}")
    text = p.inner_text("#event")
    assert "25,000–30,000 soldiers" in text
    sources = p.inner_text("#event-sources")
    assert (
        "ANI (news agency) citing CNN (broadcaster) ← Ukrainian intelligence "
        "(intelligence service)" in sources
    )
    assert "Version 1: create" in p.inner_text("#revisions")
    screenshot(p, "event")
    for key, hedge in (
        ("2024-north-korean-casualties-estimated-at-4000", "around 4,000 soldiers"),
        ("2024-north-korea-sends-11000-troops-to-russia", "around 11,000 soldiers"),
        ("2024-north-korea-sends-ballistic-missiles-to-russia", "at least 100 ballistic missiles"),
    ):
        event_id = _event_id(base, key)
        page.reset_ready()
        p.goto(f"{base}/explore?event={event_id}")
        page.ready()
        assert hedge in p.inner_text("#event")


def test_a_revision_diff_shows_what_changed(page, live_gunicorn, seeded):
    base = live_gunicorn.base
    event_id = _event_id(base, "2025-07-12-lavrov-meets-kim-jong-un")
    client = seeded.test_client()
    answer = client.patch(
        f"/v1/events/{event_id}",
        data=json.dumps({"title": "Lavrov meets Kim Jong Un in Wonsan, on the east coast"}),
        content_type="application/merge-patch+json",
    )
    assert answer.status_code == 200, answer.get_json()
    p = page.open(f"/explore?event={event_id}")
    p.wait_for_selector("#diff:not([hidden])")
    assert "Version 1 → version 2: 1 field changed" in p.inner_text("#diff caption")
    row = p.locator('#diff tr[data-path="title"]')
    assert "Lavrov meets Kim Jong Un in Wonsan" in row.inner_text()
    assert "on the east coast" in row.locator("td.added").inner_text()
    screenshot(p, "revisions")


def test_dragging_a_box_on_the_map_searches_it(page, live_gunicorn):
    p = page.open()
    box = p.locator("#map").bounding_box()

    # The Korean peninsula and around: lon 120..135, lat 33..45, in the map's projection.
    def at(lon, lat):
        return (
            box["x"] + (lon + 180) / 360 * box["width"],
            box["y"] + (90 - lat) / 180 * box["height"],
        )

    page.reset_ready()
    p.mouse.move(*at(120, 45))
    p.mouse.down()
    p.mouse.move(*at(128, 40), steps=5)
    p.mouse.move(*at(135, 33), steps=5)
    p.mouse.up()
    page.ready()
    bbox = p.input_value("#bbox")
    lons_lats = [float(n) for n in bbox.split(",")]
    assert lons_lats == pytest.approx([120, 33, 135, 45], abs=0.5)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(p.url).query)["bbox"] == [bbox]
    expected = [
        e["id"] for e in get_json(live_gunicorn.base, "/v1/events", [("bbox", bbox)])["items"]
    ]
    assert expected and listed(p) == expected
    assert pins(p) <= set(expected)


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is vendored under tests/vendor")
def test_no_serious_accessibility_violations(page, live_gunicorn):
    base = live_gunicorn.base
    troops = _event_id(base, "2025-07-north-korea-prepares-25000-30000-more-troops")
    for path in ("/explore", f"/explore?event={troops}"):
        p = page.open(path)
        p.evaluate(AXE.read_text())  # evaluated by the driver: no script tag for the CSP
        result = p.evaluate("axe.run(document, {resultTypes: ['violations']})")
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == [], path


@pytest.fixture(scope="module")
def keyed_gunicorn(database_url, tmp_path_factory):
    """A second gunicorn on the same database, with REQUIRE_READ_KEY on."""
    from conftest import LIVE_ENV

    from bench.servers import Gunicorn

    log = tmp_path_factory.mktemp("gunicorn-keyed") / "gunicorn.log"
    env = LIVE_ENV | {"DATABASE_URL": database_url, "REQUIRE_READ_KEY": "true"}
    with Gunicorn("service:create_app()", "/readyz", log, env) as server:
        yield server


def test_with_read_keys_required_the_page_asks_for_one_and_keeps_it_in_the_tab(
    browser, keyed_gunicorn, seeded
):
    from conftest import TEST_KEYS

    opened = Page(browser, keyed_gunicorn.base)
    p = opened.page
    p.goto(keyed_gunicorn.base + "/explore")
    p.wait_for_selector("#key-panel:not([hidden])")
    assert "API key is needed" in p.inner_text("#message")
    # The browser reports each refused fetch (401) on the console: those, and only those.
    assert opened.errors and all("401" in e for e in opened.errors)
    opened.errors.clear()
    opened.reset_ready()
    p.fill("#key", TEST_KEYS["test-reader"][1][1])
    p.click("#key-form button[type=submit]")
    opened.ready()
    assert len(listed(p)) == 20  # a page
    assert p.is_hidden("#key-panel")
    assert p.evaluate("Object.keys(sessionStorage)") == ["events-explorer-key"]
    assert p.evaluate("localStorage.length") == 0
    assert opened.context.cookies() == []
    # Another tab of the same browser context shares nothing from sessionStorage.
    other = opened.context.new_page()
    other.goto(keyed_gunicorn.base + "/explore")
    other.wait_for_selector("#key-panel:not([hidden])")
    other.close()
    opened.errors.clear()  # the other tab's 401s
    opened.close()

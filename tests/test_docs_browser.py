"""The docs page (/docs, Swagger UI) in a real browser (Debian's Chromium, driven by
Playwright) against the real gunicorn with the seeds loaded, used as a newcomer uses it:
Authorize with a key, then "Try it out" → Execute with the page's defaults.

Each page also checks that it logged no console error, raised no uncaught exception and
sent no request off its origin (the page's assets are served by the service). Skipped,
saying why, where /usr/bin/chromium or playwright is absent.
"""

from __future__ import annotations

import json

import browser as shared
import pytest
from conftest import TEST_KEYS

from service.http.examples import EXAMPLE_KEY, event_id
from service.seeding import SANDBOX_TO_CHANGE, SANDBOX_TO_DELETE

sync_api = shared.require_browser()

pytestmark = pytest.mark.slow  # starts a browser (and uses the live gunicorn)

# The operations tried, in order: (operationId, the status its documented success is).
SEQUENCE = (
    ("createEvent", "201"),
    ("getEvent", "200"),
    ("listEvents", "200"),
    ("patchEvent", "200"),
    ("deleteEvent", "204"),
)


class DocsPage(shared.Page):
    """The docs page on the live server."""

    def open(self):
        self.page.goto(self.base + "/docs")
        self.page.wait_for_selector(".opblock", timeout=20000)
        return self.page

    def authorize(self, key: str):
        page = self.page
        page.click(".auth-wrapper button.authorize")
        modal = page.locator(".modal-ux")
        modal.locator("input#auth-bearer-value").fill(key)
        modal.locator("button.authorize").click()
        sync_api.expect(modal.locator("button", has_text="Logout")).to_be_visible()
        modal.locator("button.btn-done").click()

    def operation(self, operation_id: str, tag: str = "events"):
        """The operation's block, opened, with "Try it out" on."""
        block = self.page.locator(f"#operations-{tag}-{operation_id}")
        if block.locator(".opblock-body").count() == 0:
            block.locator(".opblock-summary").first.click()
        try_out = block.locator("button.try-out__btn")
        if "cancel" not in (try_out.get_attribute("class") or ""):
            try_out.click()
        return block

    def execute(self, block) -> tuple[str, str]:
        """Click Execute; the status and body of the answer the page shows."""
        live = block.locator(".live-responses-table")
        if live.count():  # the answer of a previous try: cleared, so the new one is awaited
            block.locator("button.btn-clear").click()
            sync_api.expect(live).to_have_count(0)
        block.locator("button.execute").click()
        status = block.locator(".live-responses-table .response .response-col_status")
        sync_api.expect(status).to_have_count(1, timeout=15000)
        body = block.locator(".live-responses-table .response-col_description pre")
        return status.inner_text().strip(), (body.first.inner_text() if body.count() else "")

    def padlocked(self, operation_id: str, tag: str = "events") -> bool:
        block = self.page.locator(f"#operations-{tag}-{operation_id}")
        return block.locator(".opblock-summary .authorization__btn").count() > 0


@pytest.fixture
def docs(browser, live_gunicorn, seeded):
    opened = DocsPage(browser, live_gunicorn.base)
    yield opened
    opened.close()


def test_padlocks_show_on_writes_and_not_on_open_reads(docs):
    docs.open()
    for operation_id in ("createEvent", "replaceEvent", "patchEvent", "deleteEvent"):
        assert docs.padlocked(operation_id), operation_id
    for operation_id in ("listEvents", "getEvent", "listEventRevisions"):
        assert not docs.padlocked(operation_id), operation_id


def test_try_it_out_twice_in_order_with_the_defaults(docs, seeded):
    page = docs.open()
    searched_urls = []
    page.on("request", lambda r: searched_urls.append(r.url) if "/v1/events?" in r.url else 0)
    docs.authorize(TEST_KEYS["test-writer"][1][1])
    answers = []
    for _ in range(2):
        for operation_id, _status in SEQUENCE:
            block = docs.operation(operation_id)
            if operation_id == "listEvents":
                block.locator('tr[data-param-name="type"] select').select_option(["meeting"])
            answers.append((operation_id, *docs.execute(block)))
    statuses = [(operation_id, status) for operation_id, status, _ in answers]
    # The second delete of the sandbox event answers 410, as the operation documents;
    # everything else answers its success both times: no default broke another's.
    assert statuses == [*SEQUENCE, *SEQUENCE[:-1], ("deleteEvent", "410")]
    # The browser reports that refused request on the console: that one, and only it.
    assert docs.errors == [
        "console error: Failed to load resource: the server responded with a status of 410 (GONE)"
    ]
    docs.errors.clear()
    created = [json.loads(body) for name, _, body in answers if name == "createEvent"]
    assert created[0]["id"] != created[1]["id"] and created[0]["title"] == created[1]["title"]
    read = json.loads(answers[1][2])
    assert (read["id"], read["key"]) == (event_id(EXAMPLE_KEY), EXAMPLE_KEY)
    searched = json.loads(answers[2][2])["items"]
    assert searched and {item["type"] for item in searched} == {"meeting"}
    assert searched_urls and all("type=meeting" in url for url in searched_urls)
    patched = json.loads(answers[3][2])
    assert (patched["id"], patched["key"]) == (event_id(SANDBOX_TO_CHANGE), SANDBOX_TO_CHANGE)
    assert "reviewed" in patched["tags"]
    # The deleted sandbox comes back with the seeds, and the page's delete works again.
    assert seeded.test_cli_runner().invoke(args=["seed"]).exit_code == 0
    assert docs.execute(docs.operation("deleteEvent"))[0] == "204"
    assert docs.execute(docs.operation("getEvent"))[0] == "200"
    assert event_id(SANDBOX_TO_DELETE) in page.inner_text("#operations-events-deleteEvent")

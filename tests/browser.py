"""What the browser tests share: Debian's Chromium driven by Playwright for Python (no
browser download), and a page that records what must not happen on it.

A test module calls ``require_browser()`` first: it skips the module, saying why, where
/usr/bin/chromium or playwright is absent. The ``browser`` and ``seeded`` fixtures are in
conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def require_browser():
    """playwright.sync_api, or skip the calling module where the browser cannot run."""
    if not CHROMIUM.exists():
        pytest.skip(
            "browser tests need Debian's Chromium at /usr/bin/chromium "
            "(apt-get install -y chromium)",
            allow_module_level=True,
        )
    return pytest.importorskip(
        "playwright.sync_api", reason="browser tests need playwright (pip install -e '.[dev]')"
    )


def launch(playwright):
    """Chromium from /usr/bin, as Playwright drives it."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM))


class Page:
    """A browser page on a live server, recording what must not happen: console errors,
    uncaught exceptions, requests off its origin (aborted)."""

    def __init__(self, browser, base: str):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else 0,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def _route(self, route):
        url = route.request.url
        if url == self.base or url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def close(self):
        self.context.close()
        assert self.errors == [], self.errors
        assert self.foreign == [], self.foreign

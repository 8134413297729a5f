"""``GET /explore``: a page for people to search, map and read events, with no build step.

Plain HTML, one script and one style sheet of our own, and two vendored files from npm
(topojson-client's UMD build, world-atlas's Natural Earth 110m countries). Every asset is
served from ``static/`` under a URL naming its content hash, so it may be kept for a year:
a new release changes the hash, hence the URL. The page only reads the API, from the same
origin; its CSP (``service/http/edge.py``) allows scripts and styles from this server only.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import Blueprint, Flask, abort, render_template, send_file

from schemas import CERTAINTY, EVENT_KINDS, LOCATION_PRECISIONS, SOURCE_KINDS

STATIC = Path(__file__).with_name("static")
ASSETS_PATH = "/explore/assets"
# A year: the URL changes whenever the content does.
ASSET_MAX_AGE = 365 * 24 * 3600

blp = Blueprint("explorer", __name__, template_folder="templates")


@functools.cache
def _assets() -> dict[str, tuple[str, Path]]:
    """Each asset's name under ``static/`` -> (its hashed URL path, its file)."""
    assets = {}
    for path in sorted(STATIC.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(STATIC).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        # `explorer.js` -> `explorer.<hash>.js`; `LICENSE` -> `LICENSE.<hash>`
        hashed = name[: len(name) - len(path.suffix)] + f".{digest}{path.suffix}"
        assets[name] = (hashed, path)
    return assets


@functools.cache
def _by_hashed_name() -> dict[str, Path]:
    return {hashed: path for hashed, path in _assets().values()}


def asset_url(name: str) -> str:
    """The URL of the asset ``name`` (relative to ``static/``), naming its content hash."""
    return f"{ASSETS_PATH}/{_assets()[name][0]}"


@blp.get("/explore")
def explore():
    """The explorer page; its state (filters, the open event) is in the query string."""
    return render_template(
        "explore.html",
        asset_url=asset_url,
        kinds=sorted(EVENT_KINDS),
        certainties=CERTAINTY,
        source_kinds=SOURCE_KINDS,
        precisions=tuple(LOCATION_PRECISIONS),
    )


@blp.get(f"{ASSETS_PATH}/<path:name>")
def asset(name: str):
    """One asset by its hashed name; any other name (an old hash, say) is a 404."""
    path = _by_hashed_name().get(name)
    if path is None:
        abort(404)
    response = send_file(path, max_age=ASSET_MAX_AGE, conditional=True, etag=True)
    response.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE}, immutable"
    return response


def init_app(app: Flask) -> None:
    """Serve the explorer page and its assets."""
    app.register_blueprint(blp)

"""Keyset pages over HTTP: reading a cursor parameter, and answering a page with its links."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

from flask import Response, request
from werkzeug.datastructures import iter_multi_items

from service.http import cursor as cursors
from service.http.problems import ParameterError
from service.http.responses import json_response

# What werkzeug leaves unescaped in the query strings it builds (as url_for would).
QUERY_SAFE = "!$'()*,/:;?@"
LINK_HEADER = {
    "description": 'RFC 8288 link to the next page, rel="next".',
    "schema": {"type": "string"},
}


def scope(listing: str, args: dict) -> str:
    """What a cursor of ``listing`` serves: that listing with these filters and this order.

    A short digest of them, so a cursor made by one search is refused by any other.
    """
    canonical = {
        name: sorted(value) if isinstance(value, list) else value
        for name, value in args.items()
        if name not in ("limit", "cursor", "format")
    }
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode())
    return f"{listing}:{digest.hexdigest()[:16]}"


def cursor_position(scope: str, token: str | None, load):
    """The position a cursor of ``scope`` stands for, read by ``load``; a foreign one is a 400."""
    if token is None:
        return None
    try:
        return load(cursors.decode(scope, token))
    except (cursors.BadCursor, ValueError, TypeError, AttributeError) as error:
        raise ParameterError({"cursor": ["Not a cursor of this listing."]}) from error


def page_response(items_json: list[str], scope: str, next_position: list | None) -> Response:
    """A page from items that are JSON text already, with a ``Link: rel="next"`` header."""
    next_cursor = None
    headers = {}
    if next_position is not None:
        next_cursor = cursors.encode(scope, next_position)
        args = request.args.to_dict(flat=False) | {"cursor": next_cursor}
        # Relative, like Location: an absolute URL would name the wrong scheme or host
        # behind a TLS-terminating proxy. The listing's own path with the next query,
        # which is what url_for built, at half its cost: a listing's route has no variables.
        query = urlencode(list(iter_multi_items(args)), safe=QUERY_SAFE)
        headers["Link"] = f'<{request.script_root}{request.path}?{query}>; rel="next"'
    text = '{"items":[' + ",".join(items_json) + '],"next_cursor":' + json.dumps(next_cursor) + "}"
    return json_response(text, headers=headers)

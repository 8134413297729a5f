"""Reading a JSON request body: media type (415), size (413), syntax and text (400)."""

from __future__ import annotations

import json
import re

from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

JSON = "application/json"
MERGE_PATCH_JSON = "application/merge-patch+json"


# \u0000, or a \uD800–\uDFFF escape (half of a pair, or a lone one: the walk tells).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def require_media_type(*accepted: str) -> str:
    """The request's media type if it is one of ``accepted``; 415 otherwise."""
    if request.mimetype not in accepted:
        raise UnsupportedMediaType(
            f"Send the body as {' or '.join(accepted)}"
            f" (got {request.mimetype or 'no Content-Type'})."
        )
    return request.mimetype


def parse_json(raw: bytes, subject: str = "The body") -> object:
    """One JSON text, parsed; 400 (BadRequest) saying why when it is not storable JSON.

    ``subject`` names the text in the messages (a line of NDJSON is "The line").
    """
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise BadRequest(f"{subject} is not UTF-8 text.") from error
    except RecursionError as error:
        raise BadRequest(f"{subject} nests too deeply.") from error
    except (json.JSONDecodeError, ValueError) as error:
        raise BadRequest(f"{subject} is not valid JSON: {error}.") from error
    # Walking every string costs ten times the parse; only an escape can smuggle either
    # character in (raw NULs and surrogates are not valid JSON or UTF-8), so look first.
    if _UNSTORABLE_ESCAPE.search(raw):
        _reject_unstorable_text(body, subject)
    return body


def json_body(*media_types: str) -> object:
    """The parsed body, if it is one of ``media_types`` (default: application/json)."""
    require_media_type(*(media_types or (JSON,)))
    raw = request.get_data(cache=False)  # MAX_CONTENT_LENGTH applies here: 413
    return parse_json(raw)


def _reject_unstorable_text(value: object, subject: str) -> None:
    """400 for text PostgreSQL cannot store: NUL characters, lone UTF-16 surrogates.

    Both are valid JSON escapes (``\\u0000``, ``\\ud800``) but not valid PostgreSQL text.
    """
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            if "\x00" in node:
                raise BadRequest(f"{subject} contains a NUL character (\\u0000).")
            try:
                node.encode("utf-8")
            except UnicodeEncodeError as error:
                raise BadRequest(f"{subject} contains a lone UTF-16 surrogate.") from error

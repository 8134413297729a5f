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


class DuplicateMember(ValueError):
    """An object names one member twice (RFC 8259 §4: the meaning is then unpredictable)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _unique_members(pairs: list[tuple[str, object]]) -> dict:
    # Parsers disagree on which of two equal names wins (Python keeps the last, others
    # the first), so a proxy or a client could read another event than the one stored.
    members = dict(pairs)
    if len(members) != len(pairs):
        seen = set()
        for name, _ in pairs:
            if name in seen:
                raise DuplicateMember(name)
            seen.add(name)
    return members


def require_media_type(*accepted: str) -> str:
    """The request's media type if it is one of ``accepted``, in UTF-8; 415 otherwise.

    JSON is UTF-8 (RFC 8259 §8.1): a body declared in another charset would be read as
    something other than what its sender meant, so it is refused, not guessed at.
    """
    if request.mimetype not in accepted:
        raise UnsupportedMediaType(
            f"Send the body as {' or '.join(accepted)}"
            f" (got {request.mimetype or 'no Content-Type'})."
        )
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.lower() != "utf-8":
        raise UnsupportedMediaType(f"Send the body in UTF-8 (got charset={charset}).")
    return request.mimetype


def parse_json(raw: bytes, subject: str = "The body") -> object:
    """One JSON text, parsed; 400 (BadRequest) saying why when it is not storable JSON.

    ``subject`` names the text in the messages (a line of NDJSON is "The line").
    """
    try:
        body = json.loads(raw, parse_constant=_reject_constant, object_pairs_hook=_unique_members)
    except UnicodeDecodeError as error:
        raise BadRequest(f"{subject} is not UTF-8 text.") from error
    except RecursionError as error:
        raise BadRequest(f"{subject} nests too deeply.") from error
    except DuplicateMember as error:
        raise BadRequest(
            f"{subject} gives the member {json.dumps(error.name)} twice in one "
            "object; give each member once."
        ) from error
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

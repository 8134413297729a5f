"""Reading a JSON request body: media type (415), size (413), syntax (400)."""

from __future__ import annotations

import json

from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

JSON = "application/json"
MERGE_PATCH_JSON = "application/merge-patch+json"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def json_body(*media_types: str) -> object:
    """The parsed body, if it is one of ``media_types`` (default: application/json)."""
    accepted = media_types or (JSON,)
    if request.mimetype not in accepted:
        raise UnsupportedMediaType(
            f"Send the body as {' or '.join(accepted)}"
            f" (got {request.mimetype or 'no Content-Type'})."
        )
    raw = request.get_data(cache=False)  # MAX_CONTENT_LENGTH applies here: 413
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise BadRequest("The body is not UTF-8 text.") from error
    except (json.JSONDecodeError, ValueError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}.") from error

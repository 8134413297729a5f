"""``Idempotency-Key`` on POST: a retry gets the first response, never a second write.

As Stripe does it: the first 2xx response to a key is kept (per API key, for
``IDEMPOTENCY_TTL_SECONDS``) with a digest of the request. A retry with the same request
gets it again, marked ``Idempotent-Replayed: true``; the same key with another request is
a 422; a retry that arrives while the first is still running is a 409. Errors are not
kept: nothing was written, so a retry is simply processed again.

The record is written in the same transaction as the write it guards, so a crash leaves
neither, and the key is held by a transaction-scoped advisory lock meanwhile.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re

from flask import Response, current_app, request

from service import auth
from service.db import get_db
from service.storage.idempotency import IdempotencyStore, StoredResponse

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as Stripe's keys are
# What a replay repeats of the first response's headers.
KEPT_HEADERS = ("Content-Type", "Location", "ETag")

PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": "Any unique string up to 255 visible ASCII characters (a UUID is a good "
    "choice). A retry with the same key and the same request gets the first "
    "response again, with `Idempotent-Replayed: true`, instead of writing "
    "twice; the same key with another request is a 422; while the first "
    "request is still running, a 409. Kept 24 hours per API key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}
REPLAYED = {
    "description": "`true` when this is the stored response to an earlier request "
    "with the same Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}


class BadIdempotencyKey(Exception):
    """The header is not a usable key (400)."""


class KeyReused(Exception):
    """The key was used before with another request (422)."""


def _request_digest() -> bytes:
    """What makes two requests the same: method, path, query, media type and body bytes."""
    digest = hashlib.sha256()
    for part in (request.method, request.full_path, request.mimetype):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.digest()


def _replay(stored: StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status, headers=stored.headers)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def guarded(view):
    """Run ``view`` under the request's Idempotency-Key, if it sent one.

    Needs the caller: apply inside ``requires_scope``.
    """

    @functools.wraps(view)
    def run(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not _KEY.match(key):
            raise BadIdempotencyKey(key)
        caller = auth.current_caller()
        digest = _request_digest()
        ttl = dt.timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_SECONDS"])
        with get_db().request_transaction() as conn:
            store = IdempotencyStore(conn)
            stored = store.claim(caller.key_id, key)
            if stored is not None:
                if stored.request_hash != digest:
                    raise KeyReused(key)
                return _replay(stored)
            response = current_app.make_response(view(*args, **kwargs))
            if 200 <= response.status_code < 300:
                headers = {
                    name: response.headers[name]
                    for name in KEPT_HEADERS
                    if name in response.headers
                }
                store.save(
                    caller.key_id,
                    key,
                    StoredResponse(digest, response.status_code, headers, response.get_data()),
                    ttl,
                )
        return response

    return run

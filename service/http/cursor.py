"""Opaque, tamper-evident keyset cursors.

A cursor is the sort key of the last row served, signed with HMAC so that a client can
neither forge a position nor use a cursor from another listing (the ``scope``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from flask import current_app

# What a cursor is made of: unpadded URL-safe base64 (RFC 4648 §5).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


class BadCursor(ValueError):
    """The cursor was not made by this service for this listing."""


def _signature(payload: bytes) -> bytes:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, payload, hashlib.sha256).digest()[:16]


def encode(scope: str, position: list) -> str:
    """A cursor for ``position`` (JSON-serialisable values) in listing ``scope``."""
    return sign(json.dumps([scope, position], separators=(",", ":")).encode())


def sign(payload: bytes) -> str:
    """A cursor carrying ``payload``, signed: URL-safe base64 of the signature and it."""
    return base64.urlsafe_b64encode(_signature(payload) + payload).decode().rstrip("=")


def decode(scope: str, token: str) -> list:
    """The position a cursor stands for; ``BadCursor`` if tampered with or foreign."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (ValueError, TypeError) as error:
        raise BadCursor("not a cursor") from error
    signature, payload = raw[:16], raw[16:]
    if not hmac.compare_digest(signature, _signature(payload)):
        raise BadCursor("not a cursor of this service")
    # Signed is not proof of sane: the key may have leaked (or be the public default), so
    # the payload is read as strictly as any input.
    try:
        found_scope, position = json.loads(payload, parse_constant=_no_constant)
    except (ValueError, TypeError, RecursionError) as error:
        raise BadCursor("not a cursor of this service") from error
    if found_scope != scope:
        raise BadCursor("a cursor of another listing")
    return position


def _no_constant(name: str):
    raise ValueError(f"{name} is not a position")

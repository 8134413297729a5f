"""API keys: how they are made and checked, and which scope each request needs.

A key reads ``evs_<prefix>_<secret>``. The prefix finds the stored row (and is safe to
show and log); the whole key is compared by its SHA-256 digest in constant time. Only the
digest is stored, so a copy of the database holds no usable key.

Scopes nest: ``admin`` includes ``write``, which includes ``read``. Writes need ``write``;
reads are open unless ``REQUIRE_READ_KEY`` is set, but a key sent on an open read must
still be a valid one (as GitHub answers bad credentials on public resources). ``metrics``
is the Prometheus scrape's (``/metrics``) and grants nothing else; ``admin`` includes it.
``subscribe`` (with ``read``) manages the caller's own webhook subscriptions and nothing
else, so a consuming service needs no key that can write events; ``admin`` includes it
and sees every subscription.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app, g, request

from service.db import get_db
from service.storage.api_keys import KeyStore

SCOPES = ("read", "write", "admin", "metrics", "subscribe")
_GRANTS = {
    "read": {"read"},
    "write": {"read", "write"},
    "admin": {"read", "write", "admin", "metrics", "subscribe"},
    "metrics": {"metrics"},
    "subscribe": {"read", "subscribe"},
}
KEY_PREFIX = "evs_"
_KEY = re.compile(r"^(evs_[0-9a-f]{10})_[A-Za-z0-9_-]{43}$")
_BEARER = re.compile(r"^Bearer +(\S+) *$", re.IGNORECASE)


class Unauthenticated(Exception):
    """No usable key: missing, malformed, unknown or revoked (401)."""

    def __init__(self, detail: str, *, key_sent: bool):
        super().__init__(detail)
        self.detail = detail
        self.key_sent = key_sent


class InsufficientScope(Exception):
    """A valid key without the scope the operation needs (403)."""

    def __init__(self, scope: str):
        super().__init__(scope)
        self.scope = scope


@dataclass(frozen=True)
class Caller:
    """Who is calling: the API key's id, name and the scopes it grants."""

    key_id: int
    name: str
    scopes: frozenset[str]


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix: ``(prefix, key)``. The key is shown once, never stored."""
    prefix = KEY_PREFIX + secrets.token_hex(5)
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def key_digest(key: str) -> bytes:
    """What is stored of a key: its SHA-256 digest."""
    return hashlib.sha256(key.encode()).digest()


def granted_scopes(scopes: tuple[str, ...]) -> frozenset[str]:
    """The scopes a key's stored scopes grant, nesting included."""
    return frozenset().union(*(_GRANTS[scope] for scope in scopes))


def _authenticate(header: str) -> Caller:
    """The caller a ``Authorization`` header names; raises ``Unauthenticated``."""
    bearer = _BEARER.match(header)
    if bearer is None:
        raise Unauthenticated("Send the API key as `Authorization: Bearer <key>`.", key_sent=True)
    key = bearer.group(1)
    shape = _KEY.match(key)
    keys = KeyStore(get_db())
    found = keys.find(shape.group(1)) if shape else None
    # The digest is compared even when nothing was found, so that an unknown prefix and
    # a wrong secret take the same time.
    stored, digest = found if found else (None, b"\0" * 32)
    if not hmac.compare_digest(key_digest(key), digest) or stored is None:
        raise Unauthenticated("The API key is not valid.", key_sent=True)
    if stored.revoked_at is not None:
        raise Unauthenticated("The API key has been revoked.", key_sent=True)
    keys.mark_used(stored)
    return Caller(stored.id, stored.name, granted_scopes(stored.scopes))


def key_required(scope: str, config: Mapping) -> bool:
    """Whether a request for ``scope`` must send a key under ``config``.

    A ``read`` needs one only when ``REQUIRE_READ_KEY`` is set, ``metrics`` unless
    ``METRICS_PUBLIC`` is; every other scope always does. The spec declares each
    operation's security from this (``service.http.api``).
    """
    if scope == "read":
        return bool(config["REQUIRE_READ_KEY"])
    if scope == "metrics":
        return not config["METRICS_PUBLIC"]
    return True


def authorize(scope: str) -> Caller | None:
    """Check the request's key for ``scope``; the caller, or None for an open anonymous read.

    Without a key, an open read (``key_required``) passes as anonymous; anything else
    raises ``Unauthenticated`` (401). A key without ``scope``: ``InsufficientScope`` (403).
    """
    header = request.headers.get("Authorization")
    if header is None:
        if scope == "read" and not key_required(scope, current_app.config):
            g.caller = None
            return None
        raise Unauthenticated(
            "This operation needs an API key: send `Authorization: Bearer <key>`.", key_sent=False
        )
    caller = _authenticate(header)
    if scope not in caller.scopes:
        raise InsufficientScope(scope)
    g.caller = caller
    return caller


def identify() -> Caller | None:
    """The caller of a request open to anyone: None without a key, but a key that is sent
    must be a valid one (``Unauthenticated``, 401), as on an open read."""
    header = request.headers.get("Authorization")
    g.caller = _authenticate(header) if header is not None else None
    return g.caller


def current_caller() -> Caller | None:
    """The caller ``authorize`` admitted for this request (None: anonymous)."""
    return g.get("caller")


def caller_name() -> str | None:
    """The name of the key behind this request, recorded on what it writes."""
    caller = current_caller()
    return caller.name if caller else None

"""All SQL about API keys: create, find by prefix, list, revoke, mark used."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from service.db import Database

# How stale `last_used_at` may be: refreshing it on every request would make each read a
# write; once a minute is as much as `keys list` needs.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

_COLUMNS = "id, name, prefix, scopes, created_at, last_used_at, revoked_at"


class KeyNameTaken(Exception):
    """Another API key already has this name."""


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored: never the key itself, only its prefix."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _key(row) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], tuple(row[3]), *row[4:7])


class KeyStore:
    """API keys in PostgreSQL."""

    def __init__(self, db: Database):
        self.db = db

    def create(self, name: str, prefix: str, secret_hash: bytes, scopes: list[str]) -> ApiKey:
        """Store a new key's name, prefix, hash and scopes."""
        with self.db.connection() as conn:
            try:
                row = conn.execute(
                    "INSERT INTO api_keys (name, prefix, secret_hash, scopes)"
                    f" VALUES (%s, %s, %s, %s) RETURNING {_COLUMNS}",
                    (name, prefix, secret_hash, scopes),
                ).fetchone()
            except psycopg.errors.UniqueViolation as error:
                raise KeyNameTaken(name) from error
        return _key(row)

    def find(self, prefix: str) -> tuple[ApiKey, bytes] | None:
        """The key with this prefix and its stored hash, revoked or not."""
        with self.db.connection() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS}, secret_hash FROM api_keys WHERE prefix = %s", (prefix,)
            ).fetchone()
        return None if row is None else (_key(row), bytes(row[7]))

    def all(self) -> list[ApiKey]:
        """Every key, oldest first."""
        with self.db.connection() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id").fetchall()
        return [_key(row) for row in rows]

    def revoke(self, name_or_prefix: str) -> ApiKey | None:
        """Revoke the key with this name or prefix (once: a second revoke keeps the first time)."""
        with self.db.connection() as conn:
            row = conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
                f" WHERE name = %(which)s OR prefix = %(which)s RETURNING {_COLUMNS}",
                {"which": name_or_prefix},
            ).fetchone()
        return None if row is None else _key(row)

    def mark_used(self, key: ApiKey) -> None:
        """Record that ``key`` was used now, if its record is more than a minute old."""
        now = dt.datetime.now(dt.UTC)
        if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
            return
        with self.db.connection() as conn:
            conn.execute("UPDATE api_keys SET last_used_at = %s WHERE id = %s", (now, key.id))

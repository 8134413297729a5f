"""All SQL of Idempotency-Key: claiming a key for one request, and its stored response."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

# Expired records each claim deletes on its way: more than it adds, so the table stays
# bounded by a day's keys with no cron job.
SWEEP_BATCH = 10


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a request made with an Idempotency-Key."""

    request_hash: bytes
    status: int
    headers: dict[str, str]
    body: bytes


class KeyInFlight(Exception):
    """Another request with this Idempotency-Key is still running."""


class IdempotencyStore:
    """Idempotency records, read and written on the caller's transaction's connection."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def claim(self, api_key_id: int, key: str) -> StoredResponse | None:
        """Hold ``key`` for this transaction; its stored response, if it has one.

        The hold is an advisory lock, released when the transaction ends however it ends,
        so a crashed request never leaves a key stuck. ``KeyInFlight`` if it is held.
        """
        held = self.conn.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, %s))", (key, api_key_id)
        ).fetchone()[0]
        if not held:
            raise KeyInFlight(key)
        row = self.conn.execute(
            "SELECT request_hash, status, headers, body FROM idempotency_keys"
            " WHERE api_key_id = %s AND key = %s AND expires_at > now()",
            (api_key_id, key),
        ).fetchone()
        return None if row is None else StoredResponse(bytes(row[0]), row[1], row[2], bytes(row[3]))

    def save(self, api_key_id: int, key: str, response: StoredResponse, ttl: dt.timedelta) -> None:
        """Keep ``response`` for ``ttl`` (replacing an expired record), and sweep a few."""
        self.conn.execute(
            "INSERT INTO idempotency_keys"
            " (api_key_id, key, request_hash, status, headers, body, expires_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, now() + %s)"
            " ON CONFLICT (api_key_id, key) DO UPDATE SET request_hash = excluded.request_hash,"
            "   status = excluded.status, headers = excluded.headers, body = excluded.body,"
            "   created_at = now(), expires_at = excluded.expires_at",
            (
                api_key_id,
                key,
                response.request_hash,
                response.status,
                Jsonb(response.headers),
                response.body,
                ttl,
            ),
        )
        self.conn.execute(
            "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY("
            " SELECT ctid FROM idempotency_keys WHERE expires_at < now()"
            " ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED))",
            (SWEEP_BATCH,),
        )

"""All SQL of webhook subscriptions: what each wants, where it stands in the change feed,
and who is delivering to it now.

A subscription is leased to one deliverer at a time with a session-level advisory lock,
not with ``SELECT … FOR UPDATE`` held while delivering: a row lock gives its transaction
an id, and an open transaction with an id holds back the change feed's horizon
(``feed_horizon()``) for every reader. An advisory lock takes no transaction, and
PostgreSQL drops it the moment the holder's connection goes, so a deliverer killed with
SIGKILL frees its subscriptions at once and the next one resumes from the committed
position: what was in flight is delivered again (at least once).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from service.storage.changes import FeedPosition

# The first key of the two-key advisory locks taken here; the second is a hash of the
# subscription's id. ('w','h' in ASCII: no other lock of the service uses it.)
LEASE_NAMESPACE = 0x7768
STATUSES = ("active", "disabled")


class SubscriptionNotFound(Exception):
    """No subscription with this id (that the caller may see)."""


@dataclass(frozen=True)
class Subscription:
    """A subscription as stored."""

    id: uuid.UUID
    url: str
    filter: dict
    description: str | None
    status: str
    disabled_reason: str | None
    failing_since: dt.datetime | None
    position: FeedPosition
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: dt.datetime | None
    owner_key_id: int | None
    created_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def signing_secrets(self, now: dt.datetime) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and the previous
        one while its rotation window lasts."""
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and now < (self.previous_secret_expires_at)
        ):
            return [self.secret, self.previous_secret]
        return [self.secret]


_COLUMNS = (
    "id, url, filter, description, status, disabled_reason, failing_since,"
    " position_txid::text AS position_txid, position_seq, secret, previous_secret,"
    " previous_secret_expires_at, owner_key_id, created_by, created_at, updated_at"
)


def _subscription(row: dict) -> Subscription:
    txid, seq = int(row.pop("position_txid")), row.pop("position_seq")
    return Subscription(position=FeedPosition(txid, seq), **row)


def _owned(owner_key_id: int | None) -> tuple[str, tuple]:
    """The condition limiting rows to one owner's (None: every row, for admin keys)."""
    if owner_key_id is None:
        return "TRUE", ()
    return "owner_key_id = %s", (owner_key_id,)


def create(
    conn: psycopg.Connection,
    *,
    url: str,
    filter: dict,
    description: str | None,
    secret: str,
    start: FeedPosition,
    owner_key_id: int | None,
    created_by: str | None,
) -> Subscription:
    """Store a new subscription that delivers the changes after ``start``."""
    row = conn.cursor(row_factory=dict_row).execute(
        "INSERT INTO subscriptions (id, url, filter, description, secret, position_txid,"
        " position_seq, owner_key_id, created_by)"
        f" VALUES (%s, %s, %s, %s, %s, %s::text::xid8, %s, %s, %s) RETURNING {_COLUMNS}",
        (
            uuid.uuid4(),
            url,
            json.dumps(filter),
            description,
            secret,
            str(start.txid),
            start.seq,
            owner_key_id,
            created_by,
        ),
    )
    return _subscription(row.fetchone())


def get(conn: psycopg.Connection, subscription_id: uuid.UUID, owner_key_id: int | None = None):
    """One subscription; ``SubscriptionNotFound`` if it is not there (or not the owner's)."""
    condition, params = _owned(owner_key_id)
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"SELECT {_COLUMNS} FROM subscriptions WHERE id = %s AND {condition}",
            (subscription_id, *params),
        )
        .fetchone()
    )
    if row is None:
        raise SubscriptionNotFound(subscription_id)
    return _subscription(row)


def listing(conn: psycopg.Connection, owner_key_id: int | None) -> list[Subscription]:
    """Every subscription the owner may see, oldest first."""
    condition, params = _owned(owner_key_id)
    rows = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM subscriptions WHERE {condition} ORDER BY created_at, id", params
    )
    return [_subscription(row) for row in rows]


def update(
    conn: psycopg.Connection,
    subscription_id: uuid.UUID,
    owner_key_id: int | None,
    changes: dict,
) -> Subscription:
    """Change url, filter, description or status. Enabling a disabled subscription clears
    its reason and its failures and queues its failed deliveries again."""
    with conn.transaction():
        current = get(conn, subscription_id, owner_key_id)
        url = changes.get("url", current.url)
        filter = changes.get("filter", current.filter)
        description = changes.get("description", current.description)
        status = changes.get("status", current.status)
        enabling = status == "active" and current.status != "active"
        conn.execute(
            "UPDATE subscriptions SET url = %s, filter = %s, description = %s, status = %s,"
            " disabled_reason = CASE WHEN %s = 'active' THEN NULL"
            "   ELSE coalesce(disabled_reason, 'disabled through the API') END,"
            " failing_since = CASE WHEN %s THEN NULL ELSE failing_since END,"
            " updated_at = now() WHERE id = %s",
            (url, json.dumps(filter), description, status, status, enabling, subscription_id),
        )
        if enabling:
            conn.execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = now()"
                " WHERE subscription_id = %s AND status = 'failed'",
                (subscription_id,),
            )
        return get(conn, subscription_id)


def delete(conn: psycopg.Connection, subscription_id: uuid.UUID, owner_key_id: int | None):
    """Remove a subscription and its deliveries."""
    condition, params = _owned(owner_key_id)
    deleted = conn.execute(
        f"DELETE FROM subscriptions WHERE id = %s AND {condition}", (subscription_id, *params)
    ).rowcount
    if not deleted:
        raise SubscriptionNotFound(subscription_id)


def rotate_secret(
    conn: psycopg.Connection,
    subscription_id: uuid.UUID,
    owner_key_id: int | None,
    secret: str,
    overlap: dt.timedelta,
) -> Subscription:
    """Make ``secret`` the signing secret; the one it replaces still signs for ``overlap``."""
    condition, params = _owned(owner_key_id)
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "UPDATE subscriptions SET previous_secret = secret, secret = %s,"
            " previous_secret_expires_at = now() + %s, updated_at = now()"
            f" WHERE id = %s AND {condition} RETURNING {_COLUMNS}",
            (secret, overlap, subscription_id, *params),
        )
        .fetchone()
    )
    if row is None:
        raise SubscriptionNotFound(subscription_id)
    return _subscription(row)


def active_ids(conn: psycopg.Connection) -> list[uuid.UUID]:
    """The ids of the subscriptions that are delivering."""
    return [row[0] for row in conn.execute("SELECT id FROM subscriptions WHERE status = 'active'")]


def try_lease(conn: psycopg.Connection, subscription_id: uuid.UUID | str) -> bool:
    """Take the subscription (or a publisher, by name) for this connection's session;
    False when another session has it."""
    return conn.execute(
        "SELECT pg_try_advisory_lock(%s, hashtext(%s::text))", (LEASE_NAMESPACE, subscription_id)
    ).fetchone()[0]


def release(conn: psycopg.Connection, subscription_id: uuid.UUID | str) -> None:
    """Give the subscription back."""
    conn.execute(
        "SELECT pg_advisory_unlock(%s, hashtext(%s::text))", (LEASE_NAMESPACE, subscription_id)
    )


def advance(
    conn: psycopg.Connection,
    subscription_id: uuid.UUID,
    position: FeedPosition,
    succeeded: bool | None = None,
) -> None:
    """Move the subscription's position (in the transaction that records its deliveries),
    and note how its last attempt went (``note_outcome``), if one was made."""
    conn.execute(
        "UPDATE subscriptions SET position_txid = %s::text::xid8, position_seq = %s,"
        " failing_since = CASE WHEN %s::bool IS NULL THEN failing_since WHEN %s::bool THEN NULL"
        "   ELSE coalesce(failing_since, now()) END WHERE id = %s",
        (str(position.txid), position.seq, succeeded, succeeded, subscription_id),
    )


def note_outcome(conn: psycopg.Connection, subscription_id: uuid.UUID, succeeded: bool) -> None:
    """A success ends a failing streak; a failure starts one if none is running."""
    conn.execute(
        "UPDATE subscriptions SET failing_since ="
        " CASE WHEN %s THEN NULL ELSE coalesce(failing_since, now()) END WHERE id = %s",
        (succeeded, subscription_id),
    )


def disable(conn: psycopg.Connection, subscription_id: uuid.UUID, reason: str) -> None:
    """Stop delivering, say why, and mark what was still waiting as failed."""
    with conn.transaction():
        conn.execute(
            "UPDATE subscriptions SET status = 'disabled', disabled_reason = %s,"
            " updated_at = now() WHERE id = %s",
            (reason, subscription_id),
        )
        conn.execute(
            "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL"
            " WHERE subscription_id = %s AND status = 'pending'",
            (subscription_id,),
        )

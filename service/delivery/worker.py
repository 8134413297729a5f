"""The deliverer: follows the change feed for every subscription and sends each change.

Why a cursor per subscription over the change feed, not a queue of jobs (procrastinate,
or a table read with ``FOR UPDATE SKIP LOCKED``): the feed is already the ordered,
durable log of every change, each event's versions in order (``storage.changes``). A
queue would copy every change once per subscription on the write path, inside the
writer's transaction or behind a trigger, and a job lock per event would then restore
the order the feed has for free. Here the write path does nothing more; a subscription
is a position in the feed; a backfill is a subscription made with an older position;
and per-event order holds because each subscription reads the feed in order.

Retries do not hold the other events back: a change that fails is recorded as a pending
delivery with its next attempt time, the position moves on, and later changes of *that*
event queue behind it (``deliveries.waiting_events``) so that no version overtakes the
one before it. Other events keep flowing.

One process leases a subscription at a time (``storage.subscriptions``: an advisory
lock on a connection of its own), so two deliverers never send the same change in the
normal path. Deliveries and the position move in one transaction after the attempts:
killed mid-delivery, nothing is recorded, and the next holder sends those changes again.
SIGTERM: no new attempt starts, those in flight finish and are recorded, and what was
not yet tried is queued, so nothing waits for a lease to be found free.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import psycopg

from service.db import Database
from service.delivery import cloudevent, filters, signing
from service.delivery.backoff import retry_delay
from service.delivery.feed import FeedWindow, RenderedBodies
from service.delivery.http1 import Http1Client, HttpError
from service.delivery.running import on_connection, sleep_unless
from service.delivery.targets import RefusedTarget, ResolvedTargets, TargetPolicy
from service.metrics import instruments
from service.storage import deliveries, subscriptions
from service.storage.changes import FeedPosition
from service.storage.deliveries import Change, Outcome, Retried, RowCache
from service.storage.subscriptions import Subscription, SubscriptionNotFound

log = logging.getLogger("service.delivery")
# How often the deliverer looks for subscriptions to take, and refreshes the queue gauge.
SCAN_SECONDS = 1.0
# A lease is given back after this long, so that deliverers started later get a share.
LEASE_SECONDS = 60.0
# An idle subscription wakes when the feed grows, and at least this often (in polls) to
# try what is due again and to see a change of its settings.
IDLE_POLLS = 10
# What a target's name resolved to is used this long (the guard still checks it).
RESOLVE_SECONDS = 5.0
# How often delivered rows past their retention are deleted, how many per statement, and
# the lease that lets one deliverer at a time do it.
PRUNE_SECONDS = 600.0
PRUNE_BATCH = 10_000
PRUNE_LEASE = "prune:deliveries"


@dataclass(frozen=True)
class Attempt:
    """What one POST of a change came to."""

    outcome: str  # delivered | failed | gone | refused
    status_code: int | None
    error: str | None
    at: dt.datetime

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


@dataclass(frozen=True)
class StepRead:
    """What one step of a subscription reads, in one visit to the database."""

    subscription: Subscription
    due: list[deliveries.QueuedDelivery]
    changes: list[Change]  # past the position, those the filter takes
    reached: FeedPosition
    waiting: set[uuid.UUID]


@dataclass(frozen=True)
class Settings:
    """The WEBHOOKS_* settings the deliverer reads."""

    public_url: str
    policy: TargetPolicy
    timeout: float
    max_response_bytes: int
    retry_base: float
    retry_max: float
    disable_after: dt.timedelta
    poll: float
    batch: int
    concurrency: int
    connections_per_target: int
    retention: dt.timedelta | None  # of delivered rows; None: kept for ever

    @classmethod
    def from_config(cls, config) -> Settings:
        return cls(
            config["PUBLIC_URL"],
            TargetPolicy.from_config(config),
            config["WEBHOOKS_TIMEOUT_SECONDS"],
            config["WEBHOOKS_MAX_RESPONSE_BYTES"],
            config["WEBHOOKS_RETRY_BASE_SECONDS"],
            config["WEBHOOKS_RETRY_MAX_SECONDS"],
            dt.timedelta(days=config["WEBHOOKS_DISABLE_AFTER_DAYS"]),
            config["WEBHOOKS_POLL_SECONDS"],
            config["WEBHOOKS_BATCH_SIZE"],
            config["WEBHOOKS_CONCURRENCY"],
            config["WEBHOOKS_CONNECTIONS_PER_TARGET"],
            dt.timedelta(days=config["WEBHOOKS_DELIVERIES_RETENTION_DAYS"])
            if config["WEBHOOKS_DELIVERIES_RETENTION_DAYS"] > 0
            else None,
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Deliverer:
    """Delivers to every subscription it can lease, until ``stop`` is set."""

    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings
        # Leases live in this session: its end (however the process ends) frees them.
        self.leases = psycopg.connect(db.url, autocommit=True)
        self.client = Http1Client(
            settings.timeout, settings.max_response_bytes, settings.connections_per_target
        )
        self.targets = ResolvedTargets(settings.policy, RESOLVE_SECONDS)
        self.feed = FeedWindow(db, settings.poll)
        self.bodies = RenderedBodies(settings.public_url)
        self.rows = RowCache()
        self.metrics = instruments()
        self.outcomes = {}  # outcome -> its counter (labels() looked up once)
        self.held: dict[uuid.UUID, asyncio.Task] = {}

    async def _db(self, function, *args):
        return await on_connection(self.db, function, *args)

    async def _lease(self, function, subscription_id: uuid.UUID):
        return await asyncio.to_thread(function, self.leases, subscription_id)

    async def run(self, stop: asyncio.Event) -> None:
        """Take free subscriptions as they appear; give them back when stopping."""
        background = [
            asyncio.create_task(self.feed.run(stop)),
            asyncio.create_task(self._prune_every(stop)),
        ]
        try:
            while not stop.is_set():
                for subscription_id in await self._db(subscriptions.active_ids):
                    if subscription_id in self.held:
                        continue
                    if await self._lease(subscriptions.try_lease, subscription_id):
                        self.held[subscription_id] = asyncio.create_task(
                            self.follow(subscription_id, stop)
                        )
                await self._reap()
                self.metrics.webhook_queue_depth.set(await self._db(deliveries.queue_depth))
                await sleep_unless(stop, SCAN_SECONDS)
        finally:
            await asyncio.gather(*self.held.values(), return_exceptions=True)
            await self._reap()
            await asyncio.gather(*background, return_exceptions=True)
            await self.client.aclose()
            self.leases.close()

    async def _prune_every(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.prune(stop)
            except Exception:  # a failed pass is tried again next time; delivery goes on
                log.exception("pruning the delivery log failed")
            await sleep_unless(stop, PRUNE_SECONDS)

    async def prune(self, stop: asyncio.Event) -> int:
        """Delete the delivered rows past their retention (one deliverer at a time)."""
        if self.settings.retention is None:
            return 0
        if not await self._lease(subscriptions.try_lease, PRUNE_LEASE):
            return 0
        deleted = 0
        try:
            while not stop.is_set():
                batch = await self._db(
                    deliveries.prune_delivered, self.settings.retention, PRUNE_BATCH
                )
                deleted += batch
                if batch < PRUNE_BATCH:
                    break
        finally:
            await self._lease(subscriptions.release, PRUNE_LEASE)
        if deleted:
            log.info("delivery log pruned", extra={"deleted": deleted})
        return deleted

    async def _reap(self) -> None:
        for subscription_id, task in list(self.held.items()):
            if task.done():
                del self.held[subscription_id]
                if not task.cancelled() and task.exception() is not None:
                    log.error(
                        "deliverer failed",
                        exc_info=task.exception(),
                        extra={"subscription_id": str(subscription_id)},
                    )
                await self._lease(subscriptions.release, subscription_id)

    async def follow(self, subscription_id: uuid.UUID, stop: asyncio.Event) -> None:
        """Deliver to one leased subscription while it is active (and the lease lasts)."""
        leased_until = time.monotonic() + LEASE_SECONDS
        while not stop.is_set() and time.monotonic() < leased_until:
            read = await self._db(self._read, subscription_id)
            if read is None:
                return  # deleted or disabled
            worked = await self.step(read, stop)
            # Whether to wait for the window to grow is decided here, on the loop, from
            # the window as it is now, not as the read in its thread saw it: a growth in
            # between would otherwise go unnoticed until the next one. After a step that
            # sent, read again only if there is more (not to find nothing, every step).
            more = self.feed.has_after(read.reached)
            if more is False and len(read.due) == self.settings.batch:
                more = None  # a full batch of retries: there may be more due
            if more is False or (not worked and more is None):
                await self.feed.wait(stop, self.settings.poll * IDLE_POLLS)

    def _read(self, conn, subscription_id: uuid.UUID) -> StepRead | None:
        """The subscription, its due retries and its new changes, on one connection."""
        try:
            subscription = subscriptions.get(conn, subscription_id)
        except SubscriptionNotFound:
            return None
        if subscription.status != "active":
            return None
        due = deliveries.due(conn, subscription.id, self.settings.batch)
        held = self.feed.after(subscription.position, self.settings.batch)
        if held is None:  # behind the window: from the database
            held = deliveries.changes_after(conn, subscription.position, self.settings.batch)
        changes, reached = held
        args = filters.search_args(subscription.filter)
        changes = deliveries.matching(conn, changes, args, self.rows)
        waiting = set()
        if changes:
            waiting = deliveries.waiting_events(
                conn, subscription.id, list({c.event_id for c in changes})
            )
        return StepRead(subscription, due, changes, reached, waiting)

    async def step(self, read: StepRead, stop: asyncio.Event) -> bool:
        """Retry what is due, then send the changes past the position; True if any."""
        subscription = read.subscription
        retried = await self._retry_due(subscription, read.due, stop)
        if read.reached == subscription.position:
            return retried
        chains: OrderedDict[uuid.UUID, list[Change]] = OrderedDict()
        for change in read.changes:
            chains.setdefault(change.event_id, []).append(change)
        signing_secrets = subscription.signing_secrets(_now())
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def send_chain(chain: list[Change]) -> list[tuple[Change, Attempt | None]]:
            results: list[tuple[Change, Attempt | None]] = []
            blocked = chain[0].event_id in read.waiting
            for change in chain:
                if blocked or stop.is_set():
                    results.append((change, None))  # queued behind, or left for later
                    continue
                async with limit:
                    attempt = await self.attempt(subscription, signing_secrets, change, 1)
                results.append((change, attempt))
                blocked = not attempt.delivered
            return results

        sent = await asyncio.gather(*(send_chain(chain) for chain in chains.values()))
        outcomes = [self._outcome(change, attempt) for chain in sent for change, attempt in chain]
        attempts = [attempt for chain in sent for _, attempt in chain if attempt is not None]
        await self._db(self._record_new, subscription.id, outcomes, read.reached, attempts)
        await self._after_attempts(subscription, attempts)
        return True

    def _outcome(self, change: Change, attempt: Attempt | None) -> Outcome:
        if attempt is None:
            return Outcome(change, "pending", 0, next_attempt_at=_now())
        if attempt.delivered:
            return Outcome(change, "delivered", 1, attempt.status_code, None, attempt.at)
        return Outcome(
            change,
            "pending",
            1,
            attempt.status_code,
            attempt.error,
            attempt.at,
            attempt.at + dt.timedelta(seconds=self._delay(1)),
        )

    def _delay(self, attempts: int) -> float:
        return retry_delay(attempts, self.settings.retry_base, self.settings.retry_max)

    @staticmethod
    def _record_new(conn, subscription_id, outcomes, reached, attempts) -> None:
        # Pipelined: the transaction's five statements go in one round trip, not five.
        with conn.pipeline(), conn.transaction():
            deliveries.commit_without_waiting_for_disk(conn)
            deliveries.record(conn, subscription_id, outcomes)
            subscriptions.advance(
                conn, subscription_id, reached, attempts[-1].delivered if attempts else None
            )

    async def _retry_due(
        self,
        subscription: Subscription,
        queued: list[deliveries.QueuedDelivery],
        stop: asyncio.Event,
    ) -> bool:
        if not queued:
            return False
        signing_secrets = subscription.signing_secrets(_now())
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def retry(item: deliveries.QueuedDelivery) -> tuple[Retried, Attempt] | None:
            if stop.is_set():
                return None
            async with limit:
                attempt = await self.attempt(
                    subscription, signing_secrets, item.change, item.attempts + 1
                )
            next_at = None
            if not attempt.delivered:
                next_at = attempt.at + dt.timedelta(seconds=self._delay(item.attempts + 1))
            return Retried(
                item.id, attempt.delivered, attempt.status_code, attempt.error, attempt.at, next_at
            ), attempt

        done = [r for r in await asyncio.gather(*map(retry, queued)) if r is not None]
        if not done:
            return False
        attempts = [attempt for _, attempt in done]
        await self._db(self._record_retries, subscription.id, [r for r, _ in done], attempts)
        await self._after_attempts(subscription, attempts)
        return True

    @staticmethod
    def _record_retries(conn, subscription_id, retried, attempts) -> None:
        with conn.pipeline(), conn.transaction():
            deliveries.commit_without_waiting_for_disk(conn)
            deliveries.note_attempts(conn, retried)
            subscriptions.note_outcome(conn, subscription_id, attempts[-1].delivered)

    async def _after_attempts(self, subscription: Subscription, attempts: list[Attempt]) -> None:
        """Disable the subscription on a 410, or after failing for too long."""
        reason = None
        if any(a.outcome == "gone" for a in attempts):
            reason = "The subscriber answered 410 Gone."
        elif attempts and not attempts[-1].delivered:
            current = await self._db(subscriptions.get, subscription.id)
            if current.failing_since and _now() - current.failing_since > (
                self.settings.disable_after
            ):
                last = attempts[-1]
                reason = (
                    f"Every attempt failed for more than {self.settings.disable_after.days} "
                    f"days; the last: {last.error or last.status_code}."
                )
        if reason:
            await self._db(subscriptions.disable, subscription.id, reason)
            log.warning(
                "subscription disabled",
                extra={"subscription_id": str(subscription.id), "reason": reason},
            )

    async def attempt(
        self, subscription: Subscription, signing_secrets: list[str], change: Change, number: int
    ) -> Attempt:
        """POST one change to the subscriber, and log and count what came of it."""
        started = time.perf_counter()
        at = _now()
        body = self.bodies.body(change)
        headers = signing.headers(signing_secrets, change.id, int(at.timestamp()), body)
        try:
            target = await self.targets.resolve(subscription.url)
            attempt = await self._post(target, body, headers, at)
        except RefusedTarget as refused:
            attempt = Attempt("refused", None, refused.reason, at)
        seconds = time.perf_counter() - started
        counter = self.outcomes.get(attempt.outcome)
        if counter is None:
            counter = self.outcomes[attempt.outcome] = self.metrics.webhook_attempts.labels(
                attempt.outcome
            )
        counter.inc()
        self.metrics.webhook_attempt_seconds.observe(seconds)
        if attempt.delivered:
            self.metrics.webhook_lag_seconds.observe((_now() - change.recorded_at).total_seconds())
        if log.isEnabledFor(logging.INFO):  # the extra fields cost, even when not written
            log.info(
                "webhook attempt",
                extra={
                    "subscription_id": str(subscription.id),
                    "change_id": change.id,
                    "event_id": str(change.event_id),
                    "version": change.version,
                    "attempt": number,
                    "outcome": attempt.outcome,
                    "status": attempt.status_code,
                    "error": attempt.error,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
        return attempt

    async def _post(self, target, body: bytes, headers: dict, at: dt.datetime) -> Attempt:
        request_headers = headers | {
            "Content-Type": cloudevent.CONTENT_TYPE,
            "User-Agent": "events-service-webhooks/1",
        }
        try:
            status = await self.client.post(target, request_headers, body)
        except HttpError as error:
            return Attempt("failed", None, str(error)[:500], at)
        if 200 <= status < 300:
            return Attempt("delivered", status, None, at)
        if status == 410:
            return Attempt("gone", status, "410 Gone", at)
        if 300 <= status < 400:
            return Attempt("failed", status, "Redirects are not followed.", at)
        return Attempt("failed", status, f"Answered {status}.", at)

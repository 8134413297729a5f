"""Rate limits per API key (per client address for anonymous reads), shared by instances.

Built on ``limits`` (the library under Flask-Limiter) rather than Flask-Limiter itself:
the limit depends on the API key, which is known only once ``requires_scope`` has
checked it, so the check runs there and not in a before-request hook that could only
trust what the client claims. Counts live in ``RATE_LIMIT_STORAGE_URL``: Redis in
production (every worker and instance shares it), process memory in development.
If the store cannot be reached, requests go through (fail open) and a warning is logged.

Answers carry the IETF draft's headers: ``RateLimit-Policy: "write";q=600;w=60`` and
``RateLimit: "write";r=599;t=42``; a request over the limit is a 429 problem with them
and ``Retry-After``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, g, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from service.auth import Caller

log = logging.getLogger(__name__)
_EXTENSION = "events_rate_limiter"
# A store that does not answer in this long is taken as down: requests must not wait.
STORE_TIMEOUT_SECONDS = 0.25
# At most one warning this often while the store is down, not one per request.
WARN_EVERY_SECONDS = 30
# How often the in-process store drops the windows no request has read since they ended.
SWEEP_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class Verdict:
    """One request's standing under its policy."""

    policy: str
    limit: RateLimitItem
    remaining: int
    reset_in: int  # seconds until the window has room again

    def headers(self) -> dict[str, str]:
        window = self.limit.get_expiry()
        return {
            "RateLimit-Policy": f'"{self.policy}";q={self.limit.amount};w={window}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset_in}',
        }


class SweepingMemoryStorage(MemoryStorage):
    """``limits``' in-process store (``memory://``), expiring counts without a thread.

    Its own expiry runs on a ``threading.Timer`` of 10 ms that each count restarts once it
    has ended: under load a new thread every 10 ms per worker, and the request that starts
    it waits for it to run (a fifth of the requests, and most of the limiter's cost, at
    the benchmark's rate). Here a count restarts nothing; instead the request that comes
    after ``SWEEP_EVERY_SECONDS`` sweeps the ended windows itself. Expired counts are
    dropped as they are read either way, so the counts are the same; only the memory of
    keys no request reads again is freed a little later.

    Overrides a name-mangled method of limits 5 (pinned `<6`):
    tests/test_rate_limits.py fails if a release stops calling it.
    """

    STORAGE_SCHEME = None  # not registered: ``memory://`` still names limits' own

    def __init__(self, uri: str | None = None, **options):
        super().__init__(uri, **options)
        self.timer.cancel()  # the one the constructor started
        self._swept_at = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (its mangled name)
        now = time.monotonic()
        if now - self._swept_at >= SWEEP_EVERY_SECONDS:
            self._swept_at = now
            self._MemoryStorage__expire_events()


def _storage(url: str, **options):
    """The store ``url`` names, the in-process one being ``SweepingMemoryStorage``."""
    if url.startswith("memory://"):
        return SweepingMemoryStorage(url, **options)
    return storage_from_string(url, **options)


class RateLimited(Exception):
    """Over the limit (429)."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.policy)
        self.verdict = verdict


class RateLimiter:
    """The app's policies and the store their counts live in."""

    def __init__(self, app: Flask):
        config = app.config
        self.policies = {
            name: parse(config[f"RATE_LIMIT_{name.upper()}"])
            for name in ("write", "read", "anonymous")
        }
        options = {}
        if config["RATE_LIMIT_STORAGE_URL"].startswith(("redis://", "rediss://")):
            options = {
                "socket_timeout": STORE_TIMEOUT_SECONDS,
                "socket_connect_timeout": STORE_TIMEOUT_SECONDS,
                # Deployments sharing one Redis (staging, production) count apart.
                "key_prefix": config["RATE_LIMIT_KEY_PREFIX"],
            }
        self.limiter = SlidingWindowCounterRateLimiter(
            _storage(config["RATE_LIMIT_STORAGE_URL"], **options)
        )
        self._warned_at = 0.0

    def check(self, scope: str, caller: Caller | None) -> Verdict | None:
        """Count this request; raise ``RateLimited`` when over. None if the store is down."""
        policy = "anonymous" if caller is None else ("write" if scope != "read" else "read")
        who = f"address:{request.remote_addr}" if caller is None else f"key:{caller.key_id}"
        limit = self.policies[policy]
        try:
            allowed = self.limiter.hit(limit, policy, who)
            stats = self.limiter.get_window_stats(limit, policy, who)
        except Exception as error:  # any store failure: fail open, say so
            self._warn(error)
            return None
        verdict = Verdict(
            policy, limit, stats.remaining, max(0, math.ceil(stats.reset_time - time.time()))
        )
        if not allowed:
            raise RateLimited(verdict)
        return verdict

    def _warn(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning("rate-limit store unreachable, requests are not limited: %s", error)


def check(scope: str, caller: Caller | None) -> None:
    """Apply the request's rate limit; its headers are added to the answer."""
    verdict = current_app.extensions[_EXTENSION].check(scope, caller)
    if verdict is not None:
        g.rate_limit = verdict


def _add_headers(response):
    verdict = g.get("rate_limit")
    if verdict is not None:
        response.headers.update(verdict.headers())
    return response


def init_app(app: Flask) -> None:
    """Bind the limiter to ``app``."""
    app.extensions[_EXTENSION] = RateLimiter(app)
    app.after_request(_add_headers)

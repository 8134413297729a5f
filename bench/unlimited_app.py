"""The service with its rate-limit check made a no-op: the baseline its cost is measured
against (bench/edge.py). Benchmark only: the service itself has no switch to turn it off."""

from flask import Flask

from service import create_app as create_service
from service.http import rate_limits


class _NoLimits:
    def check(self, scope, caller):
        """Count nothing, limit nothing."""
        return None


def create_app() -> Flask:
    """The service, every request let through without counting."""
    app = create_service()
    for name, extension in list(app.extensions.items()):
        if isinstance(extension, rate_limits.RateLimiter):
            app.extensions[name] = _NoLimits()
    return app

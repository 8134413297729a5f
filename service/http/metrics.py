"""``/metrics``: the Prometheus scrape, for ``metrics`` (or ``admin``) keys, or open to
anyone when ``METRICS_PUBLIC`` is set."""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView

from service import auth, metrics
from service.http.api import REQUIRED_SCOPE, ApiBlueprint
from service.http.problems import response_name
from service.replica import get_read_db, get_replica
from service.storage.stats import live_events_by_type

blp = ApiBlueprint("metrics", __name__, description="Prometheus metrics.")


@blp.route("/metrics")
class Metrics(MethodView):
    """The service's metrics."""

    @blp.doc(
        operationId="getMetrics",
        **{REQUIRED_SCOPE: "metrics"},
        responses={
            "200": {
                "description": "Every metric, in the Prometheus text format "
                "(summed over gunicorn's workers).",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    @blp.alt_response(401, response=response_name(401))
    @blp.alt_response(403, response=response_name(403))
    @blp.uses_database
    def get(self):
        """Prometheus metrics

        Requests by route template, method and status; latency by route; the database
        pools; database errors by kind; live events by type (recounted at most every
        `EVENTS_COUNT_INTERVAL_SECONDS`). Needs a key with the `metrics` scope (or
        `admin`), unless the server sets `METRICS_PUBLIC=true`; a key that is sent must be
        valid either way.
        """
        if not auth.key_required("metrics", current_app.config):
            auth.identify()
        else:
            auth.authorize("metrics")
        current_app.extensions[metrics.EXTENSION].refresh(
            lambda: live_events_by_type(get_read_db())
        )
        replica = get_replica()
        if replica is not None and (lag := replica.replay_lag()) is not None:
            metrics.instruments().replica_lag.set(lag)
        return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE)

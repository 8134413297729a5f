"""Liveness and readiness probes."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from service.db import get_db
from service.http.api import ApiBlueprint
from service.storage.stats import check_ready

blp = ApiBlueprint("operations", __name__, description="Health and readiness probes.")


class Health(ma.Schema):
    """A probe's answer."""

    status = ma.fields.String(required=True, metadata={"examples": ["ok"]})


@blp.route("/healthz")
class Liveness(MethodView):
    """The process."""

    @blp.doc(operationId="getHealth")
    @blp.response(200, Health)
    def get(self):
        """Liveness probe

        200 while the process serves requests; does not touch the database.
        """
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    """The process and its database."""

    @blp.doc(operationId="getReadiness")
    @blp.response(200, Health)
    @blp.uses_database
    def get(self):
        """Readiness probe

        200 when the database answers; 503 problem+json otherwise.
        """
        check_ready(get_db())
        return {"status": "ok"}

"""``/v1/event-types``: the kinds of event and each kind's JSON Schema."""

from __future__ import annotations

import inspect
import json

import marshmallow as ma
from flask import Response, url_for
from flask.views import MethodView
from werkzeug.exceptions import NotFound

from schemas import EVENT_KINDS
from service.http.api import ApiBlueprint, current_api

blp = ApiBlueprint(
    "event-types",
    __name__,
    url_prefix="/v1/event-types",
    description="The kinds of event and their schemas.",
)


class EventType(ma.Schema):
    """A kind of event."""

    type = ma.fields.String(required=True, metadata={"examples": ["deployment"]})
    description = ma.fields.String(required=True)
    schema_url = ma.fields.String(
        required=True, metadata={"description": "Where its JSON Schema is served."}
    )


class EventTypeList(ma.Schema):
    """Every kind of event."""

    items = ma.fields.List(ma.fields.Nested(EventType), required=True)


@blp.route("")
class EventTypes(MethodView):
    """The registry of kinds."""

    @blp.requires_scope("read")
    @blp.doc(operationId="listEventTypes")
    @blp.response(200, EventTypeList)
    def get(self):
        """List the kinds of event

        Each kind has its own schema for `details`; `schema_url` serves it.
        """
        return {
            "items": [
                {
                    "type": kind,
                    "description": inspect.getdoc(schema).removeprefix(f"A `{kind}` event. "),
                    "schema_url": url_for("event-types.EventTypeSchema", kind=kind),
                }
                for kind, schema in sorted(EVENT_KINDS.items())
            ]
        }


@blp.route(
    "/<string:kind>",
    parameters=[
        {
            "in": "path",
            "name": "kind",
            "description": "A kind of event, as `type` names it.",
            "schema": {"type": "string", "enum": sorted(EVENT_KINDS)},
            "example": "meeting",
        }
    ],
)
class EventTypeSchema(MethodView):
    """One kind's schema."""

    @blp.requires_scope("read")
    @blp.doc(operationId="getEventTypeSchema")
    @blp.response(
        200,
        {"type": "object", "description": "A JSON Schema (draft 2020-12)."},
        content_type="application/schema+json",
    )
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, kind: str):
        """Get a kind's JSON Schema

        The whole event of that kind (envelope and `details`) as a JSON Schema 2020-12
        document, self-contained: what it refers to is under `$defs`.
        """
        if kind not in EVENT_KINDS:
            raise NotFound(f"No event type {kind!r}; GET /v1/event-types lists them.")
        document = current_api().json_schema(EVENT_KINDS[kind].__name__)
        return Response(json.dumps(document), mimetype="application/schema+json")

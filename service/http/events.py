"""``/v1/events``: create, read, replace, patch, delete, list, revisions."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import marshmallow as ma
from flask import Response, url_for
from flask.views import MethodView

from schemas import Event
from service.http import conditional, merge_patch
from service.http import cursor as cursors
from service.http.api import ApiBlueprint
from service.http.body import JSON, MERGE_PATCH_JSON, json_body
from service.http.problems import ParameterError
from service.storage import event_store
from service.storage.events import StoredEvent

blp = ApiBlueprint("events", __name__, url_prefix="/v1/events",
                   description="Create, read, change and delete events.")
EVENT = Event()

ETAG_HEADER = {"description": "The event's version, for If-Match and If-None-Match.",
               "schema": {"type": "string", "examples": ['"v1"']}}
IF_MATCH = {"in": "header", "name": "If-Match", "required": False,
            "description": "The ETag last read; the write fails with 412 if the event has "
                           "changed since.",
            "schema": {"type": "string"}}
EVENT_BODY = {"required": True, "content": {JSON: {"schema": Event}}}


class EventPage(ma.Schema):
    """A page of events."""

    items = ma.fields.List(ma.fields.Nested(Event), required=True)
    next_cursor = ma.fields.String(
        allow_none=True, required=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last."},
    )


class RevisionList(ma.Schema):
    """Every stored version of an event, oldest first."""

    items = ma.fields.List(ma.fields.Nested(Event), required=True)


class ListArgs(ma.Schema):
    """Paging of the plain listing."""

    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(1, 100),
                              metadata={"description": "Events per page (1–100)."})
    cursor = ma.fields.String(validate=ma.validate.Length(max=1000),
                              metadata={"description": "`next_cursor` of the previous page."})


def json_response(text: str, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response from text that is JSON already (no parse, no re-serialise)."""
    return Response(text, status=status, headers=headers, mimetype=JSON)


def event_response(stored: StoredEvent, status: int = 200, headers: dict | None = None
                   ) -> Response:
    """One event, with its ETag."""
    return json_response(stored.body, status,
                         {"ETag": conditional.etag(stored.version), **(headers or {})})


def _page_position(token: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    if token is None:
        return None
    try:
        created_at, event_id = cursors.decode("events:newest", token)
        return dt.datetime.fromisoformat(created_at), uuid.UUID(event_id)
    except (cursors.BadCursor, ValueError, TypeError) as error:
        raise ParameterError({"cursor": ["Not a cursor of this listing."]}) from error


@blp.route("")
class Events(MethodView):
    """The collection of events."""

    @blp.doc(operationId="listEvents")
    @blp.arguments(ListArgs, location="query", as_kwargs=True)
    @blp.response(200, EventPage, headers={
        "Link": {"description": 'RFC 8288 link to the next page, rel="next".',
                 "schema": {"type": "string"}}})
    def get(self, limit: int, cursor: str | None = None):
        """List events, newest first

        Keyset-paginated: follow `next_cursor` (or the `Link: rel="next"` header) until it
        is null. Deleted events are left out.
        """
        rows = event_store().list_newest(limit + 1, _page_position(cursor))
        headers = {}
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            _, created_at, event_id = rows[-1]
            next_cursor = cursors.encode(
                "events:newest", [created_at.isoformat(), str(event_id)])
            link = url_for("events.Events", limit=limit, cursor=next_cursor, _external=True)
            headers["Link"] = f'<{link}>; rel="next"'
        text = ('{"items":[' + ",".join(row[0] for row in rows) + '],"next_cursor":'
                + json.dumps(next_cursor) + "}")
        return json_response(text, headers=headers)

    @blp.doc(operationId="createEvent", requestBody=EVENT_BODY)
    @blp.response(201, Event, headers={
        "ETag": ETAG_HEADER,
        "Location": {"description": "URL of the new event.", "schema": {"type": "string"}}})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self):
        """Create an event

        The body is validated against the schema of its `type`; the service sets `id`,
        `version`, `created_at` and `updated_at`. A `key` must be unique (409 otherwise).
        """
        stored = event_store().create(EVENT.load(json_body()))
        location = url_for("events.EventById", event_id=stored.id)
        return event_response(stored, 201, {"Location": location})


@blp.route("/<uuid:event_id>")
class EventById(MethodView):
    """One event."""

    @blp.doc(operationId="getEvent")
    @blp.response(200, Event, headers={"ETag": ETAG_HEADER})
    @blp.alt_response(304, response="NOT_MODIFIED")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(410, response="GONE")
    def get(self, event_id: uuid.UUID):
        """Get an event

        Answers 304 when `If-None-Match` names the current version, 410 once deleted.
        """
        stored = event_store().get(event_id)
        if conditional.not_modified(stored.version):
            return Response(status=304, headers={"ETag": conditional.etag(stored.version)})
        return event_response(stored)

    @blp.doc(operationId="replaceEvent", requestBody=EVENT_BODY, parameters=[IF_MATCH])
    @blp.response(200, Event, headers={"ETag": ETAG_HEADER})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(410, response="GONE")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def put(self, event_id: uuid.UUID):
        """Replace an event

        The body is a whole event, validated as on create; the previous version is kept
        in the event's revisions.
        """
        versions = conditional.expected_versions()
        event = EVENT.load(json_body())
        stored = event_store().update(event_id, lambda current: event, versions)
        return event_response(stored)

    @blp.doc(operationId="patchEvent", parameters=[IF_MATCH], requestBody={
        "required": True,
        "description": "A JSON Merge Patch (RFC 7396): members replace, `null` removes.",
        "content": {MERGE_PATCH_JSON: {"schema": {"type": "object"}},
                    JSON: {"schema": {"type": "object"}}},
    })
    @blp.response(200, Event, headers={"ETag": ETAG_HEADER})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(410, response="GONE")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def patch(self, event_id: uuid.UUID):
        """Patch an event

        Merges the patch into the current event and validates the result as a whole.
        """
        versions = conditional.expected_versions()
        patch = json_body(MERGE_PATCH_JSON, JSON)
        stored = event_store().update(
            event_id, lambda current: EVENT.load(merge_patch.apply(current, patch)), versions
        )
        return event_response(stored)

    @blp.doc(operationId="deleteEvent", parameters=[IF_MATCH])
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(410, response="GONE")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def delete(self, event_id: uuid.UUID):
        """Delete an event

        A soft delete: reads answer 410 afterwards, and the revisions stay readable.
        """
        event_store().delete(event_id, conditional.expected_versions())
        return Response(status=204)


@blp.route("/<uuid:event_id>/revisions")
class EventRevisions(MethodView):
    """The history of one event."""

    @blp.doc(operationId="listEventRevisions")
    @blp.response(200, RevisionList)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, event_id: uuid.UUID):
        """List an event's revisions

        Every version ever stored, oldest first, the deletion included.
        """
        bodies = event_store().revisions(event_id)
        return json_response('{"items":[' + ",".join(bodies) + "]}")

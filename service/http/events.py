"""``/v1/events``: create, read, replace, patch, delete, list, revisions."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid

import marshmallow as ma
from flask import Response, url_for
from flask.views import MethodView
from marshmallow.validate import OneOf
from werkzeug.exceptions import PreconditionFailed

from schemas import EVENT_KINDS, Event, EventEnvelope
from schemas.common import StrictSchema
from service import auth
from service.db import get_db
from service.http import conditional, examples, idempotency, merge_patch, pagination
from service.http.api import ApiBlueprint
from service.http.as_of_args import AsOfArgs
from service.http.body import JSON, MERGE_PATCH_JSON, json_body
from service.http.responses import empty_response, json_response
from service.http.search_args import SearchArgs
from service.storage import as_of, event_store, search_query
from service.storage.events import StoredEvent
from service.storage.search import search_store

blp = ApiBlueprint(
    "events",
    __name__,
    url_prefix="/v1/events",
    description="Create, read, change and delete events.",
)
EVENT = Event()
OPERATIONS = ("create", "update", "delete")

ETAG_HEADER = {
    "description": "The event's version, for If-Match and If-None-Match.",
    "schema": {"type": "string", "examples": ['"v1"']},
}
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "description": "The ETag last read; 304 Not Modified if it is still current.",
    "schema": {"type": "string"},
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "The ETag last read (or `*`, or several); the write fails with 412 "
    'if the event has changed since. A weak tag (`W/"v1"`) never '
    "matches. Checked after the body: a bad body is a 400, 415 or 422 "
    "whatever If-Match says.",
    "schema": {"type": "string", "pattern": conditional.IF_MATCH_PATTERN, "examples": ['"v1"']},
}
CREATE_BODY = {
    "required": True,
    "content": {JSON: {"schema": Event, "examples": examples.create_examples()}},
}
REPLACE_BODY = {
    "required": True,
    "content": {JSON: {"schema": Event, "examples": examples.replace_example()}},
}
EVENT_ID = {
    "in": "path",
    "name": "event_id",
    "description": "The event's `id`.",
    "example": examples.example_event_id(),
}
# The writes name it again, each with a default of its own (the docs page's sandbox):
# "Try it out" on one of them leaves the event the reads default to as it is.
EVENT_TO_CHANGE = {
    **EVENT_ID,
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
    "description": "The event's `id`. The default is the sandbox event seeded for trying "
    "replace and patch.",
    "example": examples.event_to_change_id(),
}
EVENT_TO_DELETE = {
    **EVENT_TO_CHANGE,
    "description": "The event's `id`. The default is the sandbox event seeded for trying "
    "delete (a second try answers 410 until `flask --app service seed` restores it).",
    "example": examples.event_to_delete_id(),
}
STORED_EXAMPLE = examples.stored_example()
# The fields the service sets that a PUT may send back from a GET.
READ_BACK_FIELDS = ("id", "version", "created_at", "updated_at")


def _optional(field: ma.fields.Field) -> ma.fields.Field:
    """``field`` as a merge patch member: optional; ``null`` (remove) unless it is required."""
    member = copy.copy(field)
    member.required, member.allow_none = False, not field.required
    return member


# The PATCH body: the event's members, each optional. `details` merges into the stored
# details of the event's kind, so any object may be part of a valid patch.
EventPatch = type(
    "EventPatch",
    (StrictSchema,),
    {
        "__doc__": "A JSON Merge Patch (RFC 7396) of an event: members replace, `null` removes "
        "(only members an event may lack), objects merge. The result is validated as "
        "a whole, as a PUT body would be: whether a patch is valid depends also on the "
        "stored event (its kind decides `details`; `end_date` is checked against its "
        "`date`).",
        **{
            name: _optional(field)
            for name, field in EventEnvelope._declared_fields.items()
            if not field.dump_only
        },
        "type": ma.fields.String(
            validate=OneOf(sorted(EVENT_KINDS)),
            metadata={"description": "Another kind: `details` must then fit that kind."},
        ),
        "details": ma.fields.Dict(
            metadata={
                "description": "Merged into the stored details, which the event's kind validates."
            }
        ),
    },
)


def _links(*operations: str, with_etag: bool = True) -> dict:
    """OpenAPI links from an answer carrying an event (its id, and its ETag for If-Match)
    to the operations on it: clients and tools (schemathesis's stateful tests) follow them.
    """
    links = {}
    for operation_id in operations:
        parameters = {"event_id": "$response.body#/id"}
        if with_etag and operation_id in ("replaceEvent", "patchEvent", "deleteEvent"):
            parameters["header.If-Match"] = "$response.header.ETag"
        links[operation_id] = {"operationId": operation_id, "parameters": parameters}
    return links


_ON_AN_EVENT = ("getEvent", "listEventRevisions", "replaceEvent", "patchEvent", "deleteEvent")


class EventPage(ma.Schema):
    """A page of events."""

    items = ma.fields.List(ma.fields.Nested(Event), required=True)
    next_cursor = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last."},
    )


class Revision(ma.Schema):
    """One stored version of an event: what was written, when, and by which API key."""

    event_id = ma.fields.UUID(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "1 for the create."})
    operation = ma.fields.String(required=True, validate=OneOf(OPERATIONS))
    recorded_at = ma.fields.DateTime(required=True)
    written_by = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The name of the API key that wrote it (never the key); "
            "null for a management command such as `seed`."
        },
    )
    event = ma.fields.Nested(
        Event,
        required=True,
        metadata={
            "description": "The event as this version stored it. A `delete`'s is the tombstone: "
            "the last content, with `deleted_at` set."
        },
    )


class RevisionList(ma.Schema):
    """Every stored version of an event, oldest first."""

    items = ma.fields.List(ma.fields.Nested(Revision), required=True)


# The errors PUT and PATCH share.
_documents_update_errors = blp.answers(400, 404, 409, 410, 412, 413, 415, 422, 428)


def _read_back(body: dict, event_id: uuid.UUID, versions: set[int] | None) -> set[int] | None:
    """Take the service's fields out of a PUT body that echoes a GET; the versions to expect.

    They must be the stored event's: ``version`` as a precondition (412), the others as
    data (422). The write is then pinned to the version they were checked against.
    """
    echoed = {name: body.pop(name) for name in READ_BACK_FIELDS if name in body}
    if not echoed:
        return versions
    if "version" in echoed:
        version = echoed["version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise ma.ValidationError({"version": ["Not a valid integer."]})
        versions = {version} if versions is None else versions & {version}
    stored = event_store().get(event_id)
    if versions is not None and stored.version not in versions:
        raise PreconditionFailed(
            "The event has changed since the version sent; read it again and re-apply the change."
        )
    current = json.loads(stored.body)
    wrong = {
        name: ["Read-only: must be the stored event's value, or left out."]
        for name, value in echoed.items()
        if name != "version" and not _same_value(name, value, current[name])
    }
    if wrong:
        raise ma.ValidationError(wrong)
    return {stored.version}


def _same_value(name: str, sent: object, stored: str) -> bool:
    """Whether a field sent back is the stored one: timestamps as instants, in any offset
    or precision a client library writes them (`+00:00` for `Z`)."""
    if name == "id" or not isinstance(sent, str):
        return sent == stored
    try:
        return dt.datetime.fromisoformat(sent) == dt.datetime.fromisoformat(stored)
    except ValueError:
        return False


def search_page(args: dict) -> Response:
    """One page of a search: ``args`` as loaded by ``SearchArgs``."""
    limit, token, sort = args.pop("limit"), args.pop("cursor", None), args["sort"]
    scope = pagination.scope("events", args)
    after = pagination.cursor_position(
        scope, token, lambda value: search_query.position_from_json(sort, value)
    )
    rows = search_store().page(search_query.build(args), sort, limit + 1, after)
    next_position = None
    if len(rows) > limit:
        rows = rows[:limit]
        _, key_value, event_id, _ = rows[-1]
        next_position = search_query.position_to_json(sort, key_value, event_id)
    return pagination.page_response(
        [_with_distance(body, distance) for body, _, _, distance in rows], scope, next_position
    )


def _with_distance(body: str, distance_km: float | None) -> str:
    """The stored JSON text, with ``distance_km`` added as its last member under ``near``."""
    if distance_km is None:
        return body
    # The stored text is one JSON object: its last character is the closing brace.
    return f'{body[:-1]},"distance_km":{round(distance_km, 3)}}}'


def event_response(stored: StoredEvent, status: int = 200, headers: dict | None = None) -> Response:
    """One event, with its ETag."""
    return json_response(
        stored.body, status, {"ETag": conditional.etag(stored.version), **(headers or {})}
    )


@blp.route("")
class Events(MethodView):
    """The collection of events."""

    @blp.requires_scope("read")
    @blp.doc(operationId="listEvents")
    @blp.arguments(SearchArgs, location="query")
    @blp.response(200, EventPage, headers={"Link": pagination.LINK_HEADER})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.uses_database
    def get(self, args: dict):
        """Search events

        Every filter is optional; repeated values of one parameter are alternatives (OR),
        different parameters all apply (AND). Keyset-paginated: follow `next_cursor` (or the
        `Link: rel="next"` header) until it is null; a cursor serves only the search that
        made it. Deleted events are left out.

        With `as_of`, the search answers as the store stood at that past moment, from the
        revision history (cursors included). At most a configured number of updates and
        deletes (`AS_OF_MAX_CHANGES`, 10,000 by default) may have been recorded since:
        more is a 400.
        """
        return search_page(args)

    @blp.requires_scope("write")
    @blp.idempotent
    @blp.doc(
        operationId="createEvent",
        requestBody=CREATE_BODY,
        responses={201: {"links": _links(*_ON_AN_EVENT)}},
    )
    @blp.response(
        201,
        Event,
        example=STORED_EXAMPLE,
        headers={
            "ETag": ETAG_HEADER,
            "Location": {"description": "URL of the new event.", "schema": {"type": "string"}},
            idempotency.REPLAYED_HEADER: idempotency.REPLAYED,
        },
    )
    @blp.answers(400, 409, 413, 415, 422)
    @blp.uses_database
    def post(self):
        """Create an event

        The body is validated against the schema of its `type`; the service sets `id`,
        `version`, `created_at` and `updated_at`. A `key` must be unique (409 otherwise).
        """
        stored = event_store(auth.caller_name()).create(EVENT.load(json_body()))
        location = url_for("events.EventById", event_id=stored.id)
        return event_response(stored, 201, {"Location": location})


@blp.route("/<uuid:event_id>", parameters=[EVENT_ID])
class EventById(MethodView):
    """One event."""

    @blp.requires_scope("read")
    @blp.doc(
        operationId="getEvent",
        parameters=[IF_NONE_MATCH],
        responses={200: {"links": _links(*_ON_AN_EVENT[1:])}},
    )
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, Event, example=STORED_EXAMPLE, headers={"ETag": ETAG_HEADER})
    @blp.answers(304, 400, 404, 410)
    @blp.uses_database
    def get(self, args: dict, event_id: uuid.UUID):
        """Get an event

        Answers 304 when `If-None-Match` names the current version, 410 once deleted.
        With `as_of`, the version that was current at that moment, with its ETag: 404 if
        the event did not exist yet, 410 if it had been deleted.
        """
        moment = args.get("as_of")
        if moment is None:
            stored = event_store().get(event_id)
        else:
            stored = as_of.version_at(get_db(), event_id, moment)
        current_tag = conditional.not_modified(stored.version)
        if current_tag:
            return empty_response(304, {"ETag": current_tag})
        return event_response(stored)

    @blp.requires_scope("write")
    @blp.doc(
        operationId="replaceEvent",
        requestBody=REPLACE_BODY,
        parameters=[EVENT_TO_CHANGE, IF_MATCH],
        responses={200: {"links": _links(*_ON_AN_EVENT)}},
    )
    @blp.response(200, Event, example=STORED_EXAMPLE, headers={"ETag": ETAG_HEADER})
    @_documents_update_errors
    @blp.uses_database
    def put(self, event_id: uuid.UUID):
        """Replace an event

        The body is a whole event, validated as on create; the previous version is kept
        in the event's revisions.

        What a GET answered may be sent back as it is: the fields the service sets (`id`,
        `version`, `created_at`, `updated_at`) are ignored when they are the stored
        event's. A `version` is a precondition like `If-Match` (412 when the event has
        changed since); an `id`, `created_at` or `updated_at` that is not the stored
        event's is a 422 naming it.
        """
        body = json_body()
        versions = conditional.expected_versions()
        if isinstance(body, dict):
            versions = _read_back(body, event_id, versions)
        event = EVENT.load(body)
        stored = event_store(auth.caller_name()).update(event_id, lambda _current: event, versions)
        return event_response(stored)

    @blp.requires_scope("write")
    @blp.doc(
        operationId="patchEvent",
        parameters=[EVENT_TO_CHANGE, IF_MATCH],
        responses={200: {"links": _links(*_ON_AN_EVENT)}},
        requestBody={
            "required": True,
            "description": "A JSON Merge Patch (RFC 7396): members replace, `null` removes. "
            "Sent as `application/json`, it is read as the same merge patch.",
            # One media type: with the same schema under two, generated clients pick the
            # last one listed (openapi-python-client sent `application/json`).
            "content": {
                MERGE_PATCH_JSON: {"schema": EventPatch, "examples": examples.patch_example()},
            },
        },
    )
    @blp.response(200, Event, example=STORED_EXAMPLE, headers={"ETag": ETAG_HEADER})
    @_documents_update_errors
    @blp.uses_database
    def patch(self, event_id: uuid.UUID):
        """Patch an event

        Merges the patch into the current event and validates the result as a whole.
        """
        patch = json_body(MERGE_PATCH_JSON, JSON)
        if not isinstance(patch, dict):
            # RFC 7396 would replace the whole event with it: never an event, so say so now.
            raise ma.ValidationError({"_schema": ["A patch of an event must be a JSON object."]})
        stored = event_store(auth.caller_name()).update(
            event_id,
            lambda current: EVENT.load(merge_patch.apply(current, patch)),
            conditional.expected_versions(),
        )
        return event_response(stored)

    @blp.requires_scope("write")
    @blp.doc(operationId="deleteEvent", parameters=[EVENT_TO_DELETE, IF_MATCH])
    @blp.response(204)
    @blp.answers(400, 404, 410, 412, 428)
    @blp.uses_database
    def delete(self, event_id: uuid.UUID):
        """Delete an event

        A soft delete: reads answer 410 afterwards, and the revisions stay readable.
        """
        event_store(auth.caller_name()).delete(event_id, conditional.expected_versions())
        return empty_response(204)


@blp.route("/<uuid:event_id>/revisions", parameters=[EVENT_ID])
class EventRevisions(MethodView):
    """The history of one event."""

    @blp.requires_scope("read")
    @blp.doc(operationId="listEventRevisions")
    @blp.response(200, RevisionList)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.uses_database
    def get(self, event_id: uuid.UUID):
        """List an event's revisions

        Every version ever stored, oldest first, the deletion included, each with the
        name of the API key that wrote it.
        """
        bodies = event_store().revisions(event_id)
        return json_response('{"items":[' + ",".join(bodies) + "]}")

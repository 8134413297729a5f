"""``POST /v1/events/bulk``: many events in one request, each with its own result."""

from __future__ import annotations

import json

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from service import auth
from service.errors import flatten_errors
from service.http import examples, idempotency
from service.http.api import ApiBlueprint
from service.http.body import JSON, parse_json, require_media_type
from service.http.problems import validation_problem
from service.http.responses import json_response
from service.storage import event_store
from service.storage.bulk import OUTCOME_STATUS, BatchRefused, ItemOutcome, write_events
from service.validation import load_event

NDJSON = "application/x-ndjson"

blp = ApiBlueprint(
    "bulk", __name__, url_prefix="/v1/events", description="Write many events in one request."
)


class BulkArgs(ma.Schema):
    """Query parameters of a bulk write."""

    # Only the spec's spellings: marshmallow would also take yes, on, 1, t …
    atomic = ma.fields.Boolean(
        load_default=False,
        truthy={"true"},
        falsy={"false"},
        metadata={
            "description": "All or nothing: if any item cannot be written, answer 422 listing "
            "every such item and write none."
        },
    )


class BulkItemResult(ma.Schema):
    """What became of one item of a bulk write."""

    index = ma.fields.Integer(
        required=True,
        metadata={
            "description": "The item's position in the request, from 0 (NDJSON: its line, "
            "blank lines not counted)."
        },
    )
    status = ma.fields.Integer(
        required=True,
        metadata={
            "description": "The status a single write of this item would have answered.",
            "examples": [201],
        },
    )
    outcome = ma.fields.String(
        required=True,
        metadata={
            "enum": list(OUTCOME_STATUS),
            "description": "`created`; `updated` (its key was stored with other content); "
            "`unchanged` (stored as sent: nothing written); `left_deleted` (an "
            "event with its key was deleted, and stays so); `invalid` (see "
            "`errors`); `conflict` (its key repeats an earlier item's, or was "
            "created meanwhile by another request).",
        },
    )
    id = ma.fields.UUID(metadata={"description": "The event's id (absent when not stored)."})
    version = ma.fields.Integer(metadata={"description": "The event's current version."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": "Why the item was not written: dotted field path to "
            "messages (`_body`: the item as a whole).",
            "examples": [{"details.personnel.min": ["Must not be greater than max."]}],
        },
    )


class BulkCounts(ma.Schema):
    """How many items had each outcome."""

    created = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)
    left_deleted = ma.fields.Integer(required=True)
    invalid = ma.fields.Integer(required=True)
    conflict = ma.fields.Integer(required=True)


class BulkResult(ma.Schema):
    """The result of each item of a bulk write, in request order, and their counts."""

    items = ma.fields.List(ma.fields.Nested(BulkItemResult), required=True)
    counts = ma.fields.Nested(BulkCounts, required=True)


BULK_BODY = {
    "required": True,
    "description": "Events, as a JSON array or as NDJSON (one event per line). A line that "
    "is not JSON is that item's error, not the request's.",
    "content": {
        # Any item is taken: one that is not an event is that item's error (`invalid`).
        JSON: {
            "schema": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/Event"},
                        {"not": {"$ref": "#/components/schemas/Event"}},
                    ],
                    "description": "An event; anything else is reported as that item's error.",
                },
            },
            "examples": examples.bulk_example(),
        },
        NDJSON: {"schema": {"type": "string"}},
    },
}


@blp.before_request
def _bulk_body_limit() -> None:
    """A full batch is far larger than one event: these requests have their own body limit.

    Set before the view runs, so that whatever reads the body first meets this limit.
    """
    request.max_content_length = current_app.config["BULK_MAX_BODY_BYTES"]


def _raw_items() -> list[object | BadRequest]:
    """The body's items, unvalidated; a line of NDJSON that is not JSON is its BadRequest."""
    media_type = require_media_type(JSON, NDJSON)
    raw = request.get_data(cache=False)
    limit = current_app.config["BULK_MAX_ITEMS"]
    if media_type == NDJSON:
        lines = [line for line in raw.split(b"\n") if line.strip()]
        _check_count(len(lines), limit)
        return [_parse_line(line) for line in lines]
    body = parse_json(raw)
    if not isinstance(body, list):
        raise BadRequest("The body must be a JSON array of events.")
    _check_count(len(body), limit)
    return body


def _check_count(count: int, limit: int) -> None:
    if count > limit:
        raise RequestEntityTooLarge(f"{count} events; at most {limit} in one request.")


def _parse_line(line: bytes) -> object | BadRequest:
    try:
        return parse_json(line, "The line")
    except BadRequest as error:
        return error


def _validate(raw: object) -> tuple[dict | None, dict[str, list[str]]]:
    """The validated event, or None and its errors."""
    if isinstance(raw, BadRequest):
        return None, {"_body": [raw.description]}
    try:
        return load_event(raw), {}
    except ma.ValidationError as error:
        return None, flatten_errors(error.messages)


def _item(index: int, outcome: ItemOutcome, errors: dict) -> dict:
    item = {"index": index, "status": OUTCOME_STATUS[outcome.outcome], "outcome": outcome.outcome}
    if outcome.id is not None:
        item["id"] = str(outcome.id)
        item["version"] = outcome.version
    if errors or outcome.errors:
        item["errors"] = errors or outcome.errors
    return item


def _atomic_refusal(errors: dict[int, dict[str, list[str]]]):
    """422 naming every bad item's fields as ``items.N.field``."""
    return validation_problem(
        {
            (f"items.{index}" if name == "_body" else f"items.{index}.{name}"): messages
            for index, item_errors in sorted(errors.items())
            for name, messages in item_errors.items()
        }
    )


@blp.route("/bulk")
class BulkEvents(MethodView):
    """Many events at once."""

    @blp.requires_scope("write")
    @blp.idempotent
    @blp.doc(operationId="bulkWriteEvents", requestBody=BULK_BODY)
    @blp.arguments(BulkArgs, location="query")
    @blp.response(200, BulkResult, headers={idempotency.REPLAYED_HEADER: idempotency.REPLAYED})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(413, response="CONTENT_TOO_LARGE")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    @blp.alt_response(422, response="UNPROCESSABLE_CONTENT")
    @blp.uses_database
    def post(self, args: dict):
        """Write events in bulk

        Each item is validated as `POST /v1/events` would and gets its own result. An item
        whose `key` is stored is updated only if its content differs, so sending a batch
        again writes nothing (`unchanged`). A `related` link may name an event stored
        already or the key of another item. Up to `BULK_MAX_ITEMS` items (413 beyond).
        With `atomic=true`, one bad item fails the request with 422 (errors named
        `items.N.field`) and nothing is written.
        """
        validated = [_validate(raw) for raw in _raw_items()]
        events = [event for event, _ in validated]
        try:
            outcomes = write_events(event_store(auth.caller_name()), events, atomic=args["atomic"])
        except BatchRefused as refusal:
            # The store has no errors for the items that failed validation: those are here.
            return _atomic_refusal(
                refusal.errors
                | {index: errors for index, (_, errors) in enumerate(validated) if errors}
            )
        counts = dict.fromkeys(OUTCOME_STATUS, 0)
        for outcome in outcomes:
            counts[outcome.outcome] += 1
        items = [
            _item(index, outcome, validated[index][1]) for index, outcome in enumerate(outcomes)
        ]
        return json_response(
            json.dumps(
                {"items": items, "counts": counts}, ensure_ascii=False, separators=(",", ":")
            )
        )

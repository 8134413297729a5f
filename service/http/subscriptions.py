"""``/v1/subscriptions``: webhook subscriptions, their secrets and their deliveries.

The scope is ``subscribe`` (``admin`` includes it): a consuming service gets a key that
can read and subscribe, never write events. A ``subscribe`` key sees and changes the
subscriptions it made; an ``admin`` key sees all.
"""

from __future__ import annotations

import datetime as dt
import uuid

import marshmallow as ma
from flask import current_app, url_for
from flask.views import MethodView
from marshmallow.validate import Length, OneOf, Range

from schemas import Event
from schemas.common import StrictSchema
from schemas.fields import BoundedString
from service import auth
from service.db import get_db
from service.delivery import filters, signing
from service.delivery.targets import RefusedTarget, TargetPolicy, resolve
from service.http.api import ApiBlueprint
from service.http.body import json_body
from service.http.changes import AFTER, feed_position
from service.http.responses import empty_response
from service.storage import deliveries, subscriptions
from service.storage.rows import timestamp

blp = ApiBlueprint(
    "subscriptions",
    __name__,
    url_prefix="/v1/subscriptions",
    description="Webhooks: each matching change pushed to your URL as a signed CloudEvent.",
)
SUBSCRIPTION_ID = {
    "in": "path",
    "name": "subscription_id",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
DELIVERY_ID = {"in": "path", "name": "delivery_id", "required": True, "schema": {"type": "integer"}}
MAX_URL = 2000


class FilterField(ma.fields.Nested):
    """The filter as sent, once the search's schema has accepted it: stored as JSON and
    loaded again by the deliverer."""

    def __init__(self, **kwargs):
        super().__init__(
            filters.ChangeFilter,
            metadata={
                "description": "Search parameters (as for `GET /v1/events`): a list for a "
                "parameter that repeats, a string for one that does not. `{}` takes "
                "every change. A change is delivered when a search with these "
                "parameters would find the event as that change left it (a "
                "delete: as it was when deleted).",
                "examples": [{"type": ["attack"], "country": ["UA"], "q": "drone"}],
            },
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        super()._deserialize(value, attr, data, **kwargs)
        return value


class SubscriptionCreate(StrictSchema):
    """A new subscription."""

    url = ma.fields.String(
        required=True,
        validate=Length(max=MAX_URL),
        metadata={
            "description": "Where each change is POSTed: an https URL on a public address "
            "(ports 80 and 443).",
            "examples": ["https://example.com/hooks/events"],
        },
    )
    filter = FilterField(load_default=dict)
    description = BoundedString(metadata={"description": "What it is for, for people."})
    start = ma.fields.String(
        load_default="now",
        validate=AFTER,
        metadata={
            "description": "Where to start in the change feed: `now` (the default), or a "
            "`next_cursor` of `/v1/changes` or a delivered change's `id` to receive "
            "every change after it (a backfill)."
        },
    )


class SubscriptionPatch(StrictSchema):
    """The members to change; the others stay."""

    url = ma.fields.String(validate=Length(max=MAX_URL))
    filter = FilterField()
    description = BoundedString(allow_none=True)
    status = ma.fields.String(
        validate=OneOf(subscriptions.STATUSES),
        metadata={
            "description": "`disabled` stops deliveries; `active` resumes them, and tries the "
            "failed deliveries again."
        },
    )


class Subscription(ma.Schema):
    """A subscription."""

    id = ma.fields.UUID(required=True)
    url = ma.fields.String(required=True)
    filter = ma.fields.Dict(required=True)
    description = ma.fields.String(allow_none=True, required=True)
    status = ma.fields.String(required=True, validate=OneOf(subscriptions.STATUSES))
    disabled_reason = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "Why it stopped, if it did."}
    )
    failing_since = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Since when every attempt has failed (null: it is not)."},
    )
    position = ma.fields.String(
        required=True,
        metadata={
            "description": "The change feed position up to which every change was "
            "delivered or queued."
        },
    )
    previous_secret_expires_at = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Until when the secret before the last rotation still signs."},
    )
    created_by = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.String(required=True)
    updated_at = ma.fields.String(required=True)


class SubscriptionWithSecret(Subscription):
    """A subscription with its signing secret: shown once, when made or rotated."""

    secret = ma.fields.String(
        required=True,
        metadata={
            "description": "The Standard Webhooks signing secret (`whsec_…`). Shown only now: "
            "store it. Verify each delivery's `webhook-signature` with it.",
        },
    )


class SubscriptionList(ma.Schema):
    """Subscriptions, oldest first."""

    items = ma.fields.List(ma.fields.Nested(Subscription), required=True)


class Delivery(ma.Schema):
    """One change handed to a subscription, and what became of it."""

    id = ma.fields.Integer(required=True)
    change_id = ma.fields.String(
        required=True, metadata={"description": "The CloudEvent's `id` (a change feed position)."}
    )
    event_id = ma.fields.UUID(required=True)
    version = ma.fields.Integer(required=True)
    operation = ma.fields.String(required=True, validate=OneOf(("create", "update", "delete")))
    status = ma.fields.String(
        required=True,
        validate=OneOf(("pending", "delivered", "failed")),
        metadata={
            "description": "`pending`: waiting for its next attempt (or behind an earlier change "
            "of its event); `failed`: the subscription was disabled before it went through."
        },
    )
    attempts = ma.fields.Integer(required=True)
    last_status_code = ma.fields.Integer(allow_none=True, required=True)
    last_error = ma.fields.String(allow_none=True, required=True)
    last_attempt_at = ma.fields.String(allow_none=True, required=True)
    next_attempt_at = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.String(required=True)
    delivered_at = ma.fields.String(allow_none=True, required=True)


class DeliveryPage(ma.Schema):
    """Deliveries, newest first."""

    items = ma.fields.List(ma.fields.Nested(Delivery), required=True)
    next_before = ma.fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as `before` for the next page; null on the last."},
    )


class DeliveryArgs(ma.Schema):
    """A page of deliveries."""

    status = ma.fields.String(validate=OneOf(("pending", "delivered", "failed")))
    before = ma.fields.Integer(
        validate=Range(1), metadata={"description": "Deliveries with ids below this one."}
    )
    limit = ma.fields.Integer(load_default=20, validate=Range(1, 100))


def _times(record: dict) -> dict:
    """Timestamps as the API writes them."""
    return {
        name: timestamp(value) if isinstance(value, dt.datetime) else value
        for name, value in record.items()
    }


def _view(subscription: subscriptions.Subscription, with_secret: bool = False) -> dict:
    view = _times(
        {
            "id": subscription.id,
            "url": subscription.url,
            "filter": subscription.filter,
            "description": subscription.description,
            "status": subscription.status,
            "disabled_reason": subscription.disabled_reason,
            "failing_since": subscription.failing_since,
            "position": str(subscription.position),
            "previous_secret_expires_at": subscription.previous_secret_expires_at,
            "created_by": subscription.created_by,
            "created_at": subscription.created_at,
            "updated_at": subscription.updated_at,
        }
    )
    if with_secret:
        view["secret"] = subscription.secret
    return view


def _owner() -> int | None:
    """Whose subscriptions the caller may see: its own, or all (None) for admin keys."""
    caller = auth.current_caller()
    return None if "admin" in caller.scopes else caller.key_id


def _checked_url(url: str) -> str:
    """The URL if the SSRF guard lets it through; a 422 naming `url` otherwise."""
    try:
        resolve(url, TargetPolicy.from_config(current_app.config))
    except RefusedTarget as refused:
        raise ma.ValidationError({"url": [refused.reason]}) from refused
    return url


@blp.route("")
class Subscriptions(MethodView):
    """The caller's subscriptions."""

    @blp.requires_scope("subscribe")
    @blp.doc(operationId="listSubscriptions")
    @blp.response(200, SubscriptionList)
    @blp.uses_database
    def get(self):
        """List subscriptions

        The caller's subscriptions, oldest first (an `admin` key: everyone's), without
        their secrets.
        """
        with get_db().connection() as conn:
            found = subscriptions.listing(conn, _owner())
        return {"items": [_view(s) for s in found]}

    @blp.requires_scope("subscribe")
    @blp.doc(
        operationId="createSubscription",
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": SubscriptionCreate}},
        },
    )
    @blp.response(
        201,
        SubscriptionWithSecret,
        headers={
            "Location": {"description": "URL of the subscription.", "schema": {"type": "string"}}
        },
    )
    @blp.answers(400, 415, 422)
    @blp.uses_database
    def post(self):
        """Subscribe a webhook

        Each change the filter takes is POSTed to `url`, one request per change, as a
        CloudEvent signed per Standard Webhooks (see the `webhooks` section of this
        document). The signing secret is in this answer only.
        """
        body = SubscriptionCreate().load(json_body())
        url = _checked_url(body["url"])
        caller = auth.current_caller()
        with get_db().connection() as conn:
            created = subscriptions.create(
                conn,
                url=url,
                filter=body["filter"],
                description=body.get("description"),
                secret=signing.new_secret(),
                start=feed_position(body["start"]),
                owner_key_id=caller.key_id,
                created_by=caller.name,
            )
        location = url_for("subscriptions.SubscriptionById", subscription_id=created.id)
        return _view(created, with_secret=True), 201, {"Location": location}


@blp.route("/<uuid:subscription_id>", parameters=[SUBSCRIPTION_ID])
class SubscriptionById(MethodView):
    """One subscription."""

    @blp.requires_scope("subscribe")
    @blp.doc(operationId="getSubscription")
    @blp.response(200, Subscription)
    @blp.answers(404)
    @blp.uses_database
    def get(self, subscription_id: uuid.UUID):
        """Get a subscription

        Its URL, filter, status (and why it was disabled, if it was), and its position in
        the change feed. The secret is never shown again.
        """
        with get_db().connection() as conn:
            return _view(subscriptions.get(conn, subscription_id, _owner()))

    @blp.requires_scope("subscribe")
    @blp.doc(
        operationId="updateSubscription",
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": SubscriptionPatch}},
        },
    )
    @blp.response(200, Subscription)
    @blp.answers(400, 404, 415, 422)
    @blp.uses_database
    def patch(self, subscription_id: uuid.UUID):
        """Change a subscription

        Send the members to change. Enabling a disabled subscription tries its failed
        deliveries again.
        """
        changes = SubscriptionPatch().load(json_body())
        if "url" in changes:
            _checked_url(changes["url"])
        with get_db().connection() as conn:
            return _view(subscriptions.update(conn, subscription_id, _owner(), changes))

    @blp.requires_scope("subscribe")
    @blp.doc(operationId="deleteSubscription")
    @blp.response(204)
    @blp.answers(404)
    @blp.uses_database
    def delete(self, subscription_id: uuid.UUID):
        """Delete a subscription

        Deliveries stop at once; its delivery log goes with it.
        """
        with get_db().connection() as conn:
            subscriptions.delete(conn, subscription_id, _owner())
        return empty_response(204)


@blp.route("/<uuid:subscription_id>/rotate-secret", parameters=[SUBSCRIPTION_ID])
class RotateSecret(MethodView):
    """A new signing secret."""

    @blp.requires_scope("subscribe")
    @blp.doc(operationId="rotateSubscriptionSecret")
    @blp.response(200, SubscriptionWithSecret)
    @blp.answers(404)
    @blp.uses_database
    def post(self, subscription_id: uuid.UUID):
        """Rotate the signing secret

        Deliveries are signed with the new secret and, for `WEBHOOKS_SECRET_OVERLAP_HOURS`
        (24 by default), with the previous one too: `webhook-signature` then carries
        two signatures, and a receiver still on the old secret keeps verifying.
        """
        overlap = dt.timedelta(hours=current_app.config["WEBHOOKS_SECRET_OVERLAP_HOURS"])
        with get_db().connection() as conn:
            rotated = subscriptions.rotate_secret(
                conn, subscription_id, _owner(), signing.new_secret(), overlap
            )
        return _view(rotated, with_secret=True)


@blp.route("/<uuid:subscription_id>/deliveries", parameters=[SUBSCRIPTION_ID])
class Deliveries(MethodView):
    """What was sent to a subscription."""

    @blp.requires_scope("subscribe")
    @blp.doc(operationId="listSubscriptionDeliveries")
    @blp.arguments(DeliveryArgs, location="query")
    @blp.response(200, DeliveryPage)
    @blp.answers(400, 404)
    @blp.uses_database
    def get(self, args: dict, subscription_id: uuid.UUID):
        """List deliveries

        Newest first: status, attempts, the last answer's status code or error, and the
        next attempt's time.
        """
        with get_db().connection() as conn:
            subscriptions.get(conn, subscription_id, _owner())
            rows = deliveries.listing(
                conn, subscription_id, args["limit"] + 1, args.get("before"), args.get("status")
            )
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        return {
            "items": [_times(row) for row in rows],
            "next_before": rows[-1]["id"] if more else None,
        }


@blp.route(
    "/<uuid:subscription_id>/deliveries/<int:delivery_id>/retry",
    parameters=[SUBSCRIPTION_ID, DELIVERY_ID],
)
class RetryDelivery(MethodView):
    """Another attempt, now."""

    @blp.requires_scope("subscribe")
    @blp.doc(operationId="retrySubscriptionDelivery")
    @blp.response(200, Delivery)
    @blp.answers(404, 409)
    @blp.uses_database
    def post(self, subscription_id: uuid.UUID, delivery_id: int):
        """Retry a delivery

        A pending or failed delivery is tried at once (a delivered one: 409). Per event,
        changes still go out in order: one behind an earlier undelivered change waits.
        """
        with get_db().connection() as conn:
            subscriptions.get(conn, subscription_id, _owner())
            return _times(deliveries.retry(conn, subscription_id, delivery_id))


class DeliveredChange(ma.Schema):
    """What a subscriber receives: one change as a CloudEvents 1.0 event (structured mode)."""

    specversion = ma.fields.String(required=True, validate=OneOf(("1.0",)))
    id = ma.fields.String(
        required=True,
        metadata={
            "description": "The change's id, also sent as `webhook-id`: the same on every "
            "retry (de-duplicate by it), and a position of the change feed "
            "(`/v1/changes?after=<id>` resumes right after it).",
            "examples": ["5127.88"],
        },
    )
    source = ma.fields.String(
        required=True, metadata={"examples": ["https://events.example/v1/events"]}
    )
    type = ma.fields.String(
        required=True,
        validate=OneOf(("events.event.created", "events.event.updated", "events.event.deleted")),
    )
    subject = ma.fields.UUID(required=True, metadata={"description": "The event's id."})
    time = ma.fields.String(
        required=True, metadata={"description": "When the change was written (RFC 3339)."}
    )
    datacontenttype = ma.fields.String(required=True, validate=OneOf(("application/json",)))
    dataschema = ma.fields.String(
        required=True,
        metadata={
            "description": "The JSON Schema of the event's kind (`/v1/event-types/{type}`).",
            "examples": ["https://events.example/v1/event-types/attack"],
        },
    )
    data = ma.fields.Nested(
        Event,
        required=True,
        metadata={
            "description": "The event as this version is served (a delete's: the tombstone, "
            "the last content with `deleted_at`). Per event, versions arrive in order."
        },
    )


def _header(name: str, description: str, example: str) -> dict:
    return {
        "in": "header",
        "name": name,
        "required": True,
        "description": description,
        "schema": {"type": "string", "examples": [example]},
    }


WEBHOOK_HEADERS = [
    _header(
        "webhook-id",
        "The change's id (the body's `id`): the same on every retry.",
        "5127.88",
    ),
    _header(
        "webhook-timestamp",
        "Unix seconds when this attempt was signed; refuse ones far from your clock.",
        "1752400000",
    ),
    _header(
        "webhook-signature",
        "Standard Webhooks signatures, space-separated: `v1,` and the base64 HMAC-SHA256 of "
        "`{webhook-id}.{webhook-timestamp}.{body}` keyed with the secret's bytes. Two "
        "during the 24 hours after a secret rotation; accept the delivery if one verifies.",
        "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    ),
]


def document_webhooks(api) -> None:
    """Describe in the spec's `webhooks` what each subscriber receives and must answer."""
    api.spec.components.schema("DeliveredChange", schema=DeliveredChange)
    api.spec.options["webhooks"] = {
        "change": {
            "post": {
                "operationId": "receiveChange",
                "summary": "A change, pushed to a subscription's URL",
                "description": "One POST per change the subscription's filter takes. At least "
                "once: de-duplicate by `webhook-id`. Any 2xx within the timeout (10 s) "
                "acknowledges; anything else, a timeout or a redirect is retried with "
                "exponential backoff and full jitter, from seconds up to 3 days; later "
                "changes of the same event wait behind it. 410 disables the subscription.",
                "tags": ["subscriptions"],
                "parameters": WEBHOOK_HEADERS,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/cloudevents+json": {
                            "schema": {"$ref": "#/components/schemas/DeliveredChange"}
                        }
                    },
                },
                "responses": {
                    "2XX": {"description": "Received: not sent again."},
                    "410": {"description": "Gone: the subscription is disabled."},
                    "default": {"description": "Not received: tried again later."},
                },
            }
        }
    }

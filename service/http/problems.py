"""Every error as RFC 9457 ``application/problem+json``, from one place.

Views raise; the handlers here turn each exception into one problem shape. Nothing
reaches a client as HTML or a traceback.
"""

from __future__ import annotations

import http
import json
import logging

import marshmallow as ma
import psycopg
from flask import Flask, Response, current_app, request
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from service.auth import InsufficientScope, Unauthenticated
from service.db import DatabaseUnavailable
from service.errors import flatten_errors
from service.http.idempotency import BadIdempotencyKey, KeyReused
from service.http.rate_limits import RateLimited
from service.storage.actor_registry import (
    ActorNotFound,
    IdentifierTaken,
    MergeRaced,
    UnknownActors,
)
from service.storage.as_of import NotYetCreated, TooManyChanges
from service.storage.deliveries import DeliveryNotFound, NotRetryable
from service.storage.events import (
    EventGone,
    EventNotFound,
    KeyTaken,
    VersionMismatch,
    WriteOrderConflict,
)
from service.storage.idempotency import KeyInFlight
from service.storage.links import UnknownLinks
from service.storage.subscriptions import SubscriptionNotFound

PROBLEM_JSON = "application/problem+json"
# RFC 9110 renamed these; Python before 3.13 still has the old phrases. Fixing them here
# keeps titles and the spec's response names the same on every Python version.
_RFC_9110_TITLES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def status_title(status: int) -> str:
    """The RFC 9110 reason phrase of ``status``."""
    return _RFC_9110_TITLES.get(status) or http.HTTPStatus(status).phrase


def response_name(status: int) -> str:
    """The spec's response component for ``status``: ``CONTENT_TOO_LARGE`` for 413."""
    return status_title(status).upper().replace(" ", "_").replace("-", "_").replace("'", "")


log = logging.getLogger(__name__)


class Problem(ma.Schema):
    """An RFC 9457 problem detail."""

    type = ma.fields.String(
        required=True,
        metadata={"description": "A URI naming the kind of problem.", "examples": ["about:blank"]},
    )
    title = ma.fields.String(
        required=True,
        metadata={
            "description": "Short summary of the kind of problem.",
            "examples": ["Unprocessable Content"],
        },
    )
    status = ma.fields.Integer(
        required=True, metadata={"description": "The HTTP status code.", "examples": [422]}
    )
    detail = ma.fields.String(
        required=True, metadata={"description": "What went wrong in this request."}
    )
    instance = ma.fields.String(required=True, metadata={"description": "The request path."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": "Validation errors: dotted field path to its messages.",
            "examples": [{"details.personnel.min": ["Must not be greater than max."]}],
        },
    )


# What the spec shows for each status an operation may answer: the detail of a typical
# case, worded as the service words it. Others show the status's standard description.
_EXAMPLE_DETAILS = {
    400: (
        "Invalid field(s): limit.",
        {"limit": ["Must be greater than or equal to 1 and less than or equal to 100."]},
    ),
    401: ("Send an API key: Authorization: Bearer <key>.", None),
    403: ("This API key lacks the write scope.", None),
    404: ("No event has this id.", None),
    406: ("This answer is application/json; the request's Accept allows none of it.", None),
    409: ("Another event already has key '2025-07-12-lavrov-meets-kim-jong-un'.", None),
    410: ("This event was deleted.", None),
    412: ("The event has changed: its current version is 2. Fetch it again and retry.", None),
    413: ("The body is over the limit of 1048576 bytes.", None),
    415: ("Send the body as application/json (got text/plain).", None),
    422: (
        "Invalid field(s): details.personnel.min.",
        {"details.personnel.min": ["Must not be greater than max."]},
    ),
    428: ("Send If-Match with the ETag you last read.", None),
    429: ("Too many requests: 120 a minute for this API key. Try again in 12 s.", None),
    503: ("The database is not answering; try again shortly.", None),
}


def example(status: int) -> dict:
    """An example problem of ``status``, for the spec."""
    status = int(status)
    detail, errors = _EXAMPLE_DETAILS.get(status, (http.HTTPStatus(status).description, None))
    body = {
        "type": "about:blank",
        "title": status_title(status),
        "status": status,
        "detail": detail,
        "instance": "/v1/events",
    }
    if errors:
        body["errors"] = errors
    return body


class ParameterError(ma.ValidationError):
    """A bad query parameter: a 400 naming it, where a bad body field is a 422."""


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: dict | None = None,
    headers: dict | None = None,
) -> Response:
    """A problem+json response."""
    body = {
        "type": "about:blank",
        "title": status_title(status),
        "status": status,
        "detail": detail or http.HTTPStatus(status).description,
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    return Response(
        json.dumps(body, ensure_ascii=False), status=status, headers=headers, mimetype=PROBLEM_JSON
    )


def validation_problem(messages, status: int = 422) -> Response:
    """422 (or 400 for parameters) naming each bad field."""
    errors = flatten_errors(messages)
    fields = ", ".join(sorted(errors))
    return problem(status, f"Invalid field(s): {fields}.", errors=errors)


def _http_error(error: HTTPException) -> Response:
    headers = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # webargs: invalid query parameters
        messages = data["messages"]
        # webargs nests by location ({"query": {...}}); the name is what matters.
        if isinstance(messages, dict) and len(messages) == 1:
            messages = next(iter(messages.values()))
        return validation_problem(messages, status=400)
    headers.update(data.get("headers") or {})
    return problem(error.code or 500, data.get("message") or error.description, headers=headers)


def _unauthenticated(error: Unauthenticated) -> Response:
    # RFC 6750 §3: no error code when no key was sent, `invalid_token` for a bad one.
    challenge = 'Bearer realm="events"'
    if error.key_sent:
        challenge += ', error="invalid_token"'
    return problem(401, error.detail, headers={"WWW-Authenticate": challenge})


def _insufficient_scope(error: InsufficientScope) -> Response:
    challenge = f'Bearer realm="events", error="insufficient_scope", scope="{error.scope}"'
    return problem(
        403,
        f"This API key lacks the `{error.scope}` scope this operation needs.",
        headers={"WWW-Authenticate": challenge},
    )


def _rate_limited(error: RateLimited) -> Response:
    verdict = error.verdict
    return problem(
        429,
        f"Over the limit of {verdict.limit} for `{verdict.policy}` requests; "
        f"retry in {verdict.reset_in} s.",
        headers={"Retry-After": str(max(1, verdict.reset_in)), **verdict.headers()},
    )


def _retry_later(detail: str) -> Response:
    return problem(
        503, detail, headers={"Retry-After": str(current_app.config["RETRY_AFTER_SECONDS"])}
    )


def _unavailable(error: Exception) -> Response:
    log.warning("database unavailable: %s", error)
    return _retry_later("The database is unavailable; try again shortly.")


def _query_cancelled(error: psycopg.errors.QueryCanceled) -> Response:
    log.warning("statement cancelled on %s %s: %s", request.method, request.path, error)
    if "statement timeout" not in (error.diag.message_primary or ""):
        # Cancelled by an operator (pg_cancel_backend), not by its own cost: worth repeating.
        return _retry_later("The database cancelled the query; try again.")
    # The same request would run as long again: no Retry-After, which would invite that.
    limit = current_app.config["DATABASE_STATEMENT_TIMEOUT_MS"]
    return problem(
        503,
        f"The query was too expensive: it ran past the statement timeout "
        f"({limit} ms) and was cancelled. Repeating it will not help; narrow "
        "it (fewer or more selective filters, a shorter date range, a "
        "smaller limit).",
    )


def _transaction_rolled_back(error: Exception) -> Response:
    log.warning("transaction rolled back on %s %s: %s", request.method, request.path, error)
    return _retry_later(
        "The request conflicted with another one at the same moment; "
        "nothing was written. Try again."
    )


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "An unexpected error occurred; it has been logged.")


def register(app: Flask) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ma.ValidationError, lambda e: validation_problem(e.messages))
    app.register_error_handler(ParameterError, lambda e: validation_problem(e.messages, 400))
    app.register_error_handler(EventNotFound, lambda e: problem(404, "No event has this id."))
    app.register_error_handler(EventGone, lambda e: problem(410, "This event was deleted."))
    app.register_error_handler(
        NotYetCreated, lambda e: problem(404, "This event did not exist yet at as_of.")
    )
    app.register_error_handler(
        TooManyChanges,
        lambda e: validation_problem(
            {
                "as_of": [
                    f"More than {e.limit} updates and deletes were recorded after this "
                    "moment: too many to replay in one request. Choose a later moment."
                ]
            },
            400,
        ),
    )
    app.register_error_handler(
        VersionMismatch,
        lambda e: problem(
            412,
            f"The event has changed: its current version is "
            f"{e.current_version}. Fetch it again and retry.",
        ),
    )
    app.register_error_handler(
        KeyTaken, lambda e: problem(409, f"Another event already has key {e.key!r}.")
    )
    app.register_error_handler(
        SubscriptionNotFound, lambda e: problem(404, "No subscription of yours has this id.")
    )
    app.register_error_handler(
        DeliveryNotFound, lambda e: problem(404, "This subscription has no delivery with this id.")
    )
    app.register_error_handler(NotRetryable, lambda e: problem(409, e.reason))
    app.register_error_handler(Unauthenticated, _unauthenticated)
    app.register_error_handler(InsufficientScope, _insufficient_scope)
    app.register_error_handler(
        BadIdempotencyKey,
        lambda e: problem(400, "Idempotency-Key must be 1 to 255 visible ASCII characters."),
    )
    app.register_error_handler(
        KeyReused,
        lambda e: problem(
            422,
            "This Idempotency-Key was used with a different request; use a new key for a "
            "new request.",
        ),
    )
    app.register_error_handler(
        KeyInFlight,
        lambda e: problem(
            409,
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": "1"},
        ),
    )
    app.register_error_handler(RateLimited, _rate_limited)
    app.register_error_handler(UnknownLinks, lambda e: validation_problem(e.errors))
    app.register_error_handler(UnknownActors, lambda e: validation_problem(e.errors))
    app.register_error_handler(
        ActorNotFound, lambda e: problem(404, "No registry actor has this id.")
    )
    app.register_error_handler(
        IdentifierTaken,
        lambda e: problem(409, "Another registry actor holds these.", errors=e.errors),
    )
    app.register_error_handler(PoolTimeout, _unavailable)
    app.register_error_handler(DatabaseUnavailable, _unavailable)
    app.register_error_handler(psycopg.OperationalError, _unavailable)
    # Subclasses of OperationalError that say nothing of the database's health.
    app.register_error_handler(psycopg.errors.QueryCanceled, _query_cancelled)
    # SQLSTATE class 40; psycopg does not make the two common ones subclasses of the third.
    for rolled_back in (
        psycopg.errors.TransactionRollback,
        psycopg.errors.DeadlockDetected,
        psycopg.errors.SerializationFailure,
    ):
        app.register_error_handler(rolled_back, _transaction_rolled_back)
    app.register_error_handler(WriteOrderConflict, _transaction_rolled_back)
    app.register_error_handler(MergeRaced, _transaction_rolled_back)
    app.register_error_handler(Exception, _unexpected)

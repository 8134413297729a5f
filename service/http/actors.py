"""``/v1/actors``: every actor seen in live events, with counts; name search."""

from __future__ import annotations

import json
import uuid

import marshmallow as ma
from flask import Response, url_for
from flask.views import MethodView
from marshmallow.validate import OneOf

from schemas import limits
from schemas.common import ACTOR_KINDS, Identifier, StrictSchema, identifiers_field
from schemas.fields import BoundedList, BoundedString, CountryCode
from service import auth
from service.db import get_db
from service.http import pagination
from service.http.api import ApiBlueprint
from service.http.body import JSON, json_body
from service.http.pagination import LINK_HEADER, cursor_position, page_response
from service.http.responses import json_response
from service.http.search_args import ActorArgs
from service.replica import get_read_db
from service.storage.actor_registry import ActorMoved, IdentifierTaken
from service.storage.actors import actor_store, merge_actors, registry_read, registry_write

blp = ApiBlueprint(
    "actors", __name__, url_prefix="/v1/actors", description="Actors seen in events, with counts."
)


class ActorSummary(ma.Schema):
    """An actor, as seen across events."""

    name = ma.fields.String(
        required=True,
        metadata={
            "description": "Its most frequent spelling; actors are told apart by name, ignoring "
            "case.",
            "examples": ["Sergey Lavrov"],
        },
    )
    kind = ma.fields.String(
        required=True,
        metadata={"enum": list(ACTOR_KINDS), "description": "Its most frequent kind."},
    )
    country = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "Its most frequent country."}
    )
    event_count = ma.fields.Integer(
        required=True, metadata={"description": "Live events it takes part in."}
    )


class ActorPage(ma.Schema):
    """A page of actors, in name order."""

    items = ma.fields.List(ma.fields.Nested(ActorSummary), required=True)
    next_cursor = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last."},
    )


def _name_key(position: list) -> str:
    (key,) = position
    if not isinstance(key, str):
        raise TypeError("not a name key")
    return key


class RegistryActorBody(StrictSchema):
    """A registry actor as written: its name, kind, country, other names and identifiers."""

    name = BoundedString(required=True, metadata={"examples": ["Sergey Lavrov"]})
    kind = ma.fields.String(required=True, validate=OneOf(ACTOR_KINDS))
    country = CountryCode(allow_none=True)
    aliases = BoundedList(
        BoundedString(),
        max_items=limits.LIST_ITEMS,
        metadata={
            "description": "Other names it goes by; an event actor of this kind written under "
            "any of them (ignoring case and accents) resolves to it.",
            "examples": [["Sergei Lavrov", "Lavrov"]],
        },
    )
    identifiers = identifiers_field(
        "Its ids in other registries (`wikidata`, `ucdp-actor`, `acled` …); each names one "
        "registry actor only."
    )


class RegistryActorChange(RegistryActorBody):
    """A change: `name` and `country` replace; `aliases` and `identifiers` are added; the
    kind stays."""

    kind = ma.fields.String(dump_only=True)


class RegistryActor(ma.Schema):
    """A registry actor, with every name and identifier it has, and its live events."""

    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": list(ACTOR_KINDS)})
    country = ma.fields.String(allow_none=True, required=True)
    aliases = ma.fields.List(ma.fields.String(), required=True)
    identifiers = ma.fields.List(ma.fields.Nested(Identifier), required=True)
    event_count = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Live events it takes part in, as one of their actors "
            "(`GET /v1/events?actor_id=`)."
        },
    )
    source_event_count = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Live events whose sources cite it: as a publisher or a link of an "
            "attribution chain (`GET /v1/events?source_actor_id=`)."
        },
    )


class MergeBody(StrictSchema):
    """The actor to fold this one into."""

    into = ma.fields.UUID(required=True, metadata={"description": "The survivor's id."})


class MergeResult(ma.Schema):
    """What a merge changed."""

    merged = ma.fields.UUID(required=True, metadata={"description": "Now answers 308."})
    into = ma.fields.UUID(required=True)
    events = ma.fields.List(
        ma.fields.UUID(),
        required=True,
        metadata={
            "description": "Events rewritten to name the survivor (each a new version "
            "in the change feed)."
        },
    )


def _body(schema: type[ma.Schema]) -> dict:
    return {"required": True, "content": {JSON: {"schema": schema}}}


ACTOR_ID = {
    "in": "path",
    "name": "actor_id",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
MOVED = {
    "description": "Merged into another actor: `Location` names the survivor.",
    "headers": {"Location": {"schema": {"type": "string"}}},
}


def _moved(survivor: uuid.UUID) -> Response:
    return Response(
        status=308, headers={"Location": url_for("actors.ActorById", actor_id=survivor)}
    )


@blp.route("/<uuid:actor_id>", parameters=[ACTOR_ID])
class ActorById(MethodView):
    """One registry actor."""

    @blp.requires_scope("read")
    @blp.doc(operationId="getActor", responses={308: MOVED})
    @blp.response(200, RegistryActor)
    @blp.answers(404)
    @blp.uses_database
    def get(self, actor_id: uuid.UUID):
        """Get a registry actor

        All its names and identifiers, and the number of live events it takes part in. A
        merged actor answers 308 to its survivor.
        """
        try:
            return json_response(registry_read(get_read_db(), lambda r: r.get(actor_id)))
        except ActorMoved as moved:
            return _moved(moved.into)

    @blp.requires_scope("write")
    @blp.doc(operationId="changeActor", responses={308: MOVED})
    @blp.doc(requestBody=_body(RegistryActorChange))
    @blp.response(200, RegistryActor)
    @blp.answers(400, 404, 409, 413, 415, 422)
    @blp.uses_database
    def patch(self, actor_id: uuid.UUID):
        """Change a registry actor

        `name` and `country` replace; `aliases` and `identifiers` are added to those it has
        (an alias or identifier another actor holds is a 409: merge instead).
        """
        change = RegistryActorChange().load(
            json_body(), partial=("name", "country", "aliases", "identifiers")
        )
        try:
            return json_response(
                registry_write(get_db(), lambda r: (r.change(actor_id, change), r.get(actor_id))[1])
            )
        except ActorMoved as moved:
            return _moved(moved.into)


@blp.route("/<uuid:actor_id>/merge", parameters=[ACTOR_ID])
class ActorMerge(MethodView):
    """Folding a duplicate actor into another."""

    @blp.requires_scope("admin")
    @blp.doc(operationId="mergeActor")
    @blp.doc(requestBody=_body(MergeBody))
    @blp.response(200, MergeResult)
    @blp.answers(400, 404, 409, 413, 415, 422)
    @blp.uses_database
    def post(self, actor_id: uuid.UUID):
        """Merge a registry actor into another

        Its aliases and identifiers move to the survivor (`into`), its live events are
        rewritten to name the survivor (new versions: the change feed lists them), and
        its id answers 308 to the survivor from now on. A merged actor, on either side, is a
        409.
        """
        body = MergeBody().load(json_body())
        try:
            events = merge_actors(get_db(), actor_id, body["into"], auth.caller_name())
        except ActorMoved as moved:
            raise IdentifierTaken(
                {"into": ["An actor merged already cannot take part."]}
            ) from moved
        return json_response(
            json.dumps(
                {
                    "merged": str(actor_id),
                    "into": str(body["into"]),
                    "events": [str(e) for e in events],
                }
            )
        )


@blp.route("")
class Actors(MethodView):
    """The actors of live events."""

    @blp.requires_scope("read")
    @blp.doc(operationId="listActors")
    @blp.arguments(ActorArgs, location="query")
    @blp.response(200, ActorPage, headers={"Link": LINK_HEADER})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.uses_database
    def get(self, args: dict):
        """List actors

        Every actor named in a live event, in name order, with the number of events it takes
        part in. `q` matches part of the name, ignoring case, or a name within a small typo.
        """
        limit, text = args["limit"], args.get("q")
        scope = pagination.scope("actors", {"q": text})
        after = cursor_position(scope, args.get("cursor"), _name_key)
        rows = actor_store().page(limit + 1, text, after)
        next_position = [rows[limit - 1][0]] if len(rows) > limit else None
        items = [
            json.dumps(
                {"name": name, "kind": kind, "country": country, "event_count": count},
                ensure_ascii=False,
            )
            for _, name, kind, country, count in rows[:limit]
        ]
        return page_response(items, scope, next_position)

    @blp.requires_scope("write")
    @blp.doc(operationId="createActor", requestBody=_body(RegistryActorBody))
    @blp.response(
        201,
        RegistryActor,
        headers={
            "Location": {"description": "URL of the new actor.", "schema": {"type": "string"}}
        },
    )
    @blp.answers(400, 409, 413, 415, 422)
    @blp.uses_database
    def post(self):
        """Create a registry actor

        Its name and aliases (within its kind) and its identifiers must be no other actor's
        (409 otherwise). Events' actors resolve to it from then on.
        """
        actor = RegistryActorBody().load(json_body())
        actor_id, text = registry_write(
            get_db(), lambda r: (created := r.create(actor), r.get(created))
        )
        location = url_for("actors.ActorById", actor_id=actor_id)
        return json_response(text, 201, {"Location": location})

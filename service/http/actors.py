"""``/v1/actors``: every actor seen in live events, with counts; name search."""

from __future__ import annotations

import json

import marshmallow as ma
from flask.views import MethodView

from schemas.common import ACTOR_KINDS
from service.http import pagination
from service.http.api import ApiBlueprint
from service.http.pagination import LINK_HEADER, cursor_position, page_response
from service.http.search_args import ActorArgs
from service.storage.actors import actor_store

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


def _name_key(position: list) -> str:
    (key,) = position
    if not isinstance(key, str):
        raise TypeError("not a name key")
    return key

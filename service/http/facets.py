"""``GET /v1/events/facets``: counts over the events a search matches."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from service.http.api import ApiBlueprint
from service.http.search_args import FacetArgs
from service.storage import search_query
from service.storage.search import TOP_ACTORS, search_store

blp = ApiBlueprint(
    "search", __name__, url_prefix="/v1/events", description="Search events: facet counts."
)


class ActorCount(ma.Schema):
    """A registry actor and the number of matching events it is an actor of."""

    id = ma.fields.UUID(required=True, metadata={"description": "Registry id (`/v1/actors/{id}`)."})
    name = ma.fields.String(required=True, metadata={"description": "The registry's name for it."})
    count = ma.fields.Integer(required=True, metadata={"description": "Matching events."})


class Facets(ma.Schema):
    """How many events match, and how they divide."""

    total = ma.fields.Integer(required=True, metadata={"description": "Events matching."})
    type = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "Events per type; adds up to total."},
    )
    country = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={
            "description": "Events per country (location or actor); an event with "
            "several countries counts once in each."
        },
    )
    certainty = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "Events per certainty; adds up to total."},
    )
    source_kind = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={
            "description": "Events per kind of source, publisher or any link of the "
            "attribution chain; an event counts once under each kind "
            "it names, and not at all when it names none."
        },
    )
    month = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={
            "description": "Events per month (YYYY-MM) in which their date span "
            "starts; an event dated only to a year counts under the "
            "year (YYYY); an `on_or_before` event under its date with "
            "an open start (`../YYYY-MM`, as in ISO 8601-2). Adds up "
            "to total.",
            "examples": [{"2024": 5, "2024-11": 3, "2025-07": 12, "../2025-07": 2}],
        },
    )
    actor = ma.fields.List(
        ma.fields.Nested(ActorCount),
        metadata={
            "description": f"With `facet=actor` only: the {TOP_ACTORS} registry actors with "
            "the most matching events, most first (ties by name, then id); an event counts "
            "once under each registry actor among its actors, a merged actor's events under "
            "the actor it was merged into."
        },
    )


@blp.route("/facets")
class EventFacets(MethodView):
    """Counts over the events a search matches."""

    @blp.requires_scope("read")
    @blp.doc(operationId="getEventFacets")
    @blp.arguments(FacetArgs, location="query")
    @blp.response(200, Facets)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.uses_database
    def get(self, args: dict):
        """Count matching events by type, country, certainty, source kind and month

        Takes the filters of `GET /v1/events`. Counts by type, certainty and month each add
        up to `total`; an event counts under each of its countries. `facet=actor` adds the
        registry actors with the most matches.
        """
        actors = "actor" in args.pop("facet", [])
        return search_store().facets(search_query.build(args), actors=actors)

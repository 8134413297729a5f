"""Search over events: the keyset-paged search behind ``GET /v1/events``, and its facets."""

from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask.views import MethodView

from service.http.api import ApiBlueprint
from service.http.pagination import cursor_position, page_response
from service.search.params import FilterArgs
from service.storage import search_query
from service.storage.search import search_store

blp = ApiBlueprint("search", __name__, url_prefix="/v1/events",
                   description="Search events: facet counts.")

def search_page(args: dict) -> Response:
    """One page of a search: ``args`` as loaded by ``SearchArgs``."""
    limit, token, sort = args.pop("limit"), args.pop("cursor", None), args["sort"]
    scope = f"events:{search_query.fingerprint(args)}"
    after = cursor_position(scope, token,
                            lambda value: search_query.position_from_json(sort, value))
    rows = search_store().page(search_query.build(args), sort, limit + 1, after)
    next_position = None
    if len(rows) > limit:
        rows = rows[:limit]
        _, key_value, event_id, _ = rows[-1]
        next_position = search_query.position_to_json(sort, key_value, event_id)
    return page_response([_with_distance(body, distance) for body, _, _, distance in rows],
                         scope, next_position)


def _with_distance(body: str, distance_km: float | None) -> str:
    """The stored JSON text, with ``distance_km`` added as its last member under ``near``."""
    if distance_km is None:
        return body
    # The stored text is one JSON object: its last character is the closing brace.
    return f'{body[:-1]},"distance_km":{round(distance_km, 3)}}}'



class Facets(ma.Schema):
    """How many events match, and how they divide."""

    total = ma.fields.Integer(required=True, metadata={"description": "Events matching."})
    type = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                          metadata={"description": "Events per type; adds up to total."})
    country = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
        metadata={"description": "Events per country (location or actor); an event with "
                                 "several countries counts once in each."})
    certainty = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(),
                               required=True,
                               metadata={"description": "Events per certainty; adds up to "
                                                        "total."})
    source_kind = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
        metadata={"description": "Events per kind of source, publisher or any link of the "
                                 "attribution chain; an event counts once under each kind "
                                 "it names, and not at all when it names none."})
    month = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
        metadata={"description": "Events per month (YYYY-MM) in which their date span "
                                 "starts; an event dated only to a year counts under the "
                                 "year (YYYY); an `on_or_before` event under its date with "
                                 "an open start (`../YYYY-MM`, as in ISO 8601-2). Adds up "
                                 "to total.",
                  "examples": [{"2024": 5, "2024-11": 3, "2025-07": 12, "../2025-07": 2}]})


@blp.route("/facets")
class EventFacets(MethodView):
    """Counts over the events a search matches."""

    @blp.requires_scope("read")
    @blp.doc(operationId="getEventFacets")
    @blp.arguments(FilterArgs, location="query")
    @blp.response(200, Facets)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.uses_database
    def get(self, args: dict):
        """Count matching events by type, country, certainty, source kind and month

        Takes the filters of `GET /v1/events`. Counts by type, certainty and month each add
        up to `total`; an event counts under each of its countries.
        """
        return search_store().facets(search_query.build(args))

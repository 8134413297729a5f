"""Search over events: the keyset-paged search behind ``GET /v1/events``, and its facets."""

from __future__ import annotations

import json

import marshmallow as ma
from flask import Response, request, url_for
from flask.views import MethodView

from service.http import cursor as cursors
from service.http.api import ApiBlueprint
from service.http.body import JSON
from service.http.problems import ParameterError
from service.search.params import FilterArgs
from service.storage import search_query
from service.storage.search import search_store

blp = ApiBlueprint("search", __name__, url_prefix="/v1/events",
                   description="Search events: facet counts.")

LINK_HEADER = {"description": 'RFC 8288 link to the next page, rel="next".',
               "schema": {"type": "string"}}


def cursor_position(scope: str, token: str | None, load):
    """The position a cursor of ``scope`` stands for, read by ``load``; a foreign one is a 400."""
    if token is None:
        return None
    try:
        return load(cursors.decode(scope, token))
    except (cursors.BadCursor, ValueError, TypeError, AttributeError) as error:
        raise ParameterError({"cursor": ["Not a cursor of this listing."]}) from error


def page_response(items_json: list[str], scope: str, next_position: list | None) -> Response:
    """A page from items that are JSON text already, with a ``Link: rel="next"`` header."""
    next_cursor = None
    headers = {}
    if next_position is not None:
        next_cursor = cursors.encode(scope, next_position)
        args = request.args.to_dict(flat=False) | {"cursor": next_cursor}
        # Relative, like Location: an absolute URL would name the wrong scheme or host
        # behind a TLS-terminating proxy.
        link = url_for(request.endpoint, **request.view_args, **args)
        headers["Link"] = f'<{link}>; rel="next"'
    text = ('{"items":[' + ",".join(items_json) + '],"next_cursor":'
            + json.dumps(next_cursor) + "}")
    return Response(text, headers=headers, mimetype=JSON)


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
        _, key_value, event_id = rows[-1]
        next_position = search_query.position_to_json(sort, key_value, event_id)
    return page_response([row[0] for row in rows], scope, next_position)


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
    month = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
        metadata={"description": "Events per month (YYYY-MM) in which their date span "
                                 "starts; an event dated only to a year counts under the "
                                 "year (YYYY). Adds up to total.",
                  "examples": [{"2024": 5, "2024-11": 3, "2025-07": 12}]})


@blp.route("/facets")
class EventFacets(MethodView):
    """Counts over the events a search matches."""

    @blp.doc(operationId="getEventFacets")
    @blp.arguments(FilterArgs, location="query")
    @blp.response(200, Facets)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.uses_database
    def get(self, args: dict):
        """Count matching events by type, country, certainty and month

        Takes the filters of `GET /v1/events`. Counts by type, certainty and month each add
        up to `total`; an event counts under each of its countries.
        """
        return search_store().facets(search_query.build(args))

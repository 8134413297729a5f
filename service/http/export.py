"""``/v1/events/export``: every event a search matches, streamed as NDJSON, CSV or GeoJSON."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator

from flask import Response, request, stream_with_context
from flask.views import MethodView

from service.http.api import ApiBlueprint
from service.http.search_args import ExportArgs
from service.storage import csv_line, search_query
from service.storage.search import BODY_AND_POINT, search_store

blp = ApiBlueprint(
    "export",
    __name__,
    url_prefix="/v1/events",
    description="Every event a search matches, streamed as a file.",
)

NDJSON = "application/x-ndjson"
CSV = "text/csv"
GEOJSON = "application/geo+json"


def _ndjson(batches: Iterable[list[tuple]]) -> Iterator[str]:
    for batch in batches:
        yield "".join(body + "\n" for body, _, _ in batch)


def _csv(batches: Iterable[list[tuple]]) -> Iterator[str]:
    # Each row arrives as its finished line (csv_line.CSV_LINE): nothing is parsed here.
    yield csv_line.header()
    for batch in batches:
        yield "".join(line for (line,) in batch)


def _geojson(batches: Iterable[list[tuple]]) -> Iterator[str]:
    # The stored JSON goes out as the properties, as is: nothing is parsed.
    yield '{"type":"FeatureCollection","features":['
    separator = ""
    for batch in batches:
        features = []
        for body, lon, lat in batch:
            features.append(
                f'{separator}{{"type":"Feature","geometry":{{"type":"Point","coordinates":'
                f"[{json.dumps(lon)},{json.dumps(lat)}]}},"
                f'"properties":{body}}}'
            )
            separator = ","
        yield "".join(features)
    yield "]}"


# format -> (media type, writer, what it reads of each row, only events with coordinates)
FORMATS = {
    "ndjson": (NDJSON, _ndjson, BODY_AND_POINT, False),
    "csv": (f"{CSV}; charset=utf-8", _csv, csv_line.CSV_LINE, False),
    "geojson": (GEOJSON, _geojson, BODY_AND_POINT, True),
}


def _started(batches: Iterator[list[tuple]]) -> Iterator[list[tuple]]:
    # The query runs before the response starts: a database error is still a 503
    # problem, not a 200 cut short.
    first = next(batches, None)
    return itertools.chain([] if first is None else [first], batches)


def _streamed(text: Iterator[str]) -> Iterator[bytes]:
    for chunk in text:
        if chunk:
            yield chunk.encode()


@blp.route("/export")
class EventExport(MethodView):
    """Search results as a file."""

    @blp.requires_scope("read")
    @blp.doc(
        operationId="exportEvents",
        responses={
            "200": {
                "description": "Every matching event, streamed in the requested format.",
                "headers": {
                    "Content-Disposition": {
                        "description": 'attachment; filename="events.<format>"',
                        "schema": {"type": "string"},
                    }
                },
                "content": {
                    NDJSON: {
                        "schema": {
                            "type": "string",
                            "description": "One event (as `GET /v1/events/{id}` serves "
                            "it) per line.",
                        }
                    },
                    CSV: {
                        "schema": {
                            "type": "string",
                            "description": "A header row, then one row per event: "
                            + ", ".join(csv_line.CSV_COLUMNS)
                            + ".",
                        }
                    },
                    GEOJSON: {
                        "schema": {
                            "type": "object",
                            "description": "A FeatureCollection: one Point feature per "
                            "event with coordinates, the event as its "
                            "properties (so `location.precision` says "
                            "what the point stands for, and "
                            "`date_basis` how the date places it).",
                        }
                    },
                },
            }
        },
    )
    @blp.arguments(ExportArgs, location="query")
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.uses_database
    def get(self, args: dict):
        """Export matching events

        Takes the filters and `sort` of `GET /v1/events`, without paging: every match is
        streamed, however many. `format=csv` flattens each event to one row (lists joined
        with `; `, `details` and `related` as JSON); `format=geojson` leaves out events
        without coordinates.
        """
        file_format = args.pop("format")
        media_type, writer, columns, located = FORMATS[file_format]
        headers = {"Content-Disposition": f'attachment; filename="events.{file_format}"'}
        if request.method == "HEAD":  # the headers only: no need to run the query
            return Response(content_type=media_type, headers=headers)
        query = search_query.build(args, located=located)
        stream = search_store().stream(query, args["sort"], columns)
        response = Response(
            stream_with_context(_streamed(writer(_started(stream)))),
            content_type=media_type,
            headers=headers,
        )
        # Give back the connection and its server-side cursor as soon as the response is
        # closed, read to the end or not (a client that hangs up), not when it is collected.
        response.call_on_close(stream.close)
        return response

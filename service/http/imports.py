"""``POST /v1/imports?format=ucdp-ged|acled``: a dataset's CSV export, streamed into the store.

The same import as ``flask --app service import``: the body is read row by row as it
arrives (gzip content-encoding decompressed on the way), never whole into memory.
"""

from __future__ import annotations

import gzip
import io
import json

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from service import auth
from service.http.api import ApiBlueprint
from service.http.body import require_media_type
from service.http.problems import problem
from service.http.responses import json_response
from service.imports import DATASETS
from service.imports.csv_source import (
    BodyTooLarge,
    CountingReader,
    FileRefused,
    HeaderRefused,
    LimitedReader,
    numbered_rows,
)
from service.imports.runner import LISTED, run_import
from service.storage import event_store

CSV = "text/csv"

blp = ApiBlueprint(
    "imports",
    __name__,
    url_prefix="/v1/imports",
    description="Import UCDP GED and ACLED CSV exports.",
)


class ImportArgs(ma.Schema):
    """Query parameters of an import."""

    format = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(tuple(DATASETS)),
        metadata={
            "description": "The dataset the file is an export of: `ucdp-ged` (UCDP GED, a "
            "release or candidate file) or `acled` (an ACLED export).",
            "examples": ["ucdp-ged"],
        },
    )
    dry_run = ma.fields.Boolean(
        load_default=False,
        truthy={"true"},
        falsy={"false"},
        metadata={"description": "Validate and count what would happen; write nothing."},
    )


class RowProblemSchema(ma.Schema):
    """A rejected row or a warning."""

    line = ma.fields.Integer(
        required=True, metadata={"description": "The line of the file the row starts on."}
    )
    field = ma.fields.String(
        required=True,
        metadata={"description": "The column (or, for a rule of the model, the event field)."},
    )
    reason = ma.fields.String(required=True)


class ImportSummarySchema(ma.Schema):
    """What an import did: counts, and the rejected rows and warnings with their lines."""

    dataset = ma.fields.String(required=True, metadata={"enum": list(DATASETS)})
    dry_run = ma.fields.Boolean(required=True)
    rows_read = ma.fields.Integer(required=True)
    created = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(
        required=True,
        metadata={"description": "Rows whose event was stored with other content: +1 version."},
    )
    unchanged = ma.fields.Integer(
        required=True, metadata={"description": "Rows stored as they are: nothing written."}
    )
    left_deleted = ma.fields.Integer(
        required=True,
        metadata={"description": "Rows whose event was deleted through the API: left so."},
    )
    rejected = ma.fields.Integer(
        required=True, metadata={"description": "Rows that cannot be events; not written."}
    )
    warnings = ma.fields.Integer(
        required=True,
        metadata={"description": "Normalisations made to rows that were imported."},
    )
    rejected_rows = ma.fields.List(ma.fields.Nested(RowProblemSchema), required=True)
    warning_rows = ma.fields.List(ma.fields.Nested(RowProblemSchema), required=True)
    listed_at_most = ma.fields.Integer(
        required=True,
        metadata={
            "description": "The lists hold at most this many items each; the counts are whole."
        },
    )


SUMMARY_EXAMPLE = {
    "dataset": "ucdp-ged",
    "dry_run": False,
    "rows_read": 3,
    "created": 2,
    "updated": 0,
    "unchanged": 0,
    "left_deleted": 0,
    "rejected": 1,
    "warnings": 1,
    "rejected_rows": [{"line": 4, "field": "date_start", "reason": "missing: a date is required"}],
    "warning_rows": [
        {"line": 3, "field": "best", "reason": "best 12 above high 8: high taken as 12"}
    ],
    "listed_at_most": LISTED,
}
GED_EXAMPLE = (
    "id,relid,year,active_year,code_status,type_of_violence,conflict_dset_id,"
    "conflict_new_id,conflict_name,dyad_dset_id,dyad_new_id,dyad_name,side_a_dset_id,"
    "side_a_new_id,side_a,side_b_dset_id,side_b_new_id,side_b,number_of_sources,"
    "source_article,source_office,source_date,source_headline,source_original,where_prec,"
    "where_coordinates,where_description,adm_1,adm_2,latitude,longitude,geom_wkt,"
    "priogrid_gid,country,country_id,region,event_clarity,date_prec,date_start,date_end,"
    "deaths_a,deaths_b,deaths_civilians,deaths_unknown,best,high,low,gwnoa,gwnob\n"
    "900001,X-900001,2023,1,Clear,1,,13243,Russia - Ukraine,,15928,"
    "Government of Russia (Soviet Union) - Government of Ukraine,,57,"
    "Government of Russia (Soviet Union),,65,Government of Ukraine,1,,Reuters,2023-05-02,"
    "Shelling hits town,Local officials,1,Bakhmut town,in Bakhmut,Donetsk oblast,"
    "Bakhmutskyi raion,48.5956,38.0002,POINT (38.0002 48.5956),178916,Ukraine,369,Europe,"
    "1,1,2023-05-02,2023-05-02,2,3,1,0,6,8,5,365,369\n"
)
IMPORT_BODY = {
    "required": True,
    "description": "The CSV file as the dataset exports it, header first (UTF-8). Send "
    "`Content-Encoding: gzip` to upload it compressed. At most `IMPORT_MAX_BODY_BYTES` "
    "(256 MiB by default) as sent and `IMPORT_MAX_DATA_BYTES` (1 GiB) decompressed: 413 "
    "beyond. Larger files: the `flask --app service import` command.",
    "content": {
        CSV: {
            "schema": {"type": "string"},
            "examples": {"ucdp-ged": {"summary": "One UCDP GED row", "value": GED_EXAMPLE}},
        }
    },
}


@blp.before_request
def _import_body_limit() -> None:
    """A dataset's export is far larger than one event: imports have their own body limit."""
    request.max_content_length = current_app.config["IMPORT_MAX_BODY_BYTES"]


def _body() -> io.BufferedReader:
    """The request body as it arrives, decompressed, capped at the decompressed limit."""
    require_media_type(CSV)
    coding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if coding not in ("identity", "gzip", "x-gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {coding} is not accepted (gzip is).")
    stream = io.BufferedReader(CountingReader(request.stream))
    if coding != "identity":
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    limited = LimitedReader(stream, current_app.config["IMPORT_MAX_DATA_BYTES"])
    return io.BufferedReader(limited)


@blp.route("")
class Imports(MethodView):
    """Imports of datasets' exports."""

    @blp.requires_scope("write")
    @blp.doc(operationId="importDataset", requestBody=IMPORT_BODY)
    @blp.arguments(ImportArgs, location="query")
    @blp.response(200, ImportSummarySchema, example=SUMMARY_EXAMPLE)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(413, response="CONTENT_TOO_LARGE")
    @blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
    @blp.uses_database
    def post(self, args: dict):
        """Import a UCDP GED or ACLED CSV export

        Each row becomes an event (docs/imports.md has the mapping of every column),
        validated as `POST /v1/events` validates and written by its natural key
        (`ucdp-ged-{id}`, `acled-{event_id_cnty}`), in batches of 1,000 each in its own
        transaction. Importing the same file again writes nothing; a row that changed
        makes one new version. A row that cannot be an event is rejected (listed with its
        line, column and reason) while the others go in; an untidy cell is normalised
        with a warning. A header that lacks a column the mapping reads is a 400 naming
        the missing columns, before anything is written.
        """
        dataset = DATASETS[args["format"]]
        try:
            _, rows = numbered_rows(_body(), dataset.required_columns)
            summary = run_import(
                event_store(auth.caller_name()), dataset, rows, dry_run=args["dry_run"]
            )
        except HeaderRefused as refusal:
            return problem(
                400,
                f"Not a {dataset.title} export: the header lacks {', '.join(refusal.missing)}.",
                errors={column: ["Missing column."] for column in refusal.missing},
            )
        except BodyTooLarge as error:
            raise RequestEntityTooLarge(str(error)) from error
        except (gzip.BadGzipFile, EOFError) as error:
            return problem(400, f"The body is not valid gzip: {error}")
        except FileRefused as refusal:
            return problem(400, f"The file cannot be imported: {refusal}")
        return json_response(json.dumps(summary.as_json(), ensure_ascii=False))

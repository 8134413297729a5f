"""``/v1/changes``: the change feed other services follow to mirror the store."""

from __future__ import annotations

import json
import re

import marshmallow as ma
from flask import request, url_for
from flask.views import MethodView
from marshmallow.validate import Range, Regexp

from service.http.api import ApiBlueprint
from service.http.events import Revision
from service.http.pagination import LINK_HEADER
from service.http.responses import json_response
from service.storage.changes import FEED_START, FeedPosition, change_store

blp = ApiBlueprint(
    "changes",
    __name__,
    url_prefix="/v1/changes",
    description="The change feed: every create, update and delete, in order.",
)

_POSITION = re.compile(r"^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})$")
NOW = "now"
# `now`, or a position of the feed: a `next_cursor`, or a change's id (a webhook's).
AFTER = Regexp(
    rf"^(now|{_POSITION.pattern[1:-1]})$", error="Give `now` or a `next_cursor` of this feed."
)


class ChangesArgs(ma.Schema):
    """Where to read the feed from, and how much."""

    after = ma.fields.String(
        validate=AFTER,
        metadata={
            "description": "`next_cursor` of the previous page; `now` to start from "
            "the present. Absent: from the first change ever stored.",
            "examples": ["now"],
        },
    )
    limit = ma.fields.Integer(
        load_default=100,
        validate=Range(1, 1000),
        metadata={"description": "Changes per page (1–1000)."},
    )


class ChangePage(ma.Schema):
    """A page of the change feed."""

    items = ma.fields.List(
        ma.fields.Nested(Revision),
        required=True,
        metadata={
            "description": "Changes in commit order: each event's versions in order, none twice."
        },
    )
    next_cursor = ma.fields.String(
        required=True,
        metadata={
            "description": "Pass as `after` for the next page. Never null: on an empty page it "
            "is the cursor you sent, to poll with again."
        },
    )


def feed_position(after: str | None) -> FeedPosition:
    """The feed position an `after` value names (absent: the start of the feed)."""
    if after is None:
        return FEED_START
    if after == NOW:
        return change_store().now()
    txid, seq = _POSITION.match(after).groups()
    return FeedPosition(int(txid), int(seq))


@blp.route("")
class Changes(MethodView):
    """The change feed."""

    @blp.requires_scope("read")
    @blp.doc(operationId="listChanges")
    @blp.arguments(ChangesArgs, location="query")
    @blp.response(200, ChangePage, headers={"Link": LINK_HEADER})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.uses_database
    def get(self, args: dict):
        """Follow changes

        Every create, update and delete, oldest first, each with the event as that version
        stored it (a delete's is the tombstone, with `deleted_at`) and the name of the API
        key that wrote it. Store `next_cursor` and pass it back as `after` to go on: no
        change is missed or served twice, even when writers commit out of order, and each
        event's versions come in order. A change shows once its transaction and every
        older one still running have ended (usually within milliseconds).
        """
        items, position = change_store().page(feed_position(args.get("after")), args["limit"])
        cursor = str(position)
        link = url_for(request.endpoint, after=cursor, limit=args["limit"])
        text = '{"items":[' + ",".join(items) + '],"next_cursor":' + json.dumps(cursor) + "}"
        return json_response(text, headers={"Link": f'<{link}>; rel="next"'})

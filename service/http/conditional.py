"""ETags from event versions, and the If-Match / If-None-Match checks (RFC 9110 §13)."""

from __future__ import annotations

import re

from flask import current_app, request
from werkzeug.exceptions import PreconditionRequired

from service.http.problems import ParameterError

# A compressed answer's ETag names its coding too (`"v3:gzip"`, set by flask-compress), as
# a strong validator must differ per representation; both name version 3 here.
_ETAG = re.compile(r'^"v([1-9][0-9]{0,9})(?::(?:gzip|br|deflate|zstd))?"$')


# If-Match's syntax (RFC 9110 §13.1.1): `*`, or a list of entity tags, weak or strong.
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
IF_MATCH_PATTERN = rf"^[ \t]*(?:\*|{_ENTITY_TAG}(?:[ \t]*,[ \t]*{_ENTITY_TAG})*)[ \t]*$"
_IF_MATCH = re.compile(IF_MATCH_PATTERN)


def etag(version: int) -> str:
    """The strong ETag of an event version (uncompressed)."""
    return f'"v{version}"'


def _versions(tags: list[str]) -> set[int]:
    return {int(m.group(1)) for m in map(_ETAG.match, tags) if m}


def not_modified(version: int) -> str | None:
    """The ETag to answer 304 with, when If-None-Match already names this version.

    Weak comparison. The tag is the one the client holds, so that a cache of the gzip
    representation (`"v3:gzip"`) is told that representation is still current.
    """
    header = request.headers.get("If-None-Match")
    if not header:
        return None
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    if "*" in tags:
        return etag(version)
    return next((tag for tag in tags if _versions([tag]) == {version}), None)


def expected_versions() -> set[int] | None:
    """Versions If-Match allows (None: any; empty: none, so the write answers 412).

    A 400 naming If-Match when it is not one by its syntax; 428 when it is missing and
    required. Strong comparison: a weak tag never matches, so it fails the precondition.
    The 412 itself comes from the store, after the event is found (404 and 410 first) and
    the body is checked (400, 415, 422 first).
    """
    header = request.headers.get("If-Match")
    if header is None:
        if current_app.config["REQUIRE_IF_MATCH"]:
            raise PreconditionRequired("Send If-Match with the ETag you last read.")
        return None
    if not _IF_MATCH.match(header):
        raise ParameterError({"If-Match": ['Not `*` or a list of entity tags such as "v3".']})
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags:
        return None
    return _versions(tags)

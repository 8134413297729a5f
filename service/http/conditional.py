"""ETags from event versions, and the If-Match / If-None-Match checks (RFC 9110 §13)."""

from __future__ import annotations

import re

from flask import current_app, request
from werkzeug.exceptions import PreconditionFailed, PreconditionRequired

# A compressed answer's ETag names its coding too (`"v3:gzip"`, set by flask-compress), as
# a strong validator must differ per representation; both name version 3 here.
_ETAG = re.compile(r'^"v([1-9][0-9]{0,9})(?::(?:gzip|br|deflate|zstd))?"$')


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
    """Versions If-Match allows (None: any). Raises 412/428 as the request deserves.

    Strong comparison: a weak tag never matches, so it fails the precondition.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if current_app.config["REQUIRE_IF_MATCH"]:
            raise PreconditionRequired("Send If-Match with the ETag you last read.")
        return None
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags:
        return None
    versions = _versions(tags)
    if not versions:
        raise PreconditionFailed("If-Match names no version of this event.")
    return versions

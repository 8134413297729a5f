"""ETags from event versions, and the If-Match / If-None-Match checks (RFC 9110 §13)."""

from __future__ import annotations

import re

from flask import current_app, request
from werkzeug.exceptions import PreconditionFailed, PreconditionRequired

_ETAG = re.compile(r'^"v([1-9][0-9]{0,9})"$')


def etag(version: int) -> str:
    """The strong ETag of an event version."""
    return f'"v{version}"'


def not_modified(version: int) -> bool:
    """True when If-None-Match already names this version (weak comparison)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag(version) in tags


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
    versions = {int(m.group(1)) for m in map(_ETAG.match, tags) if m}
    if not versions:
        raise PreconditionFailed("If-Match names no version of this event.")
    return versions

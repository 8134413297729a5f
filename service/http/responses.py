"""Responses built from text that is JSON already, and responses with no body."""

from __future__ import annotations

from flask import Response

from service.http.body import JSON


def json_response(text: str, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response from text that is JSON already (no parse, no re-serialise)."""
    return Response(text, status=status, headers=headers, mimetype=JSON)


def empty_response(status: int, headers: dict | None = None) -> Response:
    """A response with no body, and so no Content-Type (204, 304)."""
    response = Response(status=status, headers=headers)
    del response.headers["Content-Type"]
    return response

"""One body limit whatever the framing: a body over the limit is a 413, never cut short.

werkzeug caps a body that comes without ``Content-Length`` (``Transfer-Encoding:
chunked``) at ``max_content_length`` by wrapping it in a ``LimitedStream``, but that
stream's ``readall`` stops *at* the limit and returns what it has: a 3 MB chunked body
came back as its first 1 MiB, and was stored when that prefix happened to be JSON. A
body with a ``Content-Length`` over the limit is refused before it is read; this makes a
chunked one refused as soon as it is read past the limit, by whatever reads it first
(the idempotency fingerprint, the JSON parser, a bulk view).
"""

from __future__ import annotations

from flask import Flask
from flask import Request as FlaskRequest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


class _RefusingLimit(LimitedStream):
    """A stream capped at the limit that tells "ended at the limit" from "goes on past it".

    Reaching the limit, it asks the server's stream for one more byte: none means the body
    ended there (it was exactly the limit), one means it is too large: 413.
    """

    def __init__(self, stream, limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._checked_end = False

    def on_exhausted(self) -> None:
        if self._checked_end:
            return
        self._checked_end = True
        if self._stream.read(1):
            raise RequestEntityTooLarge(f"The body is over the limit of {self.limit} bytes.")

    def readall(self) -> bytes:
        data = super().readall()
        # The parent stops reading at the limit without looking further: look.
        if self.is_exhausted:
            self.on_exhausted()
        return data


class Request(FlaskRequest):
    """Flask's request, whose body stream refuses a body over the limit however framed."""

    @cached_property
    def stream(self):
        limit = self.max_content_length
        # A server that ends the input stream itself (gunicorn; werkzeug's test client for a
        # body without Content-Length) lets werkzeug read a body of unstated length up to
        # a maximum: the case the parent gets wrong. A Content-Length over the limit the
        # parent refuses before anything is read.
        if (
            limit is not None
            and self.content_length is None
            and "wsgi.input_terminated" in self.environ
        ):
            return _RefusingLimit(self.environ["wsgi.input"], limit)
        return super().stream


def init_app(app: Flask) -> None:
    """Make ``app``'s requests use the refusing body limit."""
    app.request_class = Request

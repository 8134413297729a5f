"""JSON log lines, each tagged with the request's id (X-Request-ID, accepted or made)."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import uuid

import click
from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonEncoder, JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("events.access")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id") if has_request_context() else None
        return True


class _JsonLines(JsonFormatter):
    """python-json-logger's formatter, with a direct path for a plain record (a message
    and extra fields, no traceback): the one line a request logs.

    Its generic path (field lists, renames, a new encoder per line) cost ~13 µs a line;
    this one writes the same object, in the same key order, in about half that. Anything
    else (an exception, a stack, a dict message) takes the generic path.
    """

    _encoder = JsonEncoder()

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info or isinstance(record.msg, dict):
            return super().format(record)
        line = {
            "time": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": record.__dict__.get("request_id"),
        }
        skip = self._skip_fields
        for key, value in record.__dict__.items():
            if key not in skip and not key.startswith("_"):
                line[key] = value
        return self._encoder.encode(line)


def default_level() -> str:
    """The log level when LOG_LEVEL is unset: INFO for a server (gunicorn's workers, the
    apps tests make), WARNING for a management command (``flask --app service …``).

    A command prints its result on stdout; an INFO line on stderr before it (the pool
    saying the database answers) tells its user nothing. The flask command line makes
    the app inside its click context, which a server never does.
    """
    return "WARNING" if click.get_current_context(silent=True) is not None else "INFO"


class _FlushedEvery(logging.StreamHandler):
    """A stream handler that writes each line into the stream's buffer and flushes it
    every ``seconds`` (from a thread of its own), not after each line.

    For the deliverer, which logs a line per attempt, thousands a second: a write
    system call per line was a tenth of its CPU. Lines reach stderr at most ``seconds``
    late; a process killed with SIGKILL loses those not yet flushed (a normal exit
    flushes them: ``logging.shutdown``).
    """

    def __init__(self, seconds: float):
        # A stream of its own on stderr: sys.stderr is line-buffered (a write per line).
        super().__init__(
            open(  # noqa: SIM115 (the handler's, closed with it)
                sys.stderr.fileno(),
                "w",
                buffering=1 << 16,
                encoding="utf-8",
                errors="backslashreplace",
                closefd=False,
            )
        )
        self._done = threading.Event()
        threading.Thread(target=self._flush_every, args=(seconds,), daemon=True).start()

    def flush(self) -> None:  # called by emit after every record: left to the thread
        pass

    def _flush_every(self, seconds: float) -> None:
        while not self._done.wait(seconds):
            self.flush_now()

    def flush_now(self) -> None:
        with self.lock:
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()

    def close(self) -> None:
        self._done.set()
        self.flush_now()
        super().close()


def configure_logging(level: str, flush_seconds: float | None = None) -> None:
    """Send every log record to stderr as one JSON object per line (flushed each line,
    or every ``flush_seconds``)."""
    handler = logging.StreamHandler() if flush_seconds is None else _FlushedEvery(flush_seconds)
    handler.setFormatter(
        _JsonLines(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_RequestIdFilter())
    handler.events_json = True  # marks ours, so a second app does not add a second one
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "events_json", False)]
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    """Tag requests with an id, echo it back, and log one access line per request."""

    @app.before_request
    def _start():
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = sent if _SAFE_REQUEST_ID.match(sent) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        if "started" in g:
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - g.started) * 1000, 2),
                },
            )
        return response

"""What the webhook tests share: a real receiver on a loopback port, a deliverer running
in this process, and waiting for what they do.

The receiver checks nothing itself: tests verify signatures with the `standardwebhooks`
package and parse bodies with the `cloudevents` package, not with the service's code.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cloudevents.core.bindings import http as ce_http
from standardwebhooks.webhooks import Webhook

# Settings that make a deliverer quick to test: loopback targets, short retries.
FAST = {
    "WEBHOOKS_ALLOW_PRIVATE_TARGETS": True,
    "WEBHOOKS_RETRY_BASE_SECONDS": 0.05,
    "WEBHOOKS_RETRY_MAX_SECONDS": 0.2,
    "WEBHOOKS_POLL_SECONDS": 0.02,
    "WEBHOOKS_TIMEOUT_SECONDS": 5,
}


class _Server(ThreadingHTTPServer):
    # The deliverers open up to WEBHOOKS_CONCURRENCY connections per subscription at once
    # (32; 256 for two deliverers and four subscriptions). socketserver's listen queue of
    # 5 overflowed: the kernel dropped handshakes, a request waited past the deliverer's
    # 10 s timeout, was retried, and the late first one arrived as a duplicate.
    request_queue_size = 1024


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict
    body: bytes
    answered: int

    def verified(self, secret: str) -> dict:
        """The body, once `standardwebhooks` has checked its signature with ``secret``."""
        return Webhook(secret).verify(self.body, self.headers)

    def cloudevent(self):
        """The body as the `cloudevents` package reads a structured-mode HTTP message."""
        return ce_http.from_http_event(ce_http.HTTPMessage(headers=self.headers, body=self.body))

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 recording every request; answers from ``script`` (one
    status per request, then 200), or from ``answer(path, body)`` if set."""

    script: list[int] = field(default_factory=list)
    answer: object = None
    hold: threading.Event | None = None  # when set: requests wait for it before answering
    pause: float = 0.0  # seconds each request takes to answer
    keep_alive: bool = False  # HTTP/1.1, connections kept open (1.0: one per request)
    received: list[Received] = field(default_factory=list)
    # Connections open now, and the most that were open at once.
    open_connections: int = 0
    most_connections: int = 0

    def __post_init__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if self.keep_alive else "HTTP/1.0"

            def setup(self):
                super().setup()
                with receiver._lock:
                    receiver.open_connections += 1
                    receiver.most_connections = max(
                        receiver.most_connections, receiver.open_connections
                    )

            def finish(self):
                with receiver._lock:
                    receiver.open_connections -= 1
                super().finish()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    if receiver.answer is not None:
                        status = receiver.answer(self.path, body)
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, status)
                    )
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                if receiver.pause:
                    time.sleep(receiver.pause)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def accepted(self, path: str | None = None) -> list[Received]:
        """The requests answered 2xx (to ``path``, if given), in arrival order."""
        with self._lock:
            return [
                r
                for r in self.received
                if 200 <= r.answered < 300 and (path is None or r.path == path)
            ]

    def close(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiver(**kwargs):
    """A running ``Receiver``, stopped afterwards."""
    made = Receiver(**kwargs)
    try:
        yield made
    finally:
        made.close()


@contextmanager
def deliverer(app):
    """``flask deliver``'s loop (webhooks, and JetStream if NATS_URL is set) in a thread."""
    from service.delivery.cli import deliver

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def run():
        try:
            loop.run_until_complete(deliver(app, stop))
        except BaseException as error:  # reported by the test, not lost in the thread
            failure.append(error)
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
    assert not thread.is_alive(), "the deliverer did not stop within 30 s"
    assert not failure, failure


def wait_until(condition, timeout: float = 20.0, what: str = "the condition"):
    """Poll ``condition`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")

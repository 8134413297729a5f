"""Reads, writes and exports over keep-alive connections while gunicorn gets SIGTERM or
SIGHUP: what became of every request.

Each client thread behaves as a careful HTTP/1.1 client: one keep-alive connection, a new
one after an answer that says ``Connection: close``, never a retry of a request it sent.
Every request ends as one of:

- ``ok``: its whole answer, with the status expected (2xx);
- ``closed``: no answer, the connection closed within ``PROMPT`` seconds of the send (a
  request the server never read: refused at once; the client may send it again);
- ``refused``: no connection (the server has stopped listening); the thread stops;
- ``failed``: anything else: an error status, an answer cut short, or a connection that
  hung before closing. A graceful stop or reload must have none.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/restarts.py --signal TERM   # or HUP; --rounds 3

It makes a database ``events_restarts`` on that server (dropped at the end).
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import EventFactory
from bench.load import scratch_database, server_url
from bench.servers import Gunicorn
from service import auth

PROMPT = 1.0  # seconds: a connection closed sooner than this after a send was refused
WRITER_HEADER = "Authorization"
# Rate limits lifted: the load comes from one address and one key.
UNLIMITED = {
    "RATE_LIMIT_WRITE": "1000000/minute",
    "RATE_LIMIT_READ": "1000000/minute",
    "RATE_LIMIT_ANONYMOUS": "1000000/minute",
    "LOG_LEVEL": "WARNING",
}


@dataclass
class Outcome:
    kind: str  # ok, closed, refused, failed
    method: str
    path: str
    sent_at: float
    seconds: float
    detail: str = ""
    event_id: str | None = None
    title: str | None = None
    fresh: bool = False  # the first request of its connection


@dataclass
class Load:
    """Client threads sending a mix of requests to ``base`` until told to stop."""

    base: str
    authorization: str
    event_ids: list[str]
    threads: int = 6
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self):
        url = urllib.parse.urlsplit(self.base)
        self.host, self.port = url.hostname, url.port
        self.stop = threading.Event()
        self.factory = EventFactory(seed=7)
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        for number in range(self.threads):
            worker = threading.Thread(target=self._client, args=(number,), daemon=True)
            worker.start()
            self._workers.append(worker)

    def join(self, timeout: float = 60) -> None:
        self.stop.set()
        for worker in self._workers:
            worker.join(timeout)

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def _requests(self, number: int):
        """The requests of thread ``number``, in a loop: thread 0 exports, others mix."""
        turn = 0
        while True:
            turn += 1
            if number == 0:
                yield "GET", "/v1/events/export?format=ndjson", None
                continue
            choice = turn % 4
            if choice == 0:
                title = f"restart-{uuid.uuid4().hex}"
                yield "POST", "/v1/events", title
            elif choice == 1:
                yield "GET", "/v1/events?type=meeting&limit=20", None
            else:
                yield "GET", f"/v1/events/{self.event_ids[turn % len(self.event_ids)]}", None

    def _client(self, number: int) -> None:
        conn: http.client.HTTPConnection | None = None
        fresh = False
        for method, path, title in self._requests(number):
            if self.stop.is_set():
                break
            if conn is None:
                conn, fresh = http.client.HTTPConnection(self.host, self.port, timeout=30), True
                try:
                    conn.connect()
                except OSError as error:
                    self._record(Outcome("refused", method, path, time.monotonic(), 0, repr(error)))
                    return
            outcome, keep = self._exchange(conn, method, path, title)
            outcome.fresh, fresh = fresh, False
            self._record(outcome)
            if not keep:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _exchange(self, conn, method: str, path: str, title: str | None) -> tuple[Outcome, bool]:
        headers, body = {}, None
        if method == "POST":
            headers = {"Content-Type": "application/json", WRITER_HEADER: self.authorization}
            with self._lock:
                event = self.factory.event()
            body = json.dumps(event | {"title": title}).encode()
        sent = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError, OSError) as error:
            took = time.monotonic() - sent
            kind = "closed" if took < PROMPT else "failed"
            return Outcome(kind, method, path, sent, took, repr(error), title=title), False
        try:
            answer = response.read()
        except (http.client.IncompleteRead, ConnectionError, OSError) as error:
            return Outcome(
                "failed",
                method,
                path,
                sent,
                time.monotonic() - sent,
                f"answer cut short: {error!r}",
                title=title,
            ), False
        took = time.monotonic() - sent
        keep = not response.will_close
        if not 200 <= response.status < 300:
            return Outcome(
                "failed",
                method,
                path,
                sent,
                took,
                f"{response.status} {answer[:200]!r}",
                title=title,
            ), keep
        if path.startswith("/v1/events/export") and not _whole_ndjson(answer):
            return Outcome("failed", method, path, sent, took, "export not whole"), False
        event_id = json.loads(answer)["id"] if method == "POST" else None
        return Outcome("ok", method, path, sent, took, event_id=event_id, title=title), keep


def _whole_ndjson(answer: bytes) -> bool:
    if answer and not answer.endswith(b"\n"):
        return False
    try:
        for line in answer.splitlines():
            json.loads(line)
    except ValueError:
        return False
    return True


def summary(outcomes: list[Outcome], signalled_at: float) -> dict:
    """Counts by kind, and by kind for requests sent after the signal; latency medians."""
    kinds = ("ok", "closed", "refused", "failed")
    after = [o for o in outcomes if o.sent_at >= signalled_at]
    around = [
        o.seconds * 1000 for o in outcomes if o.kind == "ok" and signalled_at - 1 <= o.sent_at
    ]
    return {
        "requests": len(outcomes),
        **{kind: sum(o.kind == kind for o in outcomes) for kind in kinds},
        "after_signal": {kind: sum(o.kind == kind for o in after) for kind in kinds},
        "exports_ok": sum(o.kind == "ok" and "export" in o.path for o in outcomes),
        "writes_acknowledged": sum(o.kind == "ok" and o.method == "POST" for o in outcomes),
        # Closed unanswered on a connection that had served requests (kept alive), as
        # opposed to a new one the listener queued but no worker accepted any more.
        "closed_kept_alive": sum(o.kind == "closed" and not o.fresh for o in outcomes),
        "slowest_closed_ms": round(
            max((o.seconds * 1000 for o in outcomes if o.kind == "closed"), default=0), 1
        ),
        "p50_ms_from_1s_before_signal": round(statistics.median(around), 1) if around else None,
        "failures": [f"{o.method} {o.path}: {o.detail}" for o in outcomes if o.kind == "failed"][
            :10
        ],
    }


def fill(base: str, authorization: str, count: int) -> list[str]:
    """Store ``count`` synthetic events through ``POST /v1/events/bulk``; their ids."""
    factory, ids = EventFactory(seed=11), []
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    for start in range(0, count, 500):
        batch = list(factory.events(min(500, count - start)))
        conn.request(
            "POST",
            "/v1/events/bulk",
            body=json.dumps(batch).encode(),
            headers={"Content-Type": "application/json", WRITER_HEADER: authorization},
        )
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status in (200, 201, 207), answer
        ids += [item["id"] for item in answer["items"] if item.get("id")]
    conn.close()
    return ids


def stored_titles(database_url: str, titles: list[str]) -> set[str]:
    """Which of ``titles`` the events table holds."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT body->>'title' FROM events WHERE body->>'title' = ANY(%s)", (titles,)
        ).fetchall()
    return {title for (title,) in rows}


def signal_round(
    database_url: str,
    authorization: str,
    signum: int,
    log: Path,
    warmup: float = 1.5,
    after: float = 5.0,
    events: int = 2000,
) -> dict:
    """Start gunicorn on ``database_url``, load it, send ``signum``, and account for every
    request; the summary, with the writes acknowledged but not stored, and the workers
    before and after."""
    env = UNLIMITED | {
        "DATABASE_URL": database_url,
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "SECRET_KEY": secrets.token_urlsafe(32),
    }
    with Gunicorn("service:create_app()", "/readyz", log, env) as server:
        ids = fill(server.base, authorization, events)
        before = {process.pid for process in server.workers()}
        load = Load(server.base, authorization, ids)
        load.start()
        time.sleep(warmup)
        signalled_at = time.monotonic()
        server.process.send_signal(signum)
        if signum == signal.SIGTERM:
            server.process.wait(timeout=60)
            stopped_in = time.monotonic() - signalled_at
            load.join()
            workers_after = set()
        else:
            time.sleep(after)
            load.join()
            stopped_in = None
            workers_after = {process.pid for process in server.workers()}
    acknowledged = [o.title for o in load.outcomes if o.kind == "ok" and o.method == "POST"]
    unanswered = [o.title for o in load.outcomes if o.kind != "ok" and o.method == "POST"]
    result = summary(load.outcomes, signalled_at)
    result["acknowledged_not_stored"] = sorted(
        set(acknowledged) - stored_titles(database_url, acknowledged)
    )
    # A write stored but never answered: a request the server took and then dropped.
    result["unanswered_but_stored"] = sorted(stored_titles(database_url, unanswered))
    result["stopped_in_s"] = round(stopped_in, 2) if stopped_in is not None else None
    result["workers_replaced"] = bool(before) and not (before & workers_after)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signal", choices=["TERM", "HUP"], default="TERM")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import psycopg

    with (
        scratch_database(server_url("events_restarts"), "events_restarts") as url,
        tempfile.TemporaryDirectory() as work,
    ):
        prefix, key = auth.new_key()
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO api_keys (name, prefix, secret_hash, scopes)"
                " VALUES ('restarts', %s, %s, %s)",
                (prefix, auth.key_digest(key), ["write"]),
            )
        for number in range(args.rounds):
            result = signal_round(
                url,
                f"Bearer {key}",
                getattr(signal, f"SIG{args.signal}"),
                Path(work) / "gunicorn.log",
            )
            print(f"SIG{args.signal} round {number + 1}: {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main()

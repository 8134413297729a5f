"""The floor: the service's own SQL for each measured request, run straight through psycopg."""

from __future__ import annotations

import statistics
import time
import urllib.parse
import uuid
from contextlib import contextmanager

import marshmallow as ma
import psycopg

from service.http.search_args import FilterArgs, SearchArgs
from service.storage import search_query
from service.storage.events import EventStore
from service.storage.search import SearchStore


class DirectDatabase:
    """Stands in for the service's pool: one connection, no HTTP, no Flask."""

    def __init__(self, url: str):
        # The session settings of the service's own connections (service/db.py).
        self.conn = psycopg.connect(url, options="-c jit=off")

    @contextmanager
    def connection(self):
        """The one connection; commits after each use, as the pool does."""
        yield self.conn
        self.conn.commit()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def _args(schema: type[ma.Schema], query: str) -> dict:
    # Parsed by the same schema the view uses: repeatable parameters as lists.
    fields = schema().fields
    values = urllib.parse.parse_qs(query, strict_parsing=bool(query))
    return schema().load(
        {
            name: value if isinstance(fields.get(name), ma.fields.List) else value[0]
            for name, value in values.items()
        }
    )


class Floor:
    """Timers of the SQL behind each benchmarked request."""

    def __init__(self, url: str):
        self.db = DirectDatabase(url)
        # The floor never reads as of a past moment: no limit on changes applies.
        self.search = SearchStore(self.db, as_of_max_changes=0)
        self.events = EventStore(self.db)

    def close(self) -> None:
        """Release the connection."""
        self.db.close()

    def page(self, query: str, page_number: int = 1):
        """A callable running the SQL of page ``page_number`` of a search."""
        args = _args(SearchArgs, query)
        limit, sort = args.pop("limit"), args["sort"]
        built = search_query.build(args)
        after = None
        for _ in range(page_number - 1):
            rows = self.search.page(built, sort, limit + 1, after)
            after = (rows[limit - 1][1], rows[limit - 1][2])
        return lambda: self.search.page(built, sort, limit + 1, after)

    def facets(self, query: str):
        """A callable running the SQL of facets."""
        built = search_query.build(_args(FilterArgs, query))
        return lambda: self.search.facets(built)

    def event(self, event_id: uuid.UUID):
        """A callable running the SQL of GET /v1/events/{id}."""
        return lambda: self.events.get(event_id)

    def export(self, query: str = "") -> tuple[float, int]:
        """Seconds and rows of an export's SQL, streamed through a server-side cursor."""
        args = _args(SearchArgs, query)
        args.pop("limit")
        started = time.perf_counter()
        rows = sum(
            len(batch) for batch in self.search.stream(search_query.build(args), args["sort"])
        )
        return time.perf_counter() - started, rows


def timed(call, seconds: float = 3.0, most: int = 500) -> dict:
    """p50/p95/p99 (ms) and calls/s of ``call``, run back to back for about ``seconds``."""
    call()  # warm
    samples = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and len(samples) < most:
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": cuts[94],
        "p99_ms": cuts[98],
        "calls_per_s": len(samples) / (sum(samples) / 1000),
        "calls": len(samples),
    }

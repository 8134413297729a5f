"""The benchmark's own pieces still fit the service's code: its SQL floor runs the same
storage calls the views run, so a change of their signatures breaks the benchmark here,
not on the day someone runs it at a million rows."""

from __future__ import annotations

import uuid

from examples import example

from bench.floor import Floor, timed
from bench.run import SEARCHES


def test_the_sql_floor_runs_each_benchmarked_request(client, database_url):
    created = [client.post("/v1/events", json=example(title=f"E {n}")) for n in range(3)]
    event_id = uuid.UUID(created[0].get_json()["id"])
    floor = Floor(database_url)
    try:
        for query in SEARCHES.values():
            floor.page(query)()
        assert len(floor.page("limit=1", page_number=2)()) == 2
        assert floor.facets("type=meeting")()["total"] == 3
        assert floor.event(event_id)().id == event_id
        seconds, rows = floor.export()
        assert rows == 3 and seconds >= 0
        assert timed(floor.event(event_id), seconds=0.05)["calls"] >= 1
    finally:
        floor.close()

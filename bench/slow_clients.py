"""Slow and idle clients held open against a server: the connections of an attack that
costs its sender nothing (slowloris), for tests and bench/edge.py to measure under."""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
import urllib.request


class SlowClients:
    """``idle`` connections that send nothing, ``slow_headers`` that send a request's
    header lines one every ``interval`` seconds, and ``slow_bodies`` that send a declared
    body a byte at a time: held open while the context lasts."""

    def __init__(
        self,
        port: int,
        idle: int = 0,
        slow_headers: int = 0,
        slow_bodies: int = 0,
        interval: float = 1.0,
    ):
        self.port, self.interval = port, interval
        self.counts = {"idle": idle, "slow_headers": slow_headers, "slow_bodies": slow_bodies}
        self.sockets: dict[str, list[socket.socket]] = {kind: [] for kind in self.counts}
        self._stop = threading.Event()
        self._feeder = threading.Thread(target=self._feed, daemon=True)

    def __enter__(self) -> SlowClients:
        for kind, count in self.counts.items():
            for _ in range(count):
                with contextlib.suppress(OSError):  # a server may refuse some: that is data
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                    sock.setblocking(False)
                    if kind == "slow_headers":
                        sock.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    elif kind == "slow_bodies":
                        sock.send(
                            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
                            b"application/json\r\nContent-Length: 100000\r\n\r\n{"
                        )
                    self.sockets[kind].append(sock)
        self._feeder.start()
        return self

    def _feed(self) -> None:
        sent = 0
        while not self._stop.wait(self.interval):
            sent += 1
            for kind, data in (("slow_headers", b"X-%d: b\r\n" % sent), ("slow_bodies", b" ")):
                for sock in self.sockets[kind]:
                    with contextlib.suppress(OSError):
                        sock.send(data)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._feeder.is_alive():
            self._feeder.join()
        for socks in self.sockets.values():
            for sock in socks:
                sock.close()


def timed_gets(url: str, count: int, timeout: float) -> dict:
    """``count`` GETs of ``url``, each on a new connection: their median and worst time in
    ms (a timeout counts as ``timeout``) and how many failed."""
    times, failed = [], 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as answer:
                answer.read()
                ok = answer.status == 200
        except OSError:
            ok = False
        times.append((time.perf_counter() - started) * 1000)
        failed += not ok
    return {
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "failed": failed,
        "count": count,
    }

"""200 slow or idle clients do not starve the service: through nginx (the production
stack), normal requests keep their usual latency while they hold their connections open.
(Bare gunicorn does not pass this: bench/edge.py measures both.)"""

from __future__ import annotations

from bench.slow_clients import SlowClients, timed_gets


def test_two_hundred_slow_or_idle_clients_do_not_starve_normal_requests(live_nginx):
    url = f"{live_nginx.base}/v1/events?limit=1"
    usual = timed_gets(url, 20, timeout=5)
    assert usual["failed"] == 0

    with SlowClients(live_nginx.port, idle=70, slow_headers=70, slow_bodies=60) as attack:
        assert sum(len(socks) for socks in attack.sockets.values()) == 200
        under_attack = timed_gets(url, 20, timeout=5)

    assert under_attack["failed"] == 0
    # "Usual latency" on two shared cores: within 3x the median measured just before, or
    # 25 ms of it, and no request near a second (starved ones waited 6 s to forever).
    assert under_attack["median_ms"] <= max(3 * usual["median_ms"], usual["median_ms"] + 25)
    assert under_attack["max_ms"] < 1000

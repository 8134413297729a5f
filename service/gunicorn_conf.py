"""gunicorn settings; each can be overridden by the environment variable named beside it."""

import gc
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

CGROUP_V2_CPU_MAX = "/sys/fs/cgroup/cpu.max"
CGROUP_V1_QUOTA = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"
CGROUP_V1_PERIOD = "/sys/fs/cgroup/cpu/cpu.cfs_period_us"


def cpu_quota(
    cpu_max: str = CGROUP_V2_CPU_MAX,
    v1_quota: str = CGROUP_V1_QUOTA,
    v1_period: str = CGROUP_V1_PERIOD,
) -> float | None:
    """CPUs the container may use per its cgroup (v2 ``cpu.max``, else v1 CFS quota);
    None when it has no limit or no such file."""
    try:
        quota, period = Path(cpu_max).read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = Path(v1_quota).read_text().strip()
            period = Path(v1_period).read_text().strip()
        except OSError:
            return None
    if quota == "max" or int(quota) <= 0:
        return None
    return int(quota) / int(period)


def available_cpus(**cgroup_files) -> int:
    """CPUs this process may use: the cgroup quota (rounded up), else the CPUs it may run
    on (its affinity, which a container's cpuset limits); never the host's count."""
    quota = cpu_quota(**cgroup_files)
    allowed = len(os.sched_getaffinity(0))
    return max(1, min(allowed, math.ceil(quota))) if quota else allowed


def worker_count(environ=os.environ, **cgroup_files) -> int:
    """WEB_CONCURRENCY if set, else two workers per available CPU."""
    if environ.get("WEB_CONCURRENCY"):
        return int(environ["WEB_CONCURRENCY"])
    return 2 * available_cpus(**cgroup_files)


# Loopback unless told otherwise; the image sets BIND=0.0.0.0:8000.
def command(bind: str, app: str = "service:create_app()") -> list[str]:
    """The argv that serves ``app`` on ``bind`` under this configuration."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:service.gunicorn_conf",
        "--bind",
        bind,
        app,
    ]


bind = os.environ.get("BIND", "127.0.0.1:8000")
# Threaded workers (gthread): requests are short and mostly wait on PostgreSQL.
workers = worker_count()
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 20))
keepalive = 5
# Recycle workers now and then (a guard against slow leaks), with jitter so they do not
# all restart together. A worker's start costs about 1 s of CPU (imports and create_app):
# at 20,000 requests that was ~50 µs per request, and a restart every few seconds under
# the benchmark's load; at 200,000 it is ~5 µs.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 200_000))
max_requests_jitter = max_requests // 10
# No preload: each worker creates its own connection pool after the fork.
preload_app = False
accesslog = None
errorlog = "-"

# Request lines: the longest search the spec allows (20 values of 200 characters for each
# of several repeatable filters) is over gunicorn's default of 4,094 bytes. 0 lifts the
# limit to gunicorn's own cap (1 MiB); in production nginx in front caps it lower and
# answers a longer line with a problem+json 414 (deploy/nginx/events.conf.template).
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", 0))
# One header line: as large as nginx lets one through (its large_client_header_buffers),
# so a request nginx accepts is never one gunicorn refuses with a page of its own.
limit_request_field_size = int(os.environ.get("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 32768))

# gunicorn drains at most 64 KiB of a body the app did not read before it reuses the
# connection; past that it closes it, after having answered `Connection: keep-alive`, and
# the client's next request on it fails. An early answer (413, 415, 405, 404, 401) reads
# nothing, so a request whose body may be longer than that is answered with
# `Connection: close`: the client knows to open a new connection.
UNREAD_BODY_DRAINED = 64 * 1024
# Closing a socket with unread bytes in it resets the connection, and a client (or nginx)
# still sending its body then loses the answer it was sent. So what remains of the body is
# read and dropped first, for at most this long (nginx's "lingering close").
LINGER_SECONDS = 2.0


def pre_request(worker, req):
    """Close, and say so, after a request whose body gunicorn may not drain."""
    for name, value in req.headers:
        if name == "TRANSFER-ENCODING" or (
            name == "CONTENT-LENGTH" and value.isdigit() and int(value) > UNREAD_BODY_DRAINED
        ):
            req.must_close = True
            return


def post_request(worker, req, environ, resp):
    """Before closing such a connection, read what the client still sends of its body."""
    if not req.must_close:
        return
    sock = environ.get("gunicorn.socket")
    deadline = time.monotonic() + LINGER_SECONDS
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            if sock is not None:
                sock.settimeout(remaining)
            if not req.body.read(64 * 1024):
                return
    except Exception:  # a timeout, a reset, a bad chunk: the connection closes anyway
        return


def post_worker_init(worker):
    """Move what the worker built at start out of the garbage collector's sight.

    The app, its schemas, the spec and the country tables are ~80,000 objects that live as
    long as the worker. A full collection walked them all: 50-100 ms with the GIL held,
    stalling every thread of the worker (measured in-process with gc.callbacks: one such
    pause in 8,000 requests; none once frozen). Frozen, a collection walks only what
    requests made since.
    """
    gc.collect()
    gc.freeze()


# Metrics across workers: prometheus_client's multiprocess mode, in PROMETHEUS_MULTIPROC_DIR
# (set: that directory; unset: one of this master's own, removed when it exits). Set in the
# master before the first worker is forked; the workers import prometheus_client after the
# fork (service.metrics), so they all write their values to files there.
_own_metrics_dir: list[Path] = []


def on_starting(server):
    """Set up the metrics directory, empty: files of an earlier run would be summed in."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="events-metrics-")
        _own_metrics_dir.append(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """Drop a dead worker's live gauges (its pool); its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this master made."""
    for directory in _own_metrics_dir:
        shutil.rmtree(directory, ignore_errors=True)

"""wrk runs: latency percentiles and throughput of one URL."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

INSTALL_HINT = (
    "wrk is not installed. Install it with `apt-get install -y wrk` (Debian/Ubuntu, "
    "as root) or `brew install wrk` (macOS), then run again."
)

# Prints one JSON line when wrk is done; latencies in microseconds.
_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,' ..
    '"non_2xx":%d,"socket_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def require() -> str:
    """The wrk executable, or exit with how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(INSTALL_HINT)
    return path


def run(
    url: str, seconds: int, connections: int, threads: int, headers: dict[str, str] | None = None
) -> dict:
    """Load ``url`` for ``seconds`` (sending ``headers``); p50/p95/p99 in ms and requests/s."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_REPORT)
    try:
        completed = subprocess.run(
            [
                require(),
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                *(
                    arg
                    for name, value in (headers or {}).items()
                    for arg in ("-H", f"{name}: {value}")
                ),
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    finally:
        Path(script.name).unlink()
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    return {
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests_per_s": raw["requests"] / (raw["duration_us"] / 1e6),
        "requests": raw["requests"],
        "non_2xx": raw["non_2xx"],
        "socket_errors": raw["socket_errors"],
    }

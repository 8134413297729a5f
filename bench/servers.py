"""gunicorn, started under the service's own config on a loopback port, and stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """``gunicorn --config python:service.gunicorn_conf APP`` on 127.0.0.1, as a context."""

    def __init__(self, app: str, ready_path: str, log: Path, env: dict | None = None):
        self.app, self.ready_path, self.log = app, ready_path, log
        self.env = env or {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        bind = f"127.0.0.1:{self.port}"
        env = os.environ | self.env | {"BIND": bind}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "python:service.gunicorn_conf",
                 "--bind", bind, self.app],
                cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}")
            try:
                with urllib.request.urlopen(self.base + self.ready_path, timeout=2) as answer:
                    if answer.status == 200 and len(self.workers()) >= self.expected_workers():
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not become ready; see {self.log}")

    def expected_workers(self) -> int:
        """How many workers the config starts."""
        return int(self.env.get("WEB_CONCURRENCY")
                   or os.environ.get("WEB_CONCURRENCY") or psutil.cpu_count() * 2)

    def workers(self) -> list[psutil.Process]:
        """The worker processes."""
        try:
            return psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []

    def __exit__(self, *exc) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

"""gunicorn under the service's own config, and nginx under the repo's template in front of
it, each started on a loopback port and stopped."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from service.gunicorn_conf import command, worker_count

ROOT = Path(__file__).resolve().parent.parent
NGINX_DIR = ROOT / "deploy" / "nginx"
NGINX_INSTALL_HINT = "nginx is not installed (apt-get install -y nginx-light)"
# Debian installs nginx in /usr/sbin, which a non-root PATH may lack.
_NGINX_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


_RUN_SECRET_KEY = secrets.token_urlsafe(32)


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
        # A key of this run's own unless one is given: the service refuses the public
        # default with a DATABASE_URL.
        env = {"SECRET_KEY": _RUN_SECRET_KEY} | os.environ | self.env | {"BIND": bind}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command(bind, self.app),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
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
        return worker_count(os.environ | self.env)

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


# What the nginx image's own /etc/nginx/nginx.conf sets around the files of conf.d, with
# every path inside one directory of ours.
_NGINX_MAIN = """\
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/events.conf;
}}
"""


class Nginx:
    """nginx with ``deploy/nginx/events.conf.template`` in front of ``upstream``, as a context.

    The template is filled in as the nginx image fills it (only the named variables;
    nginx's own ``$variables`` stay), and runs under a main config like the image's.
    """

    def __init__(
        self,
        upstream: str,
        *,
        max_body: int = 1024 * 1024,
        bulk_max_body: int = 32 * 1024 * 1024,
        import_max_body: int = 256 * 1024 * 1024,
        workers: int = 2,
    ):
        self.upstream, self.workers = upstream, workers
        self.max_body, self.bulk_max_body = max_body, bulk_max_body
        self.import_max_body = import_max_body
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.dir: Path | None = None
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        """Whether an nginx executable is on the PATH."""
        return shutil.which("nginx", path=_NGINX_PATH) is not None

    def __enter__(self) -> Nginx:
        executable = shutil.which("nginx", path=_NGINX_PATH)
        if executable is None:
            raise RuntimeError(NGINX_INSTALL_HINT)
        self.dir = Path(tempfile.mkdtemp(prefix="events-nginx-"))
        # Started as root, nginx's workers run as nobody: they must reach their temp files.
        self.dir.chmod(0o755)
        template = string.Template((NGINX_DIR / "events.conf.template").read_text())
        (self.dir / "events.conf").write_text(
            template.safe_substitute(
                EVENTS_API=self.upstream,
                NGINX_PORT=f"127.0.0.1:{self.port}",
                MAX_BODY_BYTES=self.max_body,
                BULK_MAX_BODY_BYTES=self.bulk_max_body,
                IMPORT_MAX_BODY_BYTES=self.import_max_body,
            )
        )
        shutil.copy(NGINX_DIR / "problem_headers.conf", self.dir)
        (self.dir / "nginx.conf").write_text(_NGINX_MAIN.format(dir=self.dir, workers=self.workers))
        self.process = subprocess.Popen(
            [
                executable,
                "-p",
                str(self.dir),
                "-c",
                str(self.dir / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.dir / "error.log").read_text(errors="replace")
                self.__exit__()
                raise RuntimeError(f"nginx exited: {log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("nginx did not start listening")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

"""A private PostgreSQL primary and a streaming replica of it, on loopback ports, from the
binaries of the ``pgserver`` package (so a machine without PostgreSQL can run it).

The replica is made as an operator makes one: ``pg_basebackup -R`` from the running
primary, then started as a hot standby that streams the primary's WAL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from pgserver._commands import POSTGRES_BIN_PATH

from bench.servers import free_port

# initdb and postgres refuse to run as root: as root, they run as pgserver's own user.
_RUN_AS = "pgserver" if os.geteuid() == 0 else None


def _run(*args: str) -> None:
    subprocess.run(
        [str(POSTGRES_BIN_PATH / args[0]), *args[1:]],
        check=True,
        user=_RUN_AS,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=180,
    )


class Server:
    """One PostgreSQL server of ``data``, listening on 127.0.0.1:``port``."""

    def __init__(self, data: Path, port: int):
        self.data, self.port = data, port

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.data / "log"),
            "-w",
            "-t",
            "120",
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.data}",
            "start",
        )

    def stop(self) -> None:
        _run("pg_ctl", "-D", str(self.data), "-w", "-t", "120", "-m", "fast", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


class PrimaryWithReplica:
    """A primary and its streaming replica in a temporary directory, as a context."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="events-replication-"))
        self.dir.chmod(0o755)
        if _RUN_AS:
            shutil.chown(self.dir, _RUN_AS, _RUN_AS)
        self.primary = Server(self.dir / "primary", free_port())
        self.replica = Server(self.dir / "replica", free_port())

    def __enter__(self) -> PrimaryWithReplica:
        try:
            _run(
                "initdb",
                "-D",
                str(self.primary.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            )
            with (self.primary.data / "postgresql.conf").open("a") as conf:
                # Fast and small: a throwaway pair. WAL for a standby (wal_level=replica and
                # max_wal_senders are PostgreSQL's defaults).
                conf.write("fsync = off\nshared_buffers = 32MB\nmax_connections = 200\n")
            self.primary.start()
            # The standby's own settings and primary_conninfo come from -R.
            _run(
                "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.primary.port),
                "-U",
                "postgres",
                "-D",
                str(self.replica.data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            )
            self.replica.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def wait_replayed(self, timeout: float = 30) -> None:
        """Wait until the replica has replayed everything the primary has written."""
        with psycopg.connect(self.primary.url(), autocommit=True) as primary:
            target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.replica.url(), autocommit=True) as replica:
            while not replica.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
            ).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise TimeoutError("the replica did not catch up")
                time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        for server in (self.replica, self.primary):
            if server.running():
                with contextlib.suppress(subprocess.SubprocessError):
                    server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

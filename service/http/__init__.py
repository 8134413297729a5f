"""The HTTP layer: thin views that parse, call storage, and respond."""

from flask import Flask
from flask.sessions import SessionInterface

from service.http import (
    actors,
    body_limit,
    bulk,
    changes,
    edge,
    event_types,
    events,
    export,
    facets,
    favicon,
    health,
    imports,
    metrics,
    rate_limits,
    subscriptions,
)
from service.http.api import create_api


class NoSessions(SessionInterface):
    """The API keeps no cookie sessions (callers send API keys): none is opened.

    Flask's default opens a signed-cookie session for every request once SECRET_KEY is
    set (it is, for cursors), building an itsdangerous serializer each time (~18 µs).
    A view that touched ``session`` would get Flask's null session, which refuses writes.
    """

    def open_session(self, app, request):
        return None

    def save_session(self, app, session, response):
        """Nothing to save."""


def init_app(app: Flask) -> None:
    """Create the Api and register every resource."""
    app.session_interface = NoSessions()
    body_limit.init_app(app)
    api = create_api(app)
    favicon.init_app(app)
    edge.init_app(app)
    rate_limits.init_app(app)
    api.register_blueprint(events.blp)
    api.register_blueprint(bulk.blp)
    api.register_blueprint(imports.blp)
    api.register_blueprint(facets.blp)
    api.register_blueprint(export.blp)
    api.register_blueprint(changes.blp)
    api.register_blueprint(subscriptions.blp)
    subscriptions.document_webhooks(api)
    api.register_blueprint(actors.blp)
    api.register_blueprint(event_types.blp)
    api.register_blueprint(health.blp)
    api.register_blueprint(metrics.blp)

"""The HTTP layer: thin views that parse, call storage, and respond."""

from flask import Flask

from service.http import actors, bulk, event_types, events, export, health, search
from service.http.api import create_api


def init_app(app: Flask) -> None:
    """Create the Api and register every resource."""
    api = create_api(app)
    api.register_blueprint(events.blp)
    api.register_blueprint(bulk.blp)
    api.register_blueprint(search.blp)
    api.register_blueprint(export.blp)
    api.register_blueprint(actors.blp)
    api.register_blueprint(event_types.blp)
    api.register_blueprint(health.blp)

"""The baseline: a trivial Flask JSON endpoint, served by the same gunicorn config."""

from flask import Flask


def create_app() -> Flask:
    """An app with one endpoint answering a small JSON object."""
    app = Flask(__name__)

    @app.get("/ping")
    def ping():
        """Answer a constant."""
        return {"status": "ok"}

    return app

"""The flask-smorest ``Api``: spec settings, problem+json errors, docs page and spec files."""

from __future__ import annotations

import copy
import functools
import http
import json
import weakref
from pathlib import Path

import flask_swagger_ui
import yaml
from apispec_oneofschema import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app, redirect
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from flask_smorest.utils import prepare_response
from marshmallow import RAISE, ValidationError
from webargs.flaskparser import FlaskParser

from schemas.fields import CountryCode, LanguageCode
from service import auth
from service.http import idempotency, problems, rate_limits

API_DESCRIPTION = """\
Validates, stores and serves structured events — meetings, visits, statements, troop
deployments, arms transfers, casualty reports, attacks and more — each kind with its own
schema for `details`.

To search, map and read them in a browser, open the [explorer](/explore) (reads only).

The guides (getting started, the data model with every kind, search, writes and bulk,
imports, the change feed, operations, performance, the contract) are the `docs/` folder of
this service's repository, which is also a site: `mkdocs serve -a localhost:8001` in a
clone serves it (`mkdocs build` writes it as static files), and it links back to this page.

Figures keep their hedges (`{"min": 25000, "max": 30000}`, `{"min": 100}`,
`{"value": 4000, "approximate": true}`); every event names its sources and whom they
cite; every write keeps the previous version (`/v1/events/{id}/revisions`).

Writes need an API key with the `write` scope, sent as `Authorization: Bearer <key>`
(operators make keys with `flask --app service keys create`); reads are open unless the
server sets `REQUIRE_READ_KEY`. Every revision records the name of the key that wrote it.
On this page, an operation with a padlock needs a key: **Authorize** with one first.

"Try it out" replaces, patches and deletes two sandbox events by default (seeded from
`seeds/sandbox.yaml`, restored by `flask --app service seed`), never the events the reads
default to: trying any operation, in any order, leaves the others' defaults working.

Errors are RFC 9457 `application/problem+json`; validation errors carry an `errors`
member mapping each dotted field path to its messages. Writes accept `If-Match` with the
`ETag` last read, and answer 412 when the event has changed since.
"""

SETTINGS = {
    "API_TITLE": "Events service",
    "API_VERSION": "1.0.0",
    "OPENAPI_VERSION": "3.1.0",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
    # Swagger UI would otherwise send the spec to validator.swagger.io for a badge.
    # deepLinking: /docs#/events/listEvents opens that operation, and the address follows
    # what the reader opens, so it can be shared.
    "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None, "deepLinking": True},
    "API_SPEC_OPTIONS": {
        "info": {
            "description": API_DESCRIPTION,
            "contact": {"name": "Events service maintainers"},
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/", "description": "The server this document is served from."}],
        # Open unless an operation says otherwise (the probes are open): each operation
        # that checks a key declares what this server enforces (`EventsApi.spec_dict`).
        "security": [],
    },
}


SECURITY_SCHEME = "apiKey"
# The scope an operation's key needs, in an extension: scopes of an http scheme cannot be
# listed in `security` (only OAuth's can).
REQUIRED_SCOPE = "x-required-scope"
BEARER_AUTH = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "evs_<prefix>_<secret>",
    "description": "An API key made by `flask --app service keys create`. Scopes nest: "
    "`admin` includes `write`, which includes `read`; `metrics` (the Prometheus scrape's) "
    "grants `/metrics` only, and `admin` includes it too.",
}


class QueryParser(FlaskParser):
    """Query strings: unknown parameters are errors, a bad parameter is a 400, and so is a
    parameter of one value given twice."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE}
    DEFAULT_VALIDATION_STATUS = 400

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._names_by_schema: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def load_querystring(self, req, schema):
        """The parameters sent, as a plain dict: a list for each repeatable one, else the
        value.

        What webargs' proxy of the query string would give, without its cost: each
        parameter not sent made werkzeug raise (and catch) a KeyError, 19 a search.
        """
        repeatable, single = self._parameter_names(schema)
        values, repeated = {}, []
        for name, sent in req.args.lists():
            if name in repeatable:
                values[name] = sent
            else:
                values[name] = sent[0]
                # webargs would take the first of `limit=1&limit=2`; a cache or a proxy may
                # take the last. Only the repeatable parameters mean "any of these values".
                if len(sent) > 1 and name in single:
                    repeated.append(name)
        if repeated:
            raise ValidationError(
                {
                    name: ["Give this parameter once: it takes one value."]
                    for name in sorted(repeated)
                }
            )
        return values

    def _parameter_names(self, schema) -> tuple[frozenset[str], frozenset[str]]:
        """The parameters of ``schema`` (as sent) that may be repeated (its list fields),
        and those that take one value; found once per schema."""
        names = self._names_by_schema.get(schema)
        if names is None:
            repeatable = frozenset(self._makeproxy({}, schema).multiple_keys)
            every = {field.data_key or name for name, field in schema.fields.items()}
            names = repeatable, frozenset(every - repeatable)
            self._names_by_schema[schema] = names
        return names


def _documenting_only(decorator):
    """A flask-smorest decorator that only documents, applied without its call layer.

    ``alt_response`` and ``doc`` wrap the view in a function that just calls it (through
    ``current_app.ensure_sync``): a GET by id went through nine of them on every request.
    Here the view keeps the documentation such a wrapper would carry, and is not wrapped.
    """

    def apply(view):
        view._apidoc = decorator(view)._apidoc
        return view

    return apply


class ApiBlueprint(SmorestBlueprint):
    """The blueprint every resource of the API uses."""

    ARGUMENTS_PARSER = QueryParser()

    def arguments(self, schema, **kwargs):
        """flask-smorest's, given a schema instance made once: from a class, webargs would
        build the schema anew on every request (a search's took a fifth of its CPU)."""
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, **kwargs)

    def alt_response(self, status_code, *args, **kwargs):
        """flask-smorest's, documenting only (see ``_documenting_only``)."""
        return _documenting_only(super().alt_response(status_code, *args, **kwargs))

    @staticmethod
    def doc(**kwargs):
        """flask-smorest's, documenting only (see ``_documenting_only``)."""
        return _documenting_only(SmorestBlueprint.doc(**kwargs))

    def requires_scope(self, scope: str):
        """Check the caller's API key for ``scope`` before anything else, and document it.

        The spec names the scope (``REQUIRED_SCOPE``); whether the operation then needs a
        key depends on the server's settings (open reads), so its ``security`` is
        declared when the spec is built (``EventsApi.spec_dict``).
        """

        def decorator(view):
            @functools.wraps(view)
            def checked(*args, **kwargs):
                rate_limits.check(scope, auth.authorize(scope))
                return view(*args, **kwargs)

            checked = self.doc(**{REQUIRED_SCOPE: scope})(checked)
            for status in (401, 403, 429):
                checked = self.alt_response(status, response=problems.response_name(status))(
                    checked
                )
            return checked

        return decorator

    def answers(self, *statuses: int):
        """Document the problem+json answers of a view, one component per status."""

        def decorator(view):
            for status in statuses:  # the spec lists them in this order
                view = self.alt_response(status, response=problems.response_name(status))(view)
            return view

        return decorator

    def idempotent(self, view):
        """Honour and document ``Idempotency-Key`` (apply inside ``requires_scope``)."""
        guarded = idempotency.guarded(view)
        manual = getattr(view, "_apidoc", {}).get("manual_doc", {})
        guarded = self.doc(parameters=[*manual.get("parameters", []), idempotency.PARAMETER])(
            guarded
        )
        return self.alt_response(409, response=problems.response_name(409))(guarded)

    def uses_database(self, view):
        """Document the 503 (with Retry-After) a view answers when the database is not."""
        return self.alt_response(503, response=problems.response_name(503))(view)


class SchemaRulesPlugin(MarshmallowPlugin):
    """apispec-oneofschema's plugin, adding each schema's ``json_schema_extra`` keywords.

    Fields map to JSON Schema one by one; a rule across fields (at least one of value, min
    and max; lat with lon) is stated by the schema itself (``schemas.common.StrictSchema``).
    """

    def schema_helper(self, name, definition, schema=None, **kwargs):
        json_schema = super().schema_helper(name, definition, schema=schema, **kwargs)
        extra = getattr(schema, "json_schema_extra", None)
        if json_schema is not None and extra:
            json_schema = {**json_schema, **copy.deepcopy(extra)}
        return json_schema


class EventsApi(Api):
    """flask-smorest's Api, answering and documenting errors as problem+json.

    The methods whose names start with `_` override private hooks of flask-smorest 0.47
    (pinned `==0.47.*` in pyproject for this reason): its error handler (HTML-free
    problem+json instead of its JSON), its pagination header (pages here are cursors),
    its response components (one per status, with problem examples) and its JSON spec
    view (the same key order as the YAML). tests/test_openapi.py and tests/test_errors.py
    fail if a release renames or stops calling them.
    """

    ERROR_SCHEMA = problems.Problem
    _spec_dict: dict | None = None

    def _register_error_handlers(self):
        problems.register(self._app)

    def _register_pagination_header(self):
        """Not used: pages here are keyset cursors in the body, not smorest's header."""

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": problems.status_title(status)}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                response["example"] = problems.example(status)
            if status == http.HTTPStatus.SERVICE_UNAVAILABLE:
                response["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before trying again. Absent when the "
                        "query ran past the statement timeout: the same request "
                        "would time out again; narrow it instead.",
                        "schema": {"type": "integer"},
                    }
                }
            if status == http.HTTPStatus.NOT_MODIFIED:
                response["headers"] = {
                    "ETag": {
                        "description": "The current version's ETag.",
                        "schema": {"type": "string"},
                    }
                }
            prepare_response(response, self.spec, problems.PROBLEM_JSON)
            self.spec.components.response(problems.response_name(status), response, lazy=True)
        response = {
            "description": "An error, as RFC 9457 problem details.",
            "schema": self.ERROR_SCHEMA,
        }
        prepare_response(response, self.spec, problems.PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)

    def spec_dict(self) -> dict:
        """The spec as a dict, built once: it changes only when the code does.

        Its top-level members in the order readers expect (apispec puts `paths` first and
        `openapi` last); below them, the order the code declares.
        """
        if self._spec_dict is None:
            spec = self.spec.to_dict()
            self._declare_security(spec)
            self._spec_dict = {key: spec.pop(key) for key in _TOP_LEVEL_ORDER if key in spec}
            self._spec_dict.update(spec)
        return self._spec_dict

    def _declare_security(self, spec: dict) -> None:
        """Each operation that names a scope needs the bearer key exactly when this server
        asks for one (``auth.key_required``); otherwise it declares none.

        An open read declares none rather than "a key or none" (`[{}, …]`): it takes a key
        but needs none, and the docs page draws an optional requirement as a closed
        padlock, as if a key were already given.
        """
        for item in spec["paths"].values():
            for operation in item.values():
                scope = operation.get(REQUIRED_SCOPE) if isinstance(operation, dict) else None
                if scope is not None:
                    needed = auth.key_required(scope, self._app.config)
                    operation["security"] = [{SECURITY_SCHEME: []}] if needed else []

    def _openapi_json(self):
        """/openapi.json: the same document, in the same order, as /openapi.yaml."""
        return Response(self.spec_text("json"), mimetype="application/json")

    def json_schema(self, component: str) -> dict:
        """A component of the spec as a standalone JSON Schema, its references in ``$defs``."""
        components = self.spec_dict()["components"]["schemas"]
        prefix = "#/components/schemas/"
        needed: dict[str, dict] = {}
        stack = [components[component]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith(prefix):
                    name = ref.removeprefix(prefix)
                    if name not in needed and name != component:
                        needed[name] = components[name]
                        stack.append(components[name])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
        document = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": component,
            **components[component],
        }
        if needed:
            document["$defs"] = dict(sorted(needed.items()))
        return json.loads(json.dumps(document).replace(f'"{prefix}', '"#/$defs/'))

    def spec_text(self, form: str = "yaml") -> str:
        """The spec as YAML or JSON, its keys in the order the code declares them.

        One order everywhere (the committed openapi.yaml, /openapi.yaml, /openapi.json):
        generators take the first content type of a response as its main one, so a sorted
        YAML (PyYAML's default, and flask-smorest's `openapi write`) made clients that
        parse a CSV export as JSON.
        """
        if form == "json":
            return json.dumps(self.spec_dict(), indent=2, ensure_ascii=False) + "\n"
        return yaml.dump(
            self.spec_dict(), Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, width=100
        )


_TOP_LEVEL_ORDER = (
    "openapi",
    "info",
    "jsonSchemaDialect",
    "servers",
    "security",
    "tags",
    "paths",
    "webhooks",
    "components",
    "externalDocs",
)


class _SpecDumper(yaml.SafeDumper):
    """Multi-line descriptions as YAML block scalars, as a person would write them; no
    anchors and aliases (`&id001`) where the spec shares an object between places."""

    def ignore_aliases(self, data):
        return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted style where a block scalar cannot hold the text.
    return dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    )


_SpecDumper.add_representer(str, _represent_text)


def _docs_assets() -> Blueprint:
    """Swagger UI's files from the flask-swagger-ui package: the docs page needs no CDN."""
    assets = Path(flask_swagger_ui.__file__).with_name("dist")
    return Blueprint(
        "docs_assets", __name__, static_folder=str(assets), static_url_path="/docs/assets"
    )


def current_api() -> EventsApi:
    """The Api of the current app."""
    return current_app.extensions["events_api"]


def create_api(app: Flask) -> EventsApi:
    """The Api bound to ``app``, with the spec also served as YAML."""
    for name, value in SETTINGS.items():
        app.config.setdefault(name, value)
    api = EventsApi(app, spec_kwargs={"marshmallow_plugin": SchemaRulesPlugin()})
    api.spec.components.security_scheme(SECURITY_SCHEME, BEARER_AUTH)
    for code in (CountryCode, LanguageCode):  # their fields refer to these by class name
        api.spec.components.schema(code.__name__, code.json_schema())
    app.extensions["events_api"] = api
    app.register_blueprint(_docs_assets())
    # The server's root is where a person lands first: the docs page, which links the spec.
    app.add_url_rule("/", "root", lambda: redirect(app.config["OPENAPI_SWAGGER_UI_PATH"]))
    app.add_url_rule(
        "/openapi.yaml",
        "openapi_yaml",
        lambda: Response(api.spec_text("yaml"), mimetype="application/yaml"),
    )
    return api

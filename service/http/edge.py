"""What every answer carries at the edge: CORS, security headers, caching rules,
compression, and 406 for an ``Accept`` the operation cannot serve.

Each is configuration of a maintained library (flask-cors, flask-compress) or a header
rule stated once here; views know nothing of them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re

from flask import Flask, Response, request
from flask_compress import Compress
from flask_cors import CORS
from werkzeug.exceptions import NotAcceptable
from werkzeug.middleware.proxy_fix import ProxyFix

from service.http.body import JSON
from service.http.problems import problem

# Media types worth compressing: everything the API answers that is text.
COMPRESSED_TYPES = [
    "application/json",
    "application/problem+json",
    "application/x-ndjson",
    "application/geo+json",
    "text/csv",
    "application/yaml",
    "text/html",
    "text/css",
    "application/javascript",
    "text/javascript",
]
# Headers a browser app on an allowed origin may send, and may read in an answer.
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
]
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Link",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "X-Request-ID",
    "Idempotent-Replayed",
]

# An API answer is data, never a page: nothing in it may load or run, or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The docs page runs Swagger UI from this server's own assets and its one inline script
# (allowed by hash, below); it fetches only the spec. Swagger UI sets inline styles.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'none'"
)
# The explorer (/explore) runs its own script and style sheet from this server, and reads
# the API on this origin; no inline script (none by hash: it has none) and no inline style.
EXPLORER_CSP = (
    "default-src 'none'; script-src 'self' {scripts}; style-src 'self';"
    " img-src 'self' data:; connect-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'self'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

# How long clients may keep what changes only with a deployment.
STATIC_MAX_AGE = 3600
_STATIC_ENDPOINTS = {"docs_assets.static", "api-docs.openapi_json", "openapi_yaml"}

compress = Compress()


@functools.lru_cache(maxsize=8)
def _page_csp(page: bytes, policy: str = DOCS_CSP) -> str:
    """``policy`` allowing, by their SHA-256 hashes, the inline scripts of ``page``."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(page)
    )
    return policy.format(scripts=hashes).replace(" ;", ";")


def _security_headers(response: Response) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html" and not response.is_streamed:
        policy = EXPLORER_CSP if request.blueprint == "explorer" else DOCS_CSP
        headers.setdefault("Content-Security-Policy", _page_csp(response.get_data(), policy))
    else:
        headers.setdefault("Content-Security-Policy", API_CSP)


def _cache_control(response: Response) -> None:
    """Writes and errors are never stored; reads revalidate; spec and assets are cacheable."""
    if request.method not in ("GET", "HEAD") or response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store"
    elif request.endpoint in _STATIC_ENDPOINTS:
        # Flask's own `no-cache` on static files would make the docs page revalidate
        # each of its assets on every load.
        response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}"
    elif "Cache-Control" not in response.headers:
        # Per caller (keys may be needed for reads), and checked again each time: by ETag
        # where the answer has one (304), otherwise fetched anew.
        response.headers["Cache-Control"] = "private, no-cache"


def _writes_answer_json() -> None:
    """406 before a write runs, when the client accepts no JSON answer.

    Not for DELETE: its answer is a 204 with no body, so no Accept can refuse it (the docs
    page sends `Accept: application/problem+json` there, the only type its errors have).
    """
    if (
        request.method in ("POST", "PUT", "PATCH")
        and request.accept_mimetypes
        and not request.accept_mimetypes.best_match([JSON])
    ):
        raise NotAcceptable(f"Writes answer {JSON}; the request's Accept allows none of it.")


def _reads_answer_what_is_accepted(response: Response) -> Response:
    """406 instead of a read's answer in a media type the client did not accept.

    Reads have no effect, so deciding on the answer itself covers every operation and
    format (an export's depends on its `format`) without a table of what each produces.
    """
    if (
        request.method in ("GET", "HEAD")
        and 200 <= response.status_code < 300
        and response.mimetype
        and request.accept_mimetypes
        and not request.accept_mimetypes.best_match([response.mimetype])
    ):
        response.close()  # an export's cursor, for one
        return problem(
            406, f"This answer is {response.mimetype}; the request's Accept allows none of it."
        )
    return response


def init_app(app: Flask) -> None:
    """Install the edge's rules on ``app``."""
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Only the hops the operator vouches for: a client cannot pose as another address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    origins = app.config["CORS_ORIGINS"]
    if origins:
        CORS(
            app,
            origins=origins,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
            methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        )
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    # gzip is what every client sends; flask-compress leaves it out of streams by default.
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])
    app.before_request(_writes_answer_json)
    # Flask runs after_request hooks last-registered first: so the 406 decision sees the
    # answer first, then headers are set (the docs page's script hash is read from its
    # uncompressed HTML), and compression comes last.
    compress.init_app(app)

    @app.after_request
    def _edge(response: Response) -> Response:
        _security_headers(response)
        _cache_control(response)
        return response

    app.after_request(_reads_answer_what_is_accepted)

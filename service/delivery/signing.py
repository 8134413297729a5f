"""Standard Webhooks signatures (https://www.standardwebhooks.com): secrets and headers.

The signature is HMAC-SHA256, keyed with the secret's bytes, over
``{webhook-id}.{webhook-timestamp}.{body}``, base64-encoded and prefixed ``v1,``. During
a rotation both secrets sign, and ``webhook-signature`` lists both, space-separated:
a receiver accepts the delivery if any one verifies.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@functools.lru_cache(maxsize=1024)
def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,…`` signature of a delivery."""
    key = _key(secret)
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(signing_secrets: list[str], message_id: str, timestamp: int, body: bytes) -> dict:
    """The three headers of a signed delivery."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id, timestamp, body) for secret in signing_secrets
        ),
    }

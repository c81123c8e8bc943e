"""Standard Webhooks signing (pure): secrets `whsec_<base64>`, `v1,<base64 HMAC-SHA256("{id}.{ts}.{body}")>`.

The key is the base64-decoded part after `whsec_`. During a rotation both the new and the previous secret
sign, and the header carries both signatures separated by a space; receivers accept either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: 192 random bits."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    if not secret.startswith(PREFIX):
        raise ValueError("a signing secret starts with whsec_")
    key = base64.b64decode(secret[len(PREFIX) :])
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, signed by every secret given (current first)."""
    if not secrets_:
        raise ValueError("at least one secret signs a delivery")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_),
    }

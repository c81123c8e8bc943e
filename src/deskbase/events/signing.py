"""Standard Webhooks signing and verification (pure): secrets `whsec_<base64>`, signatures
`v1,<base64 HMAC-SHA256("{id}.{ts}.{body}")>`.

The key is the base64-decoded part after `whsec_`. During a rotation both the new and the previous secret
sign, and the header carries both signatures separated by a space; receivers accept either. Verification
(inbound hooks) fails closed: any missing header, a timestamp outside the tolerance, or no `v1` signature
that one of the secrets made is a refusal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from deskbase.core.secrets import SecretBox

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
MAX_ID = 256


class Refused(Exception):
    """Why a signed message was not accepted (said to the sender: it names no secret)."""


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


def verify(
    secrets_: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """The message id of a message one of `secrets_` signed within `tolerance` seconds of `now`; else Refused.
    `headers` is looked up by lower-case name."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    sent = headers.get("webhook-signature")
    if not msg_id or not stamp or not sent:
        raise Refused("missing webhook-id, webhook-timestamp or webhook-signature header")
    if len(msg_id) > MAX_ID:
        raise Refused(f"webhook-id is longer than {MAX_ID} characters")
    if not stamp.isdigit() or len(stamp) > 12:
        raise Refused("webhook-timestamp is not a Unix time in seconds")
    if abs(now - int(stamp)) > tolerance:
        raise Refused(f"webhook-timestamp is more than {tolerance} seconds from the server's time")
    offered = [part for part in sent.split(" ") if part.startswith("v1,")]
    for secret in secrets_:
        expected = signature(secret, msg_id, int(stamp), body)
        if any(hmac.compare_digest(expected.encode(), o.encode()) for o in offered):
            return msg_id
    raise Refused("no valid signature")


def live_secrets(box: SecretBox, row: Any, now: datetime) -> list[str]:
    """A trigger's or hook's secrets in force at `now`: the current one (if any) and, for a day after a
    rotation, the previous one (both sign, either verifies)."""
    out = [box.open(row.secret)] if row.secret else []
    if row.previous_secret and row.previous_until and row.previous_until > now:
        out.append(box.open(row.previous_secret))
    return out

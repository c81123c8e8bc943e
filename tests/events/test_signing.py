"""Signatures follow Standard Webhooks: checked with the third-party `standardwebhooks` package."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from deskbase.events import signing


def test_a_signature_verifies_with_standardwebhooks() -> None:
    secret = signing.new_secret()
    body = b'{"id":"evt_1","type":"record.created"}'
    ts = int(time.time())
    headers = signing.headers([secret], "evt_1", ts, body)
    assert Webhook(secret).verify(body, headers) == {"id": "evt_1", "type": "record.created"}
    assert headers["webhook-signature"].startswith("v1,")


def test_during_a_rotation_either_secret_verifies_and_a_stranger_does_not() -> None:
    new, old = signing.new_secret(), signing.new_secret()
    body = b"{}"
    headers = signing.headers([new, old], "evt_2", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),
        lambda h, b: ({**h, "webhook-id": "evt_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
    ],
    ids=["body", "id", "timestamp"],
)
def test_any_change_breaks_the_signature(tamper: object) -> None:
    secret = signing.new_secret()
    body = b'{"a":1}'
    headers, changed = tamper(signing.headers([secret], "evt_3", int(time.time()), body), body)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(changed, headers)


def test_known_vector() -> None:
    """The example of the Standard Webhooks specification."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    sig = signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

"""Limits and hygiene: the per-token rate limit (429 + Retry-After), the body cap, constant-time token
comparison, and no token ever reaching a log line or an error message."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deskbase.api.ratelimit import RateLimiter
from deskbase.config import Settings
from deskbase.core import tokens
from deskbase.server import build
from tests.conftest import Api
from tests.security.test_tokens import error, grant, mint

W = "/v1/workspaces/acme"
T = {"subject": "Login fails", "status": "open", "priority": "high"}


class Ticker:
    """A hand-wound monotonic clock for the limiter: tests never race the wall clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_rate_limit_per_token(api: Api, api_ws: str) -> None:
    tick = Ticker()
    api.client.app.state.limiter = RateLimiter(2.0, 3, now=tick)
    a = mint(api, grant("read:records")).json()["token"]
    b = mint(api, grant("read:records")).json()["token"]
    for _ in range(3):
        assert api.get(f"{W}/records/tickets", token=a).status_code == 200
    r = api.get(f"{W}/records/tickets", token=a)
    err = error(r, 429, "rate_limited")
    assert r.headers["Retry-After"] == "1" and err["details"]["retry_after"] == 1
    assert api.get(f"{W}/records/tickets", token=b).status_code == 200  # buckets are per token
    for _ in range(10):
        assert api.get(f"{W}/records/tickets").status_code == 200  # the server admin is exempt
    tick.t += 0.5  # one request's worth refills at 2/s
    assert api.get(f"{W}/records/tickets", token=a).status_code == 200
    assert api.get(f"{W}/records/tickets", token=a).status_code == 429
    tick.t += 10  # a long pause refills no more than the burst
    assert [api.get(f"{W}/records/tickets", token=a).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_rate_limited_write_writes_nothing(api: Api, api_ws: str) -> None:
    api.client.app.state.limiter = RateLimiter(1.0, 1, now=Ticker())
    tok = mint(api, grant("write:records", "read:records")).json()["token"]
    assert api.post(f"{W}/records/tickets", json={"data": T}, token=tok).status_code == 201
    assert api.post(f"{W}/records/tickets", json={"data": T}, token=tok).status_code == 429
    assert len(api.get(f"{W}/records/tickets").json()["data"]) == 1


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    tick = Ticker()
    slow = RateLimiter(0.25, 1, now=tick)
    assert slow.take("k") == 0 and slow.take("k") == 4
    tick.t += 3.9
    assert slow.take("k") == 1
    assert RateLimiter(0, 1).take("k") == 0  # 0 turns the limit off


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[TestClient, str, Any]]:
    """A server built from settings with a 1 KiB body cap and a tight rate limit."""
    settings = Settings(
        data_dir=str(tmp_path),
        replicate=False,
        sla_scheduler=False,
        max_body_bytes=1024,
        rate_limit_per_second=5,
        rate_limit_burst=7,
    )
    core, app = build(settings)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, raw, core


def test_settings_configure_the_limits(small: tuple[TestClient, str, Any]) -> None:
    client, raw, core = small
    limiter = client.app.state.limiter  # type: ignore[attr-defined]
    assert (limiter.per_second, limiter.burst) == (5, 7)
    auth_ = {"Authorization": f"Bearer {raw}"}
    assert client.put("/v1/workspaces/acme", json={"name": "A"}, headers=auth_).status_code == 201
    before = core.last_seq("acme")
    big = {"data": {"subject": "x" * 2000, "status": "open"}}
    r = client.post("/v1/workspaces/acme/records/tickets", json=big, headers=auth_)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert core.last_seq("acme") == before


def test_token_comparison_is_constant_time(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []
    real = tokens.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    assert api.get("/v1/tokens/current").status_code == 200
    assert seen == [(hashlib.sha256(api.token.encode()).hexdigest(),) * 2]


def test_no_token_reaches_a_log_or_an_error(api: Api, api_ws: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    minted = mint(api, grant("read:records", "write:records")).json()
    raw = minted["token"]
    wrong = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    texts = [
        api.get(f"{W}/records/tickets", token=raw).text,
        api.post(f"{W}/records/tickets", json={"data": {"bad": 1}}, token=raw).text,
        api.get(f"{W}/records/nope/x", token=raw).text,
        api.put(W, json={"name": "x"}, token=raw).text,
        api.get(f"{W}/records/tickets", token=wrong).text,
        api.get(f"{W}/records/tickets", token=raw + "x" * 5000).text,
        api.get(f"{W}/records/tickets", headers={"Authorization": f"Basic {raw}"}, token=None).text,
    ]
    api.delete(f"/v1/tokens/{minted['id']}")
    texts.append(api.get(f"{W}/records/tickets", token=raw).text)
    secrets = [raw, wrong, api.token, hashlib.sha256(raw.encode()).hexdigest(), raw[4:20]]
    assert caplog.records, "expected the audit log to record the mint and the revocation"
    assert any(minted["id"] in r.getMessage() for r in caplog.records if r.name == "deskbase.audit")
    for s in secrets:
        assert s not in caplog.text
        assert not any(s in text for text in texts)

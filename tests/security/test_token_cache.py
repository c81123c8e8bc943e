"""Tokens are read from the store at most once a second per process: a revocation made here refuses the token
at once, one made by another process (another Deskbase on the same store) within that bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.core.errors import Unauthorized
from deskbase.core.tokens import TOKEN_CACHE_SECONDS

GRANTS = [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records"]}]


def test_a_revocation_here_refuses_at_once(core: Deskbase) -> None:
    raw, tok = core.tokens.create("t", GRANTS)
    assert core.tokens.authenticate(raw).id == tok["id"]
    core.tokens.revoke(SYSTEM, tok["id"])
    with pytest.raises(Unauthorized):
        core.tokens.authenticate(raw)


def test_a_revocation_elsewhere_refuses_within_the_bound(
    core: Deskbase, tmp_path: Path, clock: FixedClock, store_url: str
) -> None:
    now = [100.0]
    core.tokens._monotonic = lambda: now[0]  # this process's clock for the cache
    other = Deskbase.open(Settings(data_dir=str(tmp_path / "other"), database_url=store_url), clock)
    try:
        raw, tok = core.tokens.create("t", GRANTS)
        assert core.tokens.authenticate(raw).id == tok["id"]  # read and cached here
        other.tokens.revoke(SYSTEM, tok["id"])  # another process
        now[0] += TOKEN_CACHE_SECONDS / 2
        assert core.tokens.authenticate(raw).id == tok["id"]  # still within the bound
        now[0] += TOKEN_CACHE_SECONDS / 2
        with pytest.raises(Unauthorized, match="revoked"):
            core.tokens.authenticate(raw)
        with pytest.raises(Unauthorized):
            other.tokens.authenticate(raw)
    finally:
        other.close()

"""The session store, signatures and CSRF tokens on their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from deskbase.config import Settings
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.sessions import IDLE, MAX_AGE
from deskbase.web.session import Csrf, SessionStore, Signer, load_secret


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock) -> Iterator[SessionStore]:
    core = Deskbase.open(Settings(data_dir=str(tmp_path)), clock)
    yield SessionStore(Signer(b"k" * 32), core.sessions)
    core.close()


def test_the_secret_is_made_once_and_reused(tmp_path: Path) -> None:
    first = load_secret(tmp_path)
    assert load_secret(tmp_path) == first and len(first) == 32
    (tmp_path / "console-secret").write_text("")
    assert len(load_secret(tmp_path)) == 32  # a truncated file is replaced


def test_sessions_expire_when_idle_and_when_old(store: SessionStore, clock: FixedClock) -> None:
    session, cookie = store.create("tok_1")
    found = store.lookup(cookie)
    assert found is not None and (found.id, found.token_id) == (session.id, "tok_1")
    clock.advance(seconds=IDLE.total_seconds() + 1)
    assert store.lookup(cookie) is None
    session, cookie = store.create("tok_1")
    for _ in range(int(MAX_AGE / (IDLE / 2)) + 1):
        clock.advance(seconds=(IDLE / 2).total_seconds())
        store.lookup(cookie)
    assert store.lookup(cookie) is None


def test_only_hashes_are_stored(store: SessionStore) -> None:
    session, _ = store.create("tok_1")
    with store.sessions.db.read() as conn:
        rows = conn.execute(select(t.console_sessions)).all()
    assert [r.token_id for r in rows] == ["tok_1"] and session.id not in str(rows)


def test_ended_sessions_are_pruned_and_a_token_ends_all_its_sessions(
    store: SessionStore, clock: FixedClock
) -> None:
    store.create("tok_old")
    clock.advance(seconds=IDLE.total_seconds() + 1)
    _, a = store.create("tok_1")
    _, b = store.create("tok_1")
    _, other = store.create("tok_2")
    with store.sessions.db.read() as conn:
        assert sorted(conn.execute(select(t.console_sessions.c.token_id)).scalars()) == [
            "tok_1",
            "tok_1",
            "tok_2",
        ]
    store.drop_token("tok_1")
    assert store.lookup(a) is None and store.lookup(b) is None and store.lookup(other) is not None


def test_cookies_signed_with_another_secret_are_refused(store: SessionStore) -> None:
    _, cookie = store.create("tok_1")
    assert SessionStore(Signer(b"b" * 32), store.sessions).lookup(cookie) is None
    sid = cookie.rpartition(".")[0]
    assert store.lookup(sid + ".AAAA") is None


def test_a_csrf_token_is_bound_to_its_session() -> None:
    csrf = Csrf(Signer(b"k" * 32))
    token = csrf.mint("session-1")
    assert csrf.check("session-1", token, token)
    assert not csrf.check("session-2", token, token)
    assert not csrf.check("session-1", token, csrf.mint("session-1"))  # field and cookie must match
    assert not csrf.check("session-1", None, token)
    assert not csrf.check("session-1", token, None)

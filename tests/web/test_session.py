"""The session store, signatures and CSRF tokens on their own."""

from __future__ import annotations

from pathlib import Path

from deskbase.web.session import IDLE_SECONDS, MAX_AGE_SECONDS, Csrf, SessionStore, Signer, load_secret


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_secret_is_made_once_and_reused(tmp_path: Path) -> None:
    first = load_secret(tmp_path)
    assert load_secret(tmp_path) == first and len(first) == 32
    (tmp_path / "console-secret").write_text("")
    assert len(load_secret(tmp_path)) == 32  # a truncated file is replaced


def test_sessions_expire_when_idle_and_when_old() -> None:
    clock = Tick()
    store = SessionStore(Signer(b"k" * 32), clock)
    session, cookie = store.create("dsk_x")
    assert store.lookup(cookie) is session
    clock.now += IDLE_SECONDS + 1
    assert store.lookup(cookie) is None
    session, cookie = store.create("dsk_x")
    for _ in range(int(MAX_AGE_SECONDS / (IDLE_SECONDS / 2)) + 1):
        clock.now += IDLE_SECONDS / 2
        store.lookup(cookie)
    assert store.lookup(cookie) is None


def test_cookies_signed_with_another_secret_are_refused() -> None:
    _, cookie = SessionStore(Signer(b"a" * 32)).create("dsk_x")
    assert SessionStore(Signer(b"b" * 32)).lookup(cookie) is None
    sid = cookie.rpartition(".")[0]
    assert SessionStore(Signer(b"a" * 32)).lookup(sid + ".AAAA") is None


def test_a_csrf_token_is_bound_to_its_session() -> None:
    csrf = Csrf(Signer(b"k" * 32))
    token = csrf.mint("session-1")
    assert csrf.check("session-1", token, token)
    assert not csrf.check("session-2", token, token)
    assert not csrf.check("session-1", token, csrf.mint("session-1"))  # field and cookie must match
    assert not csrf.check("session-1", None, token)
    assert not csrf.check("session-1", token, None)

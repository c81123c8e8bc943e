"""Passwords: the NIST 800-63B rules, argon2id at rest (no plaintext anywhere in the store), console sign-in
with a generic failure, throttling per account and per address (stored, doubling waits), reset links."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from deskbase.core import passwords
from deskbase.core.people_tables import users
from tests.people.conftest import People, serve

RULES = [
    ("correct horse battery staple", None),
    ("ünïcödé pässwörd ✓", None),
    ("eight ch", None),
    ("seven c", "use at least 8 characters"),
    ("x" * 257, "use at most 256 characters"),
    ("Password1", "this password is on a list of common or leaked passwords; choose another"),
    ("QWERTYUIOP", "this password is on a list of common or leaked passwords; choose another"),
    ("zzzzzzzzzz", "a repeated character or a simple sequence is too easy to guess"),
    ("3456789012", "a repeated character or a simple sequence is too easy to guess"),
    ("hgfedcbazy", "a repeated character or a simple sequence is too easy to guess"),
    ("ana.garcia-2026", "a password may not contain your email address or your name"),
    ("my ANA GARCIA pw", "a password may not contain your email address or your name"),
]


@pytest.mark.parametrize(("password", "reason"), RULES, ids=[r[0][:20] for r in RULES])
def test_password_rules(password: str, reason: str | None) -> None:
    """No composition rules: length, the common list, sequences and the account's own words only."""
    assert passwords.problem(password, "ana.garcia@example.com", "Ana Garcia") == reason


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    """A server of its own, with the throttle at its defaults for accounts and a small one for addresses."""
    yield from serve(tmp_path_factory, signin_free_failures_address=8, signin_max_wait_seconds=60)


def test_hashes_are_argon2id_and_no_password_is_stored_in_the_clear(throttled: People) -> None:
    ws = throttled.workspace()
    p = throttled.person(ws, password="ochre walrus tandem")
    inv = throttled.api.post(
        f"/v1/workspaces/{ws}/invitations", json={"email": "inv@people.example", "role": "agent"}
    )
    throttled.api.post(
        f"/v1/invitations/{inv.json()['token']}/accept",
        json={"name": "Iva", "password": "saffron kettle mosaic"},
        token=None,
    )
    with throttled.core.db.read() as conn:
        stored = conn.execute(select(users.c.password_hash).where(users.c.email == p.email)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,")
    raw = throttled.core.db.engine.raw_connection()
    try:
        everything = "\n".join(raw.driver_connection.iterdump())  # every row of every table, as SQL
    finally:
        raw.close()
    assert p.email in everything
    for secret in ("ochre walrus tandem", "saffron kettle mosaic", inv.json()["token"]):
        assert secret not in everything


def test_a_failed_sign_in_never_says_whether_the_account_exists(throttled: People) -> None:
    p = throttled.person()
    browser = throttled.browser()
    wrong = browser.sign_in(p.email, "not the right one")
    unknown = browser.sign_in("nobody-here@people.example", "not the right one")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.text and "Wrong email or password." in unknown.text
    assert f'value="{p.email}"' in wrong.text and "not the right one" not in wrong.text
    assert browser.get("/").headers["location"].startswith("/signin")
    ok = browser.sign_in(p.email, p.password)
    assert (ok.status_code, ok.headers["location"]) == (303, "/")


def test_an_account_is_throttled_after_five_failures_with_doubling_waits(throttled: People) -> None:
    p = throttled.person()
    other = throttled.person()
    browser = throttled.browser("198.51.100.7")  # an address of its own: only the account's count matters
    for _ in range(5):
        assert browser.sign_in(p.email, "guess guess guess").status_code == 401
    assert browser.sign_in(p.email, "guess guess guess").status_code == 401  # the 6th: counted, waits 2 s
    blocked = browser.sign_in(p.email, p.password)  # even the right password waits
    assert blocked.status_code == 429 and "try again in 2 s" in blocked.text
    ghost, elsewhere = "ghost@people.example", throttled.browser("198.51.100.9")
    for _ in range(6):  # an email without an account is throttled exactly alike
        elsewhere.sign_in(ghost, "guess guess guess")
    assert "try again in 2 s" in elsewhere.sign_in(ghost, "guess guess guess").text
    assert throttled.browser("198.51.100.10").sign_in(other.email, other.password).status_code == 303
    throttled.clock.advance(seconds=2)
    assert browser.sign_in(p.email, "guess guess guess").status_code == 401  # the 7th: waits 4 s
    throttled.clock.advance(seconds=3)
    assert browser.sign_in(p.email, p.password).status_code == 429
    throttled.clock.advance(seconds=1)
    assert browser.sign_in(p.email, p.password).status_code == 303
    # a success clears the account's count: the next mistake is free again
    assert throttled.browser("198.51.100.8").sign_in(p.email, "guess guess guess").status_code == 401
    throttled.clock.advance(days=1, seconds=1)  # and the address's count is forgotten a day on


def test_one_address_is_throttled_across_accounts(throttled: People) -> None:
    throttled.clock.advance(days=1, seconds=1)
    victims = [throttled.person() for _ in range(3)]
    browser = throttled.browser("2001:db8:1:2::10")
    neighbour = throttled.browser("2001:db8:1:2::99")  # the same /64
    for i in range(9):  # 8 free failures from this address, the 9th starts the waits
        assert browser.sign_in(victims[i % 3].email, "spray spray spray").status_code == 401
    r = browser.sign_in(victims[0].email, victims[0].password)
    assert r.status_code == 429
    assert neighbour.sign_in(victims[1].email, victims[1].password).status_code == 429
    assert (
        throttled.browser("2001:db8:9::1").sign_in(victims[1].email, victims[1].password).status_code == 303
    )
    throttled.clock.advance(seconds=2)
    assert browser.sign_in(victims[0].email, victims[0].password).status_code == 303
    throttled.clock.advance(days=1, seconds=1)


def test_reset_links_are_single_use_and_end_sessions(throttled: People) -> None:
    p = throttled.person()
    signed_in = throttled.browser()
    assert signed_in.sign_in(p.email, p.password).status_code == 303
    link = throttled.api.post(f"/v1/users/{p.id}/password-reset")
    assert link.status_code == 201 and link.json()["path"].startswith("/reset/dsr_")
    path = link.json()["path"]
    browser = throttled.browser()
    assert p.email in browser.get(path).text
    weak = browser.post(path, {"password": "qrstuvwx"})
    assert weak.status_code == 422 and "sequence" in weak.text
    assert browser.post(path, {"password": "meadow piston violet"}).status_code == 303
    assert signed_in.get("/").headers["location"].startswith("/signin")
    assert browser.get(path).status_code == 404
    assert throttled.browser().sign_in(p.email, p.password).status_code == 401
    assert throttled.browser().sign_in(p.email, "meadow piston violet").status_code == 303
    # an admin may also set one directly (the CLI's --password-stdin)
    r = throttled.api.put(f"/v1/users/{p.id}/password", json={"password": "harbor lentil quartz"})
    assert r.status_code == 204
    assert throttled.browser().sign_in(p.email, "harbor lentil quartz").status_code == 303


def test_changing_your_password_needs_the_current_one(throttled: People) -> None:
    p = throttled.person()
    url = "/v1/users/me/password"
    bad = throttled.api.post(
        url, json={"current_password": "nope nope", "new_password": "birch canyon relay"}, token=p.token
    )
    assert bad.status_code == 401
    weak = throttled.api.post(
        url, json={"current_password": p.password, "new_password": p.email}, token=p.token
    )
    assert weak.status_code == 422
    ok = throttled.api.post(
        url, json={"current_password": p.password, "new_password": "birch canyon relay"}, token=p.token
    )
    assert ok.status_code == 204
    assert throttled.browser().sign_in(p.email, "birch canyon relay").status_code == 303


def test_a_generated_password_never_spells_the_name_of_anyone_it_is_for() -> None:
    drawn = iter(["8IPXtoMvhemkd1Mv", "xq-MARIAbc71Zk", "Zp3_vq8LhW2nRe"])
    people = [("tom@support.example", "Tom Becker"), ("maria@support.example", "Maria Santos")]
    assert passwords.generate(people, source=lambda: next(drawn)) == "Zp3_vq8LhW2nRe"

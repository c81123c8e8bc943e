"""TOTP second factor: enrolment confirmed by a code, sign-in's code step (no session before it), codes
never good twice, recovery codes once, failures under the sign-in throttle, switching off, an admin's reset,
and nothing secret in the clear in the store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from deskbase.core import tables as t
from deskbase.core.people_tables import user_factors
from tests.conftest import _pg_available, postgres_url
from tests.people.conftest import Console, People, Person, serve


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    """A server of its own: the throttle at its defaults for accounts (every test calls from its own address)."""
    yield from serve(tmp_path_factory, signin_free_failures_address=50)


def code(people: People, secret: str, steps: int = 0) -> str:
    """The app's code at the server's (fixed) clock, `steps` of 30 s away."""
    now = int(people.clock.now().timestamp()) // 30
    return pyotp.TOTP(secret).generate_otp(now + steps)


def next_step(people: People) -> None:
    """Move the clock into the next 30-second step (a new code)."""
    people.clock.advance(seconds=30)


def enrol(people: People, p: Person) -> tuple[str, list[str]]:
    begun = people.api.post("/v1/users/me/totp", token=p.token)
    assert begun.status_code == 201, begun.text
    secret = begun.json()["secret"]
    done = people.api.post("/v1/users/me/totp/confirm", json={"code": code(people, secret)}, token=p.token)
    assert done.status_code == 200, done.text
    next_step(people)  # the confirming code is spent; tests sign in with the next one
    return secret, done.json()["recovery_codes"]


def password_step(people: People, p: Person, address: str) -> Console:
    browser = people.browser(address)
    r = browser.sign_in(p.email, p.password)
    assert (r.status_code, r.headers["location"]) == (303, "/signin/code?next=/"), r.text
    return browser


def user_sessions(people: People, user_id: str) -> list[Any]:
    cs = t.console_sessions
    with people.core.db.read() as conn:
        return list(conn.execute(select(cs.c.id_hash).where(cs.c.user_id == user_id)).all())


def test_enrolment_is_switched_on_only_by_a_current_code(people: People) -> None:
    p = people.person(people.workspace())
    assert people.api.get("/v1/users/me/totp", token=p.token).json() == {
        "enabled": False, "confirmed_at": None, "pending": False, "recovery_codes_left": 0, "required_by": [],
    }  # fmt: skip
    begun = people.api.post("/v1/users/me/totp", token=p.token).json()
    assert begun["uri"].startswith("otpauth://totp/deskbase:") and f"secret={begun['secret']}" in begun["uri"]
    assert people.api.get("/v1/users/me/totp", token=p.token).json()["pending"] is True
    wrong = people.api.post("/v1/users/me/totp/confirm", json={"code": "000000"}, token=p.token)
    assert wrong.status_code == 422 and wrong.json()["error"]["details"]["errors"][0]["pointer"] == "/code"
    # a pending enrolment does not change how the person signs in
    assert people.browser("192.0.2.1").sign_in(p.email, p.password).headers["location"] == "/"
    ok = people.api.post(
        "/v1/users/me/totp/confirm", json={"code": code(people, begun["secret"])}, token=p.token
    )
    codes = ok.json()["recovery_codes"]
    assert ok.status_code == 200 and len(set(codes)) == 10
    assert all(len(c) == 19 and c.count("-") == 3 for c in codes)
    status = people.api.get("/v1/users/me/totp", token=p.token).json()
    assert status["enabled"] is True and status["recovery_codes_left"] == 10 and status["confirmed_at"]
    again = people.api.post("/v1/users/me/totp", token=p.token)
    assert again.status_code == 409  # switch it off first
    # a service token has no second factor
    assert people.api.post("/v1/users/me/totp").status_code == 404
    # nothing secret in the clear: the secret is sealed, the recovery codes are hashes
    raw = people.core.db.engine.raw_connection()
    try:
        everything = "\n".join(raw.driver_connection.iterdump())
    finally:
        raw.close()
    assert begun["secret"] not in everything
    assert not any(c in everything or c.replace("-", "") in everything for c in codes)
    with people.core.db.read() as conn:
        sealed = conn.execute(select(user_factors.c.secret).where(user_factors.c.user_id == p.id)).scalar()
    assert people.core.factors.box.open(sealed) == begun["secret"]


def test_sign_in_asks_for_the_code_and_the_half_way_state_is_no_session(people: People) -> None:
    p = people.person(people.workspace())
    secret, _ = enrol(people, p)
    browser = password_step(people, p, "192.0.2.2")
    assert user_sessions(people, p.id) == []  # the right password alone opened no session
    assert browser.get("/").headers["location"].startswith("/signin")
    assert browser.get("/settings").headers["location"].startswith("/signin")
    page = browser.get("/signin/code?next=/")
    assert page.status_code == 200 and "authenticator app" in page.text
    wrong = browser.post("/signin/code", {"code": "123456", "next": "/"})
    assert wrong.status_code == 401 and "The code is wrong or was used already." in wrong.text
    assert user_sessions(people, p.id) == []
    ok = browser.post("/signin/code", {"code": code(people, secret), "next": "/settings"})
    assert (ok.status_code, ok.headers["location"]) == (303, "/settings")
    assert len(user_sessions(people, p.id)) == 1
    assert browser.get("/settings").status_code == 200
    # without the password step there is nothing to answer a code to
    stranger = people.browser("192.0.2.3")
    assert stranger.get("/signin/code").headers["location"] == "/signin"
    r = stranger.post("/signin/code", {"code": code(people, secret, 1), "next": "/"})
    assert r.status_code == 401 and "Enter your password again" in r.text


def test_the_half_way_state_ends_after_five_minutes_and_with_a_new_password(people: People) -> None:
    p = people.person(people.workspace())
    secret, _ = enrol(people, p)
    browser = password_step(people, p, "192.0.2.4")
    people.clock.advance(seconds=301)
    late = browser.post("/signin/code", {"code": code(people, secret), "next": "/"})
    assert late.status_code == 401 and "took too long" in late.text
    browser = password_step(people, p, "192.0.2.4")
    people.api.put(f"/v1/users/{p.id}/password", json={"password": "copper lantern meadow"})
    stale = browser.post("/signin/code", {"code": code(people, secret), "next": "/"})
    assert stale.status_code == 401 and "took too long" in stale.text


def test_a_code_is_never_good_twice_nor_an_older_one_after_it(people: People) -> None:
    p = people.person(people.workspace())
    secret, _ = enrol(people, p)
    now = code(people, secret)
    assert password_step(people, p, "192.0.2.5").post("/signin/code", {"code": now}).status_code == 303
    replay = password_step(people, p, "192.0.2.5").post("/signin/code", {"code": now})
    assert replay.status_code == 401  # the same code, in the same 30 s
    older = password_step(people, p, "192.0.2.5").post("/signin/code", {"code": code(people, secret, -1)})
    assert older.status_code == 401  # the previous step's code is within the drift window, but older
    late = password_step(people, p, "192.0.2.5").post("/signin/code", {"code": code(people, secret, -2)})
    assert late.status_code == 401  # outside the window
    next_step(people)
    fresh = password_step(people, p, "192.0.2.5").post("/signin/code", {"code": code(people, secret)})
    assert fresh.status_code == 303
    # one step ahead (a phone clock a little fast) is accepted
    ahead = password_step(people, p, "192.0.2.5").post("/signin/code", {"code": code(people, secret, 1)})
    assert ahead.status_code == 303
    people.clock.advance(days=1, seconds=1)  # forget this test's failures


def test_a_recovery_code_works_once(people: People) -> None:
    p = people.person(people.workspace())
    _, codes = enrol(people, p)
    typed = " " + codes[0].upper().replace("-", " ") + " "  # as someone reads it off paper
    assert password_step(people, p, "192.0.2.6").post("/signin/code", {"code": typed}).status_code == 303
    again = password_step(people, p, "192.0.2.6").post("/signin/code", {"code": codes[0]})
    assert again.status_code == 401
    assert people.api.get("/v1/users/me/totp", token=p.token).json()["recovery_codes_left"] == 9
    other = people.person()
    enrol(people, other)
    mine = password_step(people, other, "192.0.2.6").post("/signin/code", {"code": codes[1]})
    assert mine.status_code == 401  # a code is its own user's only
    # new codes replace the old ones
    fresh = people.api.post("/v1/users/me/totp/recovery-codes", json={"password": p.password}, token=p.token)
    assert fresh.status_code == 200 and len(fresh.json()["recovery_codes"]) == 10
    old = password_step(people, p, "192.0.2.6").post("/signin/code", {"code": codes[1]})
    assert old.status_code == 401
    new = fresh.json()["recovery_codes"][0]
    assert password_step(people, p, "192.0.2.6").post("/signin/code", {"code": new}).status_code == 303
    people.clock.advance(days=1, seconds=1)


def test_wrong_codes_count_toward_the_sign_in_throttle(people: People) -> None:
    """The right password does not clear the account's count for an account with a second factor, so
    entering it again never buys more guesses at the code."""
    people.clock.advance(days=1, seconds=1)
    p = people.person(people.workspace())
    secret, _ = enrol(people, p)
    browser = password_step(people, p, "198.51.100.20")
    for _ in range(3):
        assert browser.post("/signin/code", {"code": "111111"}).status_code == 401
    browser = password_step(people, p, "198.51.100.20")  # the password again: the count stays
    assert browser.post("/signin/code", {"code": "111111"}).status_code == 401
    assert browser.post("/signin/code", {"code": "111111"}).status_code == 401  # the 5th: free
    assert browser.post("/signin/code", {"code": "111111"}).status_code == 401  # the 6th: waits 2 s
    blocked = browser.post("/signin/code", {"code": code(people, secret)})
    assert blocked.status_code == 429 and "try again in 2 s" in blocked.text
    assert people.browser("198.51.100.21").sign_in(p.email, p.password).status_code == 429
    people.clock.advance(seconds=2)
    assert browser.post("/signin/code", {"code": code(people, secret)}).status_code == 303
    # the right code cleared the account's count: a mistake is free again
    browser = password_step(people, p, "198.51.100.22")
    assert browser.post("/signin/code", {"code": "111111"}).status_code == 401
    people.clock.advance(days=1, seconds=1)


def test_switching_off_needs_the_password_or_a_current_code(people: People) -> None:
    p = people.person(people.workspace())
    secret, _ = enrol(people, p)
    url = "/v1/users/me/totp/disable"
    assert people.api.post(url, json={}, token=p.token).status_code == 422
    assert people.api.post(url, json={"password": "not it at all"}, token=p.token).status_code == 401
    assert people.api.post(url, json={"code": "000000"}, token=p.token).status_code == 401
    assert people.api.post(url, json={"password": p.password}, token=p.token).status_code == 204
    assert people.api.get("/v1/users/me/totp", token=p.token).json()["enabled"] is False
    assert people.api.post(url, json={"password": p.password}, token=p.token).status_code == 409
    assert people.browser("192.0.2.7").sign_in(p.email, p.password).headers["location"] == "/"
    secret, _ = enrol(people, p)
    assert people.api.post(url, json={"code": code(people, secret)}, token=p.token).status_code == 204
    assert people.browser("192.0.2.7").sign_in(p.email, p.password).headers["location"] == "/"
    people.clock.advance(days=1, seconds=1)


def test_a_server_admin_resets_a_second_factor(people: People) -> None:
    p = people.person(people.workspace())
    other = people.person()
    enrol(people, p)
    assert people.api.delete(f"/v1/users/{p.id}/totp", token=other.token).status_code == 403
    assert people.api.delete(f"/v1/users/{p.id}/totp", token=p.token).status_code == 403
    assert people.api.delete("/v1/users/usr_0000000000000000/totp").status_code == 404
    assert people.api.delete(f"/v1/users/{p.id}/totp").status_code == 204
    assert people.browser("192.0.2.8").sign_in(p.email, p.password).headers["location"] == "/"
    assert people.api.get("/v1/users/me/totp", token=p.token).json()["recovery_codes_left"] == 0
    # deleting a user removes their factor with them
    enrol(people, other)
    assert people.api.delete(f"/v1/users/{other.id}").status_code == 204
    with people.core.db.read() as conn:
        left = conn.execute(select(user_factors.c.user_id).where(user_factors.c.user_id == other.id)).all()
    assert left == []


def test_a_reset_link_and_an_invitation_still_ask_for_the_code(people: People) -> None:
    ws = people.workspace()
    p = people.person(ws)
    secret, _ = enrol(people, p)
    path = people.api.post(f"/v1/users/{p.id}/password-reset").json()["path"]
    browser = people.browser("192.0.2.9")
    browser.get(path)
    r = browser.post(path, {"password": "walnut harbour signal"})
    assert (r.status_code, r.headers["location"]) == (303, "/signin/code?next=/")
    assert user_sessions(people, p.id) == []
    assert browser.post("/signin/code", {"code": code(people, secret)}).status_code == 303
    next_step(people)
    other = people.workspace()
    token = people.api.post(
        f"/v1/workspaces/{other}/invitations", json={"email": p.email, "role": "agent"}
    ).json()["token"]
    joining = people.browser("192.0.2.9")
    joined = joining.post(f"/invite/{token}", {"password": "walnut harbour signal"})
    assert joined.status_code == 303 and joined.headers["location"].startswith("/signin/code?next=")
    assert len(user_sessions(people, p.id)) == 1  # the first browser's; accepting opened none
    done = joining.post("/signin/code", {"code": code(people, secret), "next": f"/w/{other}/queue"})
    assert (done.status_code, done.headers["location"]) == (303, f"/w/{other}/queue")


def test_settings_enrol_switch_on_and_off_in_the_console(people: People) -> None:
    p = people.person(people.workspace())
    browser = people.browser("192.0.2.10")
    assert browser.sign_in(p.email, p.password).status_code == 303
    settings = browser.get("/settings")
    assert "Two-step sign-in" in settings.text and "Set up two-step sign-in" in settings.text
    assert browser.get("/settings/totp").headers["location"] == "/settings"  # nothing pending
    begun = browser.post("/settings/totp", {})
    assert (begun.status_code, begun.headers["location"]) == (303, "/settings/totp")
    page = browser.get("/settings/totp")
    assert page.status_code == 200 and "<svg" in page.text and 'role="img"' in page.text
    secret = page.text.split('<code id="totp-secret">', 1)[1].split("<", 1)[0]
    assert secret == people.core.factors.pending(people.core.people.actor(p.id))["secret"]
    wrong = browser.post("/settings/totp/confirm", {"code": "000000"})
    assert wrong.status_code == 422 and "Not the current code" in wrong.text and secret in wrong.text
    shown = browser.post("/settings/totp/confirm", {"code": code(people, secret)})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert shown.text.count("<li><code>") == 10
    assert "10 of 10 recovery codes left" in browser.get("/settings").text
    next_step(people)
    bad = browser.post("/settings/totp/disable", {"password": "wrong wrong wrong"})
    assert bad.status_code == 401 and "The password is wrong." in bad.text
    assert browser.post("/settings/totp/disable", {"password": p.password}).status_code == 303
    assert "Set up two-step sign-in" in browser.get("/settings").text
    # a token's session has no second factor to set up
    tokened = people.browser("192.0.2.11")
    tokened.client.get("/signin")
    tokened.post("/signin", {"token": people.api.token})
    assert tokened.post("/settings/totp", {}).status_code == 404
    people.clock.advance(days=1, seconds=1)


def test_enrolment_survives_a_reload_and_a_restart_of_enrolment(people: People) -> None:
    p = people.person()
    first = people.api.post("/v1/users/me/totp", token=p.token).json()["secret"]
    second = people.api.post("/v1/users/me/totp", token=p.token).json()["secret"]
    assert first != second
    stale = people.api.post("/v1/users/me/totp/confirm", json={"code": code(people, first)}, token=p.token)
    assert stale.status_code == 422  # the replaced secret no longer counts
    ok = people.api.post("/v1/users/me/totp/confirm", json={"code": code(people, second)}, token=p.token)
    assert ok.status_code == 200
    no = people.api.post("/v1/users/me/totp/confirm", json={"code": code(people, second)}, token=p.token)
    assert no.status_code == 409


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stored(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    """The server on SQLite and on PostgreSQL (a fresh schema; skipped when PostgreSQL is not reachable)."""
    if request.param == "sqlite":
        yield from serve(tmp_path_factory)
        return
    url = postgres_url()
    assert url
    reason = _pg_available(url)
    if reason:
        pytest.skip(reason)
    schema = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        sep = "&" if "?" in url else "?"
        yield from serve(tmp_path_factory, database_url=f"{url}{sep}options=-csearch_path%3D{schema}")
    finally:
        with eng.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        eng.dispose()


def test_one_code_sent_twice_at_once_passes_once(stored: People) -> None:
    """The conditional update decides, so two requests racing with one code (or one recovery code) cannot
    both pass, on either store."""
    p = stored.person()
    secret, codes = enrol(stored, p)
    factors = stored.core.factors

    def spend(value: str) -> bool:
        with stored.core.db.tx() as tx:
            return factors.spend(tx, p.id, value)

    for value in (code(stored, secret), codes[0]):
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(spend, [value] * 4))
        assert sorted(results) == [False, False, False, True]


def test_digits_of_other_scripts_are_a_wrong_code_not_an_error(people: People) -> None:
    p = people.person()
    enrol(people, p)
    arabic = "\u0661\u0662\u0663\u0664\u0665\u0666"  # six Arabic-Indic digits: str.isdigit() is true
    r = people.api.post("/v1/users/me/totp/disable", json={"code": arabic}, token=p.token)
    assert r.status_code == 401
    people.clock.advance(days=1, seconds=1)

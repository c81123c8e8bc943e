"""Single sign-on's store rules on SQLite and PostgreSQL: who a verified identity is (linked, created, refused),
the domain roles as a floor, a refusal that leaves nothing behind, and a sign-in's state that works once. The
provider's side (HTTP, signatures) is tested against a real provider in test_sso.py."""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.core.people_tables import memberships, users
from deskbase.core.sso_tables import sso_logins, user_identities
from deskbase.sso.provider import SsoFailure, SsoRefused
from deskbase.sso.service import SingleSignOn, _hash

ISSUER = "https://id.example.com"


@pytest.fixture
def sso(core: Deskbase, ws: str) -> SingleSignOn:
    core.settings = replace(
        core.settings,
        oidc_issuer=ISSUER,
        oidc_client_id="desk",
        oidc_domain_roles=json.dumps({"acme.example": {ws: "agent"}}),
    )
    return SingleSignOn(core)


def claims(sub: str, email: str, verified: Any = True, **more: Any) -> dict[str, Any]:
    return {"sub": sub, "email": email, "email_verified": verified, **more}


def count(core: Deskbase, table: Any) -> int:
    with core.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def role(core: Deskbase, ws: str, user_id: str) -> str | None:
    with core.db.read() as conn:
        row = core.members.membership(conn, ws, user_id)
    return row.role if row is not None else None


def test_a_mapped_person_is_created_once_and_found_by_their_identity(
    core: Deskbase, ws: str, sso: SingleSignOn
) -> None:
    first = sso.account(ISSUER, claims("s-1", "Nina@ACME.example", name="Nina Ito", locale="pt-BR"))
    assert (first.email, first.name, first.locale, first.password_hash) == (
        "nina@acme.example",
        "Nina Ito",
        "pt-BR",
        None,
    )
    assert role(core, ws, first.id) == "agent"
    # The provider's email changes later: the identity still finds the same user, whose email stays.
    again = sso.account(ISSUER, claims("s-1", "nina.ito@elsewhere.example"))
    assert again.id == first.id and again.email == "nina@acme.example"
    assert count(core, users) == 1 and count(core, user_identities) == 1


def test_the_domain_role_is_a_floor(core: Deskbase, ws: str, sso: SingleSignOn) -> None:
    low = core.people.create(SYSTEM, {"email": "low@acme.example"})["id"]
    high = core.people.create(SYSTEM, {"email": "high@acme.example"})["id"]
    aside = core.people.create(SYSTEM, {"email": "aside@acme.example"})["id"]
    core.members.put(SYSTEM, ws, low, "light_agent")
    core.members.put(SYSTEM, ws, high, "owner")
    core.members.put(SYSTEM, ws, aside, "analyst")  # reads and SQL: not covered by agent's grants
    for n, who in enumerate(("low", "high", "aside")):
        sso.account(ISSUER, claims(f"s-{n}", f"{who}@acme.example"))
    assert (role(core, ws, low), role(core, ws, high), role(core, ws, aside)) == ("agent", "owner", "analyst")


@pytest.mark.parametrize("verified", [False, "false", None])
def test_an_unverified_email_neither_links_nor_creates(
    core: Deskbase, ws: str, sso: SingleSignOn, verified: Any
) -> None:
    core.people.create(SYSTEM, {"email": "kim@acme.example"})
    with pytest.raises(SsoRefused) as caught:
        sso.account(ISSUER, claims("s-kim", "kim@acme.example", verified))
    assert caught.value.reason == "unverified"
    with pytest.raises(SsoRefused):
        sso.account(ISSUER, claims("s-new", "new@acme.example", verified))
    assert count(core, user_identities) == 0 and count(core, users) == 1


def test_cognitos_string_true_counts_as_verified(core: Deskbase, ws: str, sso: SingleSignOn) -> None:
    assert sso.account(ISSUER, claims("s-c", "cog@acme.example", "true")).email == "cog@acme.example"


def test_a_refusal_after_the_link_leaves_nothing_behind(core: Deskbase, ws: str, sso: SingleSignOn) -> None:
    """A user with no membership and an unmapped domain: linking happened in the transaction, then the
    refusal rolled it back."""
    core.people.create(SYSTEM, {"email": "solo@other.example"})
    with pytest.raises(SsoRefused) as caught:
        sso.account(ISSUER, claims("s-solo", "solo@other.example"))
    assert caught.value.reason == "no_access"
    assert count(core, user_identities) == 0 and count(core, memberships) == 0


def test_a_server_admin_needs_no_membership(core: Deskbase, ws: str, sso: SingleSignOn) -> None:
    admin = core.people.create(SYSTEM, {"email": "root@other.example", "server_admin": True})
    assert sso.account(ISSUER, claims("s-root", "root@other.example")).id == admin["id"]


def test_without_creating_users_only_existing_ones_sign_in(core: Deskbase, ws: str) -> None:
    core.settings = replace(
        core.settings,
        oidc_issuer=ISSUER,
        oidc_client_id="desk",
        oidc_create_users=False,
        oidc_domain_roles=json.dumps({"acme.example": {ws: "agent"}}),
    )
    sso = SingleSignOn(core)
    with pytest.raises(SsoRefused):
        sso.account(ISSUER, claims("s-x", "x@acme.example"))
    core.people.create(SYSTEM, {"email": "x@acme.example"})
    user = sso.account(ISSUER, claims("s-x", "x@acme.example"))
    assert role(core, ws, user.id) == "agent"


def test_without_verified_emails_required_an_absent_claim_is_trusted(core: Deskbase, ws: str) -> None:
    core.settings = replace(
        core.settings,
        oidc_issuer=ISSUER,
        oidc_client_id="desk",
        oidc_require_verified_email=False,
        oidc_domain_roles=json.dumps({"acme.example": {ws: "agent"}}),
    )
    user = SingleSignOn(core).account(ISSUER, {"sub": "s-e", "email": "entra@acme.example"})
    assert role(core, ws, user.id) == "agent"


def test_a_sign_in_state_works_once(core: Deskbase, sso: SingleSignOn) -> None:
    now = core.clock.now()
    with core.db.tx() as tx:
        tx.conn.execute(
            insert(sso_logins).values(
                state_hash=_hash("the-state"),
                nonce="n",
                code_verifier="v",
                next_path="/w/acme/queue",
                created_at=now,
                expires_at=now,
            )
        )
    assert sso._take("the-state").next_path == "/w/acme/queue"
    with pytest.raises(SsoFailure) as caught:
        sso._take("the-state")
    assert caught.value.reason == "replayed"


def test_two_first_sign_ins_at_once_make_one_user_and_one_link(
    core: Deskbase, ws: str, sso: SingleSignOn
) -> None:
    """Four tabs finishing the same person's first sign-in together: all are signed in, as one user. Every
    tab first sees "no such identity" inside its transaction; one goes on and commits while the others wait,
    then they go on and meet the user and identity it made (where transactions run at once, PostgreSQL: CI
    once saw a tab refused as "linked elsewhere" by its own identity). SQLite runs them one by one, and the
    wait gives up after a second."""
    start = threading.Barrier(4)
    inside = threading.Barrier(4, timeout=1)
    claim = threading.Lock()
    won = threading.Event()
    winner: list[str] = []
    ids: list[str] = []
    link = sso._link
    tries = threading.local()

    def colliding_link(*args: Any) -> Any:
        if not getattr(tries, "seen", False):
            tries.seen = True
            with contextlib.suppress(threading.BrokenBarrierError):
                inside.wait()
            with claim:
                first = not winner
                if first:
                    winner.append(threading.current_thread().name)
            if not first:
                won.wait(timeout=5)
        return link(*args)

    sso._link = colliding_link  # type: ignore[method-assign]

    def sign_in() -> None:
        start.wait()
        ids.append(sso.account(ISSUER, claims("s-twice", "twice@acme.example")).id)
        if winner and winner[0] == threading.current_thread().name:
            won.set()

    threads = [threading.Thread(target=sign_in) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 4 and len(set(ids)) == 1
    assert count(core, users) == 1 and count(core, user_identities) == 1
    assert role(core, ws, ids[0]) == "agent"


def test_deleting_a_user_removes_their_identity(core: Deskbase, ws: str, sso: SingleSignOn) -> None:
    """Their next single sign-on makes a new user (the domain is mapped), not a session for a deleted one."""
    gone = sso.account(ISSUER, claims("s-del", "del@acme.example"))
    core.people.delete(SYSTEM, gone.id)
    assert count(core, user_identities) == 0
    back = sso.account(ISSUER, claims("s-del", "del@acme.example"))
    assert back.id != gone.id and role(core, ws, back.id) == "agent"

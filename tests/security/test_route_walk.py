"""The generated security walk: every route of the running server (API and web console), once per kind of
caller, with the status it must answer and proof (a digest of every table) that nothing was written.

Routes are read from the OpenAPI document with hidden routes switched in, so a new route is walked the day it
is mounted. API routes get the token as a bearer header; console pages get a console session made from the
same token. What a route needs comes from its `requires(...)` declaration (`x-deskbase-permissions`); an
undeclared route is probed with a token that holds no relevant permission: the API's 403 names the
permission; a console page refused to it is a write unless it is a GET (which may be a read or a write form,
so either a page or a 403 is accepted there — declare such pages to make the walk exact).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from deskbase.api.ratelimit import RateLimiter
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.core.grants import READ_PERMISSIONS
from tests.conftest import START, Api, serve_sql_api
from tests.security.walk import Fingerprint, Operation, operations

WS = "acme"
#: Routes anyone may call without a token: health, the console's sign-in/out, a redirect echoing its path, and
#: an inbound hook's ingest URL (its signature authenticates: tests/events/test_hooks_ingest.py).
PUBLIC = {
    "GET /healthz",
    "GET /signin",
    "POST /signin",
    "POST /signout",
    "GET /w/{ws}",
    "POST /v1/hooks/{ingest_key}/ingest",
    # one-time links: the link's secret is the credential (tests/people/test_invitations.py, test_passwords.py)
    "POST /v1/invitations/{token}/accept",
    "GET /invite/{token}",
    "POST /invite/{token}",
    "GET /reset/{token}",
    "POST /reset/{token}",
    # the code step after a right password: its credential is the signed five-minute cookie the password step
    # sets, and without it the step only sends the caller back to sign in (tests/people/test_second_factor.py)
    "GET /signin/code",
    "POST /signin/code",
    # "Forgot password?": for people who cannot sign in; the same answer for every email, throttled
    # (tests/people/test_reset_email.py)
    "GET /signin/forgot",
    "POST /signin/forgot",
    # single sign-on: the start only redirects to the provider; the callback's credential is the provider's
    # signed answer, tied to the browser's state cookie (tests/people/test_sso.py). 404 where it is off.
    "GET /signin/sso",
    "GET /signin/sso/callback",
}
GRANTS = {
    "other_workspace": [{"scope": {"workspaces": ["other"]}, "permissions": ["*"]}],
    "read_only": [{"scope": {"workspaces": [WS]}, "permissions": sorted(READ_PERMISSIONS)}],
    "probe": [{"scope": {"workspaces": [WS]}, "permissions": ["import"]}],
    "collection_scoped": [
        {"scope": {"workspaces": [WS], "collections": ["customers"]}, "permissions": ["*"]}
    ],
    "tickets_reader": [
        {"scope": {"workspaces": [WS], "collections": ["tickets"]}, "permissions": sorted(READ_PERMISSIONS)}
    ],
    "no_audit": [{"scope": {"workspaces": [WS]}, "permissions": sorted(READ_PERMISSIONS - {"read:audit"})}],
}
#: Routes where a person acts on themselves (writes included), left out of the other-member walk.
SELF_SERVICE = ("/v1/users/me/", "/settings/")
#: What the world's writer puts in collections other than tickets: a tickets-scoped token must never see it.
OUTSIDE_TICKETS = ("Zelda Quokka", "zelda@quokka.example", "walk-secret-message", "walk-secret-macro")
WRITE = "(a console write)"


@dataclass
class World:
    api: Api
    fingerprint: Fingerprint
    tokens: dict[str, str]
    values: dict[str, str]
    ops: list[Operation]
    hidden: dict[str, list[str]] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # raw token -> the console session cookie

    def surface(self, op: Operation) -> str:
        return "public" if op.id in PUBLIC else "api" if op.bearer else "console"

    def value(self, param: str, path: str) -> str:
        if param == "name":
            return "support" if "/templates/" in path else "agent_workload"
        return self.values.get(param, "walk-probe")

    def call(self, op: Operation, who: str | None) -> Any:
        """The request as `who` (a token name, a raw string, or None) would send it."""
        raw = self.tokens.get(who, who) if who else None
        headers: dict[str, str] = {}
        if self.surface(op) == "api":
            if raw:
                headers["Authorization"] = f"Bearer {raw}"
            body = {"json": op.body}
        else:
            headers.update(self._console_credentials(raw))
            body = {}
        return self.api.client.request(
            op.method,
            op.url(self.value),
            headers=headers,
            params=op.query or None,
            follow_redirects=False,
            **body,
        )

    def _console_credentials(self, raw: str | None) -> dict[str, str]:
        """A live console session for the token, with a valid CSRF pair, so each page's own checks are what
        answers. The token's session is reused while it lives (opening one per call is a write, which would
        make every call re-read the store's fingerprint); one a route ended (a revoked or expired token's, on
        its first request) is replaced by a new one."""
        from deskbase.web.session import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE

        console = self.api.client.app.state.console
        cookies = {}
        binding = "anon"
        if raw:
            cookie = self.sessions.get(raw)
            session = console.sessions.lookup(cookie) if cookie else None
            if session is None:
                session, cookie = console.sessions.create(self._token_id(raw))
                self.sessions[raw] = cookie
            cookies[SESSION_COOKIE] = cookie
            binding = session.id
        cookies[CSRF_COOKIE] = csrf = console.csrf.mint(binding)
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), CSRF_HEADER: csrf}

    def _token_id(self, raw: str) -> str:
        """The id a session would hold for this token (a revoked or expired one included: the session then
        ends on its first request, as it would after a revocation); an unknown token gets an unknown id."""
        from sqlalchemy import select

        from deskbase.core import tables as t
        from deskbase.core.tokens import hash_token

        with self.api.client.app.state.console.core.db.read() as conn:
            found = conn.execute(
                select(t.tokens.c.id).where(t.tokens.c.token_hash == hash_token(raw))
            ).scalar()
        return str(found or "no-such-token")

    def needs(self, op: Operation) -> tuple[str, ...]:
        """What the route requires: its declaration, else what refusing a powerless token tells."""
        if op.permissions is not None:
            return op.permissions
        r = self.call(op, "probe")
        if r.status_code != 403:
            return ()
        if self.surface(op) == "api":
            return (r.json()["error"]["details"]["permission"],)
        return ("read:records",) if op.method == "GET" else (WRITE,)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, chdb_engine: Any) -> Iterator[World]:
    """One world for the module: every walk proves it wrote nothing, so the walks can share it."""
    for api in serve_sql_api(tmp_path_factory.mktemp("walk"), FixedClock(START), chdb_engine):
        yield from _world(api)


def _world(api: Api) -> Iterator[World]:
    core = api.core  # type: ignore[attr-defined]
    app = api.client.app
    app.state.limiter = RateLimiter(0, 1)  # the walk is a burst by design; the limiter has its own tests
    assert api.put(f"/v1/workspaces/{WS}", json={"name": "Acme"}).status_code == 201
    assert api.post(f"/v1/workspaces/{WS}/templates/support").status_code == 200
    assert api.put("/v1/workspaces/other", json={"name": "Other"}).status_code == 201
    # The data is written by a token of its own, so any answer carrying its id or name shows an actor.
    writer_raw, writer = core.tokens.create(
        "walk-writer-7f3a", [{"scope": {"workspaces": [WS]}, "permissions": ["*"]}]
    )
    ticket = api.post(
        f"/v1/workspaces/{WS}/records/tickets",
        json={"data": {"subject": "s", "status": "open", "priority": "high"}},
        token=writer_raw,
    ).json()
    customer = api.post(
        f"/v1/workspaces/{WS}/records/customers",
        json={"data": {"name": "Zelda Quokka", "email": "zelda@quokka.example"}},
        token=writer_raw,
    ).json()
    link = api.post(
        f"/v1/workspaces/{WS}/relationships",
        json={
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": ticket["id"]},
            "target": {"collection": "customers", "id": customer["id"]},
        },
        token=writer_raw,
    ).json()
    message = api.post(
        f"/v1/workspaces/{WS}/tickets/{ticket['id']}/responses",
        json={"body": "walk-secret-message", "type": "reply", "author": "Agent Ann"},
        token=writer_raw,
    ).json()
    macro = api.post(
        f"/v1/workspaces/{WS}/records/macros",
        json={"data": {"name": "walk-secret-macro", "body": "Hello"}},
        token=writer_raw,
    )
    assert macro.status_code == 201, macro.text
    assert (
        api.patch(
            f"/v1/workspaces/{WS}/records/tickets/{ticket['id']}",
            json={"data": {"status": "in_progress"}},
            token=writer_raw,
        ).status_code
        == 200
    )
    now = core.clock.now()
    tokens = {name: core.tokens.create(name, grants)[0] for name, grants in GRANTS.items()}
    tokens["expired"], _ = core.tokens.create(
        "expired", GRANTS["read_only"], expires_at=now - timedelta(seconds=1)
    )
    everything = [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}]
    tokens["revoked"], revoked = core.tokens.create("revoked", everything)
    core.tokens.revoke(SYSTEM, revoked["id"])
    tokens["malformed"] = "not-a-token"
    _, spare = core.tokens.create("spare", GRANTS["read_only"])
    # People: a member of the walked workspace (whom no one outside it may see), a custom role, a pending
    # invitation; and a person of the other workspace calling with a personal token.
    member = core.people.create(SYSTEM, {"email": "walk-member@acme.example", "name": "Walk Member"})
    core.members.put(SYSTEM, WS, member["id"], "agent")
    core.roles.put(WS, "walk-role", [{"scope": {"workspaces": [WS]}, "permissions": ["read:records"]}], None)
    invitation = core.invitations.create(SYSTEM, WS, "walk-invitee@acme.example", "agent")
    core.teams.put(
        SYSTEM, WS, "walk-team", {"name": "Walk Team", "rule": "round_robin", "members": [member["id"]]}
    )
    outsider = core.people.create(SYSTEM, {"email": "walk-outsider@other.example", "name": "Walk Outsider"})
    core.members.put(SYSTEM, "other", outsider["id"], "owner")
    tokens["other_member"], _ = core.tokens.create(
        "outsider-cli", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}], user_id=outsider["id"]
    )
    values = {
        "ws": WS,
        "collection": "tickets",
        "rid": ticket["id"],
        "ticket_id": ticket["id"],
        "rel_id": link["id"],
        "rel_type": "submitted_by",
        "token_id": spare["id"],
        "number": str(ticket["number"]),
        "user_id": member["id"],
        "role": "walk-role",
        "invitation_id": invitation["id"],
        "team_id": "walk-team",
    }
    hidden = {
        "outside_tickets": [*OUTSIDE_TICKETS, customer["id"], message["id"]],
        "actors": [writer["id"], writer["name"]],
        "people": [member["email"], "Walk Member", "walk-invitee@acme.example", "Walk Team"],
    }
    yield World(api, Fingerprint(core.db.engine), tokens, values, operations(app), hidden)


def _error(r: Any) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


def _walk(world: World, check: Callable[[Operation], str | None]) -> list[str]:
    """Run `check(op) -> problem | None` on every non-public route; a request that wrote anything fails."""
    problems = []
    for op in world.ops:
        if world.surface(op) == "public":
            continue
        before = world.fingerprint()
        problem = check(op)
        if world.fingerprint() != before:
            problem = (problem + "; " if problem else "") + "wrote to the store"
        if problem:
            problems.append(f"{op.id}: {problem}")
    return problems


def _signed_out(world: World, op: Operation, r: Any) -> str | None:
    """The answer to a caller without a valid token: 401 from the API, the sign-in page from the console."""
    if world.surface(op) == "console":
        if r.status_code != 303 or not r.headers.get("location", "").startswith("/signin"):
            return f"expected a redirect to /signin, got {r.status_code} {r.headers.get('location')}"
        return None
    if r.status_code != 401 or _error(r)["code"] != "unauthorized":
        return f"expected 401, got {r.status_code} {r.text[:120]}"
    if r.headers.get("WWW-Authenticate") != 'Bearer realm="deskbase"':
        return "401 without WWW-Authenticate"
    return None


def _is(world: World, op: Operation, r: Any, status: int, error: dict[str, Any] | None = None) -> str | None:
    if r.status_code != status:
        return f"expected {status}, got {r.status_code} {r.text[:120]}"
    if error is not None and world.surface(op) == "api" and _error(r) != error:
        return f"expected {error}, got {r.text[:160]}"
    return None


def test_every_route_is_walked_and_only_the_listed_ones_are_public(world: World) -> None:
    surfaces = {op.id: world.surface(op) for op in world.ops}
    assert {i for i, s in surfaces.items() if s == "public"} == PUBLIC & set(surfaces)
    api = [i for i, s in surfaces.items() if s == "api"]
    assert len(api) >= 60  # 54 documented operations and the 8 hidden /documents ones, at least
    assert any("/documents/" in i for i in api)
    assert all(i.split(" ", 1)[1].startswith("/v1/") for i in api)
    assert all(not i.split(" ", 1)[1].startswith("/v1/") for i, s in surfaces.items() if s == "console")


@pytest.mark.parametrize("who", [None, "malformed", "expired", "revoked"])
def test_without_a_valid_token_every_route_refuses(world: World, who: str | None) -> None:
    assert _walk(world, lambda op: _signed_out(world, op, world.call(op, who))) == []


@pytest.mark.parametrize("who", ["other_workspace", "other_member"])
def test_another_workspaces_token_finds_nothing(world: World, who: str) -> None:
    """Every route under workspace A answers 404 exactly as for a workspace that does not exist; routes
    outside workspaces reveal nothing of A — its records, links or people — to a service token or a
    person of another workspace."""
    missing = {"code": "not_found", "message": f"workspace {WS!r} not found", "details": {"workspace": WS}}
    secrets = [world.values["rid"], world.values["rel_id"], *world.hidden["people"]]

    def check(op: Operation) -> str | None:
        if who == "other_member" and op.path.startswith(SELF_SERVICE):
            return None  # the person's own tokens, password and profile: tests/people/
        r = world.call(op, who)
        if "{ws}" in op.path:
            return _is(world, op, r, 404, missing)
        if r.status_code >= 500 or any(s in r.text for s in [*secrets, f'"{WS}"']):
            return f"{r.status_code} reveals workspace {WS}: {r.text[:120]}"
        return None

    assert _walk(world, check) == []


def test_a_read_only_token_cannot_write(world: World) -> None:
    """Routes needing only read permissions answer; every other route (every write) is a 403."""

    def check(op: Operation) -> str | None:
        needs = world.needs(op)
        r = world.call(op, "read_only")
        # An undeclared console GET refused to the probe may be a read or a write form; either answer is safe.
        unsure = world.surface(op) == "console" and op.permissions is None and op.method == "GET"
        if unsure and r.status_code == 403:
            return None
        if set(needs) <= READ_PERMISSIONS:
            if r.status_code in (401, 403) or r.status_code >= 500:
                return f"a read needing {needs} answered {r.status_code} {r.text[:120]}"
            if world.surface(op) == "console" and r.headers.get("location", "").startswith("/signin"):
                return "a read sent a signed-in reader to sign in"
            return None
        return _is(world, op, r, 403)

    assert _walk(world, check) == []


def test_routes_behave_as_declared(world: World) -> None:
    """A token holding no relevant permission gets a 403 naming one of the route's declared permissions, so
    the `x-deskbase-permissions` clients read in the OpenAPI document cannot drift from what is checked."""

    def check(op: Operation) -> str | None:
        if op.permissions is None:
            return None
        r = world.call(op, "probe")
        if not op.permissions:
            return None if r.status_code < 400 else f"declared open, got {r.status_code} {r.text[:120]}"
        if r.status_code != 403:
            return f"declared {op.permissions}, got {r.status_code} {r.text[:120]}"
        named = _error(r)["details"].get("permission") if world.surface(op) == "api" else None
        if world.surface(op) == "api" and named not in op.permissions:
            return f"checks {named!r}, declares {op.permissions}"
        return None

    assert _walk(world, check) == []


def test_a_collection_scoped_token_does_not_see_other_collections(world: World) -> None:
    """Every route naming a collection outside the token's scope answers the missing-collection 404."""
    missing = {
        "code": "not_found",
        "message": f"collection 'tickets' not found in workspace {WS!r}",
        "details": {"workspace": WS, "collection": "tickets"},
    }

    def check(op: Operation) -> str | None:
        if "{collection}" not in op.path:
            return None
        return _is(world, op, world.call(op, "collection_scoped"), 404, missing)

    assert _walk(world, check) == []


@pytest.mark.parametrize(
    ("who", "what"),
    [("tickets_reader", "outside_tickets"), ("collection_scoped", "outside_tickets"), ("no_audit", "actors")],
)
def test_no_route_shows_what_the_generic_routes_would_hide(world: World, who: str, what: str) -> None:
    """Every route, API and console alike: a token scoped to one collection never receives a record (or a link
    to a record) of another, and a token without read:audit never receives who made a change — composite
    views (timeline, conversation, customer panel, macros) included."""
    hidden = world.hidden[what]
    if who == "collection_scoped":  # scoped to customers: the secrets on the ticket side are hidden from it
        hidden = ["walk-secret-message", "walk-secret-macro"]

    def check(op: Operation) -> str | None:
        r = world.call(op, who)
        if r.status_code >= 500:
            return f"{r.status_code} {r.text[:120]}"
        shown = [s for s in hidden if s in r.text]
        return f"{r.status_code} shows {shown}: {r.text[:160]}" if shown else None

    problems = _walk(world, check)
    assert problems == [], "\n".join(problems)

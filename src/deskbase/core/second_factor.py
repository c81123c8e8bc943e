"""The TOTP second factor (RFC 6238 through pyotp) and its one-time recovery codes.

Enrolment takes two steps. `begin` makes a secret, sealed at rest with the server key (core/secrets.py), and
answers its otpauth:// URI; `confirm` with a current code switches it on and answers ten recovery codes,
once. A recovery code carries 80 random bits, so the store keeps only its SHA-256 (it cannot be searched
back). A code is good for the current 30-second step or one either side (clock drift), and only for a step
later than the last one accepted: no code works twice, nor an older one after it. A recovery code works once.
Every check of a code someone could guess (signing in, switching the factor off, new recovery codes) goes
through the sign-in throttle, as a password does, and the sign-in's account count is cleared only once the
second step succeeds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import TYPE_CHECKING, Any

import pyotp
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from deskbase.core.auth import permits
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from deskbase.core.people_tables import memberships
from deskbase.core.people_tables import recovery_codes as rc
from deskbase.core.people_tables import user_factors as uf
from deskbase.core.secrets import SecretBox
from deskbase.core.user_access import ACTIVE, requiring_two_factor

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

ISSUER = "deskbase"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_COUNT = 10
#: 32 letters and digits without the look-alikes (0/o, 1/l): 16 of them carry 80 bits.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
WRONG_CODE = "the code is wrong or was used already"
audit_log = logging.getLogger("deskbase.audit")


def normal_code(raw: str) -> str:
    """A code as typed, without spaces and dashes, lower-cased (recovery codes are shown in groups)."""
    return "".join(ch for ch in raw if ch not in " -\t").lower()


def _hash(code: str) -> str:
    return hashlib.sha256(normal_code(code).encode()).hexdigest()


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _no_user() -> NotFound:
    return NotFound("this token belongs to no user (it is a service token)", {"user": None})


def _bad_code(pointer: str = "/code") -> ValidationFailed:
    message = "not the current code of your authenticator app; check the app's clock and try again"
    return ValidationFailed(f"code: {message}", [{"pointer": pointer, "message": message}])


class SecondFactor:
    def __init__(self, app: Deskbase) -> None:
        self.app = app
        self.box = SecretBox.for_settings(app.settings.secret_key, app.settings.data_path)

    # ---- reads --------------------------------------------------------------------------------------
    def _row(self, conn: Connection, user_id: str) -> Any:
        return conn.execute(select(uf).where(uf.c.user_id == user_id)).first()

    def enabled(self, user_id: str) -> bool:
        """Whether signing in as this user needs a code after the password."""
        with self.app.db.read() as conn:
            row = self._row(conn, user_id)
        return row is not None and row.confirmed_at is not None

    def required_by(self, user_id: str) -> tuple[str, ...]:
        """The user's workspaces that require two-step sign-in (their `require_two_factor` setting)."""
        with self.app.db.read() as conn:
            return requiring_two_factor(conn, user_id)

    def status(self, actor: Actor) -> dict[str, Any]:
        """`{"enabled", "confirmed_at", "pending", "recovery_codes_left"}` of your own second factor."""
        uid = self._user(actor)
        with self.app.db.read() as conn:
            row = self._row(conn, uid)
            left = len(
                conn.execute(select(rc.c.code_hash).where(rc.c.user_id == uid, rc.c.used_at.is_(None))).all()
            )
        on = row is not None and row.confirmed_at is not None
        return {
            "enabled": on,
            "confirmed_at": iso(row.confirmed_at) if on else None,
            "pending": row is not None and not on,
            "recovery_codes_left": left if on else 0,
            "required_by": list(self.required_by(uid)),
        }

    def shown(self, conn: Connection, actor: Actor, user_ids: list[str]) -> dict[str, bool]:
        """Whether each of these users has two-step sign-in on, for the users whose status `actor` may see:
        themselves, anyone for a server admin, else the members of a workspace where `actor` holds `admin`
        over the whole workspace. Never the secret."""
        ids = sorted(set(user_ids))
        if not actor.is_admin:
            own = [u for u in ids if u == actor.user_id]
            managed = [
                w["id"]
                for w in self.app.workspaces.list()
                if permits(actor, "admin", w["id"], whole_workspace=True)
            ]
            members = (
                conn.execute(
                    select(memberships.c.user_id).where(
                        memberships.c.user_id.in_(ids), memberships.c.workspace_id.in_(managed)
                    )
                ).all()
                if managed and ids
                else []
            )
            ids = sorted(set(own) | {m.user_id for m in members})
        if not ids:
            return {}
        on = {
            r.user_id
            for r in conn.execute(
                select(uf.c.user_id).where(uf.c.user_id.in_(ids), uf.c.confirmed_at.is_not(None))
            ).all()
        }
        return {u: u in on for u in ids}

    @staticmethod
    def _user(actor: Actor) -> str:
        if actor.user_id is None:
            raise _no_user()
        return actor.user_id

    # ---- enrolment ----------------------------------------------------------------------------------
    def begin(self, actor: Actor) -> dict[str, Any]:
        """A new secret waiting for its first code (it replaces one that was never confirmed). The secret and
        its otpauth:// URI are answered here only; the store keeps it sealed."""
        uid = self._user(actor)
        secret = pyotp.random_base32()
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            user = self.app.people.row(tx.conn, uid)
            row = self._row(tx.conn, uid)
            if row is not None and row.confirmed_at is not None:
                raise Conflict(
                    "two-step sign-in is on already; switch it off first to enrol another app",
                    {"enabled": True},
                )
            tx.conn.execute(delete(uf).where(uf.c.user_id == uid))
            tx.conn.execute(
                insert(uf).values(user_id=uid, secret=self.box.seal(secret), created_at=now, updated_at=now)
            )
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
        return {"enabled": False, "secret": secret, "uri": uri}

    def pending(self, actor: Actor) -> dict[str, Any] | None:
        """Your enrolment waiting for its first code, shown again to you alone (the page that asks for the
        code is reloaded, or the code was mistyped); None when there is none."""
        uid = self._user(actor)
        with self.app.db.read() as conn:
            user = self.app.people.row(conn, uid)
            row = self._row(conn, uid)
        if row is None or row.confirmed_at is not None:
            return None
        secret = self.box.open(row.secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
        return {"enabled": False, "secret": secret, "uri": uri}

    def confirm(self, actor: Actor, code: str) -> dict[str, Any]:
        """Switch the factor on with a current code from the app; answers the recovery codes, once."""
        uid = self._user(actor)
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            row = self._row(tx.conn, uid)
            if row is None or row.confirmed_at is not None:
                raise Conflict(
                    "no enrolment is waiting for a code; start one first",
                    {"enabled": row is not None},
                )
            step = self._matching_step(row.secret, code)
            if step is None:
                raise _bad_code()
            tx.conn.execute(
                update(uf).where(uf.c.user_id == uid).values(confirmed_at=now, last_step=step, updated_at=now)
            )
            codes = self._new_codes(tx, uid)
        self.app.people.forget(uid)
        audit_log.info("user %s switched on two-step sign-in", uid)
        return {"enabled": True, "recovery_codes": codes}

    def _new_codes(self, tx: Tx, user_id: str) -> list[str]:
        codes = [new_recovery_code() for _ in range(RECOVERY_COUNT)]
        now = self.app.clock.now()
        tx.conn.execute(delete(rc).where(rc.c.user_id == user_id))
        tx.conn.execute(
            insert(rc), [{"user_id": user_id, "code_hash": _hash(c), "created_at": now} for c in codes]
        )
        return codes

    # ---- checking a code ----------------------------------------------------------------------------
    def _matching_step(self, sealed: str, code: str) -> int | None:
        """The time step (now, or one either side) whose code this is, or None."""
        typed = normal_code(code or "")
        if len(typed) != 6 or not (typed.isascii() and typed.isdigit()):
            return None
        totp = pyotp.TOTP(self.box.open(sealed))
        now = int(self.app.clock.now().timestamp()) // STEP_SECONDS
        found = None
        for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
            if hmac.compare_digest(totp.generate_otp(step), typed):
                found = step
        return found

    def spend(self, tx: Tx, user_id: str, code: str) -> bool:
        """Inside `tx`: accept a current code (never one of a step already used) or an unused recovery code,
        and mark it used. The update's condition is what decides, so two requests with one code cannot both
        pass."""
        row = self._row(tx.conn, user_id)
        if row is None or row.confirmed_at is None:
            return False
        step = self._matching_step(row.secret, code)
        now = self.app.clock.now()
        if step is not None:
            done = tx.conn.execute(
                update(uf)
                .where(uf.c.user_id == user_id, or_(uf.c.last_step.is_(None), uf.c.last_step < step))
                .values(last_step=step, updated_at=now)
            )
            return bool(done.rowcount)
        done = tx.conn.execute(
            update(rc)
            .where(rc.c.user_id == user_id, rc.c.code_hash == _hash(code or ""), rc.c.used_at.is_(None))
            .values(used_at=now)
        )
        if done.rowcount:
            audit_log.info("user %s used a recovery code", user_id)
        return bool(done.rowcount)

    def verify(self, user: Any, code: str, address: str | None) -> bool:
        """A code of `user`'s, under the sign-in throttle (RateLimited while the account or address waits);
        a success clears the account's count."""
        throttle = self.app.signin.throttle
        keys = throttle.keys(user.email, address)
        throttle.check(keys)
        with self.app.db.tx() as tx:
            ok = self.spend(tx, user.id, code)
        if not ok:
            throttle.failed(keys)
            return False
        throttle.succeeded(user.email)
        return True

    def sign_in(self, user_id: str, code: str, address: str | None) -> Any:
        """The second step of a password sign-in: the active user, or Unauthorized / RateLimited."""
        with self.app.db.read() as conn:
            user = self.app.people.row(conn, user_id)
        if user.status != ACTIVE:
            raise Unauthorized("this account is suspended; ask an administrator")
        if not self.verify(user, code, address):
            raise Unauthorized(WRONG_CODE)
        return user

    # ---- switching it off, new codes, an admin's reset ----------------------------------------------
    def _prove(self, actor: Actor, password: str | None, code: str | None, address: str | None) -> Any:
        """The user, once they proved it is them: their password or a current code (either throttled)."""
        uid = self._user(actor)
        with self.app.db.read() as conn:
            user = self.app.people.row(conn, uid)
        if code:
            if not self.verify(user, code, address):
                raise Unauthorized(WRONG_CODE)
        elif password:
            if not self.app.signin.check_password(user, password, address):
                raise Unauthorized("the password is wrong")
        else:
            message = "send your password or a current code"
            raise ValidationFailed(message, [{"pointer": "/password", "message": message}])
        return user

    def disable(self, actor: Actor, password: str | None, code: str | None, address: str | None) -> None:
        """Switch your own second factor off, proving it with your password or a current code."""
        uid = self._user(actor)
        if not self.enabled(uid):
            raise Conflict("two-step sign-in is not on", {"enabled": False})
        required = self.required_by(uid)
        if required:
            raise Conflict(
                f"two-step sign-in is required by {', '.join(required)}; it cannot be switched off while "
                "you are a member there",
                {"enabled": True, "reason": "required", "workspaces": list(required)},
            )
        self._prove(actor, password, code, address)
        with self.app.db.tx() as tx:
            self.drop_user(tx, uid)
        self.app.people.forget(uid)
        audit_log.info("user %s switched off two-step sign-in", uid)

    def regenerate(
        self, actor: Actor, password: str | None, code: str | None, address: str | None
    ) -> list[str]:
        """Ten new recovery codes in place of the old ones (all of which stop working)."""
        uid = self._user(actor)
        if not self.enabled(uid):
            raise Conflict("two-step sign-in is not on", {"enabled": False})
        self._prove(actor, password, code, address)
        with self.app.db.tx() as tx:
            codes = self._new_codes(tx, uid)
        audit_log.info("user %s made new recovery codes", uid)
        return codes

    def reset(self, actor: Actor, user_id: str) -> None:
        """A server admin switches a user's second factor off (they lost their phone and their codes)."""
        if not actor.is_admin:
            raise Forbidden("this needs a server admin", {"permission": "admin"})
        with self.app.db.tx() as tx:
            self.app.people.row(tx.conn, user_id)
            self.drop_user(tx, user_id)
        self.app.people.forget(user_id)  # a workspace that requires it sends them to enrol again
        audit_log.info("two-step sign-in of user %s reset by %s", user_id, actor.id)

    @staticmethod
    def drop_user(tx: Tx, user_id: str) -> None:
        tx.conn.execute(delete(rc).where(rc.c.user_id == user_id))
        tx.conn.execute(delete(uf).where(uf.c.user_id == user_id))

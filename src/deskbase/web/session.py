"""Console sessions and CSRF tokens.

Design (see docs/console.md):
- Signing in (with an email and password, or an API token) opens a random 256-bit session id. The cookie carries only
  `<session id>.<HMAC-SHA256(secret, id)>` (HttpOnly, SameSite=Strict, Secure over HTTPS). The store keeps
  SHA-256(session id) -> the token's id or the user's id (never the raw token, never the raw session id), so
  sessions survive a restart and are shared by every server process on the same store. Each request re-checks
  the token by id (or the user's status and roles), so a revoked token or a suspended user ends its sessions at
  once. Idle sessions end after 12 h, all after 7 days.
- The HMAC secret lives in the data dir (`console-secret`, mode 0600, created on first use); a forged or
  tampered cookie is refused before any lookup. Processes sharing a store must share the secret.
- CSRF: signed double submit. A `deskbase_csrf` cookie holds `<nonce>.<HMAC(secret, binding:nonce)>` where
  the binding is the session id (or "anon" on the sign-in form); every POST form repeats it in a hidden field.
  A POST passes only when the field equals the cookie and the signature matches the current binding, so a
  token minted for one session (or planted by a sibling subdomain) is useless in another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from deskbase.core.sessions import Session, Sessions

SESSION_COOKIE = "deskbase_session"
CSRF_COOKIE = "deskbase_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


def load_secret(data_dir: Path) -> bytes:
    """The console's HMAC key: 32 random bytes in `<data dir>/console-secret` (0600), made on first use."""
    path = data_dir / "console-secret"
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raw = path.read_text().strip()
        if len(raw) >= 64:
            return bytes.fromhex(raw)
        path.unlink()  # an empty or truncated file (a crash mid-write): start over
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    secret = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
    os.chmod(path, 0o600)
    return secret


class Signer:
    """HMAC-SHA256 signatures, scoped by a purpose string so one signature never validates another."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, purpose: str, value: str) -> str:
        mac = hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def seal(self, purpose: str, value: str) -> str:
        return f"{value}.{self.sign(purpose, value)}"

    def unseal(self, purpose: str, sealed: str | None) -> str | None:
        if not sealed or "." not in sealed:
            return None
        value, _, sig = sealed.rpartition(".")
        return value if hmac.compare_digest(sig, self.sign(purpose, value)) else None


class SessionStore:
    """The console's side of a session: the signed cookie. The rows are the core's (`core.sessions`)."""

    def __init__(self, signer: Signer, sessions: Sessions) -> None:
        self.signer = signer
        self.sessions = sessions

    def create(self, token_id: str) -> tuple[Session, str]:
        """A new session for the token; returns it with the cookie value to set."""
        session = self.sessions.open(token_id)
        return session, self.signer.seal("session", session.id)

    def create_for_user(self, user_id: str, sso_logout: str | None = None) -> tuple[Session, str]:
        """A new session for a user who signed in with their password (or single sign-on: `sso_logout`,
        sealed, is what signing out at the provider needs)."""
        session = self.sessions.open(None, user_id, sso_logout)
        return session, self.signer.seal("session", session.id)

    def lookup(self, cookie: str | None) -> Session | None:
        sid = self.signer.unseal("session", cookie)
        return self.sessions.find(sid) if sid is not None else None

    def drop(self, sid: str) -> None:
        self.sessions.end(sid)

    def drop_token(self, token_id: str) -> None:
        self.sessions.end_token(token_id)


class Csrf:
    """Signed double-submit tokens bound to a session id ("anon" before sign-in)."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer

    def mint(self, binding: str) -> str:
        return self.signer.seal(f"csrf:{binding}", secrets.token_urlsafe(18))

    def valid_cookie(self, binding: str, cookie: str | None) -> bool:
        return self.signer.unseal(f"csrf:{binding}", cookie) is not None

    def check(self, binding: str, cookie: str | None, submitted: str | None) -> bool:
        if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
            return False
        return self.valid_cookie(binding, cookie)

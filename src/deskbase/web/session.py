"""Console sessions and CSRF tokens.

Design (see docs/console.md):
- Signing in exchanges an API token for a random 256-bit session id. The cookie carries only
  `<session id>.<HMAC-SHA256(secret, id)>` (HttpOnly, SameSite=Strict, Secure over HTTPS); the raw token stays
  in this process's memory, mapped from the id, and is re-authenticated on every request so a revoked or
  expired token ends the session at once. A restart signs everyone out, which is acceptable for a console
  and keeps tokens out of any store at rest (the token table only ever holds hashes).
- The HMAC secret lives in the data dir (`console-secret`, mode 0600, created on first use); a forged or
  tampered cookie is refused before any lookup.
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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SESSION_COOKIE = "deskbase_session"
CSRF_COOKIE = "deskbase_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
IDLE_SECONDS = 12 * 3600
MAX_AGE_SECONDS = 7 * 24 * 3600
MAX_SESSIONS = 10_000


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


@dataclass
class Session:
    id: str
    token: str = field(repr=False)
    created: float
    seen: float


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
    """Session id -> raw token, in memory; idle sessions expire after 12 h, all after 7 days."""

    def __init__(self, signer: Signer, clock: Callable[[], float] = time.monotonic) -> None:
        self.signer = signer
        self._now = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, token: str) -> tuple[Session, str]:
        """A new session for `token`; returns it with the cookie value to set."""
        now = self._now()
        sid = secrets.token_urlsafe(32)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                self._evict(now)
            self._sessions[sid] = Session(sid, token, now, now)
        return self._sessions[sid], self.signer.seal("session", sid)

    def lookup(self, cookie: str | None) -> Session | None:
        sid = self.signer.unseal("session", cookie)
        if sid is None:
            return None
        now = self._now()
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                return None
            if now - s.seen > IDLE_SECONDS or now - s.created > MAX_AGE_SECONDS:
                del self._sessions[sid]
                return None
            s.seen = now
            return s

    def drop(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def _evict(self, now: float) -> None:
        stale = [k for k, s in self._sessions.items() if now - s.seen > IDLE_SECONDS]
        for k in stale:
            del self._sessions[k]
        if len(self._sessions) >= MAX_SESSIONS:  # still full: drop the least recently seen tenth
            for k, _ in sorted(self._sessions.items(), key=lambda kv: kv[1].seen)[: MAX_SESSIONS // 10]:
                del self._sessions[k]


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

"""Passwords: the NIST SP 800-63B rules a new one must pass, and argon2id hashing.

Rules (800-63B §3.1.1.2): at least 8 characters and up to 256 (the standard asks for at least 64), any
characters (Unicode, spaces), no composition rules, no hints; refused when it is a commonly used or leaked
password (a bundled list), a run of one character or of a sequence, or built from the account's own email or
name. Stored as argon2id PHC strings (argon2-cffi, RFC 9106 low-memory profile by default); verifying
rehashes when the parameters changed. A hash needs tens of megabytes for a fraction of a second, so only a
few run at once: a burst of sign-ins queues instead of exhausting memory.
"""

from __future__ import annotations

import secrets
import threading
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from deskbase.core.errors import ValidationFailed

MIN_LENGTH = 8
MAX_LENGTH = 256
#: hashes computed at once (each needs `memory_cost` KiB): about the machine's cores
HASH_SLOTS = 2
_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("deskbase.core").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def normalise(password: str) -> str:
    """NFKC, as 800-63B asks, so the same password typed on two keyboards is the same password."""
    return unicodedata.normalize("NFKC", password)


def _sequential(value: str) -> bool:
    """A run of one character, or a stretch of a sequence (digits, the alphabet, a keyboard row) either way."""
    if len(set(value)) == 1:
        return True
    for seq in _SEQUENCES:
        for source in (seq, seq[::-1]):
            if value in source * 3:
                return True
    return False


def problem(password: Any, email: str = "", name: str = "") -> str | None:
    """Why this password may not be used, or None: one sentence an agent can act on."""
    if not isinstance(password, str):
        return "a password is text"
    value = normalise(password)
    if len(value) < MIN_LENGTH:
        return f"use at least {MIN_LENGTH} characters"
    if len(value) > MAX_LENGTH:
        return f"use at most {MAX_LENGTH} characters"
    folded = value.casefold()
    if folded in common_passwords():
        return "this password is on a list of common or leaked passwords; choose another"
    if _sequential(folded):
        return "a repeated character or a simple sequence is too easy to guess"
    own = {
        email.casefold(),
        email.split("@", 1)[0].casefold(),
        name.casefold(),
        name.replace(" ", "").casefold(),
    }
    if any(word and len(word) >= 3 and word in folded for word in own):
        return "a password may not contain your email address or your name"
    return None


def generate(
    people: list[tuple[str, str]], source: Callable[[], str] = lambda: secrets.token_urlsafe(12)
) -> str:
    """A random password every one of `people` (email, name) may use: a random string can spell a name
    ("…toM…" for Tom), which the rules above refuse, so draw until none objects."""
    while True:
        candidate = source()
        if all(problem(candidate, email, name) is None for email, name in people):
            return candidate


def check(password: Any, email: str = "", name: str = "", pointer: str = "/password") -> str:
    """The password, normalised, or ValidationFailed naming the rule it breaks."""
    reason = problem(password, email, name)
    if reason is not None:
        raise ValidationFailed(f"password not accepted: {reason}", [{"pointer": pointer, "message": reason}])
    return normalise(password)


class Hasher:
    """argon2id with the configured cost, and at most HASH_SLOTS hashes in flight."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._slots = threading.BoundedSemaphore(HASH_SLOTS)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        with self._slots:
            return self._ph.hash(normalise(password))

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches; with no stored hash a dummy one is checked, so an unknown account
        costs the same time as a known one."""
        if stored is None:
            if self._dummy is None:
                self._dummy = self.hash("deskbase: the dummy hash checked for unknown accounts")
            self._verify(self._dummy, password)
            return False
        return self._verify(stored, password)

    def _verify(self, stored: str, password: str) -> bool:
        with self._slots:
            try:
                return bool(self._ph.verify(stored, normalise(password)))
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, stored: str) -> bool:
        return bool(self._ph.check_needs_rehash(stored))

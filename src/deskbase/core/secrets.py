"""Secrets at rest (webhook signing secrets, mailbox passwords): encrypted with one server key, which also
derives the passwords nothing needs to store (the ClickHouse workspace users').

The key is the `secret_key` setting or, when that is empty, a random Fernet key kept in `data_dir/secret-key`
(mode 0600, created on first use). Plaintext secrets leave this module only to the code that uses them (a
signer); no interface reads them back and nothing logs them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret-key"


def _fernet_key(raw: str) -> bytes:
    """A Fernet key as given, or one derived from any other string (a passphrase in the setting)."""
    try:
        if len(base64.urlsafe_b64decode(raw.encode())) == 32:
            return raw.encode()
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


def load_key(setting: str, data_dir: Path) -> bytes:
    if setting:
        return _fernet_key(setting)
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip().encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.decode() + "\n")
    return key


class SecretBox:
    """Encrypt and decrypt short secrets with the server key, loaded (or created) on first use."""

    def __init__(self, load: Callable[[], bytes]) -> None:
        self._load = load
        self._fernet: Fernet | None = None

    @classmethod
    def for_settings(cls, setting: str, data_dir: Path) -> SecretBox:
        return cls(lambda: load_key(setting, data_dir))

    @property
    def fernet(self) -> Fernet:
        if self._fernet is None:
            self._fernet = Fernet(self._load())
        return self._fernet

    def seal(self, plaintext: str) -> str:
        return self.fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self.fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("a stored secret cannot be decrypted with this server's secret key") from exc

    def derive(self, purpose: str) -> str:
        """A password for ``purpose`` that every process with this key derives alike and nothing stores
        (HMAC-SHA256 of the purpose under the key, URL-safe base64): the ClickHouse workspace users'."""
        digest = hmac.new(self._load(), b"deskbase-derived:" + purpose.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

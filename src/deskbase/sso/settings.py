"""The server's OpenID provider as the `oidc_*` settings describe it, checked at start-up: a setting that
cannot work stops the server with one line rather than failing the first person who tries to sign in."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from deskbase.config import Settings
from deskbase.core.errors import DeskbaseError


class BadSsoSetting(DeskbaseError):
    """An `oidc_*` setting that cannot work: the server stops at start-up with one line saying which."""

    code = "bad_setting"


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _domain_roles(raw: str) -> dict[str, dict[str, str]]:
    """`{"example.com": {"acme": "agent"}}`, checked at start-up: a typo here must stop the server, not
    silently keep people out."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BadSsoSetting(f"DESKBASE_OIDC_DOMAIN_ROLES is not JSON: {exc}") from exc
    return _domain_roles_of(value, "DESKBASE_OIDC_DOMAIN_ROLES")


def _domain_roles_of(value: Any, where: str) -> dict[str, dict[str, str]]:
    ok = isinstance(value, dict) and all(
        isinstance(domain, str)
        and domain.strip()
        and "@" not in domain
        and isinstance(roles, dict)
        and all(isinstance(ws, str) and isinstance(role, str) for ws, role in roles.items())
        for domain, roles in value.items()
    )
    if not ok:
        raise BadSsoSetting(
            f'{where} must map email domains to {{"workspace": "role"}} objects, e.g. '
            '{"example.com": {"acme": "agent"}}'
        )
    return {domain.strip().lower(): dict(roles) for domain, roles in value.items()}


def _secret_file(path: str, where: str) -> str:
    try:
        lines = Path(path).expanduser().read_text().splitlines()
    except OSError as exc:
        raise BadSsoSetting(f"{where} {path} cannot be read: {exc.strerror or exc}") from exc
    return lines[0].strip() if lines else ""


def _issuer(raw: str, where: str) -> str:
    issuer = raw.strip().rstrip("/")
    parts = urlsplit(issuer)
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname or "")):
        raise BadSsoSetting(f"{where} must be an https:// URL (http:// only on loopback)")
    return issuer


#: The id of the provider the single `oidc_*` settings describe (the first button, and `/signin/sso`'s default).
DEFAULT_ID = "sso"
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_KEYS = {
    "id", "issuer", "client_id", "client_secret", "client_secret_file", "name", "scopes", "domain_roles",
    "require_verified_email", "create_users", "logout",
}  # fmt: skip


@dataclass(frozen=True)
class OidcSettings:
    """One OpenID provider of the server: the `oidc_*` settings' (None when `oidc_issuer` is empty), or one
    entry of `oidc_providers`."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    name: str
    scopes: str
    domain_roles: dict[str, dict[str, str]]
    require_verified_email: bool
    create_users: bool
    logout: bool = True  #: sign out at the provider too (RP-initiated logout), when it offers it
    id: str = DEFAULT_ID  #: names it in `/signin/sso?provider=<id>`

    @classmethod
    def from_settings(cls, s: Settings) -> OidcSettings | None:
        if not s.oidc_issuer.strip():
            return None
        issuer = _issuer(s.oidc_issuer, "DESKBASE_OIDC_ISSUER")
        parts = urlsplit(issuer)
        if not s.oidc_client_id.strip():
            raise BadSsoSetting("DESKBASE_OIDC_CLIENT_ID is required with DESKBASE_OIDC_ISSUER")
        secret = s.oidc_client_secret
        if not secret and s.oidc_client_secret_file:
            secret = _secret_file(s.oidc_client_secret_file, "DESKBASE_OIDC_CLIENT_SECRET_FILE")
        if "openid" not in s.oidc_scopes.split():
            raise BadSsoSetting("DESKBASE_OIDC_SCOPES must include openid")
        return cls(
            issuer=issuer,
            client_id=s.oidc_client_id.strip(),
            client_secret=secret,
            name=s.oidc_name.strip() or (parts.hostname or issuer),
            scopes=" ".join(s.oidc_scopes.split()),
            domain_roles=_domain_roles(s.oidc_domain_roles),
            require_verified_email=s.oidc_require_verified_email,
            create_users=s.oidc_create_users,
            logout=s.oidc_logout,
        )

    @classmethod
    def from_entry(cls, n: int, entry: Any) -> OidcSettings:
        """One entry of `oidc_providers`: the same fields as the `oidc_*` settings, without the prefix."""
        where = f"DESKBASE_OIDC_PROVIDERS[{n}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not _ID.match(entry["id"]):
            raise BadSsoSetting(f"{where} needs an id: lowercase letters, digits, - or _ (at most 40)")
        where = f"{where} ({entry['id']})"
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise BadSsoSetting(f"{where} has an unknown field {unknown[0]!r}")
        text = {
            k: entry.get(k, "")
            for k in ("issuer", "client_id", "client_secret", "client_secret_file", "name")
        }
        if not all(isinstance(v, str) for v in text.values()) or not isinstance(entry.get("scopes", ""), str):
            raise BadSsoSetting(
                f"{where}: issuer, client_id, client_secret(_file), name and scopes are strings"
            )
        flags = {k: entry.get(k, True) for k in ("require_verified_email", "create_users", "logout")}
        if not all(isinstance(v, bool) for v in flags.values()):
            raise BadSsoSetting(f"{where}: require_verified_email, create_users and logout are true or false")
        issuer = _issuer(text["issuer"], f"{where} issuer")
        if not text["client_id"].strip():
            raise BadSsoSetting(f"{where} needs a client_id")
        secret = text["client_secret"] or (
            _secret_file(text["client_secret_file"], f"{where} client_secret_file")
            if text["client_secret_file"]
            else ""
        )
        scopes = " ".join(str(entry.get("scopes") or "openid email profile").split())
        if "openid" not in scopes.split():
            raise BadSsoSetting(f"{where} scopes must include openid")
        return cls(
            issuer=issuer,
            client_id=text["client_id"].strip(),
            client_secret=secret,
            name=text["name"].strip() or (urlsplit(issuer).hostname or issuer),
            scopes=scopes,
            domain_roles=_domain_roles_of(entry.get("domain_roles", {}), f"{where} domain_roles"),
            id=entry["id"],
            **flags,
        )


def providers_from_settings(s: Settings) -> list[OidcSettings]:
    """Every OpenID provider of the server, in button order: the `oidc_*` settings' first, then those of
    `oidc_providers` (a JSON list). Ids and issuers must be unique: an identity is its issuer and subject."""
    out = [cfg] if (cfg := OidcSettings.from_settings(s)) is not None else []
    raw = s.oidc_providers.strip()
    if raw:
        try:
            entries = json.loads(raw)
        except ValueError as exc:
            raise BadSsoSetting(f"DESKBASE_OIDC_PROVIDERS is not JSON: {exc}") from exc
        if not isinstance(entries, list):
            raise BadSsoSetting(
                'DESKBASE_OIDC_PROVIDERS must be a JSON list: [{"id", "issuer", "client_id", …}]'
            )
        out += [OidcSettings.from_entry(n, e) for n, e in enumerate(entries)]
    for key in ("id", "issuer"):
        seen = [getattr(c, key) for c in out]
        twice = next((v for v in seen if seen.count(v) > 1), None)
        if twice is not None:
            raise BadSsoSetting(f"two OpenID providers have the {key} {twice}; each needs its own")
    return out

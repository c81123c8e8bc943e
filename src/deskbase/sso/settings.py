"""The server's OpenID provider as the `oidc_*` settings describe it, checked at start-up: a setting that
cannot work stops the server with one line rather than failing the first person who tries to sign in."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
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
            'DESKBASE_OIDC_DOMAIN_ROLES must map email domains to {"workspace": "role"} objects, e.g. '
            '{"example.com": {"acme": "agent"}}'
        )
    return {domain.strip().lower(): dict(roles) for domain, roles in value.items()}


@dataclass(frozen=True)
class OidcSettings:
    """The server's OpenID provider, from the `oidc_*` settings (None when `oidc_issuer` is empty)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    name: str
    scopes: str
    domain_roles: dict[str, dict[str, str]]
    require_verified_email: bool
    create_users: bool
    logout: bool = True  #: sign out at the provider too (RP-initiated logout), when it offers it

    @classmethod
    def from_settings(cls, s: Settings) -> OidcSettings | None:
        issuer = s.oidc_issuer.strip().rstrip("/")
        if not issuer:
            return None
        parts = urlsplit(issuer)
        if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname or "")):
            raise BadSsoSetting("DESKBASE_OIDC_ISSUER must be an https:// URL (http:// only on loopback)")
        if not s.oidc_client_id.strip():
            raise BadSsoSetting("DESKBASE_OIDC_CLIENT_ID is required with DESKBASE_OIDC_ISSUER")
        secret = s.oidc_client_secret
        if not secret and s.oidc_client_secret_file:
            try:
                lines = Path(s.oidc_client_secret_file).expanduser().read_text().splitlines()
            except OSError as exc:
                raise BadSsoSetting(
                    f"DESKBASE_OIDC_CLIENT_SECRET_FILE {s.oidc_client_secret_file} cannot be read: "
                    f"{exc.strerror or exc}"
                ) from exc
            secret = lines[0].strip() if lines else ""
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

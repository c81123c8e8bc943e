"""Tables of OpenID Connect single sign-on: which provider identity is which user, and the sign-ins under way.

Server-wide like users, so not in the change log."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from deskbase.core.tables import _ts, metadata

#: A provider identity (`iss`, `sub`: stable, unlike an email) linked to a user at its first sign-in.
user_identities = Table(
    "user_identities",
    metadata,
    Column("issuer", String(255), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("email", String(254), nullable=True),  #: the address it was linked by (or created with)
    _ts("created_at"),
    _ts("last_used_at"),
    Index("ix_user_identities_user", "user_id"),
)

#: A sign-in sent to the provider and not yet back: keyed by the SHA-256 of its `state`, holding the nonce the
#: ID token must carry and the PKCE verifier. Deleted when the callback uses it, so a callback works once.
sso_logins = Table(
    "sso_logins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("nonce", String(64), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("next_path", Text, nullable=False),
    Column("provider", String(40), nullable=True),  #: its id (sso/settings.py); None: the first
    _ts("created_at"),
    _ts("expires_at"),
    Index("ix_sso_logins_expires", "expires_at"),
)

"""Tables of the people in a store: users, their workspace memberships and roles, one-time links
(invitations, password resets), second factors and the sign-in throttle. Server-wide like tokens, so not in
the change log."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text, false

from deskbase.core.tables import JsonType, _ts, metadata

#: A person. `email` is stored lower-cased and is unique; `password_hash` is argon2id (PHC string) or null
#: for a user who has not set one yet (invited, or signing in with a token only).
users = Table(
    "users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("avatar_colour", String(7), nullable=False),
    Column("status", String(16), nullable=False),
    Column("server_admin", Boolean, nullable=False),
    Column("password_hash", Text, nullable=True),
    #: switched on by the user: counted as offline by assignment rules, shown as away (migration 0026)
    Column("away", Boolean, nullable=False, server_default=false()),
    Column("version", Integer, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

#: Who belongs to a workspace, with which role (a built-in name or a custom role of the workspace).
memberships = Table(
    "memberships",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("user_id", String(40), primary_key=True),
    Column("role", String(63), nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    Index("ix_memberships_user", "user_id"),
)

#: A workspace's custom roles: a named grants list (the built-in roles are code, not rows).
roles = Table(
    "roles",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("description", Text, nullable=True),
    Column("grants", JsonType, nullable=False),
    Column("version", Integer, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

#: A one-time link to join a workspace; the link's secret is kept only as its SHA-256.
invitations = Table(
    "invitations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(63), nullable=False),
    Column("email", String(254), nullable=False),
    Column("role", String(63), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(64), nullable=True),
    _ts("created_at"),
    _ts("expires_at"),
    _ts("accepted_at", nullable=True),
    Column("accepted_by", String(40), nullable=True),
    Index("ix_invitations_workspace", "workspace_id", "email"),
)

#: A one-time link to set a new password (`deskbase users reset-password`), kept only as its SHA-256.
password_resets = Table(
    "password_resets",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), nullable=False),
    _ts("created_at"),
    _ts("expires_at"),
    _ts("used_at", nullable=True),
    Index("ix_password_resets_user", "user_id"),
)

#: A user's TOTP second factor: the secret sealed with the server key (core/secrets.py), switched on once
#: `confirmed_at` is set (a row without it is an enrolment waiting for its first code), and the last time step
#: a code was accepted for, so no code works twice.
user_factors = Table(
    "user_factors",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("secret", Text, nullable=False),
    _ts("confirmed_at", nullable=True),
    Column("last_step", BigInteger, nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
)

#: A user's one-time recovery codes (80 random bits each), kept only as their SHA-256.
recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("code_hash", String(64), primary_key=True),
    _ts("created_at"),
    _ts("used_at", nullable=True),
)

#: Failed sign-ins per key (an account's email digest, or a client address): the count, and until when
#: further attempts are refused without checking the password.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("failures", Integer, nullable=False),
    _ts("last_failure_at"),
    _ts("blocked_until", nullable=True),
    Index("ix_signin_failures_last", "last_failure_at"),
)

#: A workspace's team: a named group of members with an assignment rule. `last_assigned` is the round-robin
#: position (the member the rule chose last), kept here so a restart does not start the rotation again.
teams = Table(
    "teams",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("id", String(63), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("rule", String(32), nullable=False),
    Column("last_assigned", String(40), nullable=True),
    Column("version", Integer, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

#: A team's members in rotation order, each with an optional capacity (most open tickets the rule gives them).
team_members = Table(
    "team_members",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("team_id", String(63), primary_key=True),
    Column("user_id", String(40), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("capacity", Integer, nullable=True),
    Index("ix_team_members_user", "workspace_id", "user_id"),
)

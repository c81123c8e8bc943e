"""Request bodies (the wire contract of DESIGN §6); unknown fields are refused so typos do not pass silently."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkspacePut(Body):
    name: str | None = Field(None, max_length=200)
    settings: dict[str, Any] | None = None


class WorkspacePatch(Body):
    name: str | None = Field(None, max_length=200)
    settings: dict[str, Any] | None = Field(
        None,
        description='Only the settings to change (`null` removes one), e.g. `{"require_two_factor": true}`',
    )


class CollectionPut(Body):
    name: str | None = Field(None, max_length=200)
    description: str | None = None
    icon: str | None = None
    color: str | None = None
    json_schema: dict[str, Any]


class RelationshipTypePut(Body):
    description: str | None = None
    source_collections: list[str] | None = None
    target_collections: list[str] | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    cardinality: Literal["one", "many"] | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RecordCreate(Body):
    data: dict[str, Any]
    id: str | None = None
    external_id: str | None = Field(None, max_length=256)
    external_source: str | None = Field(None, max_length=128)
    at: str | None = Field(None, description="Import mode: the time of this change (needs `import`).")
    created_at: str | None = Field(None, description="Import mode: the record's creation time.")
    number: int | None = Field(
        None,
        ge=1,
        le=2**53 - 1,
        description="Import mode: the record's number elsewhere (collections marked x-numbered; must be free).",
    )


class RecordReplace(Body):
    data: dict[str, Any]
    at: str | None = None


class RecordPatch(Body):
    data: dict[str, Any] = Field(description="An RFC 7396 JSON merge patch of the record's data.")
    at: str | None = None


class Endpoint(Body):
    collection: str
    id: str


class RelationshipCreate(Body):
    rel_type: str
    source: Endpoint
    target: Endpoint
    data: dict[str, Any] | None = None
    replace: bool = False
    at: str | None = None


class BatchBody(Body):
    operations: list[Any]


class SqlBody(Body):
    query: str
    params: dict[str, Any] | None = None
    format: Literal["json", "csv", "ndjson"] = "json"


class StoredQueryPut(Body):
    query: str = Field(max_length=100_000)
    description: str | None = None
    params: dict[str, Any] | None = Field(None, description="Default values of the query's parameters.")


class StoredQueryRun(Body):
    params: dict[str, Any] | None = None
    format: Literal["json", "csv", "ndjson"] = "json"


class ResponseCreate(Body):
    body: str = Field(min_length=1, max_length=200_000)
    type: Literal["reply", "internal_note"] = "reply"
    author: str | None = Field(None, max_length=320)
    timestamp: str | None = None
    attachments: list[str] | None = Field(
        None, max_length=100, description="Ids of uploaded files (`POST …/files`) the message carries."
    )
    mentions: list[Annotated[str, Field(max_length=40)]] | None = Field(
        None,
        max_length=50,
        description="Internal notes only: user ids of the workspace's members the note mentions (each is notified).",
    )
    at: str | None = None


class SlaConfigPut(Body):
    """A calendar's or policy's JSON form, plus where it goes in the policy order and when it takes effect."""

    model_config = ConfigDict(extra="allow")
    position: int | None = None
    effective_from: str | None = None

    @property
    def definition(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SimulateBody(Body):
    policy: dict[str, Any]
    start: str
    end: str
    limit: int = Field(5000, ge=1, le=50_000)


class GrantScope(Body):
    workspaces: list[str] = Field(description='Workspace ids, or `["*"]` for every workspace.')
    collections: list[str] | None = Field(
        None, description="Limit the grant to these collections (default: every collection)."
    )


class GrantBody(Body):
    scope: GrantScope
    permissions: list[str] = Field(
        description="read:records, write:records, read:collections, write:collections, read:relationships, "
        "write:relationships, sql, import, read:audit, read:files, write:files, admin, or `*`."
    )


class TokenCreate(Body):
    name: str = Field(max_length=200)
    grants: list[GrantBody] = Field(min_length=1, max_length=32)
    expires_at: str | None = Field(
        None, description="ISO-8601 time; default: never (or the minting token's)."
    )


class TriggerPut(Body):
    url: str = Field(max_length=2000)
    events: list[str]
    collections: list[str] | None = None
    filter: dict[str, Any] | None = None
    include_hook_writes: bool = False
    enabled: bool = True
    description: str | None = Field(None, max_length=2000)


class ReplayBody(Body):
    since_seq: int = Field(ge=0)


class HookPut(Body):
    collection: str = Field(max_length=63)
    mapping: dict[str, Any] = Field(
        description='Record field → a JSON pointer into the payload ("/data/title") or {"const": value}.'
    )
    external_id: str | None = Field(
        None, max_length=1000, description="A JSON pointer to the payload's id: records are upserted by it."
    )
    verify: Literal["standard-webhooks", "none"] = "standard-webhooks"
    description: str | None = Field(None, max_length=2000)
    enabled: bool = True


class ImapInbound(Body):
    kind: Literal["imap"]
    host: str = Field(max_length=255)
    port: int = Field(993, ge=1, le=65535)
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = Field(max_length=255)
    password: str | None = Field(
        None, max_length=1000, description="Write-only; left out keeps the stored one."
    )
    folder: str = Field("INBOX", max_length=255)


class PushedInbound(Body):
    kind: Literal["smtp", "api"] = Field(
        description="smtp: the built-in SMTP listener accepts mail for the address; api: only the raw-MIME route."
    )


class SmtpOutbound(Body):
    host: str = Field(max_length=255)
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["ssl", "starttls", "none"] = "starttls"
    username: str | None = Field(None, max_length=255)
    password: str | None = Field(
        None, max_length=1000, description="Write-only; left out keeps the stored one."
    )


class MailboxPut(Body):
    address: str = Field(max_length=320, description="The address customers write to (no +tag).")
    name: str | None = Field(None, max_length=200, description="The display name replies are sent under.")
    inbound: ImapInbound | PushedInbound = Field(default_factory=lambda: PushedInbound(kind="api"))
    outbound: SmtpOutbound | None = None
    auto_acknowledge: bool = False


# ---- people ---------------------------------------------------------------------------------------------
class UserCreate(Body):
    email: str = Field(max_length=254)
    name: str | None = Field(None, max_length=200, description="Default: the email's local part.")
    time_zone: str | None = Field(None, max_length=64, description="IANA time zone; default UTC.")
    locale: str | None = Field(None, max_length=35, description="Language tag; default en.")
    avatar_colour: str | None = Field(None, max_length=7, description="#rrggbb; default: from the email.")
    server_admin: bool = False
    password: str | None = Field(
        None, max_length=1024, description="Optional; else send a reset link or an invitation."
    )


class UserPatch(Body):
    """Your own profile and away switch; a server admin also changes email, status and server_admin."""

    name: str | None = Field(None, max_length=200)
    time_zone: str | None = Field(None, max_length=64)
    locale: str | None = Field(None, max_length=35)
    avatar_colour: str | None = Field(None, max_length=7)
    away: StrictBool | None = Field(
        None,
        description="Away: assignment rules pass you over and the assignee picker says so, until switched off.",
    )
    email: str | None = Field(None, max_length=254)
    status: Literal["active", "suspended"] | None = None
    server_admin: bool | None = None


class PasswordSet(Body):
    password: str = Field(max_length=1024)


class PasswordChange(Body):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class TotpConfirm(Body):
    code: str = Field(max_length=64, description="The current 6-digit code of the authenticator app.")


class TotpProof(Body):
    """Either proves it is you: your password, or a current code (or an unused recovery code)."""

    password: str | None = Field(None, max_length=1024)
    code: str | None = Field(None, max_length=64)


class PersonalTokenCreate(Body):
    name: str = Field(max_length=200)
    grants: list[GrantBody] | None = Field(
        None, max_length=32, description="Default: follow your roles (whatever they are at each use)."
    )
    expires_at: str | None = Field(None, description="ISO-8601 time; default: never.")


class RolePut(Body):
    grants: list[GrantBody] = Field(min_length=1, max_length=32)
    description: str | None = Field(None, max_length=500)


class MemberPut(Body):
    role: str = Field(max_length=63)


class TeamMember(Body):
    user: str = Field(max_length=254, description="The member's user id or email.")
    capacity: int | None = Field(
        None, ge=0, le=100_000, description="Most open tickets an assignment rule gives them; null: no limit."
    )


class TeamPut(Body):
    name: str = Field(min_length=1, max_length=200)
    rule: Literal["manual", "round_robin", "least_loaded"] = Field(
        "manual", description="How a ticket entering the team unassigned gets its assignee."
    )
    members: list[TeamMember | str] = Field(
        default_factory=list,
        max_length=500,
        description="In rotation order: a user id or email, or an object.",
    )


class InvitationCreate(Body):
    email: str = Field(max_length=254)
    role: str = Field(max_length=63)


class InvitationAccept(Body):
    password: str = Field(max_length=1024)
    name: str | None = Field(None, max_length=200, description="Required for a new account.")
    time_zone: str | None = Field(None, max_length=64)

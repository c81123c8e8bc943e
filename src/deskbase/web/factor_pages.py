"""What the second sign-in step, the forgot-password page, the two-step enrolment pages and Settings → People
(members and the workspace's two-step requirement) show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CodePage:
    """The second step of a password sign-in: a code from the app, or a recovery code."""

    next: str
    error: str | None = None


@dataclass
class ForgotPage:
    """ "Forgot password?": the email form, or, when no reset email can go out, who to ask instead."""

    available: bool  #: some mailbox can send a reset email (the same for every caller)
    sent: bool = False
    email: str = ""
    error: str | None = None


@dataclass
class TotpPage:
    """Enrolling an authenticator app (secret, URI, QR code and the confirm form), or the recovery codes
    shown once after it is switched on or after new ones were made."""

    secret: str = ""
    uri: str = ""
    qr_svg: Any = ""  #: inline SVG (Markup), drawn here: no external QR service sees the secret
    codes: list[str] = field(default_factory=list)
    error: str | None = None
    #: the names of the workspaces that require it, when the person must set it up before going on
    required_by: list[str] = field(default_factory=list)
    next: str = "/"  #: where a person who had to set it up goes on to afterwards


@dataclass(frozen=True)
class PersonRow:
    name: str
    email: str
    role: str
    status: str
    two_factor: bool


@dataclass
class PeoplePage:
    """The members of the workspace, and whether it requires two-step sign-in."""

    workspace: str
    workspace_name: str
    required: bool
    action: str  #: where the two-step switch posts
    rows: list[PersonRow] = field(default_factory=list)
    notice: str | None = None
    without: int = 0  #: active members who have not set up two-step sign-in yet

"""The kinds of notification, as data: adding one is an entry here and a rule in derive.py that emits it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  #: how the bell and the preferences name it
    in_app: bool = True  #: default: shown in the bell
    email: bool = False  #: default: mailed (when the workspace has a mailbox)


ASSIGNED = Kind("assigned", "Assigned to you")
TEAM_ASSIGNED = Kind("team_assigned", "Assigned to your team")
CUSTOMER_REPLY = Kind("customer_reply", "A customer replied on your ticket")
MENTION = Kind("mention", "You were mentioned in an internal note")
SLA_WARNING = Kind("sla_warning", "SLA warning on your ticket")
SLA_BREACH = Kind("sla_breach", "SLA breach on your ticket")

KINDS: dict[str, Kind] = {
    k.name: k for k in (ASSIGNED, TEAM_ASSIGNED, CUSTOMER_REPLY, MENTION, SLA_WARNING, SLA_BREACH)
}
#: SLA event kinds (support/evaluate.py) that notify, and as which kind.
SLA_KINDS = {"warn": SLA_WARNING, "breach": SLA_BREACH}
CHANNELS = ("in_app", "email")


def wants(prefs: dict[str, dict[str, bool]], kind: str, channel: str) -> bool:
    """Does a user with these stored preferences want `kind` over `channel`? Unset means the kind's default."""
    chosen = (prefs.get(kind) or {}).get(channel)
    return bool(getattr(KINDS[kind], channel)) if chosen is None else bool(chosen)

"""Wire the support domain into a core, exactly as an extension would (templates, hooks, the SLA service)."""

from __future__ import annotations

from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.support.assignee_emails import AssigneeEmails
from deskbase.support.policy import default_policy
from deskbase.support.reply_rules import ReplyRules
from deskbase.support.service import SlaService
from deskbase.support.sla_config import EPOCH, default_calendar
from deskbase.support.team_rules import TeamRules
from deskbase.support.template import definition, report_queries, seed_queries

DEFAULT_CALENDAR = "business-hours"


def _after_apply(core: Deskbase, workspace_id: str, actor: Actor) -> dict[str, Any]:
    """The template also ships the seed's four example queries and deskbase's SLA reports as stored queries,
    and (once) a default business-hours calendar and SLA policy, effective for the workspace's whole history."""
    names = []
    for name, (description, query) in {**seed_queries(), **report_queries()}.items():
        core.stored_queries.put(workspace_id, name, query, description, {}, actor)
        names.append(name)
    sla = core.extensions[SlaService]
    created = []
    if not sla.config.versions(workspace_id):
        tz = core.workspaces.get(workspace_id)["settings"].get("timezone", "UTC")
        sla.config.put(
            workspace_id,
            "calendar",
            DEFAULT_CALENDAR,
            {"name": "Business hours", **default_calendar(tz)},
            actor,
            effective_from=EPOCH,
            trusted=True,
        )
        policy = default_policy(DEFAULT_CALENDAR).to_dict()
        sla.config.put(
            workspace_id, "policy", "default", policy, actor, position=0, effective_from=EPOCH, trusted=True
        )
        created = [DEFAULT_CALENDAR, "default"]
    return {"stored_queries": names, "sla_defaults": created}


def install(core: Deskbase) -> None:
    core.extensions[SlaService] = SlaService(core)
    core.extensions[TeamRules] = TeamRules(core)
    core.extensions[ReplyRules] = ReplyRules(core)
    core.extensions[AssigneeEmails] = AssigneeEmails(core)
    core.templates.register("support", definition(), _after_apply)

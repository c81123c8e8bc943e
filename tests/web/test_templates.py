"""Templates read only what their page context declares (Datasette's habit: typed, documented contexts)."""

from __future__ import annotations

import dataclasses

import pytest
from jinja2 import nodes

from deskbase.web import dashboard_pages as dp
from deskbase.web import factor_pages as fp
from deskbase.web import integration_pages as ip
from deskbase.web import mail_pages as mp
from deskbase.web import mailbox_pages as bp
from deskbase.web import pages as p
from deskbase.web import queue_pages as qp
from deskbase.web import search_pages as sp
from deskbase.web import ticket_pages as tp
from deskbase.web.render import TEMPLATES, environment

#: template -> the page context(s) it renders (partials used by several pages list each)
CONTEXTS: dict[str, tuple[type, ...]] = {
    "signin.html": (p.SignInPage,),
    "sso_continue.html": (p.ContinuePage,),
    "signin_code.html": (fp.CodePage,),
    "forgot.html": (fp.ForgotPage,),
    "totp.html": (fp.TotpPage,),
    "home_empty.html": (p.EmptyHomePage,),
    "error.html": (p.ErrorPage,),
    "settings.html": (p.SettingsPage,),
    "notifications.html": (p.NotificationsPage,),
    "teams.html": (p.TeamsPage,),
    "people.html": (fp.PeoplePage,),
    "invite.html": (p.InvitePage,),
    "reset.html": (p.ResetPage,),
    "link_gone.html": (p.LinkGonePage,),
    "queue.html": (qp.QueuePage,),
    "search.html": (sp.SearchPage,),
    "search_results.html": (sp.SearchPage,),
    "customer.html": (sp.CustomerPage,),
    "queue_rows.html": (qp.QueuePage,),
    "queue_fresh.html": (qp.QueueFreshness,),
    "queue_nav.html": (qp.QueueNav,),
    "ticket.html": (tp.TicketPage,),
    "ticket_update.html": (tp.TicketPage,),
    "ticket/_head.html": (tp.TicketPage,),
    "ticket/_meta.html": (tp.TicketPage,),
    "ticket/_urgent.html": (tp.TicketPage, tp.SlaRefresh),
    "ticket/_conversation.html": (tp.TicketPage,),
    "ticket/_mail.html": (tp.TicketPage,),
    "message_frame.html": (mp.MessageFrame,),
    "ticket/_composer.html": (tp.TicketPage,),
    "ticket/_props.html": (tp.TicketPage,),
    "ticket/_sla.html": (tp.TicketPage, tp.SlaRefresh),
    "ticket/sla_refresh.html": (tp.SlaRefresh,),
    "ticket/_customer.html": (tp.TicketPage,),
    "ticket/_related.html": (tp.TicketPage,),
    "ticket/related_matches.html": (tp.RelatedMatches,),
    "ticket/_presence_list.html": (tp.PresencePanel,),
    "ticket/_timeline.html": (tp.TicketPage,),
    "new_ticket.html": (p.NewTicketPage,),
    "new_ticket_matches.html": (p.NewTicketPage, p.CustomerMatches),
    "dashboard.html": (dp.DashboardPage,),
    "dashboard/report.html": (dp.ReportPanel,),
    "dashboard/report_page.html": (dp.ReportPanel,),
    "dashboard/attainment.html": (dp.AttainmentPanel,),
    "dashboard/attainment_page.html": (dp.AttainmentPanel,),
    "dashboard/strip.html": (dp.LiveStrip,),
    "dashboard/trend.html": (dp.TrendPanel,),
    "dashboard/first_response.html": (dp.ResponsePanel,),
    "dashboard/attainment_by_plan.html": (dp.PlanAttainmentPanel,),
    "dashboard/heatmap.html": (dp.HeatmapPanel,),
    "dashboard/_panel_foot.html": (dp.TrendPanel, dp.ResponsePanel, dp.PlanAttainmentPanel, dp.HeatmapPanel),
    "dashboard/panel_page.html": (
        dp.LiveStrip,
        dp.TrendPanel,
        dp.ResponsePanel,
        dp.PlanAttainmentPanel,
        dp.HeatmapPanel,
    ),
    "collections.html": (p.CollectionsPage,),
    "collection.html": (p.CollectionPage,),
    "record.html": (p.RecordPage,),
    "integrations.html": (ip.IntegrationsPage,),
    "integrations/_triggers.html": (ip.IntegrationsPage,),
    "integrations/_trigger.html": (ip.IntegrationsPage, ip.TriggerPage),
    "integrations/_secret.html": (ip.IntegrationsPage,),
    "integrations/_delivery.html": (ip.TriggerPage, ip.DeliveryUpdate),
    "integrations/delivery_update.html": (ip.DeliveryUpdate,),
    "trigger.html": (ip.TriggerPage,),
    "integrations/_hooks.html": (ip.IntegrationsPage,),
    "integrations/_hook.html": (ip.IntegrationsPage, ip.HookPage),
    "integrations/_hook_created.html": (ip.IntegrationsPage,),
    "integrations/_ingest.html": (ip.HookPage,),
    "hook.html": (ip.HookPage,),
    "mailboxes.html": (bp.MailboxesPage,),
    "mailbox.html": (bp.MailboxPage,),
    "mailboxes/_row.html": (bp.MailboxesPage, bp.MailboxPage),
    "mailboxes/_form.html": (bp.MailboxesPage, bp.MailboxPage),
}
LAYOUT = (
    "base.html",
    "_nav.html",
    "_dialogs.html",
    "_toast.html",
    "_macros.html",
    "_agent_picker.html",
    "dashboard/_bars.html",
)


def attributes_read(template: str, name: str) -> set[str]:
    env = environment()
    source = env.loader.get_source(env, template)[0]  # type: ignore[union-attr]
    tree = env.parse(source)
    return {
        n.attr for n in tree.find_all(nodes.Getattr) if isinstance(n.node, nodes.Name) and n.node.name == name
    }


def declared(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} | {
        n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")
    }


def test_every_template_is_mapped() -> None:
    found = {str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")}
    assert found == set(CONTEXTS) | set(LAYOUT)


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_templates_read_only_declared_page_fields(template: str) -> None:
    for cls in CONTEXTS[template]:
        assert attributes_read(template, "page") <= declared(cls), cls.__name__


@pytest.mark.parametrize("template", sorted([*CONTEXTS, *LAYOUT]))
def test_templates_read_only_declared_shell_fields(template: str) -> None:
    assert attributes_read(template, "shell") <= declared(p.Shell)

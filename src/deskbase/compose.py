"""The one composition root: which domains, replica tables and background loops a deskbase process has.

`serve` (HTTP, with or without the loops), `worker` (the loops only) and the offline CLI commands
(`analytics rebuild|verify --data-dir`) all wire the app here, so an offline rebuild replicates exactly the
tables the server does (the support domain's `sla_*` included) and a worker runs exactly the loops a server
would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import Clock
from deskbase.events.service import Webhooks
from deskbase.events.service import install as install_webhooks
from deskbase.mail.service import Mail
from deskbase.mail.service import install as install_mail
from deskbase.notify.service import Notifications
from deskbase.notify.service import install as install_notifications
from deskbase.sso.service import install as install_sso
from deskbase.support.held import HeldReplies
from deskbase.support.install import install as install_support
from deskbase.support.service import SlaService


@dataclass(frozen=True)
class Background:
    """A background loop of the process: each holds a lease in the primary store, so starting it in several
    processes runs it once."""

    name: str
    start: Callable[[], None]
    stop: Callable[[], None]


@dataclass
class Composition:
    core: Deskbase
    background: list[Background] = field(default_factory=list)
    #: Run on close, after the loops stopped and before the core closes (the replica's engine).
    closers: list[Callable[[], None]] = field(default_factory=list)

    def start_background(self) -> None:
        for b in self.background:
            b.start()

    def stop_background(self) -> None:
        for b in reversed(self.background):
            b.stop()

    def close(self) -> None:
        self.stop_background()
        for fn in self.closers:
            fn()
        self.core.close()


def open_core(settings: Settings, clock: Clock | None = None) -> Deskbase:
    """The core with the domain services every write needs in its transaction (SLA upkeep) and the
    extensions that read the change log as their outbox (webhooks, mail, notifications); no replica, no loops started."""
    core = Deskbase.open(settings, clock)
    install_support(core)
    install_webhooks(core)
    install_mail(core)
    install_notifications(core)
    install_sso(core)
    return core


def compose(settings: Settings, clock: Clock | None = None, engine: Any = None) -> Composition:
    """Open the core and install every domain; the loops are listed, not started.

    `engine` lets a caller share one analytics engine (chDB allows one data path per process); the caller
    then closes it.
    """
    core = open_core(settings, clock)
    mail = core.extensions[Mail]
    out = Composition(core)
    if settings.replicate:
        try:
            analytics = install_analytics(core, engine)
        except BaseException:
            core.close()
            raise
        out.background.append(Background("replicator", analytics.replica.start, analytics.replica.stop))
        if engine is None:
            out.closers.append(analytics.engine.close)
    if settings.sla_scheduler:
        sla = core.extensions[SlaService]
        out.background.append(Background("sla-scheduler", sla.start, sla.stop))
    if settings.webhooks:
        hooks = core.extensions[Webhooks]
        out.background.append(Background("webhooks", hooks.start, hooks.stop))
    if settings.notifications:
        fanout = core.extensions[Notifications].fanout
        out.background.append(Background("notifications", fanout.start, fanout.stop))
    if settings.reply_hold_seconds > 0:
        held = HeldReplies(core)
        out.background.append(Background("held-replies", held.start, held.stop))
    if settings.mail_outbound:
        out.background.append(Background("mail-outbound", mail.sender.start, mail.sender.stop))
    if settings.imap_fetch:
        out.background.append(Background("imap", mail.fetchers.start, mail.fetchers.stop))
    return out


def install_analytics(core: Deskbase, engine: Any = None) -> Any:
    """The SQL replica with every domain's derived tables registered and readable."""
    from deskbase.analytics.files import FILES
    from deskbase.analytics.service import Analytics, open_embedded_engine, open_server_engine
    from deskbase.events.replication import DELIVERIES
    from deskbase.support.replication import DERIVED

    settings = core.settings
    if engine is not None:
        eng = engine
    elif settings.clickhouse_url:
        eng = open_server_engine(settings)
    else:
        eng = open_embedded_engine(settings.data_path / "chdb")
    try:
        analytics = Analytics(core, eng)
    except BaseException:
        if engine is None:
            eng.close()
        raise
    core.extensions[Analytics] = analytics
    for table in (*DERIVED, DELIVERIES, FILES):
        analytics.replica.register(table)
        analytics.allow(table.name)
    return analytics

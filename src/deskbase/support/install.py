"""Wire the support domain into a core, exactly as an extension would (templates, hooks)."""

from __future__ import annotations

from deskbase.core.app import Deskbase
from deskbase.support.template import definition


def install(core: Deskbase) -> None:
    core.templates.register("support", definition())

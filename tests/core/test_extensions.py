"""The extension registry: services are found by their class, and a missing one answers None, not an error."""

from __future__ import annotations

import pytest

from deskbase.core.app import Deskbase
from deskbase.support.service import SlaService


class Other:
    """A service nobody installed."""


def test_services_are_looked_up_by_their_class(core: Deskbase) -> None:
    sla = core.extensions[SlaService]
    assert isinstance(sla, SlaService)
    assert core.extensions.get(SlaService) is sla
    assert SlaService in core.extensions and Other not in core.extensions
    assert core.extensions.get(Other) is None
    with pytest.raises(KeyError):
        core.extensions[Other]


def test_a_service_can_be_replaced_and_removed(core: Deskbase) -> None:
    other = Other()
    core.extensions[Other] = other
    assert core.extensions[Other] is other
    del core.extensions[Other]
    assert core.extensions.get(Other) is None

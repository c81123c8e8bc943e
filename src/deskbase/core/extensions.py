"""The services extensions install on the core (the SLA service, webhooks, the SQL replica), keyed by class.

Keyed by the service's own class, so ``core.extensions.get(SlaService)`` is typed ``SlaService | None`` for
mypy while the core imports none of them (a seam, not an arrow).
"""

from __future__ import annotations

from typing import Any, TypeVar

S = TypeVar("S")


class Extensions:
    """A registry of installed services, one per class; a lookup of one not installed answers None."""

    def __init__(self) -> None:
        self._services: dict[type[Any], Any] = {}

    def __setitem__(self, kind: type[S], service: S) -> None:
        self._services[kind] = service

    def __getitem__(self, kind: type[S]) -> S:
        """The installed service; KeyError when it is not installed (use ``get`` where that is expected)."""
        service: S = self._services[kind]
        return service

    def __delitem__(self, kind: type[Any]) -> None:
        del self._services[kind]

    def __contains__(self, kind: object) -> bool:
        return kind in self._services

    def get(self, kind: type[S], default: S | None = None) -> S | None:
        service: S | None = self._services.get(kind, default)
        return service

"""SLA policy building blocks (pure): targets, escalation ladder steps and their validation.

They are checked when built, so a bad step is a PolicyError naming its JSON pointer (a 422 at save time).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACTIONS",
    "MAX_TARGET_SECONDS",
    "METRICS",
    "Escalation",
    "PolicyError",
    "Target",
    "check_escalation",
    "check_target",
    "escalation_from",
    "is_int",
    "pointer",
    "target_from",
]

METRICS = ("first_response", "next_response", "periodic_update", "first_resolution", "resolution")
ACTIONS = ("set_priority", "set_assignee", "add_tags", "emit")
MAX_TARGET_SECONDS = 3650 * 86_400  # ten years: anything longer is a typo, and would be slow to project

_TRIGGER_RE = re.compile(r"(warning|breach)(?:\+(\d{1,10}))?")


class PolicyError(ValueError):
    """Rejected policy definition; ``field`` is a JSON pointer into the policy's JSON form (for a 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Target:
    """How long a metric may take: ``seconds`` of business time (the policy's calendar) or of plain time."""

    seconds: int
    business: bool = True

    def __post_init__(self) -> None:
        check_target(self, "")

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "business": self.business}


@dataclass(frozen=True)
class Escalation:
    """One ladder step: ``actions`` run once when ``trigger`` fires for an instance of one of ``metrics``.

    ``trigger`` is ``"warning"``, ``"breach"`` or ``"breach+<seconds>"`` (wall-clock seconds after the breach,
    only while the instance is still open). ``actions``: ``set_priority``, ``set_assignee`` (a string, or None
    to unassign), ``add_tags`` (strings), ``emit`` (an event name). Empty ``metrics`` means every metric.
    """

    trigger: str
    actions: Mapping[str, Any] = field(hash=False)
    metrics: tuple[str, ...] = ()
    kind: str = field(init=False, repr=False, compare=False)
    """``"warning"`` or ``"breach"``: the instance event the trigger hangs off."""
    delay_seconds: int = field(init=False, repr=False, compare=False)
    """Wall-clock seconds after that event (non-zero only for ``breach+N``)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "metrics", tuple(self.metrics) if isinstance(self.metrics, list) else self.metrics
        )
        check_escalation(self, "")
        actions = dict(self.actions)
        if "add_tags" in actions:
            actions["add_tags"] = tuple(actions["add_tags"])
        object.__setattr__(self, "actions", actions)
        kind, _, delay = self.trigger.partition("+")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "delay_seconds", int(delay) if delay else 0)

    def to_dict(self) -> dict[str, Any]:
        actions = {k: list(v) if k == "add_tags" else v for k, v in self.actions.items()}
        return {"trigger": self.trigger, "actions": actions, "metrics": list(self.metrics)}


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_target(t: object, where: str) -> None:
    if not isinstance(t, Target):
        raise PolicyError(where, f"expected a Target, got {t!r}")
    if not is_int(t.seconds) or not 0 < t.seconds <= MAX_TARGET_SECONDS:
        raise PolicyError(f"{where}/seconds", f"expected a whole number of seconds > 0, got {t.seconds!r}")
    if not isinstance(t.business, bool):
        raise PolicyError(f"{where}/business", f"expected true or false, got {t.business!r}")


def check_escalation(step: Escalation, where: str) -> None:
    match = _TRIGGER_RE.fullmatch(step.trigger) if isinstance(step.trigger, str) else None
    if match is None or (match[2] is not None and (match[1] != "breach" or int(match[2]) == 0)):
        raise PolicyError(
            f"{where}/trigger", f"expected 'warning', 'breach' or 'breach+<seconds>', got {step.trigger!r}"
        )
    actions = step.actions
    if not isinstance(actions, Mapping) or not actions:
        raise PolicyError(
            f"{where}/actions", f"expected a non-empty object with some of {', '.join(ACTIONS)}"
        )
    for key, value in actions.items():
        at = f"{where}/actions{pointer(str(key))}"
        if key not in ACTIONS:
            raise PolicyError(at, f"unknown action; use one of {', '.join(ACTIONS)}")
        if key in ("set_priority", "emit") and (not isinstance(value, str) or not value.strip()):
            raise PolicyError(at, f"expected a non-empty string, got {value!r}")
        if key == "set_assignee" and value is not None and (not isinstance(value, str) or not value.strip()):
            raise PolicyError(at, f"expected a non-empty string, or null to unassign, got {value!r}")
        if key == "add_tags" and (
            not isinstance(value, list | tuple)
            or not value
            or not all(isinstance(tag, str) and tag.strip() for tag in value)
        ):
            raise PolicyError(at, f"expected a non-empty list of non-empty strings, got {value!r}")
    if not isinstance(step.metrics, tuple):
        raise PolicyError(f"{where}/metrics", "expected a list of metrics")
    for i, metric in enumerate(step.metrics):
        if metric not in METRICS:
            raise PolicyError(
                f"{where}/metrics/{i}", f"unknown metric {metric!r}; use one of {', '.join(METRICS)}"
            )
    if len(set(step.metrics)) != len(step.metrics):
        raise PolicyError(f"{where}/metrics", "lists a metric twice")


def target_from(raw: object, where: str) -> Target:
    if not isinstance(raw, Mapping):
        raise PolicyError(where, 'expected {"seconds": <int>, "business": <bool>}')
    for key in raw:
        if key not in ("seconds", "business"):
            raise PolicyError(f"{where}{pointer(str(key))}", "unknown field")
    if "seconds" not in raw:
        raise PolicyError(f"{where}/seconds", "required")
    try:
        return Target(raw["seconds"], raw.get("business", True))
    except PolicyError as exc:
        raise PolicyError(where + exc.field, exc.message) from None


def escalation_from(raw: object, where: str) -> Escalation:
    if not isinstance(raw, Mapping):
        raise PolicyError(where, "expected an object with trigger, actions and optional metrics")
    for key in raw:
        if key not in ("trigger", "actions", "metrics"):
            raise PolicyError(f"{where}{pointer(str(key))}", "unknown field")
    for key in ("trigger", "actions"):
        if key not in raw:
            raise PolicyError(f"{where}/{key}", "required")
    metrics = raw.get("metrics", [])
    if not isinstance(metrics, list):
        raise PolicyError(f"{where}/metrics", "expected a list of metrics")
    try:
        return Escalation(raw["trigger"], raw["actions"], tuple(metrics))
    except PolicyError as exc:
        raise PolicyError(where + exc.field, exc.message) from None


def pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)

"""SLA policies: targets per metric and priority, warnings, escalation ladders, and ordered matching (pure).

A policy is data (its JSON form is what the HTTP API stores and returns) plus a compiled ``match`` filter.
Policies form an ordered list and the FIRST one whose ``match`` accepts a ticket applies: never "the most
specific" or "any", so an edit elsewhere in the list cannot silently change which policy a ticket gets.

``match`` is deskbase's filter language (``core/filterlang.py``: one parser for record queries, policies and
triggers) evaluated in Python over ``{"ticket": <ticket data>, "customer": <customer data or {}>}``. Field paths:
``ticket.priority``, ``customer.plan``; ``data.x`` and a bare ``x`` mean ``ticket.x`` as in record filters.
Everything is checked when the policy is built, so a bad filter is a 422 at save time, never a surprise at
ticket time.
"""

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from typing import Any, Self

import deskbase.core.filterlang as filterlang
from deskbase.support.policy_steps import (
    ACTIONS,
    MAX_TARGET_SECONDS,
    METRICS,
    Escalation,
    PolicyError,
    Target,
    check_escalation,
    check_target,
    escalation_from,
    is_int,
    pointer,
    target_from,
)

__all__ = [
    "ACTIONS",
    "METRICS",
    "PRIORITY_CHANGE_RULES",
    "SOLVED_STATUSES",
    "Escalation",
    "Policy",
    "PolicyError",
    "Selection",
    "Target",
    "default_policy",
    "select",
]

SOLVED_STATUSES = frozenset({"resolved", "closed"})
PRIORITY_CHANGE_RULES = ("carry", "restart", "keep")

_KEYS = {
    "id",
    "version",
    "name",
    "match",
    "calendar_id",
    "targets",
    "pause_statuses",
    "warn_fraction",
    "warn_before_seconds",
    "escalations",
    "priority_change",
}
_SEGMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SYSTEM_FIELDS = {"id", "created_at", "updated_at", "external_id", "external_source", "version"}
_MS = timedelta(milliseconds=1)


Failure = dict[str, Any]
_Check = Callable[[Mapping[str, Any]], Failure | None]


@dataclass(frozen=True)
class Policy:
    """One version of an SLA policy. ``targets`` maps metric -> priority -> Target.

    A metric or priority without a target is simply not measured. ``warn_fraction`` (of the target) and
    ``warn_before_seconds`` (before it, on the same clock) may both be set; the earlier warning wins; both
    None means no warnings. ``priority_change`` says what a running instance does when the ticket's priority
    changes: ``carry`` its elapsed time to the new target, ``restart`` from zero, or ``keep`` its old target.
    """

    id: str
    version: int
    name: str
    match: Mapping[str, Any] | None = field(hash=False)
    calendar_id: str
    targets: Mapping[str, Mapping[str, Target]] = field(hash=False)
    pause_statuses: frozenset[str] = frozenset({"waiting"})
    warn_fraction: float | None = 0.75
    warn_before_seconds: int | None = None
    escalations: tuple[Escalation, ...] = ()
    priority_change: str = "carry"
    _check: _Check | None = field(init=False, repr=False, compare=False, default=None)
    _ladders: dict[str, tuple[tuple[int, Escalation], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _warn: dict[int, timedelta | None] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("id", "name", "calendar_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise PolicyError(f"/{name}", "expected a non-empty string")
        if not is_int(self.version) or self.version < 0:
            raise PolicyError("/version", f"expected a non-negative integer, got {self.version!r}")
        check = None if self.match is None else _compile(self.match, "/match")
        targets = _check_targets(self.targets)
        if not isinstance(self.pause_statuses, list | tuple | set | frozenset):
            raise PolicyError("/pause_statuses", "expected a list of statuses")
        for i, status in enumerate(self.pause_statuses):
            if not isinstance(status, str) or not status:
                raise PolicyError(f"/pause_statuses/{i}", f"statuses are non-empty strings, got {status!r}")
            if status in SOLVED_STATUSES:
                raise PolicyError(
                    f"/pause_statuses/{i}", f"{status!r} already stops every clock; it cannot pause"
                )
        pause = frozenset(self.pause_statuses)
        wf = self.warn_fraction
        if wf is not None and (
            isinstance(wf, bool)
            or not isinstance(wf, int | float)
            or not math.isfinite(wf)
            or not 0 < wf <= 1
        ):
            raise PolicyError("/warn_fraction", f"expected a number in (0, 1] or null, got {wf!r}")
        wb = self.warn_before_seconds
        if wb is not None and (not is_int(wb) or not 0 < wb <= MAX_TARGET_SECONDS):
            raise PolicyError("/warn_before_seconds", f"expected a positive integer or null, got {wb!r}")
        escalations = self.escalations
        if not isinstance(escalations, tuple | list):
            raise PolicyError("/escalations", "expected a list of escalation steps")
        for i, step in enumerate(escalations):
            if not isinstance(step, Escalation):
                raise PolicyError(f"/escalations/{i}", f"expected an Escalation, got {step!r}")
            check_escalation(step, f"/escalations/{i}")
            if step.kind == "warning" and wf is None and wb is None:
                raise PolicyError(
                    f"/escalations/{i}/trigger",
                    "the policy never warns (warn_fraction and warn_before_seconds are null)",
                )
        if self.priority_change not in PRIORITY_CHANGE_RULES:
            raise PolicyError(
                "/priority_change",
                f"expected one of {', '.join(PRIORITY_CHANGE_RULES)}, got {self.priority_change!r}",
            )
        ladders = {
            m: tuple((i, s) for i, s in enumerate(escalations) if not s.metrics or m in s.metrics)
            for m in METRICS
        }
        object.__setattr__(self, "match", None if self.match is None else _copy_json(self.match))
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "pause_statuses", pause)
        object.__setattr__(self, "escalations", tuple(escalations))
        object.__setattr__(self, "_check", check)
        object.__setattr__(self, "_ladders", ladders)

    # --- JSON form ---

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Parse and validate the API's JSON form; every problem is a PolicyError naming its field."""
        if not isinstance(d, Mapping):
            raise PolicyError("", "a policy must be a JSON object")
        for key in d:
            if key not in _KEYS:
                raise PolicyError(pointer(str(key)), "unknown field")
        for key in ("id", "version", "name", "calendar_id", "targets"):
            if key not in d:
                raise PolicyError(f"/{key}", "required")
        raw_targets = d["targets"]
        if not isinstance(raw_targets, Mapping):
            raise PolicyError("/targets", "expected an object keyed by metric")
        targets: dict[str, dict[str, Target]] = {}
        for metric, per_priority in raw_targets.items():
            where = pointer("targets", str(metric))
            if not isinstance(per_priority, Mapping):
                raise PolicyError(where, "expected an object keyed by priority")
            targets[metric] = {
                priority: target_from(raw, f"{where}{pointer(str(priority))}")
                for priority, raw in per_priority.items()
            }
        pause = d.get("pause_statuses", ["waiting"])
        if not isinstance(pause, list):
            raise PolicyError("/pause_statuses", "expected a list of statuses")
        if len({repr(s) for s in pause}) != len(pause):
            raise PolicyError("/pause_statuses", "lists a status twice")
        raw_steps = d.get("escalations", [])
        if not isinstance(raw_steps, list):
            raise PolicyError("/escalations", "expected a list of escalation steps")
        steps = tuple(escalation_from(raw, f"/escalations/{i}") for i, raw in enumerate(raw_steps))
        return cls(
            id=d["id"],
            version=d["version"],
            name=d["name"],
            match=d.get("match"),
            calendar_id=d["calendar_id"],
            targets=targets,
            pause_statuses=pause,  # type: ignore[arg-type]  # validated (and frozen) by __post_init__
            warn_fraction=d.get("warn_fraction", 0.75),
            warn_before_seconds=d.get("warn_before_seconds"),
            escalations=steps,
            priority_change=d.get("priority_change", "carry"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``Policy.from_dict(p.to_dict()) == p``."""
        return {
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "match": _copy_json(self.match),
            "calendar_id": self.calendar_id,
            "targets": {
                metric: {priority: t.to_dict() for priority, t in per.items()}
                for metric, per in self.targets.items()
            },
            "pause_statuses": sorted(self.pause_statuses),
            "warn_fraction": self.warn_fraction,
            "warn_before_seconds": self.warn_before_seconds,
            "escalations": [s.to_dict() for s in self.escalations],
            "priority_change": self.priority_change,
        }

    # --- queries ---

    def target(self, metric: str, priority: object) -> Target | None:
        """The target for a metric at a priority, or None when that combination is not measured."""
        per = self.targets.get(metric)
        return None if per is None or not isinstance(priority, str) else per.get(priority)

    def warning_after(self, seconds: int) -> timedelta | None:
        """Elapsed clock time at which an instance with a ``seconds`` target warns (ms precision), or None.

        Exact decimal arithmetic, so 0.75 of an hour is 2700 s and never 2699.999 s.
        """
        if seconds in self._warn:
            return self._warn[seconds]
        points = []
        if self.warn_fraction is not None:
            points.append(math.floor(Fraction(repr(self.warn_fraction)) * seconds * 1000))
        if self.warn_before_seconds is not None:
            points.append(max(0, seconds - self.warn_before_seconds) * 1000)
        result = min(points) * _MS if points else None
        if len(self._warn) < 10_000:
            self._warn[seconds] = result
        return result

    def ladder(self, metric: str) -> tuple[tuple[int, Escalation], ...]:
        """The escalation steps that apply to ``metric``, each with its index in ``escalations``."""
        return self._ladders.get(metric, ())

    def explain_match(self, ticket: Mapping[str, Any], customer: Mapping[str, Any] | None) -> Failure | None:
        """None when the policy applies to this ticket, else the condition that failed (for explanations)."""
        if self._check is None:
            return None
        return self._check({"ticket": ticket, "customer": customer or {}})

    def matches(self, ticket: Mapping[str, Any], customer: Mapping[str, Any] | None) -> bool:
        return self.explain_match(ticket, customer) is None


@dataclass(frozen=True)
class Selection:
    """The policy that applies (or None) and, for each policy tried in order, whether and why it matched."""

    policy: Policy | None
    explanation: list[dict[str, Any]] = field(hash=False)


def select(
    policies: Sequence[Policy], ticket: Mapping[str, Any], customer: Mapping[str, Any] | None
) -> Selection:
    """The FIRST policy in list order that matches wins; later ones are not tried (nor listed)."""
    explanation: list[dict[str, Any]] = []
    for position, policy in enumerate(policies):
        failed = policy.explain_match(ticket, customer)
        explanation.append(
            {
                "position": position,
                "policy_id": policy.id,
                "policy_version": policy.version,
                "name": policy.name,
                "matched": failed is None,
                "failed": failed,
            }
        )
        if failed is None:
            return Selection(policy, explanation)
    return Selection(None, explanation)


def default_policy(calendar_id: str) -> Policy:
    """What the support template ships: business-hour targets, pause while waiting, warn at 75 %."""
    hour = 3600
    response = {"urgent": hour, "high": 4 * hour, "medium": 8 * hour, "low": 24 * hour}
    resolution = {"urgent": 8 * hour, "high": 24 * hour, "medium": 72 * hour, "low": 120 * hour}

    def per(seconds: dict[str, int]) -> dict[str, Target]:
        return {priority: Target(s) for priority, s in seconds.items()}

    return Policy(
        id="default",
        version=1,
        name="Default support SLA",
        match=None,
        calendar_id=calendar_id,
        targets={
            "first_response": per(response),
            "first_resolution": per(resolution),
            "resolution": per(resolution),
        },
    )


# --- validation of the Python objects ---


def _check_targets(targets: object) -> dict[str, dict[str, Target]]:
    if not isinstance(targets, Mapping):
        raise PolicyError("/targets", "expected a mapping of metric to priority to Target")
    out: dict[str, dict[str, Target]] = {}
    for metric, per in targets.items():
        where = pointer("targets", str(metric))
        if metric not in METRICS:
            raise PolicyError(where, f"unknown metric; use one of {', '.join(METRICS)}")
        if not isinstance(per, Mapping):
            raise PolicyError(where, "expected a mapping of priority to Target")
        for priority, t in per.items():
            if not isinstance(priority, str) or not priority:
                raise PolicyError(where, f"priorities are non-empty strings, got {priority!r}")
            check_target(t, where + pointer(priority))
        out[metric] = dict(per)
    return out


# --- the JSON form ---


def _copy_json(value: Any) -> Any:
    """A deep copy, so a caller mutating its dict cannot change what the compiled filter means (or vice versa)."""
    if isinstance(value, Mapping):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_json(v) for v in value]
    return value


# --- the filter language (core/filterlang.py), evaluated on Python values ---


def _compile(node: object, where: str) -> _Check:
    try:
        tree = filterlang.parse(node, _parse_field, filterlang.PYTHON_OPS, where)
    except filterlang.FilterError as exc:
        raise PolicyError(exc.pointer, exc.message) from None

    def check(doc: Mapping[str, Any]) -> Failure | None:
        return filterlang.explain(tree, lambda f: filterlang.path_value(doc[f[0]], f[1]))

    return check


def _parse_field(raw: object, where: str) -> tuple[str, tuple[str, ...]]:
    if not isinstance(raw, str) or not raw:
        raise PolicyError(where, "expected a field path such as 'ticket.priority' or 'customer.plan'")
    parts = raw.split(".")
    root = "ticket"
    if parts[0] in ("ticket", "customer", "data") and len(parts) > 1:
        root = "customer" if parts[0] == "customer" else "ticket"
        parts = parts[1:]
    elif raw in _SYSTEM_FIELDS:
        raise PolicyError(
            where, f"{raw!r} is a record system field; policies match data fields (ticket.<name>)"
        )
    if len(parts) > 8 or not all(_SEGMENT_RE.fullmatch(p) for p in parts):
        raise PolicyError(
            where,
            f"invalid field {raw!r}: use ticket.<name>[.<name>…] or customer.<name>… (letters, digits, '_')",
        )
    return root, tuple(parts)

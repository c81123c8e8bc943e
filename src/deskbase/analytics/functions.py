"""The SQL guard's function policy: which ClickHouse functions user SQL may call.

Built from the engine's own ``system.functions`` (so a new ClickHouse release's functions are judged, not
ignored) minus denied categories and names: functions that touch files, settings, other tables, the host or
time itself, or reveal server internals. One policy per engine, built once.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deskbase.analytics.engine import Engine, Limits

_CATALOG_LIMITS = Limits(max_execution_time=10.0, max_result_rows=100_000, max_rows_to_read=1_000_000)

DENIED_CATEGORIES = frozenset(
    {
        "Introspection",
        "Dictionary",
        "Embedded Dictionary",
        "AI",
        "Machine Learning",
        "Internal",
        "Time Series",
    }
)

# Functions that touch files, settings, other tables, the host or time itself, or reveal server internals.
DENIED_FUNCTIONS = frozenset(
    {
        # files, other tables, settings
        "file",
        "filesystemAvailable",
        "filesystemCapacity",
        "filesystemUnreserved",
        "joinGet",
        "joinGetOrNull",
        "hasColumnInTable",
        "getMaxTableNameLengthForDatabase",
        "getSetting",
        "getSettingOrDefault",
        "getServerSetting",
        "getMergeTreeSetting",
        "globalVariable",
        # stalling the engine
        "sleep",
        "sleepEachRow",
        # server, session and tenant identity
        "currentDatabase",
        "currentSchemas",
        "hostName",
        "FQDN",
        "displayName",
        "serverUUID",
        "getMacro",
        "getOSKernelVersion",
        "buildId",
        "version",
        "revision",
        "uptime",
        "tcpPort",
        "getServerPort",
        "shardNum",
        "shardCount",
        "zookeeperSessionUptime",
        "showCertificate",
        "hasThreadFuzzer",
        "chdb",
        "currentUser",
        "authenticatedUser",
        "currentRoles",
        "enabledRoles",
        "defaultRoles",
        "currentProfiles",
        "enabledProfiles",
        "defaultProfiles",
        "pgGetUserById",
        "pgTableIsVisible",
        "queryID",
        "initialQueryID",
        "currentQueryID",
        "initialQueryStartTime",
        "connectionId",
        "getClientHTTPHeader",
        "currentRequestURL",
        "currentHandler",
        "transactionID",
        "transactionLatestSnapshot",
        "transactionOldestSnapshot",
        # side effects or internals
        "generateSerialID",
        "fuzzQuery",
        "flameGraph",
        "inIgnoreSet",
        "notInIgnoreSet",
        "globalInIgnoreSet",
        "globalNotInIgnoreSet",
        "nullInIgnoreSet",
        "notNullInIgnoreSet",
        "globalNullInIgnoreSet",
        "globalNotNullInIgnoreSet",
    }
)

# Produced by the parser for ordinary syntax but filed under "Internal" or absent from system.functions.
PARSER_FUNCTIONS = frozenset({"lambda", "exists", "grouping", "untuple", "_CAST", "caseWithExpression"})

IN_FUNCTIONS = frozenset(
    {"in", "notIn", "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn", "globalNotNullIn"}
)


@dataclass(frozen=True)
class FunctionPolicy:
    """Which function names a user query may call, resolved the way ClickHouse resolves them."""

    base: frozenset[str]  # functions that are not aliases
    aliases: Mapping[
        str, str
    ]  # alias -> target as system.functions spells it (case or combinators may differ)
    folded: Mapping[str, str]  # lower(name) -> name, for case-insensitive functions and aliases
    allowed: frozenset[str]  # allowed base functions
    aggregates: frozenset[str]  # base aggregate functions
    combinators: tuple[str, ...]  # aggregate combinator suffixes, longest first

    @classmethod
    def from_catalog(
        cls, functions: Iterable[tuple[str, bool, bool, str, str]], combinators: Iterable[str]
    ) -> FunctionPolicy:
        """Build from ``system.functions`` rows (name, is_aggregate, case_insensitive, alias_to, categories)."""
        base: set[str] = set(PARSER_FUNCTIONS)
        allowed: set[str] = set(PARSER_FUNCTIONS)
        aliases: dict[str, str] = {}
        folded: dict[str, str] = {}
        aggregates: set[str] = set()
        for name, is_aggregate, case_insensitive, alias_to, categories in functions:
            if case_insensitive:
                folded[name.lower()] = name
            if alias_to:
                aliases[name] = alias_to
                continue
            base.add(name)
            if is_aggregate:
                aggregates.add(name)
            cats = {c.strip() for c in categories.split(",") if c.strip()}
            if not (cats & DENIED_CATEGORIES or name in DENIED_FUNCTIONS or name.startswith("__")):
                allowed.add(name)
        return cls(
            base=frozenset(base),
            aliases=aliases,
            folded=folded,
            allowed=frozenset(allowed),
            aggregates=frozenset(aggregates),
            combinators=tuple(sorted(set(combinators), key=len, reverse=True)),
        )

    def canonical(self, name: str, _depth: int = 0) -> str | None:
        """The allowed base function a name calls, or None when it is unknown or denied (fail closed)."""
        if _depth > 8:
            return None
        key = name if name in self.base or name in self.aliases else self.folded.get(name.lower())
        if key in self.base:
            return key if key in self.allowed else None
        if key is not None and key in self.aliases:
            return self.canonical(self.aliases[key], _depth + 1)
        # An aggregate with combinators (countIf, sumArrayIf, uniqMerge …) is allowed iff its base is.
        for suffix in self.combinators:
            if name.endswith(suffix) and len(name) > len(suffix):
                found = self.canonical(name[: -len(suffix)], _depth + 1)
                if found is not None and found in self.aggregates:
                    return found
        return None


_policies: weakref.WeakKeyDictionary[Any, FunctionPolicy] = weakref.WeakKeyDictionary()
_policies_lock = threading.Lock()


def function_policy(engine: Engine) -> FunctionPolicy:
    """The engine's function allowlist, read once from ``system.functions`` and cached per engine."""
    with _policies_lock:
        policy = _policies.get(engine)
    if policy is not None:
        return policy
    functions = engine.query_readonly(
        "SELECT name, is_aggregate, case_insensitive, alias_to, categories FROM system.functions",
        {},
        _CATALOG_LIMITS,
    )
    combinators = engine.query_readonly(
        "SELECT name FROM system.aggregate_function_combinators", {}, _CATALOG_LIMITS
    )
    policy = FunctionPolicy.from_catalog(
        ((r[0], bool(r[1]), bool(r[2]), r[3], r[4]) for r in functions.rows),
        (r[0] for r in combinators.rows),
    )
    with _policies_lock:
        _policies[engine] = policy
    return policy

"""Imports point inward: the core imports no adapter or domain code; the pure SLA modules only the stdlib."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "deskbase"
ADAPTERS = (
    "fastapi",
    "starlette",
    "typer",
    "click",
    "jinja2",
    "chdb",
    "clickhouse_connect",
    "uvicorn",
    "httpx",
    "deskbase.api",
    "deskbase.web",
    "deskbase.cli",
    "deskbase.analytics",
    "deskbase.support",
    "deskbase.mcp",
    "deskbase.server",
    "deskbase.sso",
)
PURE = (
    "calendar.py",
    "calendar_form.py",
    "policy.py",
    "policy_steps.py",
    "evaluate.py",
    *(f"fold/{p.name}" for p in (SRC / "support" / "fold").glob("*.py")),
)


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_core_imports_no_adapters() -> None:
    bad = [
        (p.relative_to(SRC).as_posix(), n)
        for p in (SRC / "core").rglob("*.py")
        for n in imports_of(p)
        if any(n == a or n.startswith(a + ".") for a in ADAPTERS)
    ]
    assert bad == []


def test_pure_sla_modules_import_only_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {
        "holidays",
        "deskbase.support.calendar",
        "deskbase.support.calendar_form",
        "deskbase.support.policy",
        "deskbase.support.policy_steps",
        "deskbase.support.evaluate",
        "deskbase.support.fold",
        "deskbase.core.filterlang",
    }
    for name in PURE:
        path = SRC / "support" / name
        assert path.exists(), name
        bad = [
            n
            for n in imports_of(path)
            if n not in allowed and n.split(".")[0] not in allowed and n.rpartition(".")[0] not in allowed
        ]
        assert bad == [], f"{name} imports {bad}"


def test_the_filter_language_is_pure() -> None:
    """SLA policies evaluate it, so it may import only what they may."""
    bad = [
        n
        for n in imports_of(SRC / "core" / "filterlang.py")
        if n not in sys.stdlib_module_names and n.split(".")[0] not in sys.stdlib_module_names
    ]
    assert bad == []


def test_events_stay_out_of_core_and_support() -> None:
    """Triggers are built on the core and the support domain, never the other way round; the events package
    is not an adapter of the web or the replica either."""
    bad = [
        (p.relative_to(SRC).as_posix(), n)
        for pkg in ("core", "support")
        for p in (SRC / pkg).rglob("*.py")
        for n in imports_of(p)
        if n == "deskbase.events" or n.startswith("deskbase.events.")
    ]
    bad += [
        (p.relative_to(SRC).as_posix(), n)
        for p in (SRC / "events").rglob("*.py")
        for n in imports_of(p)
        if any(
            n == a or n.startswith(a + ".")
            for a in ("deskbase.api", "deskbase.web", "deskbase.cli", "fastapi")
        )
    ]
    assert bad == []


def test_mail_stays_out_of_core_and_support_and_its_rules_are_pure() -> None:
    """The email channel is built on the core (and the support template's fields), never the other way
    round; it is no adapter of the web, the API or the replica; its threading and folding rules are pure."""
    bad = [
        (p.relative_to(SRC).as_posix(), n)
        for pkg in ("core", "support", "events")
        for p in (SRC / pkg).rglob("*.py")
        for n in imports_of(p)
        if n == "deskbase.mail" or n.startswith("deskbase.mail.")
    ]
    bad += [
        (p.relative_to(SRC).as_posix(), n)
        for p in (SRC / "mail").rglob("*.py")
        for n in imports_of(p)
        if any(
            n == a or n.startswith(a + ".")
            for a in ("deskbase.api", "deskbase.web", "deskbase.cli", "deskbase.analytics", "fastapi")
        )
    ]
    bad += [
        (f"mail/{name}", n)
        for name in ("rules.py", "fold.py")
        for n in imports_of(SRC / "mail" / name)
        if n.startswith("deskbase") or n.split(".")[0] not in ("__future__", "re")
    ]
    assert bad == []


def test_no_bare_now_outside_the_clock() -> None:
    offenders = []
    for p in SRC.rglob("*.py"):
        if p.name == "clock.py":
            continue
        text = p.read_text()
        if "datetime.now(" in text or "datetime.utcnow(" in text:
            offenders.append(p.relative_to(SRC).as_posix())
    assert offenders == []


def test_core_declares_no_support_tables() -> None:
    """The support domain's tables live in support/tables.py: core knows no support domain, in data as in code."""
    tree = ast.parse((SRC / "core" / "tables.py").read_text())
    names = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "Table"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    assert "records" in names  # the walk sees the core's own tables
    assert [n for n in names if n.startswith("sla_")] == []


def test_mcp_is_an_adapter_beside_the_others() -> None:
    """The MCP adapter calls the core, the support domain and the replica (and shares the API's request
    models, error bodies and rate limiter); no other adapter or domain package imports it, and it imports
    neither the console nor the CLI. Only the composition roots (server, the `deskbase mcp` command) mount it."""
    bad = [
        (p.relative_to(SRC).as_posix(), n)
        for p in (SRC / "mcp").rglob("*.py")
        for n in imports_of(p)
        if any(n == a or n.startswith(a + ".") for a in ("deskbase.web", "deskbase.cli"))
    ]
    bad += [
        (p.relative_to(SRC).as_posix(), n)
        for pkg in ("core", "support", "api", "web", "analytics", "events", "mail")
        for p in (SRC / pkg).rglob("*.py")
        for n in imports_of(p)
        if n == "deskbase.mcp" or n.startswith("deskbase.mcp.")
    ]
    assert bad == []


def test_notifications_stay_out_of_the_packages_they_are_built_on() -> None:
    """Notifications are derived from the core, the support domain and the mail outbox: none of those (nor
    the events package) imports them, and they are no adapter of the web, the CLI or the replica."""
    bad = [
        (p.relative_to(SRC).as_posix(), n)
        for pkg in ("core", "support", "events", "mail", "analytics")
        for p in (SRC / pkg).rglob("*.py")
        for n in imports_of(p)
        if n == "deskbase.notify" or n.startswith("deskbase.notify.")
    ]
    bad += [
        (p.relative_to(SRC).as_posix(), n)
        for p in (SRC / "notify").rglob("*.py")
        for n in imports_of(p)
        if any(
            n == a or n.startswith(a + ".")
            for a in (
                "deskbase.api",
                "deskbase.web",
                "deskbase.cli",
                "deskbase.analytics",
                "fastapi",
                "starlette",
            )
        )
    ]
    assert bad == []

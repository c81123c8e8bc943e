"""Text colours axe cannot check: the SLA chips carry `role="img"` (their label is the accessible text), so a
faint chip passes axe; their ink must still reach WCAG 1.4.3 (4.5:1) on the panel they sit on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).parents[2] / "src/deskbase/web/static/console.css").read_text()


def colour(value: str) -> tuple[float, float, float]:
    var = re.fullmatch(r"var\((--[\w-]+)\)", value.strip())
    if var:
        value = re.search(rf"{var.group(1)}:\s*(#[0-9a-fA-F]{{3,6}})\b", CSS).group(1)  # type: ignore[union-attr]
    h = value.strip().lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def luminance(rgb: tuple[float, float, float]) -> float:
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(colour(a)), luminance(colour(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("selector", [".chip-cancelled, .chip-none"])
def test_transparent_chips_are_readable_on_the_panel(selector: str) -> None:
    rule = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert rule, f"{selector} not found"
    ink = re.search(r"(?<![-\w])color:\s*([^;]+);", rule.group(1))
    assert ink
    assert contrast(ink.group(1), "var(--panel)") >= 4.5


@pytest.mark.parametrize("selector", [".dchip-queued", ".dchip-sent", ".dchip-failed, .dchip-bounced"])
def test_delivery_chips_are_readable_on_their_own_background(selector: str) -> None:
    """The chips are text (not role=img), but each state's ink on its fill is pinned here too: a palette
    change must keep every state at 4.5:1."""
    rule = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert rule, f"{selector} not found"
    ink = re.search(r"(?<![-\w])color:\s*([^;]+);", rule.group(1))
    fill = re.search(r"background:\s*([^;]+);", rule.group(1))
    assert ink and fill
    assert contrast(ink.group(1), fill.group(1)) >= 4.5
    assert contrast(ink.group(1), "var(--panel)") >= 4.5  # the chip's border and icon on the message


def palette(dark: bool) -> dict[str, str]:
    """The colour variables of the light theme (the first :root), or of the dark one (prefers-color-scheme)."""
    block = CSS.split("@media (prefers-color-scheme: dark)")[1] if dark else CSS.split("}")[0]
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})\b", block.split("}")[0] if dark else block))


#: text colour on background, as the stylesheet pairs them (chips, badges, notes, buttons, links)
PAIRS = [
    ("--ink", "--panel"),
    ("--ink", "--bg"),
    ("--muted", "--panel"),
    ("--muted", "--bg"),
    ("--muted", "--soft"),
    ("--accent", "--panel"),
    ("--accent", "--bg"),
    ("--accent-ink", "--accent"),
    ("--run", "--run-bg"),
    ("--soon", "--soon-bg"),
    ("--paused", "--paused-bg"),
    ("--breach", "--breach-bg"),
    ("--met", "--met-bg"),
    ("--prog", "--prog-bg"),
    ("--low", "--low-bg"),
    ("--soft-ink", "--soft"),
    ("--on-breach", "--breach"),
    ("--ink", "--note-bg"),
    ("--cust-ink", "--panel"),
    ("--agent-ink", "--panel"),
    ("--ink", "--hi"),
    ("--ink", "--field"),
]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_both_themes_pair_their_colours_readably(dark: bool) -> None:
    """Issue #17 item 10: every text/background pair of the theme reaches 4.5:1 (WCAG 1.4.3)."""
    p = palette(dark)
    low = {
        f"{ink} on {bg}": round(contrast(p[ink], p[bg]), 2)
        for ink, bg in PAIRS
        if contrast(p[ink], p[bg]) < 4.5
    }
    assert low == {}

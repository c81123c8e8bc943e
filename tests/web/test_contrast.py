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

"""The created-vs-solved chart as SVG geometry: paired bars per day on the left axis, the backlog as a line with
dots on the right, axes rounded to 1, 2 or 5 times a power of ten."""

from __future__ import annotations

import math

from deskbase.web.dashboard_pages import Chart, ChartBar, ChartDot, ChartTick, TrendDay


def _nice(top: float) -> float:
    """The axis maximum: `top` rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    if top <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= top)


def _ticks(top: float) -> tuple[float, ...]:
    """0, the middle (when it is a whole number) and the top of an axis."""
    return (0, top / 2, top) if (top / 2).is_integer() else (0, top)


def trend_chart(days: list[TrendDay]) -> Chart | None:
    """Created and solved as paired bars per day on the left axis, the backlog as a line on the right."""
    if not days:
        return None
    width, height = 900, 260
    left, right, top, bottom = 48.0, width - 60.0, 14.0, height - 30.0
    slot = (right - left) / len(days)
    counts = _nice(max(max(d.created, d.solved) for d in days))
    backlog = _nice(max(d.backlog for d in days))

    def y(value: float, scale: float) -> float:
        return round(bottom - (bottom - top) * value / scale, 1)

    bars, dots, points = [], [], []
    bar = max(slot * 0.36, 0.6)
    for i, d in enumerate(days):
        x0 = left + i * slot + slot * 0.14
        for n, (series, value) in enumerate((("created", d.created), ("solved", d.solved))):
            bars.append(
                ChartBar(
                    round(x0 + n * bar, 1),
                    y(value, counts),
                    round(bar, 2),
                    round(bottom - y(value, counts), 1),
                    series,
                    f"{d.label}: {value:,} {series}",
                )
            )
        cx, cy = round(left + (i + 0.5) * slot, 1), y(d.backlog, backlog)
        points.append(f"{cx},{cy}")
        dots.append(ChartDot(cx, cy, f"{d.label}: backlog {d.backlog:,}"))
    step = max(1, math.ceil(len(days) / 7))
    return Chart(
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        bars=bars,
        line=" ".join(points),
        dots=dots,
        left_ticks=[ChartTick(y(v, counts), f"{v:,.0f}") for v in _ticks(counts)],
        right_ticks=[ChartTick(y(v, backlog), f"{v:,.0f}") for v in _ticks(backlog)],
        day_ticks=[
            ChartTick(round(left + (i + 0.5) * slot, 1), days[i].label.split(" ", 1)[1])
            for i in range(len(days) - 1, -1, -step)
        ],
    )

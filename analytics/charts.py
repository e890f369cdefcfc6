"""Chart geometry for the admin dashboard, drawn as inline SVG by its templates: no
JavaScript, no build step, nothing fetched from elsewhere. Each function turns figures
into coordinates and labels; the templates only place them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

WIDTH = 640
HEIGHT = 200
LEFT = 56  # room for the value axis labels
BOTTOM = 24  # room for the date labels
TOP = 10
RIGHT = 10


def nice_ceiling(value: float) -> float:
    """A round number at least `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def short_number(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class XLabel:
    x: float
    label: str


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT
    ticks: list[Tick] = field(default_factory=list)
    x_labels: list[XLabel] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # SVG polyline "points", one per unbroken run
    dots: list[Bar] = field(default_factory=list)  # x, y and a title; width/height unused
    empty: bool = True
    unit: str = ""


def _ticks(maximum: float, *, percent: bool = False) -> list[Tick]:
    plot = HEIGHT - BOTTOM - TOP
    ticks = []
    for step in range(5):
        value = maximum * step / 4
        label = f"{value * 100:.0f} %" if percent else short_number(value)
        ticks.append(Tick(y=round(HEIGHT - BOTTOM - plot * step / 4, 1), label=label))
    return ticks


def _x_labels(days: Sequence[date], slot: float) -> list[XLabel]:
    every = max(1, math.ceil(len(days) / 8))
    return [
        XLabel(x=round(LEFT + slot * (index + 0.5), 1), label=day.strftime("%d %b"))
        for index, day in enumerate(days)
        if index % every == 0 or index == len(days) - 1
    ]


def bar_chart(title: str, days: Sequence[date], values: Sequence[float], *, unit: str = "") -> Chart:
    """One bar per day; days without activity are gaps on the axis."""
    chart = Chart(title=title, unit=unit)
    maximum = nice_ceiling(max(values, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    plot = HEIGHT - BOTTOM - TOP
    chart.ticks = _ticks(maximum)
    chart.x_labels = _x_labels(days, slot)
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        height = plot * value / maximum
        chart.bars.append(
            Bar(
                x=round(LEFT + slot * index + slot * 0.15, 1),
                y=round(HEIGHT - BOTTOM - height, 1),
                width=round(max(1.0, slot * 0.7), 1),
                height=round(height, 1),
                title=f"{day:%Y-%m-%d}: {short_number(value)}{unit}",
            )
        )
    chart.empty = not any(values)
    return chart


def line_chart(
    title: str, days: Sequence[date], values: Sequence[float | None], *, unit: str = "", percent: bool = False
) -> Chart:
    """A line over the days that have a value; a day without one breaks the line."""
    chart = Chart(title=title, unit=unit)
    present = [value for value in values if value is not None]
    maximum = 1.0 if percent else nice_ceiling(max(present, default=0))
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    plot = HEIGHT - BOTTOM - TOP
    chart.ticks = _ticks(maximum, percent=percent)
    chart.x_labels = _x_labels(days, slot)
    run: list[str] = []
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        if value is None:
            if run:
                chart.lines.append(" ".join(run))
            run = []
            continue
        x = round(LEFT + slot * (index + 0.5), 1)
        y = round(HEIGHT - BOTTOM - plot * value / maximum, 1)
        run.append(f"{x},{y}")
        shown = f"{value * 100:.0f} %" if percent else f"{short_number(value)}{unit}"
        chart.dots.append(Bar(x=x, y=y, width=0, height=0, title=f"{day:%Y-%m-%d}: {shown}"))
    if run:
        chart.lines.append(" ".join(run))
    chart.empty = not present
    return chart


@dataclass
class RankedBar:
    label: str
    value: float
    value_label: str
    width: float  # percent of the available width


def ranking(items: Sequence[tuple[str, float]], *, unit: str = "") -> list[RankedBar]:
    """Horizontal bars, widths relative to the largest value."""
    maximum = max((value for _, value in items), default=0) or 1
    return [
        RankedBar(
            label=label,
            value=value,
            value_label=f"{short_number(value)}{unit}",
            width=round(100 * value / maximum, 1),
        )
        for label, value in items
    ]

"""Charts as inline SVG, drawn in Python: the report stays one file that renders offline, with no script.

Each function takes numbers (and already-chosen colour slots) and returns a :class:`Chart`: the SVG markup,
what it shows in words (its ``<title>`` and ``aria-label``, for screen readers and tooltips) and how many
bars it drew (what the tests count). Geometry uses a ``viewBox`` stretched to the container's width
(``preserveAspectRatio="none"``), so a chart fits a phone and a desktop alike; text stays in HTML around
it, where it wraps and scales. The only text inside an SVG is its title, escaped here: titles carry theme
labels, which are scraped. Colours are CSS classes (``slot-N`` for audiences), shared with the legends.

Pure: no I/O, nothing but strings and numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
"""Unicode blocks for text sparklines (Markdown, plain text): the lowest means zero or near it."""


@dataclass(frozen=True)
class Chart:
    """An inline SVG and its text equivalent."""

    svg: Markup
    label: str  # what the chart shows, in words with its numbers
    bars: int  # bars (or bar groups) drawn


@dataclass(frozen=True)
class Segment:
    """One coloured part of a bar: an audience's count in a period, or its share of a theme."""

    name: str
    slot: int
    value: float


def _num(value: float) -> str:
    """Coordinates with two decimals at most: enough precision, fewer bytes."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _svg(css_class: str, width: float, height: float, label: str, body: list[str], decorative: bool = False) -> Markup:
    """The SVG element: an image to assistive technology, labelled, with a title that doubles as tooltip; or,
    when ``decorative`` (its numbers are printed right beside it), hidden from assistive technology."""
    box = f'class="{css_class}" viewBox="0 0 {_num(width)} {_num(height)}" preserveAspectRatio="none" focusable="false"'
    if decorative:
        return Markup(f'<svg {box} aria-hidden="true">{"".join(body)}</svg>')  # noqa: S704 (numbers and our classes)
    title = escape(label)
    return Markup(  # noqa: S704 (the title is escaped; everything else is numbers and our own class names)
        f'<svg {box} role="img" aria-label="{title}"><title>{title}</title>{"".join(body)}</svg>'
    )


def _rect(css_class: str, x: float, y: float, width: float, height: float) -> str:
    return f'<rect class="{css_class}" x="{_num(x)}" y="{_num(y)}" width="{_num(width)}" height="{_num(height)}"/>'


def stacked_columns(
    periods: Sequence[str], stacks: Sequence[Sequence[Segment]], label: str, partial_last: bool = False
) -> Chart:
    """Columns over time, each stacked by audience (e.g. mentions per week): one ``<g class="bar">`` per
    period, whose ``<title>`` says the period and its counts. Empty periods keep their place, so gaps show.

    Args:
        periods: the period names (``"week of 2026-11-16"``), oldest first.
        stacks: per period, its segments bottom-up; zero segments are not drawn.
        label: what the chart shows, in words (scraped text allowed: it is escaped).
        partial_last: the last period is still running (drawn lighter, so a short bar is not read as a drop).
    """
    if len(periods) != len(stacks):
        raise ValueError(f"stacked_columns: {len(periods)} periods but {len(stacks)} stacks")
    height, step, width = 50.0, 10.0, 7.0
    top = max([sum(max(s.value, 0) for s in stack) for stack in stacks] + [1])
    body = [f'<line class="axis" x1="0" y1="{_num(height)}" x2="{_num(step * len(periods))}" y2="{_num(height)}"/>']
    for index, (period, stack) in enumerate(zip(periods, stacks, strict=True)):
        total = sum(max(s.value, 0) for s in stack)
        parts = ", ".join(f"{s.name} {_count(s.value)}" for s in stack if s.value > 0)
        tip = escape(f"{period}: {_count(total)}" + (f" ({parts})" if parts else ""))
        x, y, rects = index * step + (step - width) / 2, height, []
        for segment in stack:
            if segment.value <= 0:
                continue
            h = segment.value / top * (height - 2)
            y -= h
            rects.append(_rect(f"slot-{segment.slot}", x, y, width, h))
        css = "bar partial" if partial_last and index == len(periods) - 1 else "bar"
        body.append(f'<g class="{css}"><title>{tip}</title>{"".join(rects)}</g>')
    return Chart(_svg("chart-columns", step * max(len(periods), 1), height, label, body), label, len(periods))


def sparkline(values: Sequence[int], slot: int, label: str) -> Chart:
    """A word-sized column chart (one audience's mentions per period): a zero shows as a stub, so every
    period is a visible ``rect.bar`` and a quiet week reads as quiet, not as missing."""
    height, step, width = 20.0, 4.0, 3.0
    top = max([*values, 1])
    body = []
    for index, value in enumerate(values):
        h = max(value / top * height, 1.0)
        css = f"bar slot-{slot}" if value > 0 else "bar zero"
        body.append(_rect(css, index * step, height - h, width, h))
    return Chart(
        _svg("chart-spark", step * max(len(values), 1) - (step - width), height, label, body), label, len(values)
    )


def stacked_bar(segments: Sequence[Segment], label: str) -> Chart:
    """One horizontal bar split into shares (an audience mix); widths are percent of the bar."""
    total = sum(max(s.value, 0) for s in segments)
    body, x, drawn = [], 0.0, 0
    for segment in segments:
        if segment.value <= 0 or not total:
            continue
        w = 100 * segment.value / total
        body.append(f'<rect class="bar slot-{segment.slot}" x="{_num(x)}" y="0" width="{_num(w)}" height="10"/>')
        x += w
        drawn += 1
    body += [
        f'<line class="gap" x1="{_num(edge)}" y1="0" x2="{_num(edge)}" y2="10"/>' for edge in _edges(segments, total)
    ]
    return Chart(_svg("chart-stack", 100, 10, label, body), label, drawn)


def _edges(segments: Sequence[Segment], total: float) -> list[float]:
    """Where segments meet, so neighbours of similar colour stay apart."""
    edges, x = [], 0.0
    for segment in segments:
        if segment.value > 0 and total:
            x += 100 * segment.value / total
            edges.append(x)
    return edges[:-1]


def meter(share: float, css_class: str, label: str) -> Chart:
    """A single bar filled to ``share`` (0..1) of its track: one row of the signal mix, whose name and percent
    are printed beside it (so the SVG itself is decorative)."""
    w = 100 * min(max(share, 0.0), 1.0)
    body = ['<rect class="track" x="0" y="0" width="100" height="8"/>']
    body.append(f'<rect class="bar {css_class}" x="0" y="0" width="{_num(w)}" height="8"/>')
    return Chart(_svg("chart-meter", 100, 8, label, body, decorative=True), label, 1)


def ratio_columns(points: Sequence[tuple[str, float]], label: str, reference: float = 1.0) -> Chart:
    """Columns of a ratio over time (a hypothesis's rate ÷ its baseline rate) with a dashed line at
    ``reference`` (1.0: where it stood when proposed). Columns above the line are ``up``, below ``down``."""
    height, step, width = 50.0, 10.0, 7.0
    slots = max(len(points), 6)  # a short series stays narrow instead of stretching two bars across the page
    top = max([value for _, value in points] + [reference * 1.5]) * 1.1
    body = []
    for index, (name, value) in enumerate(points):
        h = max(value, 0) / top * height
        css = "up" if value >= reference else "down"
        tip = escape(f"{name}: {value:.1f}× baseline")
        x = index * step + (step - width) / 2
        body.append(
            f'<g class="bar {css}"><title>{tip}</title><rect x="{_num(x)}" y="{_num(height - h)}" '
            f'width="{_num(width)}" height="{_num(h)}"/></g>'
        )
    y = height - reference / top * height
    body.append(f'<line class="reference" x1="0" y1="{_num(y)}" x2="{_num(step * slots)}" y2="{_num(y)}"/>')
    return Chart(_svg("chart-columns chart-ratio", step * slots, height, label, body), label, len(points))


def spark_text(values: Sequence[float]) -> str:
    """``▁▂▅█``: a sparkline in text for Markdown and plain-text readers; zero is always the lowest block."""
    top = max([*values, 0])
    if top <= 0:
        return SPARK_BLOCKS[0] * len(values)
    last = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[0 if v <= 0 else max(1, round(v / top * last))] for v in values)


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"

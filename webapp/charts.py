"""Charts drawn on the server as SVG: no charting library, no script.

The CSP (webapp/security.py) allows styles only from our stylesheets, so a
chart carries no ``style`` attribute: colours and dashes come from CSS
classes in static/css/app.css, and the few things a chart must never lose
(lines are not filled) are SVG presentation attributes, which the CSP does
not govern. Every chart has a <title> and <desc> for screen readers and is
followed by a visually hidden table of the same numbers. It scales to its
container (viewBox, width 100 %), so it fits a phone.

The output is well-formed XML (unit tests parse it), and every text in it
is escaped here, so a video title holding markup stays text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 52  # margins: room for the axis labels
Y_TICKS = 4


@dataclass(frozen=True)
class DayValue:
    """One day of the chart: what happened and what the control predicts
    would have happened without the change (None where it says nothing)."""

    day: date
    actual: float | None
    predicted: float | None


@dataclass(frozen=True)
class ExperimentChart:
    """What the experiment chart shows. ``cooling_until`` is the cooling
    period's last day; ``post_from``..``post_until`` the post-window (None
    while there is no whole post week yet)."""

    chart_id: str  # unique on the page: ids of <title>/<desc> derive from it
    title: str
    metric_label: str  # e.g. "Engaged views a day"
    points: Sequence[DayValue]
    change_day: date
    cooling_until: date
    post_from: date | None = None
    post_until: date | None = None


def day_values(counterfactual: Sequence[Sequence[object] | Mapping[str, object]]) -> list[DayValue]:
    """The chart's days from a verdict's counterfactual, as the verdict gives
    it ((day, actual, predicted) with dates) or as stored in JSON (ISO date
    strings; a list or an object per day): sorted by day, one entry per day."""
    by_day: dict[date, DayValue] = {}
    for row in counterfactual:
        if isinstance(row, Mapping):
            day, actual, predicted = row.get("day"), row.get("actual"), row.get("predicted")
        else:
            day, actual, predicted = row[0], row[1], row[2]
        when = day if isinstance(day, date) else date.fromisoformat(str(day))
        by_day[when] = DayValue(when, _number(actual), _number(predicted))
    return [by_day[d] for d in sorted(by_day)]


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def experiment_chart(chart: ExperimentChart) -> Markup:
    """A <figure> holding the SVG and its table alternative."""
    # Safe: every text that reaches the markup went through escape() here.
    return Markup(f'<figure class="chart">{experiment_svg(chart)}{data_table(chart)}</figure>')  # noqa: S704


def experiment_svg(chart: ExperimentChart) -> str:
    first, last = _day_range(chart)
    top = _nice_ceiling(max((v for p in chart.points for v in (p.actual, p.predicted) if v is not None), default=0.0))
    scale = _Scale(first, last, top)
    title_id, desc_id = f"{chart.chart_id}-title", f"{chart.chart_id}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'class="chart-svg" role="img" aria-labelledby="{title_id} {desc_id}">',
        f'<title id="{title_id}">{escape(chart.title)}</title>',
        f'<desc id="{desc_id}">{escape(_description(chart))}</desc>',
        *_bands(chart, scale),
        *_y_axis(scale, chart.metric_label),
        *_x_axis(chart, scale),
        *_series(chart.points, "actual", scale),
        *_series(chart.points, "predicted", scale),
        *_legend(),
        "</svg>",
    ]
    return "".join(parts)


def data_table(chart: ExperimentChart) -> str:
    """The chart's numbers as a table, for screen readers (hidden on screen).
    The hiding is on a wrapper: a table never gets narrower than its cells,
    so a hidden table itself widened the page on a phone."""
    rows = "".join(
        f'<tr><th scope="row">{p.day.isoformat()}</th><td>{_cell(p.actual)}</td><td>{_cell(p.predicted)}</td>'
        f"<td>{escape(_phase(chart, p.day))}</td></tr>"
        for p in chart.points
    )
    return (
        f'<div class="visually-hidden"><table><caption>{escape(chart.title)}: {escape(chart.metric_label.lower())}, '
        "actual and predicted without the change</caption>"
        '<thead><tr><th scope="col">Day</th><th scope="col">Actual</th>'
        '<th scope="col">Predicted without the change</th><th scope="col">Period</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _phase(chart: ExperimentChart, day: date) -> str:
    if day < chart.change_day:
        return "before the change"
    if day == chart.change_day:
        return "change day"
    if day <= chart.cooling_until:
        return "cooling"
    if chart.post_from and chart.post_until and chart.post_from <= day <= chart.post_until:
        return "measured"
    return "after the change"


def _description(chart: ExperimentChart) -> str:
    text = (
        f"{chart.metric_label} from {chart.points[0].day.isoformat() if chart.points else '–'} to "
        f"{chart.points[-1].day.isoformat() if chart.points else '–'}: the solid line is what happened, the dashed "
        f"line what the control videos predict without the change. The change was made on "
        f"{chart.change_day.isoformat()}; the shaded band up to {chart.cooling_until.isoformat()} is the cooling "
        "period"
    )
    if chart.post_from and chart.post_until:
        text += f", and {chart.post_from.isoformat()} to {chart.post_until.isoformat()} is the measured period"
    return text + "."


class _Scale:
    """Days and values to SVG coordinates."""

    def __init__(self, first: date, last: date, top: float) -> None:
        self.first, self.last, self.top = first, last, top
        self.days = max(1, (last - first).days)

    def x(self, day: date) -> float:
        return round(LEFT + (day - self.first).days / self.days * (WIDTH - LEFT - RIGHT), 1)

    def y(self, value: float) -> float:
        return round(HEIGHT - BOTTOM - value / self.top * (HEIGHT - TOP - BOTTOM), 1)


def _day_range(chart: ExperimentChart) -> tuple[date, date]:
    days = [p.day for p in chart.points] + [chart.change_day, chart.cooling_until]
    days += [d for d in (chart.post_from, chart.post_until) if d is not None]
    return min(days), max(days)


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten times Y_TICKS at or above ``value``."""
    if value <= 0:
        return float(Y_TICKS)
    step = value / Y_TICKS
    power = 10 ** math.floor(math.log10(step))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= step:
            return factor * power * Y_TICKS
    return 10 * power * Y_TICKS  # pragma: no cover - the loop's last factor always fits


def _bands(chart: ExperimentChart, scale: _Scale) -> list[str]:
    y0, y1 = TOP, HEIGHT - BOTTOM
    cooling_start, cooling_end = scale.x(chart.change_day), scale.x(chart.cooling_until + timedelta(days=1))
    parts = [
        f'<rect class="chart-cooling" x="{cooling_start}" y="{y0}" width="{max(0.0, cooling_end - cooling_start):.1f}" '
        f'height="{y1 - y0}"><title>Cooling period</title></rect>'
    ]
    if chart.post_from and chart.post_until:
        start, end = scale.x(chart.post_from), scale.x(chart.post_until)
        parts.append(
            f'<rect class="chart-post" x="{start}" y="{y0}" width="{max(0.0, end - start):.1f}" height="{y1 - y0}">'
            "<title>Measured period</title></rect>"
        )
    x = scale.x(chart.change_day)
    parts.append(f'<line class="chart-change" x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" stroke="currentColor"/>')
    parts.append(f'<text class="chart-note" x="{x + 4}" y="{y0 + 12}">Change</text>')
    return parts


def _y_axis(scale: _Scale, label: str) -> list[str]:
    parts = []
    for i in range(Y_TICKS + 1):
        value = scale.top * i / Y_TICKS
        y = scale.y(value)
        parts.append(f'<line class="chart-grid" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}"/>')
        parts.append(f'<text class="chart-tick" x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{value:,.0f}</text>')
    middle = (TOP + HEIGHT - BOTTOM) / 2
    parts.append(
        f'<text class="chart-axis-label" x="14" y="{middle}" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle})">{escape(label)}</text>'
    )
    return parts


def _x_axis(chart: ExperimentChart, scale: _Scale) -> list[str]:
    base = HEIGHT - BOTTOM
    parts = [
        f'<line class="chart-axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="currentColor"/>'
    ]
    for day, anchor in ((scale.first, "start"), (chart.change_day, "middle"), (scale.last, "end")):
        parts.append(
            f'<text class="chart-tick" x="{scale.x(day)}" y="{base + 16}" text-anchor="{anchor}">'
            f"{day.strftime('%b')} {day.day}</text>"
        )
    parts.append(
        f'<text class="chart-axis-label" x="{(LEFT + WIDTH - RIGHT) / 2}" y="{base + 34}" '
        'text-anchor="middle">Day</text>'
    )
    return parts


def _series(points: Sequence[DayValue], field: str, scale: _Scale) -> list[str]:
    """One polyline per run of consecutive days with a value: a missing day
    is a gap in the line, never a zero."""
    runs: list[list[str]] = []
    previous: date | None = None
    for point in points:
        value = getattr(point, field)
        if value is None:
            previous = None
            continue
        if previous is None or (point.day - previous).days > 1:
            runs.append([])
        runs[-1].append(f"{scale.x(point.day)},{scale.y(value)}")
        previous = point.day
    return [
        f'<polyline class="chart-{field}" fill="none" data-points="{len(run)}" points="{" ".join(run)}"/>'
        for run in runs
    ]


def _legend() -> list[str]:
    y = HEIGHT - 8
    entries = (("actual", "Actual"), ("predicted", "Predicted without the change"))
    parts, x = [], LEFT
    for field, label in entries:
        parts.append(f'<line class="chart-{field}" x1="{x}" y1="{y - 4}" x2="{x + 24}" y2="{y - 4}" fill="none"/>')
        parts.append(f'<text class="chart-tick" x="{x + 30}" y="{y}">{escape(label)}</text>')
        x += 30 + 8 * len(label)
    return parts


# -- a count a day, as bars (optimizations per day) ------------------------------------------------------------------


@dataclass(frozen=True)
class DailyCount:
    day: date
    count: int


def daily_bars(chart_id: str, title: str, counts: Sequence[DailyCount]) -> Markup:
    """A <figure> with one bar a day and a hidden table of the same counts."""
    top = _nice_ceiling(float(max((c.count for c in counts), default=0)))
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / max(1, len(counts))
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    total = sum(c.count for c in counts)
    desc = f"{total} in {len(counts)} days" + (
        f", from {counts[0].day.isoformat()} to {counts[-1].day.isoformat()}." if counts else "."
    )
    scale = _Scale(counts[0].day if counts else date.min, counts[-1].day if counts else date.min, top)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'class="chart-svg" role="img" aria-labelledby="{title_id} {desc_id}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(desc)}</desc>',
        *_y_axis(scale, "A day"),
    ]
    base = HEIGHT - BOTTOM
    for i, entry in enumerate(counts):
        y = scale.y(entry.count)
        parts.append(
            f'<rect class="chart-bar" x="{LEFT + i * slot + slot * 0.15:.1f}" y="{y}" width="{slot * 0.7:.1f}" '
            f'height="{base - y:.1f}"><title>{entry.day.isoformat()}: {entry.count}</title></rect>'
        )
    parts.append(
        f'<line class="chart-axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="currentColor"/>'
    )
    if counts:
        for entry, x, anchor in ((counts[0], LEFT, "start"), (counts[-1], WIDTH - RIGHT, "end")):
            parts.append(
                f'<text class="chart-tick" x="{x}" y="{base + 16}" text-anchor="{anchor}">'
                f"{entry.day.strftime('%b')} {entry.day.day}</text>"
            )
    parts.append("</svg>")
    rows = "".join(f'<tr><th scope="row">{c.day.isoformat()}</th><td>{c.count}</td></tr>' for c in counts)
    table = (
        f'<div class="visually-hidden"><table><caption>{escape(title)}</caption>'
        f'<thead><tr><th scope="col">Day</th><th scope="col">Count</th></tr></thead><tbody>{rows}</tbody></table></div>'
    )
    # Safe: the only text from outside, the title, went through escape() above.
    return Markup(f'<figure class="chart">{"".join(parts)}{table}</figure>')  # noqa: S704

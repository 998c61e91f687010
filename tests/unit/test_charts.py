"""The experiment chart (webapp/charts.py): well-formed SVG with one point a
day per line, gaps for missing days, the change day, cooling band and
measured period marked, accessible names, escaped text, no style attribute
(the CSP forbids them), and a table of the same numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

from webapp.charts import DailyCount, DayValue, ExperimentChart, daily_bars, day_values, experiment_chart

SVG = "{http://www.w3.org/2000/svg}"
CHANGE = date(2026, 10, 1)


def _chart(points: list[DayValue], title: str = "Engaged views of “Bread”", post: bool = True) -> ExperimentChart:
    return ExperimentChart(
        chart_id="exp-7",
        title=title,
        metric_label="Engaged views a day",
        points=points,
        change_day=CHANGE,
        cooling_until=CHANGE + timedelta(days=7),
        post_from=CHANGE + timedelta(days=8) if post else None,
        post_until=CHANGE + timedelta(days=21) if post else None,
    )


def _days(first: date, n: int, actual: float = 100.0, predicted: float | None = 90.0) -> list[DayValue]:
    return [DayValue(first + timedelta(days=i), actual + i, predicted) for i in range(n)]


def _xml(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314 - our own renderer's output, not untrusted data


def _parse(chart: ExperimentChart) -> ET.Element:
    return _xml(str(experiment_chart(chart)))


def _polylines(figure: ET.Element, series: str) -> list[ET.Element]:
    return [p for p in figure.iter(f"{SVG}polyline") if p.get("class") == f"chart-{series}"]


def _points(line: ET.Element) -> int:
    return len(line.get("points", "").split())


def test_one_point_a_day_per_line_and_the_marks():
    pre = _days(CHANGE - timedelta(days=28), 28)
    post = _days(CHANGE + timedelta(days=8), 14)
    figure = _parse(_chart(pre + post))
    assert figure.tag == "figure"
    # The cooling days are not in the series: each line has a gap there, not a zero.
    for series in ("actual", "predicted"):
        lines = _polylines(figure, series)
        assert [_points(line) for line in lines] == [28, 14]
        assert all(line.get("fill") == "none" for line in lines)
    classes = [e.get("class") for e in figure.iter()]
    assert classes.count("chart-cooling") == 1
    assert classes.count("chart-post") == 1
    assert classes.count("chart-change") == 1
    texts = " ".join(t.text or "" for t in figure.iter(f"{SVG}text"))
    assert "Day" in texts and "Engaged views a day" in texts and "Change" in texts
    assert "Oct 1" in texts  # the change day on the x axis


def test_marks_sit_where_their_days_are():
    points = _days(CHANGE - timedelta(days=28), 28) + _days(CHANGE + timedelta(days=8), 14)
    figure = _parse(_chart(points))
    change = next(e for e in figure.iter(f"{SVG}line") if e.get("class") == "chart-change")
    cooling = next(e for e in figure.iter(f"{SVG}rect") if e.get("class") == "chart-cooling")
    post = next(e for e in figure.iter(f"{SVG}rect") if e.get("class") == "chart-post")
    assert float(change.get("x1")) == float(cooling.get("x"))
    assert float(cooling.get("x")) + float(cooling.get("width")) <= float(post.get("x")) + 0.11
    first_actual = _polylines(figure, "actual")[0].get("points").split()[0]
    assert float(first_actual.split(",")[0]) < float(change.get("x1"))


def test_no_post_window_yet_draws_no_measured_band():
    figure = _parse(_chart(_days(CHANGE - timedelta(days=28), 31), post=False))
    assert not [e for e in figure.iter() if e.get("class") == "chart-post"]
    assert [_points(line) for line in _polylines(figure, "actual")] == [31]


def test_a_day_without_a_prediction_breaks_only_the_predicted_line():
    points = _days(CHANGE - timedelta(days=10), 10)
    points[4] = DayValue(points[4].day, 50.0, None)
    figure = _parse(_chart(points))
    assert [_points(line) for line in _polylines(figure, "actual")] == [10]
    assert [_points(line) for line in _polylines(figure, "predicted")] == [4, 5]


def test_accessible_name_description_and_table():
    points = _days(CHANGE - timedelta(days=3), 3) + _days(CHANGE + timedelta(days=8), 2)
    figure = _parse(_chart(points))
    svg = figure.find(f"{SVG}svg")
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "exp-7-title exp-7-desc"
    assert svg.get("viewBox") and svg.get("width") == "100%"
    assert svg.find(f"{SVG}title").get("id") == "exp-7-title"
    assert "cooling" in svg.find(f"{SVG}desc").text
    assert figure.find("div").get("class") == "visually-hidden"
    table = figure.find("div/table")
    rows = table.findall("tbody/tr")
    assert len(rows) == 5
    assert [c.text for c in rows[0]] == [(CHANGE - timedelta(days=3)).isoformat(), "100", "90", "before the change"]
    assert rows[-1].findall("td")[-1].text == "measured"


def test_text_is_escaped_and_there_is_no_style_attribute():
    html = str(experiment_chart(_chart(_days(CHANGE, 2), title='<script>alert(1)</script> & "x"')))
    assert "<script>" not in html
    figure = _xml(html)
    assert figure.find(f"{SVG}svg/{SVG}title").text == '<script>alert(1)</script> & "x"'
    assert all("style" not in e.attrib for e in figure.iter())


def test_empty_series_still_draws_axes():
    figure = _parse(_chart([]))
    assert not _polylines(figure, "actual")
    assert [e for e in figure.iter() if e.get("class") == "chart-change"]


def test_day_values_reads_the_stored_json_form():
    stored = [["2026-10-02", 12, 10.5], ["2026-10-01", "11", None], ["2026-10-02", 13, "nan"]]
    assert day_values(stored) == [
        DayValue(date(2026, 10, 1), 11.0, None),
        DayValue(date(2026, 10, 2), 13.0, None),
    ]


def test_daily_bars_one_bar_a_day_with_a_table():
    counts = [DailyCount(CHANGE + timedelta(days=i), i % 3) for i in range(30)]
    figure = _xml(str(daily_bars("per-day", "Optimizations <per> day", counts)))
    bars = [e for e in figure.iter(f"{SVG}rect") if e.get("class") == "chart-bar"]
    assert len(bars) == 30
    assert float(bars[0].get("height")) == 0  # a zero day is a bar of no height, still there
    assert float(bars[2].get("height")) > float(bars[1].get("height")) > 0
    assert figure.find(f"{SVG}svg/{SVG}title").text == "Optimizations <per> day"
    assert len(figure.findall("div/table/tbody/tr")) == 30
    assert all("style" not in e.attrib for e in figure.iter())


def test_day_values_reads_one_object_per_day_too():
    assert day_values([{"day": "2026-10-01", "actual": 3, "predicted": 2.5}]) == [DayValue(date(2026, 10, 1), 3.0, 2.5)]

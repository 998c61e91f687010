"""What judging an experiment reads: the changed video's daily numbers and
those of its control videos. Each function runs on the caller's cursor.

The control set is fixed by the change, not by what happened after it: the
channel's other videos published before the pre-window starts and with no
change applied through us (a suggestion or a restore) between the start of
the history (the days whose trend the verdict fits) and the end of the
window judged so far. A video published
inside the window, or changed in it, would move the control by itself.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from optimizer import suggestions
from reliability.db import Cursor

# video id -> {day: count}; a day with no row is missing (no data), never zero.
Series = dict[int, dict[date, float]]


def control_videos(
    cur: Cursor, *, channel_id: int, treated_id: int, published_before: date, first_day: date, last_day: date
) -> list[int]:
    """The fixed control set for a change whose window runs from ``first_day`` to ``last_day``: published
    before ``published_before`` (the pre-window's first day), changed by no one through us in the window."""
    cur.execute(
        """SELECT v.id FROM videos v
           WHERE v.channel_id = %(c)s AND v.id <> %(t)s AND v.published_at < %(published)s::date
             AND NOT EXISTS (SELECT 1 FROM suggestions s
                             WHERE s.video_id = v.id AND s.status = %(applied)s
                               AND (s.applied_at AT TIME ZONE 'UTC')::date BETWEEN %(first)s AND %(last)s)
           ORDER BY v.id""",
        {
            "c": channel_id,
            "t": treated_id,
            "published": published_before,
            "first": first_day,
            "last": last_day,
            "applied": suggestions.APPLIED,
        },
    )
    return [row["id"] for row in cur.fetchall()]


def daily_series(cur: Cursor, video_ids: list[int], first_day: date, last_day: date) -> dict[str, Series]:
    """Each video's daily 'engaged_views' and 'views' in the window (one query).
    A day whose engaged views YouTube did not report is missing from that series only."""
    series: dict[str, Series] = {"engaged_views": defaultdict(dict), "views": defaultdict(dict)}
    if not video_ids:
        return {metric: {} for metric in series}
    cur.execute(
        """SELECT video_id, day, views, engaged_views FROM video_daily_stats
           WHERE video_id = ANY(%s) AND day BETWEEN %s AND %s""",
        (video_ids, first_day, last_day),
    )
    for row in cur.fetchall():
        series["views"][row["video_id"]][row["day"]] = float(row["views"])
        if row["engaged_views"] is not None:
            series["engaged_views"][row["video_id"]][row["day"]] = float(row["engaged_views"])
    return {metric: dict(by_video) for metric, by_video in series.items()}

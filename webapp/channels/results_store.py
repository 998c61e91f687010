"""Queries for the channel's Results page: every experiment of the channel,
and the figures the product exists for. Three statements whatever the
number of experiments, each on the caller's cursor (the view owns the
transaction).

A change counts as judged once its experiment has ended with a verdict or
a lean (JUDGED: the experiment module's verdicts but 'not enough data'; an
interrupted one was never judged). The success rate is 'helped' ÷ judged:
a lean is not a success, and leaving out the inconclusive ones would
flatter it; the average lift is over the judged too, for the same reason
(only the changes that passed the bar would overstate it).
"""

from __future__ import annotations

from typing import Any

from optimizer import experiments, suggestions
from reliability.db import Cursor

# The sorts the page offers: query value -> ORDER BY (no user text reaches SQL).
SORTS = {
    "applied": "e.applied_at DESC, e.id DESC",
    "lift": "e.lift DESC NULLS LAST, e.applied_at DESC, e.id DESC",
    "state": "array_position(%(states)s::text[], e.status), e.applied_at DESC, e.id DESC",
}
DEFAULT_SORT = "applied"
JUDGED = tuple(state for state in experiments.VERDICTS if state != experiments.NOT_ENOUGH_DATA)
OPTIMIZATION_DAYS = 30  # the "optimizations per day" window
EXTRA_VIEWS_DAYS = 28  # the recent days whose engaged views the lift is applied to


def experiments_of(cur: Cursor, channel_id: int, sort: str = DEFAULT_SORT) -> list[dict[str, Any]]:
    """Every experiment of the channel with its video's title, sorted as the
    page asked (``sort`` is one of SORTS)."""
    cur.execute(
        f"""SELECT e.id, e.video_id, v.title AS video_title, e.status, e.outcome, e.lift, e.confidence,
                   e.interval_low, e.interval_high, e.look, e.applied_at, e.cooling_until, e.evaluated_at
              FROM experiments e JOIN videos v ON v.id = e.video_id
             WHERE v.channel_id = %(c)s
             ORDER BY {SORTS[sort]}""",  # noqa: S608 - the ORDER BY is one of SORTS, chosen by key
        {"c": channel_id, "states": list(experiments.STATES)},
    )
    return cur.fetchall()


def figures(cur: Cursor, channel_id: int) -> dict[str, Any]:
    """Changes applied, judged, helped, the success rate (helped ÷ judged),
    the average lift of judged changes, and the engaged views a week the
    judged changes are estimated to add: each one's lift applied
    to its video's last EXTRA_VIEWS_DAYS days of engaged views (views where
    engaged views are missing), the share lift/(1+lift) of them, per week."""
    cur.execute(
        """WITH ex AS (SELECT e.* FROM experiments e JOIN videos v ON v.id = e.video_id WHERE v.channel_id = %(c)s),
                judged AS (SELECT * FROM ex WHERE status IN %(judged)s)
           SELECT (SELECT count(*) FROM ex) AS applied,
                  (SELECT count(*) FROM judged) AS judged,
                  (SELECT count(*) FROM judged WHERE status = %(helped)s) AS helped,
                  (SELECT avg(lift) FROM judged WHERE lift IS NOT NULL) AS average_lift,
                  (SELECT sum(d.lift / (1 + d.lift) * recent.views * 7.0 / %(days)s)
                     FROM judged d
                     CROSS JOIN LATERAL (
                       SELECT coalesce(sum(coalesce(s.engaged_views, s.views)), 0) AS views
                         FROM video_daily_stats s
                        WHERE s.video_id = d.video_id
                          AND s.day > (SELECT max(day) FROM video_daily_stats m WHERE m.video_id = d.video_id)
                                      - %(days)s) recent
                    WHERE d.lift IS NOT NULL AND d.lift > -1) AS extra_views_per_week""",
        {
            "c": channel_id,
            "judged": JUDGED,
            "helped": experiments.HELPED,
            "days": EXTRA_VIEWS_DAYS,
        },
    )
    row = dict(cur.fetchone())
    row["success_rate"] = row["helped"] / row["judged"] if row["judged"] else None
    return row


def optimizations_per_day(cur: Cursor, channel_id: int) -> list[dict[str, Any]]:
    """Suggestions made for the channel's videos on each of the last
    OPTIMIZATION_DAYS days (UTC), zero days included; restores are not
    optimizations."""
    cur.execute(
        """SELECT d.day::date AS day, count(s.id) AS optimizations
             FROM generate_series((now() AT TIME ZONE 'UTC')::date - %(n)s + 1,
                                  (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d(day)
             LEFT JOIN (suggestions s JOIN videos v ON v.id = s.video_id AND v.channel_id = %(c)s)
                    ON (s.created_at AT TIME ZONE 'UTC')::date = d.day::date AND s.engine <> %(restore)s
            GROUP BY d.day ORDER BY d.day""",
        {"c": channel_id, "n": OPTIMIZATION_DAYS, "restore": suggestions.RESTORE_ENGINE},
    )
    return cur.fetchall()

"""Cron job: the demo channels' numbers go on as time passes.

Every demo channel gets its generated analytics up to today minus the
analytics lag (optimizer/demo_clock.py), before the judging job runs, so a
change applied on a demo channel is measured like one on a real channel.
``today`` is a parameter so tests can run it on chosen days; cron passes
nothing and the day is today in UTC. One transaction per channel.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from optimizer import demo_clock, demo_store
from reliability.db import transaction

log = logging.getLogger(__name__)


def extend_demo_channels(today: date | None = None) -> int:
    """Returns the number of daily rows added over all demo channels."""
    day = today or datetime.now(tz=UTC).date()
    with transaction() as cur:
        channels = demo_store.demo_channels(cur)
    added = 0
    for channel in channels:
        with transaction() as cur:
            added += demo_clock.extend(cur, channel, demo_clock.data_day(day))
    log.info("demo channels extended", extra={"day": day.isoformat(), "channels": len(channels), "rows": added})
    return added

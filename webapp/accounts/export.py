"""Download my data: a JSON file of the person's account and of what they
made on every channel they belong to (webapp/accounts/export_store.py says
what each section holds and leaves out).

Streamed, not built by a job: the file is written as it is read, one page of
one table per short transaction, so a large account costs neither memory
nor a long-held connection, and the person gets it at once, with no file
kept on the server to expire and no mail to send. The pages are not one
snapshot: a row changed during the download may show either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response
from flask_login import current_user, login_required

from reliability.db import transaction
from webapp.accounts import export_store
from webapp.extensions import limiter

bp = Blueprint("export", __name__)

FORMAT = "channel-optimizer-export/1"
PAGE_ROWS = 500


def _plain(value: Any) -> Any:
    """What json cannot write by itself: dates as ISO 8601, money as text (exact)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not exportable: {type(value).__name__}")


def _dump(value: Any) -> str:
    return json.dumps(value, default=_plain, ensure_ascii=False)


def _section(user: dict[str, Any], name: str) -> Iterator[str]:
    key = export_store.SECTIONS[name][1].split(".")[-1]
    after: Any = 0
    first = True
    while True:
        with transaction() as cur:
            rows = export_store.page(cur, name, user, after, PAGE_ROWS)
        for row in rows:
            yield ("" if first else ",\n") + _dump(dict(row))
            first = False
        if len(rows) < PAGE_ROWS:
            return
        after = rows[-1][key]


def export_lines(user: dict[str, Any], now: datetime) -> Iterator[str]:
    """The whole file, piece by piece: ``{"format", "exported_at", "tables": {name: [rows]}}``."""
    yield "{" + f'"format": {_dump(FORMAT)}, "exported_at": {_dump(now)}, "tables": {{'
    for index, name in enumerate(export_store.SECTIONS):
        yield ("" if index == 0 else ",") + f"\n{_dump(name)}: [\n"
        yield from _section(user, name)
        yield "]"
    yield "\n}}\n"


@bp.get("/settings/export")
@login_required
@limiter.limit("10 per hour")
def download() -> Response:
    # The generator runs after the view returns: it gets plain values, not current_user.
    user = {"id": current_user.id, "email": current_user.email}
    now = datetime.now(tz=UTC)
    return Response(
        export_lines(user, now),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="channel-optimizer-data-{now:%Y-%m-%d}.json"',
            "Cache-Control": "no-store",
        },
    )

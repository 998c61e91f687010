"""One route serves a page and its fragment: decide on the HX-Request header
(and the app adds ``Vary: HX-Request`` to every response)."""

from flask import flash, request
from werkzeug.wrappers import Response

from reliability.errors import AppError


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def refused(exc: AppError, back: Response) -> Response:
    """An action refused with a reason: htmx gets the JSON error (the shared
    handler, with the right status); a plain form sees the reason flashed
    on the page it is sent back to (``back``, a redirect response)."""
    if is_htmx():
        raise exc
    flash(exc.message, "error")
    return back

"""One route serves a page and its fragment: decide on the HX-Request header
(and the app adds ``Vary: HX-Request`` to every response)."""

from flask import request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"

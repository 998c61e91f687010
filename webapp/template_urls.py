"""``url_for`` for templates, remembered per process.

A page calls ``url_for`` about 30 times (navigation, assets, forms, the
pager), and each call walks werkzeug's URL map: about a tenth of the
channel page's CPU. For one endpoint with the same arguments under the same
script root the answer never changes while the process lives: the URL map
is fixed after start-up and the app sets no ``url_defaults`` and no
``SERVER_NAME``. So templates get a memoised ``url_for``; a call with an
option (``_external``, ``_anchor``, ...), a blueprint-relative endpoint
(``.name``), a value that cannot be a dict key, or no request around it
goes to Flask's own each time. Python code keeps calling Flask's directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, has_request_context, request

MAX_ENTRIES = 4096  # then forgotten all at once: the common ones come back at once


def init_template_urls(app: Flask) -> None:
    flask_url_for: Callable[..., str] = app.jinja_env.globals["url_for"]  # type: ignore[assignment]
    memo: dict[tuple[Any, ...], str] = {}

    def url_for(endpoint: str, **values: Any) -> str:
        if endpoint.startswith(".") or not has_request_context() or any(k.startswith("_") for k in values):
            return flask_url_for(endpoint, **values)
        # The type too: 1, 1.0 and True are equal keys but different URLs.
        key = (request.script_root, endpoint, *sorted((k, type(v), v) for k, v in values.items()))
        try:
            url = memo.get(key)
        except TypeError:  # a list or a dict among the values
            return flask_url_for(endpoint, **values)
        if url is None:
            url = flask_url_for(endpoint, **values)
            if len(memo) >= MAX_ENTRIES:
                memo.clear()
            memo[key] = url
        return url

    app.jinja_env.globals["url_for"] = url_for

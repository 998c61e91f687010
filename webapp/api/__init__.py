"""The JSON API, version 1, under /api/v1.

`bp` is the package's blueprint (no routes of its own); every resource
module is a child blueprint named after its file (`api.auth.token` lives in
webapp/api/auth.py), listed in `child_blueprints()`. Requests under /api/
authenticate with `Authorization: Bearer <token>` (a JWT access token or a
personal API token) or with the session cookie, and views read
`current_user` as pages do (webapp/api/gate.py). Every error under /api/ is
the envelope of webapp/api/errors.py.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from webapp.api.gate import require_login
from webapp.api.limits import limit_blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(require_login)
limit_blueprint(bp)  # per endpoint and per token (webapp/api/limits.py)


def child_blueprints() -> tuple[Blueprint, ...]:
    """The API's resource modules; add a module's `bp` here to mount it."""
    from webapp.api import auth, channels, experiments, openapi, optimize, runs, suggestions, usage, videos

    return (auth.bp, openapi.bp, channels.bp, videos.bp, optimize.bp, runs.bp, suggestions.bp, experiments.bp, usage.bp)


def init_api(app: Flask) -> None:
    """Call before the limiter and CSRF are bound: the bearer token must be
    known before either looks at the request (webapp/api/gate.py)."""
    from webapp.api.gate import init_gate
    from webapp.api.limits import init_limit_headers

    init_gate(app)
    init_limit_headers(app)

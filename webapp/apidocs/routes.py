"""Swagger UI (/api/docs) and ReDoc (/api/redoc) over /api/v1/openapi.json.

Both are vendored, pinned assets with SRI (webapp/__init__.py ASSETS), so
the pages work offline and a changed file is refused by the browser. They
get a CSP of their own, looser than the site's in one way only: both
libraries style their widgets with inline <style> elements and ReDoc runs
its search in a worker made from a blob, so style-src allows inline styles
and worker-src allows blob:. Scripts stay as strict as on every page: our
own files and the pinned CDN copies, no inline script, no eval. Public, like
the OpenAPI document they read: they hold no member's data.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp.extensions import talisman
from webapp.security import CDN, CONTENT_SECURITY_POLICY

bp = Blueprint("apidocs", __name__)

DOCS_CONTENT_SECURITY_POLICY = {
    **CONTENT_SECURITY_POLICY,
    "style-src": ["'self'", CDN, "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "worker-src": ["'self'", "blob:"],
}
_DOCS_CSP = {"content_security_policy": DOCS_CONTENT_SECURITY_POLICY, "content_security_policy_nonce_in": []}


@bp.get("/api/docs")
@talisman(**_DOCS_CSP)
def swagger() -> str:
    return render_template("apidocs/swagger.html")


@bp.get("/api/redoc")
@talisman(**_DOCS_CSP)
def redoc() -> str:
    return render_template("apidocs/redoc.html")

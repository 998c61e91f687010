"""The Flask application factory.

``create_app()`` reads and checks the configuration, binds the extensions,
registers blueprints, error handlers and CLI commands. It opens no database
or Redis connection: pools are made lazily in each process, after any fork.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from flask.typing import ResponseReturnValue
from jinja2 import FileSystemBytecodeCache

from optimizer.seo import ATTENTION_THRESHOLD, seo_band
from reliability import db
from reliability.config import DEFAULT_INSTANCE_DIR, ROOT, development_secret_key, load_settings
from reliability.logs import configure_logging
from reliability.observability import init_sentry
from reliability.pool import pool_settings_from_config

ASSETS = {
    # Pinned CDN assets with their Subresource Integrity hashes; the same
    # files are kept in static/vendor/ for offline development and tests, and
    # as the fallback a browser loads when the CDN copy does not arrive
    # (static/js/cdn-fallback.js).
    "htmx": {
        "url": "https://cdn.jsdelivr.net/npm/htmx.org@2.0.8/dist/htmx.min.js",
        "integrity": "sha384-/TgkGk7p307TH7EXJDuUlgG3Ce1UVolAOFopFekQkkXihi5u/6OCvVKyz1W+idaz",
        "local": "vendor/htmx-2.0.8.min.js",
    },
    "pico": {
        "url": "https://cdn.jsdelivr.net/npm/@picocss/pico@2.1.1/css/pico.min.css",
        "integrity": "sha384-L1dWfspMTHU/ApYnFiMz2QID/PlP1xCW9visvBdbEkOLkSSWsP6ZJWhPw6apiXxU",
        "local": "vendor/pico-2.1.1.min.css",
    },
    # The API's reference pages only (webapp/apidocs/routes.py).
    "swagger_ui": {
        "url": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/swagger-ui-bundle.js",
        "integrity": "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
        "local": "vendor/swagger-ui-bundle-5.35.0.min.js",
    },
    "swagger_ui_css": {
        "url": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/swagger-ui.css",
        "integrity": "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
        "local": "vendor/swagger-ui-5.35.0.min.css",
    },
    "redoc": {
        "url": "https://cdn.jsdelivr.net/npm/redoc@2.5.4/bundles/redoc.standalone.js",
        "integrity": "sha384-w447zOpYfw/1Tv/5AK9NfHTlQIqE3RVR6KY62jCyy9zNDgO64cMwGGP1Fj0zJVf5",
        "local": "vendor/redoc-standalone-2.5.4.min.js",
    },
}


class App(Flask):
    """Flask, with ``ensure_sync``'s answer kept per function: Flask asks
    ``inspect.iscoroutinefunction`` of every hook and view on every request
    (23 a page here), about 5% of a cached page's Python. Only plain
    functions are kept (what Flask returns for them is the function itself)."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        known: dict[Callable[..., Any], bool] = self.__dict__.setdefault("_plain_functions", {})
        try:
            if known[func]:
                return func
        except (KeyError, TypeError):  # not seen yet, or unhashable
            pass
        made = super().ensure_sync(func)
        if len(known) >= 1000:  # a function made per request (after_this_request) must not pile up
            known.clear()
        try:
            known[func] = made is func
        except TypeError:
            pass
        return made


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_settings(overrides=test_config)
    app = App(
        __name__,
        instance_path=str(Path(settings.get("INSTANCE_DIR") or DEFAULT_INSTANCE_DIR)),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    # Compiled templates kept on disk (a temporary folder of this user): a
    # new or recycled worker loads them instead of compiling ~50 ms of Jinja.
    app.jinja_options = {**app.jinja_options, "bytecode_cache": FileSystemBytecodeCache()}
    app.config.update(settings)
    _finish_config(app)
    configure_logging(app.config["LOG_LEVEL"])
    init_sentry(app.config, "web")
    _configure_database(app)
    _init_extensions(app)
    _register_blueprints(app)
    _register_template_helpers(app)
    from webapp.cli import register_cli

    register_cli(app)
    return app


def _finish_config(app: Flask) -> None:
    config = app.config
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = development_secret_key(Path(app.instance_path))
    if not config.get("DATABASE_URL") or not config.get("REDIS_URL"):
        from reliability.errors import ConfigError

        missing = "DATABASE_URL" if not config.get("DATABASE_URL") else "REDIS_URL"
        raise ConfigError(
            f"{missing}: expected a URL; run the app with `make run`, which starts embedded servers when none is set"
        )
    config["TESTING"] = config["ENVIRONMENT"] == "test" or config.get("TESTING", False)
    from webapp.accounts.sessions import REMEMBER_LIFETIME, SESSION_LIFETIME

    # The cookies live as long as their server-side session row may.
    config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME
    config["REMEMBER_COOKIE_DURATION"] = REMEMBER_LIFETIME


def _configure_database(app: Flask) -> None:
    db.configure(pool_settings_from_config(app.config))
    # What pages keep between requests, keyed by data versions the database bumps.
    from webapp.page_cache import init_page_cache

    init_page_cache(app)


def _init_extensions(app: Flask) -> None:
    from webapp.accounts.identity import load_user
    from webapp.api import init_api
    from webapp.compression import init_compression
    from webapp.errors import register_error_handlers
    from webapp.extensions import csrf, login_manager
    from webapp.inputs import init_input_checks
    from webapp.metrics import init_metrics
    from webapp.requestlog import init_request_logging
    from webapp.security import init_security

    # First: the metrics clock starts before any other hook may answer, and
    # compression's after-request hook runs after every other one (Flask runs them in reverse).
    init_metrics(app)
    init_compression(app)
    init_request_logging(app)
    init_input_checks(app)
    init_api(app)  # before the limiter and CSRF: both need to know a bearer request
    init_security(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    # Not "strong": Flask-Login falls back to "basic" for permanent sessions,
    # and binding a session to address and user agent breaks on every
    # mobile network change while a thief copies the user agent with the
    # cookie. The protection is the server-side session instead (ended at
    # logout, listed and ended on the settings page, rotated at login and
    # at a password change): see docs/security.md.
    login_manager.session_protection = None
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(_unauthorized)
    register_error_handlers(app)
    app.after_request(_vary_on_htmx)


def _unauthorized() -> ResponseReturnValue:
    """Browsers go to the login page and come back; an htmx request (a
    fragment that cannot show a login page) gets 401 JSON and HX-Redirect,
    which htmx follows with a full page load."""
    from flask import flash, jsonify, redirect
    from flask_login import login_url

    from webapp.extensions import login_manager
    from webapp.htmx import is_htmx

    if request.path.startswith("/api/"):  # an API client gets the API's 401, never /login
        from webapp.api.gate import unauthorized

        raise unauthorized("authentication_required", "Send 'Authorization: Bearer <token>' or log in.")
    target = login_url(login_manager.login_view, next_url=request.url)
    if is_htmx():
        response = jsonify(
            {
                "error": {
                    "code": "authentication_required",
                    "message": "Please log in again.",
                    "request_id": g.get("request_id"),
                }
            }
        )
        response.status_code = 401
        response.headers["HX-Redirect"] = target
        return response
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(target)


def _vary_on_htmx(response: Response) -> Response:
    # A page and its htmx fragment share a URL: caches must keep them apart.
    response.vary.add("HX-Request")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _register_blueprints(app: Flask) -> None:
    from webapp.admin_rq import init_rq_dashboard

    for blueprint in _feature_blueprints():
        app.register_blueprint(blueprint)
    init_rq_dashboard(app)


@cache
def _feature_blueprints() -> tuple[Blueprint, ...]:
    """One blueprint per package, named after it, whose own routes are in its
    routes.py; each other module with routes is a child named after its file.
    So `url_for("channels.members.invite")` says where the view lives
    (tests/unit/test_blueprint_names.py keeps it so). Built once per process:
    Flask lets a blueprint take children only until it is first registered,
    and tests build many apps."""
    from webapp.accounts import api_tokens, devices, export, recovery
    from webapp.accounts.routes import bp as accounts
    from webapp.api import bp as api
    from webapp.api import child_blueprints as api_children
    from webapp.apidocs.routes import bp as apidocs
    from webapp.channels import connect, invitations, members, results
    from webapp.channels.routes import bp as channels
    from webapp.main import system
    from webapp.main.routes import bp as main
    from webapp.metrics.routes import bp as metrics
    from webapp.optimize import batch, review
    from webapp.optimize.routes import bp as optimize
    from webapp.videos import history
    from webapp.videos.routes import bp as videos

    children = {
        main: (system.bp,),
        accounts: (recovery.bp, devices.bp, api_tokens.bp, export.bp),
        channels: (connect.bp, invitations.bp, members.bp, results.bp),
        optimize: (review.bp, batch.bp),
        videos: (history.bp,),
        api: api_children(),
    }
    for parent, files in children.items():
        for child in files:
            parent.register_blueprint(child)
    return (main, accounts, channels, optimize, videos, api, apidocs, metrics)


def _register_template_helpers(app: Flask) -> None:
    urls: dict[str, dict[str, str | None]] = {}

    def asset(name: str) -> dict[str, str | None]:
        """The URL and SRI hash of a pinned asset, worked out once per
        process: the CDN's, with ``fallback`` the local copy; or, with
        ASSETS_FROM_CDN off, the local copy and no fallback."""
        if name not in urls:
            from flask import url_for

            entry = ASSETS[name]
            local = url_for("static", filename=entry["local"])
            if app.config["ASSETS_FROM_CDN"]:
                urls[name] = {"url": entry["url"], "integrity": entry["integrity"], "fallback": local}
            else:
                urls[name] = {"url": local, "integrity": entry["integrity"], "fallback": None}
        return urls[name]

    app.jinja_env.globals["asset"] = asset
    from webapp.template_urls import init_template_urls

    init_template_urls(app)
    app.jinja_env.filters["seo_band"] = seo_band
    app.jinja_env.globals["seo_attention_threshold"] = ATTENTION_THRESHOLD
    # Suggestion and experiment states (and labels) from their one module each: no state literals in templates.
    from optimizer import experiments, suggestions

    app.jinja_env.globals.update(suggestion_states=suggestions, experiment_states=experiments)
    # Run and sync states (and their labels) from the one module owning each: no state literals in templates.
    from optimizer import runs
    from optimizer.youtube import sync_runs

    app.jinja_env.globals.update(run_states=runs, sync_states=sync_runs)

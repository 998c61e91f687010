"""The Flask application factory.

``create_app()`` reads and checks the configuration, binds the extensions,
registers blueprints, error handlers and CLI commands. It opens no database
or Redis connection: pools are made lazily in each process, after any fork.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, g, request

from reliability import db
from reliability.config import DEFAULT_INSTANCE_DIR, ROOT, development_secret_key, load_settings
from reliability.logs import configure_logging
from reliability.observability import init_sentry

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
}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_settings(overrides=test_config)
    app = Flask(
        __name__,
        instance_path=str(Path(settings.get("INSTANCE_DIR") or DEFAULT_INSTANCE_DIR)),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
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
    db.configure(db.pool_settings_from_config(app.config))


def _init_extensions(app: Flask) -> None:
    from webapp.accounts.identity import load_user
    from webapp.errors import register_error_handlers
    from webapp.extensions import csrf, login_manager
    from webapp.inputs import init_input_checks
    from webapp.requestlog import init_request_logging
    from webapp.security import init_security

    init_request_logging(app)
    init_input_checks(app)
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


def _unauthorized():
    """Browsers go to the login page and come back; an htmx request (a
    fragment that cannot show a login page) gets 401 JSON and HX-Redirect,
    which htmx follows with a full page load."""
    from flask import flash, jsonify, redirect
    from flask_login import login_url

    from webapp.extensions import login_manager
    from webapp.htmx import is_htmx

    target = login_url(login_manager.login_view, next_url=request.url)
    if is_htmx():
        response = jsonify({"error": {"code": "authentication_required", "message": "Please log in again.",
                                      "request_id": g.get("request_id")}})
        response.status_code = 401
        response.headers["HX-Redirect"] = target
        return response
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(target)


def _vary_on_htmx(response):
    # A page and its htmx fragment share a URL: caches must keep them apart.
    response.vary.add("HX-Request")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _register_blueprints(app: Flask) -> None:
    from webapp.accounts.recovery import bp as recovery_bp
    from webapp.accounts.routes import bp as accounts_bp
    from webapp.accounts.session_routes import bp as sessions_bp
    from webapp.admin_rq import init_rq_dashboard
    from webapp.channels.connect import bp as connect_bp
    from webapp.channels.invitations import bp as invitations_bp
    from webapp.channels.members import bp as members_bp
    from webapp.channels.routes import bp as channels_bp
    from webapp.main.routes import bp as main_bp
    from webapp.optimize.batch import bp as batch_bp
    from webapp.optimize.review import bp as review_bp
    from webapp.optimize.routes import bp as optimize_bp
    from webapp.videos.history import bp as history_bp
    from webapp.videos.routes import bp as videos_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(sessions_bp)
    app.register_blueprint(channels_bp)
    app.register_blueprint(connect_bp)
    app.register_blueprint(members_bp)
    app.register_blueprint(invitations_bp)
    app.register_blueprint(recovery_bp)
    app.register_blueprint(optimize_bp)
    app.register_blueprint(videos_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(batch_bp)
    app.register_blueprint(history_bp)
    init_rq_dashboard(app)


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

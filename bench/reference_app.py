"""The reference stack for the page benchmarks: the smallest app that does
what every page of ours must do, with the same extensions configured as
``webapp/security.py`` and ``webapp/__init__.py`` configure them, and
nothing else. Measured in the same run as the real app, it says how far the
app is from its own stack's ceiling (issue 14).

- Flask-Login, the user loaded from the signed session cookie alone (no
  database: the ceiling of any session mechanism), a permanent session as
  the app's;
- Flask-WTF CSRF, the token in every form and in the htmx header;
- Flask-Talisman with the app's CSP, a nonce for scripts, its other headers;
- Flask-Limiter on Redis (REDIS_URL), moving window, headers on, the
  app's default limit per logged-in user, anonymous GETs not counted (the
  app's request filter);
- pages: ``GET /login``, the empty login form (email, password, remember,
  next); ``GET /table``, for a logged-in user, a table of 50 video rows with
  the channel table's markup and two ``url_for`` per row, rendered on every
  request. ``GET /bench-login`` logs the bench's user in (sets the cookie).

It is fixed: a change to it is its own commit, with the reason.
"""

from __future__ import annotations

import datetime as dt
import os

from flask import Flask, render_template, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
from flask_talisman import Talisman
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from jinja2 import DictLoader
from wtforms import BooleanField, EmailField, HiddenField, PasswordField

from webapp.security import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY

ROWS = 50


class User(UserMixin):
    def __init__(self, user_id: str):
        self.id = user_id


class LoginForm(FlaskForm):
    email = EmailField("Email")
    password = PasswordField("Password")
    remember = BooleanField("Keep me logged in")
    next = HiddenField()


def _rate_limit_key() -> str:
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{get_remote_address()}"


def _anonymous_read() -> bool:
    from flask import request

    return request.method in ("GET", "HEAD", "OPTIONS") and not current_user.is_authenticated


def _redis_uri(url: str) -> str:
    return "redis+unix://" + url[len("unix://") :] if url.startswith("unix://") else url


app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("SECRET_KEY", "reference"),
    SESSION_COOKIE_NAME="yco_session",
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    PERMANENT_SESSION_LIFETIME=dt.timedelta(days=14),
    WTF_CSRF_HEADERS=["X-CSRFToken", "X-CSRF-Token"],
    WTF_CSRF_TIME_LIMIT=None,
    RATELIMIT_STORAGE_URI=_redis_uri(os.environ.get("REDIS_URL", "memory://")),
    RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    RATELIMIT_STRATEGY="moving-window",
    RATELIMIT_HEADERS_ENABLED=True,
    RATELIMIT_SWALLOW_ERRORS=True,
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    RATELIMIT_DEFAULT=os.environ.get("DEFAULT_RATE_LIMIT", "300 per minute"),
    RATELIMIT_KEY_PREFIX="yco-reference",
)
Talisman(
    app,
    force_https=False,
    strict_transport_security=True,
    strict_transport_security_max_age=31536000,
    content_security_policy=CONTENT_SECURITY_POLICY,
    content_security_policy_nonce_in=["script-src"],
    frame_options="DENY",
    referrer_policy="strict-origin-when-cross-origin",
    permissions_policy=PERMISSIONS_POLICY,
    session_cookie_secure=False,
    session_cookie_http_only=True,
    session_cookie_samesite="Lax",
)
CSRFProtect(app)
login_manager = LoginManager(app)
login_manager.session_protection = None
login_manager.user_loader(User)
limiter = Limiter(key_func=_rate_limit_key, app=app)
limiter.request_filter(_anonymous_read)

LAYOUT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<script nonce="{{ csp_nonce() }}">document.documentElement.dataset.js = "1";</script></head>
<body hx-headers='{{ {"X-CSRFToken": csrf_token()}|tojson }}'>
<main>{% block body %}{% endblock %}</main></body></html>"""

LOGIN = """{% extends "layout.html" %}{% block body %}
<form method="post" novalidate>{{ form.csrf_token }}{{ form.next }}
<label>{{ form.email.label }} {{ form.email(autocomplete="username", required=True) }}</label>
<label>{{ form.password.label }} {{ form.password(autocomplete="current-password", required=True) }}</label>
<label>{{ form.remember() }} {{ form.remember.label }}</label><button type="submit">Log in</button></form>
{% endblock %}"""

# The rows of templates/channels/_video_table.html as an editor sees them.
TABLE = """{% extends "layout.html" %}{% block body %}
<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<table class="striped video-table"><tbody>
{% for v in videos %}
  <tr>
    <td><input type="checkbox" name="video_ids" value="{{ v['id'] }}" id="select-{{ v['id'] }}"
               aria-label="Select {{ v['title'] }}"></td>
    <td><img src="{{ v['thumbnail_url'] }}" alt="" width="96" height="54" loading="lazy"></td>
    <td><a href="{{ url_for('video', channel_id=1, video_id=v['id']) }}">{{ v['title'] }}</a></td>
    <td>{{ v['published_at'].strftime("%Y-%m-%d") }}</td>
    <td class="num">{{ "{:,}".format(v['view_count']) }}</td>
    <td class="num">{{ "{:,}".format(v['like_count']) }}</td>
    <td class="num"><span class="seo">{{ v['seo_score'] }}</span></td>
    <td>{{ v['privacy_status']|capitalize }}</td>
    <td><button type="submit" class="compact outline"
                formaction="{{ url_for('optimize', channel_id=1, video_id=v['id']) }}">Optimize</button></td>
  </tr>
{% endfor %}
</tbody></table></form>{% endblock %}"""

VIDEOS = [
    {
        "id": 1000 + i,
        "title": f"#{i:03d} How to make sourdough bread at home, step by step",
        "thumbnail_url": f"https://i.ytimg.com/vi/bench{i:06d}/mqdefault.jpg",
        "published_at": dt.datetime(2023, 1, 1) + dt.timedelta(days=i),
        "view_count": (i * 7919) % 250_000,
        "like_count": (i * 131) % 9_000,
        "seo_score": (i * 37) % 101,
        "privacy_status": "public",
    }
    for i in range(ROWS)
]


# Templates from memory, loaded and compiled once as the app's are from files.
app.jinja_loader = DictLoader({"layout.html": LAYOUT, "login.html": LOGIN, "table.html": TABLE})  # type: ignore[method-assign,assignment]


@app.get("/login")
def login() -> str:
    return render_template("login.html", title="Log in", form=LoginForm())


@app.get("/bench-login")
def bench_login() -> str:
    session.permanent = True  # as the app's login does
    login_user(User("1"))
    return "logged in"


@app.get("/table")
@login_required
def table() -> str:
    return render_template("table.html", title="Channel", videos=VIDEOS)


@app.get("/channels/<int:channel_id>/videos/<int:video_id>")
def video(channel_id: int, video_id: int) -> str:
    return "video"


@app.post("/channels/<int:channel_id>/videos/<int:video_id>/optimize")
def optimize(channel_id: int, video_id: int) -> str:
    return "optimize"

"""The empty login form, rendered once per process.

``GET /login`` is the page every visitor and every expired session lands
on, and its HTML is the same for everyone but for one value: the CSRF
token (session-bound). So it is rendered once with a placeholder where the
token goes, kept in the page cache (webapp/page_cache.py), and each answer
puts the request's own token in. A page with something of its own (a
``next`` address, a flashed message) is rendered normally.
"""

from __future__ import annotations

from flask import render_template, request, session

from webapp.accounts.forms import LoginForm
from webapp.page_cache import csrf_slot, fill_slots, page_cache


def is_plain_visit() -> bool:
    return not request.args.get("next") and not session.get("_flashes")


def empty_login_page() -> str:
    return fill_slots(page_cache().get_or_make(("empty_login_form",), _render))


def _render() -> str:
    with csrf_slot():  # the form is built inside: its token is the placeholder too
        return render_template("auth/login.html", form=LoginForm())

"""Flask extensions, created unbound here and bound in create_app()."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect


def rate_limit_key() -> str:
    """Per user when logged in (one account behind a shared NAT is not
    punished for its neighbours), per client address otherwise."""
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{get_remote_address()}"


def client_address_key() -> str:
    """For login and registration: always the address, since the person
    asking is not yet anyone."""
    return f"ip:{get_remote_address() or request.remote_addr}"


login_manager = LoginManager()
csrf = CSRFProtect()
talisman = Talisman()
limiter = Limiter(key_func=rate_limit_key)

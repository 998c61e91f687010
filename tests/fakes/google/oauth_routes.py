"""HTTP endpoints of the fake Google OAuth 2.0 server.

    GET  /o/oauth2/v2/auth   consent, answered at once with a 302 to redirect_uri
    POST /token              authorization_code and refresh_token grants
    POST /revoke             ?token=... (or token in the form body)

Why these checks are stricter than Google's in places (documented choice):
PKCE with S256, access_type=offline and state are required by default because
the app must always send them; a request without them gets Google's error page
(400 invalid_request) instead of a redirect, so a client bug fails loudly.
Turn a check off with `fake.oauth.require_pkce = False` etc.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote, urlencode

from flask import Blueprint, Response, json, redirect, request
from markupsafe import escape

from .oauth import KNOWN_SCOPES, OAuthError, OAuthState
from .quota import OAUTH_FAULTS

_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_PROMPTS = {"none", "consent", "select_account"}


class AuthorizeError(Exception):
    """Shown on Google's error page; never redirected to the app."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.description = status, code, description


def _error_page(err: AuthorizeError) -> Response:
    html = (
        f"<!doctype html><title>Error</title><h1>Error {err.status}: {escape(err.code)}</h1>"
        f"<p>{escape(err.description)}</p>"
    )
    return Response(html, status=err.status, mimetype="text/html")


def _oauth_json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _validate_authorize(oauth: OAuthState, args) -> tuple[str, str, list[str]]:
    """(client_id, redirect_uri, scopes) or AuthorizeError, in the order Google checks."""
    client = oauth.clients.get(args.get("client_id", ""))
    if client is None:
        raise AuthorizeError(401, "invalid_client", "The OAuth client was not found.")
    redirect_uri = args.get("redirect_uri", "")
    if not redirect_uri or (client.redirect_uris and redirect_uri not in client.redirect_uris):
        raise AuthorizeError(400, "redirect_uri_mismatch", f"redirect_uri not registered: {redirect_uri!r}")
    if args.get("response_type") != "code":
        raise AuthorizeError(400, "invalid_request", "response_type must be 'code'")
    scopes = args.get("scope", "").split()
    if not scopes:
        raise AuthorizeError(400, "invalid_request", "Missing required parameter: scope")
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        raise AuthorizeError(400, "invalid_scope", f"Some requested scopes were invalid: {unknown}")
    missing = sorted(oauth.required_scopes - set(scopes))
    if missing:
        raise AuthorizeError(400, "invalid_request", f"fake: scope must include {missing}")
    _validate_options(oauth, args)
    return client.client_id, redirect_uri, scopes


def _validate_options(oauth: OAuthState, args) -> None:
    if oauth.require_state and not args.get("state"):
        raise AuthorizeError(400, "invalid_request", "fake: state is required (CSRF protection)")
    challenge, method = args.get("code_challenge"), args.get("code_challenge_method")
    if challenge or oauth.require_pkce:
        if method != "S256" or not challenge or not _CHALLENGE.match(challenge):
            raise AuthorizeError(400, "invalid_request", "code_challenge with code_challenge_method=S256 is required")
    access_type = args.get("access_type", "online")
    if access_type not in ("online", "offline") or (oauth.require_offline and access_type != "offline"):
        raise AuthorizeError(400, "invalid_request", f"fake: access_type must be offline, got {access_type!r}")
    prompts = set(args.get("prompt", "").split())
    if not prompts <= _PROMPTS or ("none" in prompts and len(prompts) > 1):
        raise AuthorizeError(400, "invalid_request", f"Invalid prompt: {args.get('prompt')}")


def _client_credentials() -> tuple[str | None, str | None]:
    """client_id/secret from HTTP Basic (URL-encoded parts, RFC 6749 2.3.1) or the body."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            return None, None
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return request.form.get("client_id"), request.form.get("client_secret")


def create_oauth_blueprint(fake) -> Blueprint:
    bp = Blueprint("google_oauth", __name__)
    oauth: OAuthState = fake.oauth

    @bp.get("/o/oauth2/v2/auth")
    def authorize():
        try:
            client_id, redirect_uri, scopes = _validate_authorize(oauth, request.args)
        except AuthorizeError as err:
            return _error_page(err)
        state = request.args.get("state")
        grant = oauth.consenting_grant(client_id, scopes)
        back = {"state": state} if state else {}
        if grant is None:
            return redirect(_with_query(redirect_uri, {"error": "access_denied", **back}), 302)
        prompts = set(request.args.get("prompt", "").split())
        if "none" in prompts and not oauth.has_prior_grant(grant.subject, client_id):
            return redirect(_with_query(redirect_uri, {"error": "consent_required", **back}), 302)
        offline = request.args.get("access_type") == "offline"
        code = oauth.issue_code(grant, redirect_uri, request.args.get("code_challenge"), offline, "consent" in prompts)
        params = {**back, "iss": "https://accounts.google.com", "code": code, "scope": " ".join(grant.scopes)}
        return redirect(_with_query(redirect_uri, {**params, "authuser": "0", "prompt": "consent"}), 302)

    @bp.post("/token")
    def token():
        fault = fake.faults.take("oauth.token")
        if fault:
            return _oauth_fault(fault)
        if request.mimetype != "application/x-www-form-urlencoded":
            return _oauth_json(
                400, {"error": "invalid_request", "error_description": "fake: body must be form-encoded"}
            )
        try:
            client = oauth.authenticate_client(*_client_credentials())
            grant_type = request.form.get("grant_type", "")
            if grant_type == "authorization_code":
                form = request.form
                body = oauth.exchange_code(
                    client, form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
                )
            elif grant_type == "refresh_token":
                body = oauth.refresh(client, request.form.get("refresh_token"))
            else:
                raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        except OAuthError as err:
            return _oauth_json(err.status, {"error": err.code, "error_description": err.description})
        response = _oauth_json(200, body)
        response.headers["Cache-Control"] = "no-cache, no-store, max-age=0, must-revalidate"
        return response

    @bp.route("/revoke", methods=["GET", "POST"])
    def revoke():
        fault = fake.faults.take("oauth.revoke")
        if fault:
            return _oauth_fault(fault)
        token = request.args.get("token") or request.form.get("token")
        try:
            oauth.revoke(token)
        except OAuthError as err:
            return _oauth_json(err.status, {"error": err.code, "error_description": err.description})
        return _oauth_json(200, {})

    return bp


def _oauth_fault(kind: str) -> Response:
    status, code = OAUTH_FAULTS[kind]
    return _oauth_json(status, {"error": code, "error_description": "fake: injected fault"})

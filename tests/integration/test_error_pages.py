"""404 and 403 answers raised as reliability.errors classes look as Flask's
abort() pages did: the same status, heading, words and code, as a page for a
browser and as the JSON error for htmx."""

from __future__ import annotations

import re

import pytest

from tests.helpers import csrf_from
from tests.integration.channel_helpers import import_demo, user_client
from tests.integration.mail_helpers import invite_and_accept

_ARTICLE = re.compile(r'<article class="error-page">.*?</article>', re.S)
_REFERENCE = re.compile(r"<footer>.*?</footer>", re.S)


def _error_article(response) -> str:
    """The error page's own part, without the per-request reference."""
    match = _ARTICLE.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return _REFERENCE.sub("", match.group(0))


@pytest.fixture
def channel(app, app_config):
    owner = user_client(app, "owner@example.com")
    channel_id = import_demo(owner)
    viewer = user_client(app, "viewer@example.com")
    invite_and_accept(owner, viewer, app_config["DATABASE_URL"], channel_id, "viewer@example.com", "viewer")
    return {"id": channel_id, "viewer": viewer, "stranger": user_client(app, "stranger@example.com")}


def test_a_channel_hidden_from_a_non_member_is_the_page_of_an_unknown_url(channel):
    stranger = channel["stranger"]
    hidden = stranger.get(f"/channels/{channel['id']}")
    unknown = stranger.get("/no-such-page")
    assert hidden.status_code == unknown.status_code == 404
    assert _error_article(hidden) == _error_article(unknown)
    assert "<h1>Page not found</h1>" in _error_article(hidden)
    assert "<p>We could not find that page.</p>" in _error_article(hidden)


def test_a_missing_video_and_an_admin_page_for_a_member_are_the_same_404(channel):
    stranger = channel["stranger"]
    expected = _error_article(stranger.get("/no-such-page"))
    viewer = channel["viewer"]
    missing_video = viewer.get(f"/channels/{channel['id']}/videos/999999999")
    admin_only = stranger.get("/admin/users")
    assert missing_video.status_code == admin_only.status_code == 404
    assert _error_article(missing_video) == _error_article(admin_only) == expected


def test_a_role_too_low_gets_the_403_page(channel):
    response = channel["viewer"].get(f"/channels/{channel['id']}/members")
    assert response.status_code == 200  # a viewer may look at the members
    refused = channel["viewer"].post(f"/channels/{channel['id']}/disconnect", headers={"X-CSRFToken": _csrf(channel)})
    assert refused.status_code == 403
    article = _error_article(refused)
    assert "<h1>Not allowed</h1>" in article
    assert "<p>You do not have access to this.</p>" in article


def test_htmx_callers_get_the_json_error_with_the_same_codes(channel):
    htmx = {"HX-Request": "true"}
    hidden = channel["stranger"].get(f"/channels/{channel['id']}", headers=htmx)
    assert hidden.status_code == 404
    assert hidden.get_json()["error"]["code"] == "not_found"
    assert hidden.get_json()["error"]["message"] == "We could not find that page."
    refused = channel["viewer"].post(
        f"/channels/{channel['id']}/disconnect", headers={**htmx, "X-CSRFToken": _csrf(channel)}
    )
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert refused.get_json()["error"]["message"] == "You do not have access to this."


def _csrf(channel) -> str:
    return csrf_from(channel["viewer"].get("/channels").get_data(as_text=True))

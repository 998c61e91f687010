"""Deleting an account: every row about the person goes, the Google grants
of the channels that go with it are revoked, and the audit trail keeps its
events under a keyed pseudonym (reliability/audit.py ``pseudonymise``).

What goes: the account, its sessions, one-time links, API tokens and
memberships (by cascade); invitations and mail addressed to it; every
channel nobody else belongs to, with all that was kept about it (videos,
suggestions, versions, experiments, tokens). What stays: on a channel
shared with others, what the person did there (runs, decisions, applied
versions) stays the channel's, with the link to the account set to NULL by
the schema. A sole owner of a shared channel is asked to hand it over
first, as the only admin is.

One transaction; the revocations at Google come after the commit (an
outside call never holds a transaction), best effort: the tokens are gone
from here whatever Google answers.
"""

from __future__ import annotations

import logging
from typing import Any

from optimizer.youtube import oauth, tokens
from reliability import audit
from reliability.crypto import TokenCipher
from reliability.db import transaction
from reliability.errors import Conflict
from webapp.accounts import erasure_store, store, throttle

log = logging.getLogger(__name__)


class OwnsSharedChannels(Conflict):
    code = "owns_shared_channels"


def delete_account(user_id: int, config: dict[str, Any], *, ip_address: str | None) -> None:
    """Delete the account ``user_id``; raises OwnsSharedChannels, and
    changes nothing, when it is the only owner of a channel others use."""
    with transaction() as cur:
        user = store.get_user(cur, user_id)
        if user is None:
            return
        blocking = erasure_store.channels_left_without_owner(cur, user_id)
        if blocking:
            names = ", ".join(row["title"] for row in blocking)
            raise OwnsSharedChannels(
                f"You are the only owner of {names}, which other members use. "
                "Make one of them an owner, or remove them, before deleting your account."
            )
        leaving = erasure_store.channels_of_only_this_member(cur, user_id)
        grants = [row for row in (tokens.locked_encrypted_tokens(cur, c) for c in leaving) if row]
        audit.record(
            cur,
            "user.deleted",
            actor_id=user_id,
            actor_email=user["email"],
            target_type="user",
            target_id=user_id,
            details={"channels_deleted": len(leaving)},
            ip_address=ip_address,
        )
        audit.pseudonymise(cur, user_id, user["email"], audit.pseudonym_key(config["SECRET_KEY"]))
        erasure_store.delete_channels(cur, leaving)
        erasure_store.delete_addressed_to(cur, user["email"])
        store.delete_user(cur, user_id)
    throttle.record_success(user["email"])  # the per-account login counters name the address
    _revoke(grants, config)


def _revoke(grants: list[dict[str, Any]], config: dict[str, Any]) -> None:
    google = oauth.GoogleOAuthConfig.from_config(config)
    if not grants or google is None or not config["TOKEN_ENCRYPTION_KEY"]:
        return
    cipher = TokenCipher(config["TOKEN_ENCRYPTION_KEY"])
    for row in grants:
        if not oauth.revoke(google, cipher.decrypt(row["refresh_token_enc"] or row["access_token_enc"])):
            log.warning("Google did not confirm a revocation at account deletion; the token is deleted here")

"""`user_change` and `team_join`: a Slack account deactivated, back, or under a new email.
The directory follows at once (sync/org/accounts.py); accounts from outside the
installation (Slack Connect) are ignored."""

from __future__ import annotations

from bot.guard import essential_listener
from bot.identity import matchable_email
from sync.clock import utc_timestamp
from sync.org.accounts import AccountState, apply_account_state


@essential_listener
def follow_account_change(event, context) -> None:
    user = event.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or user.get("is_bot"):
        return
    installation = context["installation"]
    if not installation.admits_user(user):
        return
    state = AccountState(
        account_id=user["id"],
        email=matchable_email(user, installation),
        deactivated=bool(user.get("deleted")),
        time_zone=user.get("tz"),
    )
    apply_account_state(state, utc_timestamp())

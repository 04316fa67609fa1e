"""The Home tab, published on app_home_opened events."""

from __future__ import annotations


def test_home_tab_shows_own_30_days_and_the_team_for_managers(bot, slack, org):
    bot.event({"type": "app_home_opened", "user": "UMGR", "tab": "home"})
    (published,) = slack.wait_for("views.publish")
    assert published.params["user_id"] == "UMGR"
    view = str(published.params["view"])
    assert "Your Codex usage, last 30 days" in view
    assert "Your reporting line" in view and "Remy Report" in view and "Pia Peer" in view
    assert "Cleo Chief" not in view


def test_home_tab_for_an_employee_has_no_team_and_for_a_stranger_nothing(bot, slack, org):
    bot.event({"type": "app_home_opened", "user": "UREP", "tab": "home"})
    bot.event({"type": "app_home_opened", "user": "UOUTSIDER", "tab": "home"})
    first, second = slack.wait_for("views.publish", 2)
    views = {call.params["user_id"]: str(call.params["view"]) for call in (first, second)}
    assert "Your reporting line" not in views["UREP"] and "Active days" in views["UREP"]
    assert "not in codexbot's directory" in views["UOUTSIDER"]
    assert "Active days" not in views["UOUTSIDER"]


def test_an_archived_persons_home_tab_says_so(bot, slack, org):
    bot.event({"type": "app_home_opened", "user": "UARCHIVED", "tab": "home"})
    view = str(slack.wait_for("views.publish")[0].params["view"])
    assert "You are archived in codexbot's directory" in view
    assert "Active days" not in view

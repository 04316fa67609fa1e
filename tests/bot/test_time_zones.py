"""Everyone's own clock: a DM's "today", "this week" and "yesterday" are the sender's days
(the directory's time zone, else Slack's, else the config's), the answer says whose, and,
since Codex counts whole UTC days, which hours those figures cover on the sender's clock."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import person, store_usage, usage
from freezegun import freeze_time
from slack_requests import ephemeral_answer

from sync.store.models import Employee

# Sunday 29 Nov 2026, 02:00 UTC: Saturday 18:00 in Los Angeles, Sunday 11:00 in Tokyo.
NOW = "2026-11-29 02:00:00"
CREDITS_BY_UTC_DAY = {
    dt.date(2026, 11, 23): 1.0,  # Monday
    dt.date(2026, 11, 27): 3.0,  # Friday
    dt.date(2026, 11, 28): 5.0,  # Saturday
    dt.date(2026, 11, 29): 2.0,  # Sunday, still filling in
}


@pytest.fixture
def clocks(slack, sqlite_db):
    """Lee's zone is the directory's; Taro's only Slack's profile gives; Uma's says UTC."""
    with freeze_time(NOW, tick=True):
        lee = person("lee@example.com", "Lee West")
        lee.timezone = "America/Los_Angeles"
        lee.save()
        taro = person("taro@example.com", "Taro East")
        uma = person("uma@example.com", "Uma Zero")
        slack.add_user("ULEE", "lee@example.com", tz="Europe/Berlin")  # the directory wins
        slack.add_user("UTARO", "taro@example.com", tz="Asia/Tokyo")
        slack.add_user("UUMA", "uma@example.com", tz="UTC")
        records = [
            usage(f"codex-{key}", day, email=f"{key}@example.com", credits=credits)
            for key in ("lee", "taro", "uma")
            for day, credits in CREDITS_BY_UTC_DAY.items()
        ]
        store_usage(records)
    return {"lee": lee, "taro": taro, "uma": uma}


def ask(bot, slack, user_id: str, words: str) -> tuple[str, str, str]:
    """The answer's fallback text, its context line (period and whose days) and footer."""
    before = len(slack.calls_to("chat.postMessage"))
    bot.dm(user_id, words)
    posted = slack.wait_for("chat.postMessage", before + 1)[-1]
    blocks = posted.params["blocks"]
    (footer,) = [str(block) for block in blocks if "Data as of" in str(block)]
    return posted.params["text"], blocks[1]["elements"][0]["text"], footer


def test_today_on_saturday_evening_in_los_angeles_is_saturday(bot, slack, clocks):
    with freeze_time(NOW, tick=True):
        text, context, footer = ask(bot, slack, "ULEE", "today")
    assert "Sat 28 Nov – Sat 28 Nov: 5 credits" in text  # not Sunday, UTC's today
    assert "days in America/Los_Angeles" in context
    # Saturday's figures are UTC's Saturday: 16:00 Friday to 16:00 Saturday there.
    assert (
        "Codex counts whole UTC days: these figures cover Fri 27 Nov 16:00 – "
        "Sat 28 Nov 16:00 America/Los_Angeles time"
    ) in context
    # The data's time is on Lee's clock too, and says so.
    assert "Data as of 2026-11-28 18:00 PST (America/Los_Angeles)" in footer


def test_this_week_in_los_angeles_ends_on_saturday(bot, slack, clocks):
    with freeze_time(NOW, tick=True):
        text, _, _ = ask(bot, slack, "ULEE", "this week")
    assert "Mon 23 Nov – Sat 28 Nov: 9 credits" in text


def test_a_tokyo_morning_is_already_sunday_and_its_complete_days_are_utcs(bot, slack, clocks):
    with freeze_time(NOW, tick=True):
        today, context, footer = ask(bot, slack, "UTARO", "today")
        yesterday, _, _ = ask(bot, slack, "UTARO", "yesterday")
        week, _, _ = ask(bot, slack, "UTARO", "7d")
    assert "Sun 29 Nov – Sun 29 Nov: 2 credits" in today
    assert "days in Asia/Tokyo" in context
    assert "these figures cover Sun 29 Nov 09:00 – Mon 30 Nov 09:00 Asia/Tokyo time" in context
    assert "Data as of 2026-11-29 11:00 JST (Asia/Tokyo)" in footer
    assert "Sat 28 Nov – Sat 28 Nov: 5 credits" in yesterday
    # Seven complete days end with Saturday: Sunday is not over in UTC, nor in Tokyo.
    assert "Sun 22 Nov – Sat 28 Nov: 9 credits" in week
    # Slack's profile gave the zone, and it is kept for next time.
    assert Employee.get_by_id(clocks["taro"].id).slack_timezone == "Asia/Tokyo"


def test_utc_days_are_said_as_such_with_no_conversion(bot, slack, clocks):
    with freeze_time(NOW, tick=True):
        text, context, footer = ask(bot, slack, "UUMA", "today")
    assert "Sun 29 Nov – Sun 29 Nov: 2 credits" in text
    assert "UTC days" in context and "Codex counts whole UTC days" not in context
    assert "Data as of 2026-11-29 02:00 UTC" in footer


def test_without_any_zone_the_configured_one_is_the_clock(bot, slack, clocks, settings):
    settings.digest.timezone = "America/Los_Angeles"
    with freeze_time(NOW, tick=True):
        slack.add_user("UUMA", "uma@example.com", tz=None)  # Slack says nothing
        text, context, _ = ask(bot, slack, "UUMA", "today")
    assert "Sat 28 Nov – Sat 28 Nov: 5 credits" in text
    assert "days in America/Los_Angeles" in context


def test_the_home_tab_and_team_count_the_same_days_as_a_dm(bot, slack, clocks):
    """Saturday evening in Los Angeles, Saturday is not over for Lee: their DM's "30d",
    their Home tab and their `/codex team 30d` all end with Friday (UTC's Saturday,
    already complete, would add its 5 credits to two of them)."""
    uma = Employee.get_by_id(clocks["uma"].id)
    uma.manager = clocks["lee"]
    uma.save()
    with freeze_time(NOW, tick=True):
        text, _, _ = ask(bot, slack, "ULEE", "30d")
        bot.event({"type": "app_home_opened", "user": "ULEE", "tab": "home"})
        home = str(slack.wait_for("views.publish")[0].params["view"])
        bot.command("ULEE", "team 30d")
        team = ephemeral_answer(slack)
    assert "Thu 29 Oct – Fri 27 Nov: 4 credits" in text
    assert "4 credits" in home and "9 credits" not in home
    assert "Data as of 2026-11-28 18:00 PST (America/Los_Angeles)" in home
    assert "Thu 29 Oct – Fri 27 Nov" in team["text"] + str(team["blocks"])
    assert "*Uma Zero*  4 credits" in str(team["blocks"])

"""Every message codexbot renders is valid Block Kit within Slack's limits."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from factories import person, store_usage, usage
from slack_sdk.models.blocks import Block

from bot.messages import MESSAGE_BLOCK_LIMIT, render_message, render_view
from bot.rendering import words
from sync.notices import Notice
from sync.reports.answers import Home, team_for
from sync.reports.periods import Period
from sync.reports.queries import stats_answer
from sync.store.models import Employee

TODAY = dt.date(2026, 11, 25)
WEEK = Period.ending_before(TODAY, 7)


def assert_valid(blocks, limit=MESSAGE_BLOCK_LIMIT):
    assert 0 < len(blocks) <= limit
    for block in blocks:
        assert Block.parse(block).to_dict() == block


def test_a_team_of_1200_stays_within_50_blocks_and_says_who_is_cut(sqlite_db):
    boss = person("boss@example.com", "Boss")
    Employee.insert_many(
        [(f"p{i:04d}@example.com", f"Person {i:04d}", boss.id) for i in range(1200)],
        fields=[Employee.email, Employee.name, Employee.manager],
    ).execute()
    store_usage(
        [
            usage(
                f"u{i}",
                TODAY - dt.timedelta(days=2),
                email=f"p{i:04d}@example.com",
                credits=float(i),
            )
            for i in range(1200)
        ],
    )
    team = team_for(boss, WEEK)
    message = render_message("team", team=team)
    assert_valid(message["blocks"])
    text = str(message["blocks"])
    assert "Person 1199" in text  # the busiest come first
    assert "…and 300 more" in text
    assert "1200 people" in message["text"]
    home = render_view("home", home=Home(stats_answer(boss, WEEK), team_for(boss, WEEK, 20), False))
    assert_valid(home["blocks"], 100)


def test_names_cannot_inject_mentions_or_markup(sqlite_db):
    boss = person("boss@example.com", "Boss")
    person("evil@example.com", "<!channel> & <@U999>", manager=boss)
    message = render_message("team", team=team_for(boss, WEEK))
    assert_valid(message["blocks"])
    text = str(message["blocks"])
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;@U999&gt;" in text


def test_stats_message_is_valid_and_has_a_fallback_text(sqlite_db):
    ada = person("ada@example.com", "Ada")
    store_usage([usage("u-ada", TODAY - dt.timedelta(days=1), email="ada@example.com")])
    message = render_message("stats", answer=stats_answer(ada, WEEK))
    assert_valid(message["blocks"])
    assert message["text"].startswith("Codex usage for Ada")
    assert len(message["blocks"][2]["fields"]) == 6


NOTICES = Path(__file__).resolve().parents[2] / "templates" / "_notices.j2"
CATALOGUE = [*re.findall(r'kind == "(\w+)"', NOTICES.read_text()), "internal_error"]
# Details for the kinds that have some; every other kind is a fixed sentence.
SAMPLE_PARAMS = {
    "admins_only": {"action": "audit"},
    "connected": {"workspace_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "key_last4": "c7c6"},
    "sync_failed": {"error": Notice("invalid_api_key")},
    "sync_paused": {"error": Notice("service_unreachable", {"reason": "timed_out"})},
    "sync_stopped_early": {"error": "KeyboardInterrupt"},
    "bad_command": {"problem": Notice("takes_nothing", {"name": "status"})},
    "unknown_subcommand": {"word": "drop"},
    "unknown_period": {"word": "9d", "choices": (7, 30)},
    "digest_actions": {"actions": ("preview", "on")},
    "takes_nothing": {"name": "status"},
    "request_refused": {"detail": "limit: too big"},
    "service_unreachable": {"reason": "server_error", "status": 502},
    "idle": {"days": 14},
    "usage_up": {"change": 1.5},
    "usage_down": {"change": 0.75},
    "new_surface": {"surface": "CLI"},
    "text": {"text": "A sentence an older codexbot stored."},
    "missing_days": {"ranges": [(dt.date(2026, 10, 3), dt.date(2026, 10, 12))]},
    "no_codex_account": {"email": "ada@example.com"},
    "unresolved_mention": {"name": "@alice"},
    "not_an_email": {"word": "ada-at-old"},
    "alias_is_directory_email": {"codex_email": "bo@example.com", "owner": "Bo", "person": "Ada"},
    "alias_is_own_email": {"codex_email": "ada@example.com", "person": "Ada"},
    "alias_unchanged": {"codex_email": "ada@old.example.com", "person": "Ada"},
    "alias_added": {
        "codex_email": "ada@old.example.com",
        "person": "Ada",
        "person_email": "ada@example.com",
        "previous": "Bo",
        "credits": 12.5,
        "last_seen": dt.date(2026, 11, 24),
    },
    "left_on": {"day": dt.date(2026, 11, 3)},
    "days_of": {"time_zone": "America/Los_Angeles"},
    "digest_usage": {"forms": ("schedule DAY HH:MM", "schedule default")},
    "digest_schedule_set": {"day": "tuesday", "time": "10:00"},
    "one_on_one_set": {"name": "Dana", "day": "thursday", "time": "14:00"},
    "one_on_one_removed": {"name": "Dana"},
    "one_on_one_none": {"name": "Dana"},
    "utc_days_on_clock": {
        "span": (
            dt.datetime(2026, 11, 27, 16, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
            dt.datetime(2026, 11, 28, 16, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
        ),
        "time_zone": "America/Los_Angeles",
    },
    "sync_deadline": {"minutes": 30},
    "rows_rejected": {"counts": {"negative_count": 2, "no_user": 1}},
    "digests_late": {"period_end": dt.date(2026, 11, 1), "data_as_of": None, "missing": []},
    "forgotten": {"workspace_id": "0f8fad5b", "disconnected": True, "usage_rows": 12},
    "continued_in_dm": {"messages": 37},
    "schema_behind": {"current": 2, "needed": 3},
    "schema_ahead": {"current": 4, "needed": 3},
    "copy_target_not_migrated": {"current": 0, "needed": 3},
    "copy_target_not_empty": {"tables": "employee, daily_usage"},
    "copy_count_mismatch": {"table": "daily_usage", "expected": 120},
    "person_not_found": {"id": "42"},
    "person_email_invalid": {"email": "ada"},
    "person_email_taken": {"email": "ada@example.com"},
    "person_external_id_taken": {"external_id": "00u1ab"},
    "person_time_zone_unknown": {"timezone": "Mars/Olympus"},
    "person_manager_unknown": {"manager_id": "99"},
    "person_manager_loop": {"chain": ["ada@example.com", "bob@example.com"]},
    "person_value_too_long": {"field": "external_id", "limit": 255},
    "scim_invalid_request": {"problem": "Field 'userName' is required: userName"},
    "scim_invalid_filter": {"filter": 'title eq "CEO"'},
    "scim_emails_differ": {"email": "ada@example.com", "user_name": "ada@corp.example"},
    "scim_no_such_resource": {"resource_type": "Schema", "id": "urn:x"},
    "scim_method_not_allowed": {"allowed": "GET"},
    "scim_not_supported": {"what": "Bulk"},
    "scim_body_too_large": {"limit": 65536},
    "no_team_of": {"name": "Ada"},
    "export_sent": {
        "lines": 1234,
        "people": 12,
        "first_day": dt.date(2026, 10, 26),
        "last_day": dt.date(2026, 11, 24),
    },
    "export_too_large": {"limit": 200_000, "days": 90},
}
INTERNAL_ERROR = words(Notice("internal_error"))


@pytest.mark.parametrize("kind", CATALOGUE)
def test_every_notice_in_the_catalogue_renders_as_its_own_sentence(kind):
    message = render_message("notice", notice=Notice(kind, SAMPLE_PARAMS.get(kind, {})))
    assert_valid(message["blocks"])
    assert message["text"] and (message["text"] != INTERNAL_ERROR or kind == "internal_error")
    assert "\n" not in message["text"]


def test_every_notice_the_code_raises_or_returns_is_in_the_catalogue():
    sources = [*Path("bot").rglob("*.py"), *Path("sync").rglob("*.py")]
    used = set()
    for source in sources:
        text = source.read_text()
        used |= set(re.findall(r'Notice\(\s*"(\w+)"', text))
        used |= set(re.findall(r'^    kind = "(\w+)"', text, re.MULTILINE))
    assert len(used) > 30
    assert used - set(CATALOGUE) == set()


@pytest.mark.parametrize(
    ("flag", "said"),
    [
        (Notice("idle", {"days": 14}), "no Codex activity in 14 days"),
        (Notice("usage_up", {"change": 1.5}), "usage up 150%"),
        (Notice("usage_down", {"change": 0.75}), "usage down 75%"),
        (Notice("new_surface", {"surface": "GitHub"}), "new surface: GitHub"),
    ],
)
def test_digest_flags_are_worded(flag, said):
    assert words(flag) == said


def test_help_and_connect_modal_render():
    problem = Notice("unknown_subcommand", {"word": "x"})
    assert_valid(render_message("help", problem=problem)["blocks"])
    modal = render_view("connect_modal")
    assert_valid(modal["blocks"], 100)
    assert len(modal["title"]["text"]) <= 24


def test_an_overlong_block_list_is_cut_with_a_note():
    from bot.messages import _within_limit

    blocks = [{"type": "divider"} for _ in range(80)]
    cut = _within_limit(blocks, 50)
    assert len(cut) == 50
    assert cut[-1]["elements"][0]["text"] == "…and 31 more not shown here."

"""Every message codexbot renders is valid Block Kit within Slack's limits."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from factories import person, store_usage, usage
from slack_sdk.models.blocks import Block

from bot.messages import MESSAGE_BLOCK_LIMIT, render_message, render_messages, render_view
from bot.rendering import render, words
from sync.notices import Notice
from sync.reports.answers import Home, team_for
from sync.reports.digest import compose_digest
from sync.reports.metrics import METRICS
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
    fields = message["blocks"][2]["fields"]
    assert len(fields) == 8  # the six counts, turn depth and cache share; Slack allows 10
    assert fields[6]["text"] == "*Turn depth*\n2.0   –"  # 2 turns in 1 thread, no week before
    assert fields[7]["text"] == "*Cache share*\nunknown   –"  # no cached count stored


NOTICES = Path(__file__).resolve().parents[2] / "templates" / "_notices.j2"
CATALOGUE = [*re.findall(r'kind == "(\w+)"', NOTICES.read_text()), "internal_error"]
# Details for the kinds that have some; every other kind is a fixed sentence.
SAMPLE_PARAMS = {
    "admins_only": {"action": "audit"},
    "connected": {"workspace_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "key_last4": "c7c6"},
    "sync_failed": {"error": Notice("invalid_api_key")},
    "sync_paused": {"error": Notice("service_unreachable", {"reason": "timed_out"})},
    "sync_stopped_early": {"error": "KeyboardInterrupt"},
    "org_source_refused": {
        "file": "/srv/hris/people.csv",
        "problems": 4,
        "first": ["line 3: no email", "line 9: the manager chain loops"],
    },
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
    "aggregates_only": {"reason": "works_council", "floor": 5},
    "below_floor": {"floor": 5},
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


def test_help_defines_every_stat_in_one_line_turn_depth_included():
    help_blocks = render_message("help", problem=None)["blocks"]
    assert_valid(help_blocks)
    meanings = help_blocks[1]["text"]["text"].split("\n")
    assert meanings[0] == "*What the stats mean*"
    assert meanings[1:] == [f"*{m.label}*: {m.meaning}" for m in METRICS]
    assert (
        "*Turn depth*: turns per thread (turns ÷ threads): how far a conversation goes;"
        " – with no threads"
    ) in meanings


def _deep_and_shallow_reports():
    """A manager with two reports: Ada goes deeper than the week before (10 turns in 4
    threads against 3 in 2), Bo only carried on threads begun earlier (no new threads)."""
    boss = person("boss@example.com", "Boss")
    ada = person("ada@example.com", "Ada", manager=boss)
    bo = person("bo@example.com", "Bo", manager=boss)
    store_usage(
        [
            usage("u-ada", TODAY - dt.timedelta(days=1), email=ada.email, threads=1, turns=6),
            usage("u-ada", TODAY - dt.timedelta(days=3), email=ada.email, threads=3, turns=4),
            usage("u-ada", TODAY - dt.timedelta(days=9), email=ada.email, threads=2, turns=3),
            usage("u-bo", TODAY - dt.timedelta(days=2), email=bo.email, threads=0, turns=4),
        ],
    )
    return boss, ada, bo


def test_turn_depth_in_stats_and_home_with_its_change_and_a_dash_without_threads(sqlite_db):
    boss, ada, bo = _deep_and_shallow_reports()
    deep = render_message("stats", answer=stats_answer(ada, WEEK))
    assert_valid(deep["blocks"])
    assert deep["blocks"][2]["fields"][6]["text"] == "*Turn depth*\n2.5   ↑ 67%"
    shallow = render_message("stats", answer=stats_answer(bo, WEEK))
    assert_valid(shallow["blocks"])
    assert shallow["blocks"][2]["fields"][1]["text"] == "*Turns*\n4   –"
    assert shallow["blocks"][2]["fields"][6]["text"] == "*Turn depth*\n–   –"  # never 0
    home = render_view("home", home=Home(stats_answer(ada, WEEK), team_for(ada, WEEK), False))
    assert_valid(home["blocks"], 100)
    assert {"type": "mrkdwn", "text": "*Turn depth*\n2.5   ↑ 67%"} in [
        field for block in home["blocks"] for field in block.get("fields", [])
    ]


def test_a_digest_entry_gives_turn_depth_against_the_week_before(sqlite_db):
    boss, _, _ = _deep_and_shallow_reports()
    digest = compose_digest(boss, TODAY, 7)
    messages = render_messages("digest", digest=digest)
    assert len(messages) == 1
    assert_valid(messages[0]["blocks"])
    entries = [b["text"]["text"] for b in messages[0]["blocks"] if b["type"] == "section"]
    ada_line = next(text for text in entries if text.startswith("*Ada*")).split("\n")[0]
    bo_line = next(text for text in entries if text.startswith("*Bo*")).split("\n")[0]
    assert " · 4 threads · 10 turns · turn depth 2.5 (↑ 67%) · cache share" in ada_line
    assert " · 0 threads · 4 turns · turn depth – (–) · cache share" in bo_line
    assert ada_line.endswith("(–) · active 2/7 days  `▁▁▁▁█▁█`")
    text = render("digest.txt.j2", digest=digest)
    assert "turns 10  turn depth 2.5 (↑ 67%)  cache share unknown (–)  active 2/7 days" in text
    assert "turns 4  turn depth – (–)  cache share unknown (–)  active 1/7 days" in text


def table_row(label: str, now: str, before: str, change: str) -> str:
    """A line of templates/_period_table.txt.j2, as `codexbot stats` prints it."""
    return f"{label:<15} {now:>14} {before:>14} {change:>9}"


def test_cli_stats_table_has_turn_depth_beside_unknown_tokens(sqlite_db):
    _, ada, bo = _deep_and_shallow_reports()
    rows = render("stats.txt.j2", answer=stats_answer(ada, WEEK)).splitlines()
    assert table_row("Turn depth", "2.5", "1.5", "↑ 67%") in rows
    assert table_row("Turns", "10", "3", "↑ 233%") in rows
    store_usage(
        [usage("u-cy", TODAY - dt.timedelta(days=1), email="cy@example.com", input_tokens=None)]
    )
    cy = person("cy@example.com", "Cy")
    rows = render("stats.txt.j2", answer=stats_answer(cy, WEEK)).splitlines()
    assert table_row("Input tokens", "unknown", "unknown", "–") in rows
    assert table_row("Turn depth", "2.0", "–", "–") in rows
    rows = render("stats.txt.j2", answer=stats_answer(bo, WEEK)).splitlines()
    assert table_row("Turn depth", "–", "–", "–") in rows


def test_an_overlong_block_list_is_cut_with_a_note():
    from bot.messages import _within_limit

    blocks = [{"type": "divider"} for _ in range(80)]
    cut = _within_limit(blocks, 50)
    assert len(cut) == 50
    assert cut[-1]["elements"][0]["text"] == "…and 31 more not shown here."

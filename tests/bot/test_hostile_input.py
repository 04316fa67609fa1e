"""Hostile text in `/codex` commands and in DMs, sent over HTTP as Slack sends it.

Whatever people type (quotes, SQL, 10,000 characters, control and bidi characters, Slack's
broadcast and mention markup), the bot answers once, clearly and privately, echoes no
markup that could notify anyone, never shows an error, and changes nothing it stores.

One bot, one fake Slack and one database serve the whole module, so the 224 cases run in
seconds; each case only looks at the calls recorded since it started.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import unicodedata

import pytest
from cryptography.fernet import Fernet
from factories import person, store_usage, usage
from slack_requests import bot_settings, running_bot

from bot.cli.fake_slack import FakeSlack
from sync.clock import utc_today
from sync.store.database import open_database
from sync.store.models import database

LONG = 10_000

HOSTILE = {
    "single-quote": "'",
    "double-quote": '"',
    "backtick": "`",
    "quotes-mixed": 'it\'s "quoted" `code` ```block```',
    "sql-drop": "'; DROP TABLE employee; --",
    "sql-or": '" OR 1=1 --',
    "sql-union": "' UNION SELECT email, name FROM employee --",
    "sql-wildcards": "%_% \\",
    "jinja": "{{ 7*7 }} {% for x in range(3) %}x{% endfor %}",
    "json-blocks": '{"type": "section", "text": {"type": "mrkdwn", "text": "<!channel>"}}',
    "long-word": "x" * LONG,
    "long-words": ("word " * (LONG // 5))[:LONG],
    "long-mixed": ("<!channel> <@UCEO|cleo> '; DROP TABLE employee; -- \u202e " * 200)[:LONG],
    # Slack never sends NUL; everything else a keyboard or a paste can produce, it may.
    "control-escape": "\x1b[31mred\x1b[0m",
    "control-bell-backspace-del": "\x07\x08\x7f\x0b\x0c",
    "control-line-breaks": "stats\r\n<!here>\n\t30d",
    "zero-width": "\u200b\u200c\u200d\ufeff",
    "zero-width-in-word": "st\u200bats",
    "rtl-override": "\u202e30d stats\u202c",
    "bidi-marks": "\u200f\u200e\u061c\u2066x\u2069\u2067y\u2069\u2068z\u2069\u202a\u202b\u202d",
    "channel": "<!channel>",
    "here": "<!here>",
    "everyone": "<!everyone>",
    "channel-labelled": "<!channel|@channel>",
    "subteam": "<!subteam^S0123|@oncall>",
    "escaped-channel": "&lt;!channel&gt; &amp;",
    "bot-mention": "<@UBOTUSER>",
    "other-org-mention": "<@W0OTHERORG|x>",
    "colleague-mention": "<@UCEO|cleo>",
    "channel-link": "<#C123|general>",
    "link": "<https://evil.example|click>",
    "mailto": "<mailto:ceo@example.com|mail me>",
}

# Where the hostile text goes in a `/codex` command, and who sends it.
POSITIONS = {
    "stats-text": ("UMGR", "stats {}"),
    "text-alone": ("UMGR", "{}"),
    "team-text": ("UMGR", "team {}"),
    "digest-text": ("UMGR", "digest {}"),
    "stats-mention-text-period": ("UMGR", "stats <@UREP|remy> {} 30d"),
    "audit-text-as-admin": ("UADMIN", "audit {}"),
}

# The answers the bot has for a command, each recognisable by its wording.
HELP = "codexbot: Codex usage for your 1:1s."
BAD_COMMAND = "Try `/codex help`."
REFUSED = "I can't show Codex stats for that person."
ADMINS_ONLY = "Only codexbot admins can"
UNKNOWN_PERSON = "That person isn't in codexbot's directory."
ACCESS_LOG = "Who viewed "
NOT_IN_DIRECTORY = "You're not in codexbot's directory yet"

# Slack markup that notifies people or disguises a link, in any text the bot sends.
MARKUP = re.compile(r"<\s*[@!#]|<\s*(?:https?|mailto):", re.IGNORECASE)
ERROR_WORDS = re.compile(r"Traceback|Error|Exception|exception|File \"")
# Tables that record what happened (claims of events handled, views of stats): rows may
# be added.
LOG_TABLES = re.compile(r"claim|access_log|audit")

SECRET_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A bot over HTTP, a fake Slack and a small org, shared by every case in this module.

    Everyone who sends or is mentioned has their Slack id and time zone stored already, so
    answering needs no write: any change to the data tables is the hostile text's doing.
    """
    slack = FakeSlack().start()
    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'codexbot.db'}")
    today = utc_today()
    admin = person("admin@example.com", "Ada Admin", role="admin")
    ceo = person("ceo@example.com", "Cleo Chief")
    mgr = person("mgr@example.com", "Max Manager", manager=ceo)
    rep = person("rep@example.com", "Remy Report", manager=mgr)
    records = []
    for key, employee in {"admin": admin, "ceo": ceo, "mgr": mgr, "rep": rep}.items():
        employee.slack_user_id = "U" + key.upper()
        employee.slack_timezone = "Europe/Berlin"  # as Slack's profile says: nothing to learn
        employee.save()
        slack.add_user(employee.slack_user_id, employee.email)
        for offset in range(1, 8):
            day = today - dt.timedelta(days=offset)
            records.append(usage(f"codex-{key}", day, email=employee.email, credits=1.5))
    store_usage(records)
    slack.add_user("UBOTUSER", None, is_bot=True)
    slack.add_user("USENTINEL", None)  # in Slack, not in the directory: a distinct answer

    settings = bot_settings(slack, "http://127.0.0.1:9/v1/analytics/codex", SECRET_KEY)
    with running_bot(settings, slack) as sender:
        yield slack, sender
    slack.assert_blocks_valid()
    slack.stop()
    db.close()


# --------------------------------------------------------------------------- checks


def snapshot() -> dict:
    """The schema and every table's rows, as comparable values."""
    schema = database.execute_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    rows = {}
    for table in database.get_tables():
        cursor = database.execute_sql(f'SELECT * FROM "{table}"')
        rows[table] = sorted(repr(row) for row in cursor.fetchall())
    return {"schema": schema, "rows": rows}


def assert_database_unchanged(before: dict, after: dict) -> None:
    assert after["schema"] == before["schema"]  # no table dropped, added or altered
    assert set(after["rows"]) == set(before["rows"])
    for table, rows in before["rows"].items():
        if LOG_TABLES.search(table):
            assert set(rows) <= set(after["rows"][table]), f"{table} lost rows"
        else:
            assert after["rows"][table] == rows, f"{table} changed"
    assert len(after["rows"]["employee"]) == len(before["rows"]["employee"]) == 4


def invisible_characters(text: str) -> set[str]:
    """Control and format characters (ESC, BEL, RLO, zero-width...) other than newlines."""
    return {
        f"U+{ord(c):04X}"
        for c in text
        if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co")
    }


def assert_safe(calls) -> None:
    """No recorded Slack call echoes markup, shows an error or carries invisible characters."""
    for call in calls:
        raw = json.dumps(call.params, ensure_ascii=False)
        assert not MARKUP.search(raw), f"{call.method} echoes markup: {raw[:500]}"
        assert not ERROR_WORDS.search(raw), f"{call.method} shows an error: {raw[:500]}"
        shown = [call.params.get("text") or ""]
        shown += [json.dumps(b, ensure_ascii=False) for _, b in _blocks(call)]
        for text in shown:
            assert not invisible_characters(text), f"{call.method}: {text[:300]!r}"
            assert len(text) < 6_000, f"{call.method}: {len(text)} characters sent back"


def _blocks(call):
    if isinstance(call.params.get("blocks"), list):
        yield call.method, call.params["blocks"]
    if isinstance(call.params.get("view"), dict):
        yield call.method, call.params["view"].get("blocks", [])


def no_errors_logged(caplog) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def is_clear_command_answer(text: str) -> bool:
    return (
        text.startswith((HELP, REFUSED, ADMINS_ONLY, UNKNOWN_PERSON, ACCESS_LOG))
        or text.endswith(BAD_COMMAND)
        or text.startswith("Codex usage for ")
    )


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("position", list(POSITIONS), ids=list(POSITIONS))
@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_command_text_gets_one_clear_private_answer(world, caplog, hostile, position):
    slack, sender = world
    user_id, template = POSITIONS[position]
    start = len(slack.calls)
    answered = len(slack.calls_to("response_url"))
    before = snapshot()

    response = sender.command(user_id, template.format(hostile))
    assert response.status_code == 200
    assert not ERROR_WORDS.search(response.text)
    slack.wait_for("response_url", answered + 1)
    # A known, distinct answer behind it: a second answer to the hostile text would come
    # before this one.
    assert sender.command("USENTINEL", "stats").status_code == 200
    answers = slack.wait_for("response_url", answered + 2)[answered:]
    assert len(answers) == 2
    answer, sentinel = (a.params for a in answers)
    assert sentinel["text"].startswith(NOT_IN_DIRECTORY), "a second answer to the hostile text"

    assert answer["response_type"] == "ephemeral"
    assert is_clear_command_answer(answer["text"]), answer["text"]
    assert answer["blocks"], answer
    new_calls = slack.calls[start:]
    # Nothing public: commands are answered only through response_url.
    assert not [c for c in new_calls if c.method.startswith("chat.")]
    assert_safe(new_calls)
    slack.assert_blocks_valid()
    no_errors_logged(caplog)
    assert_database_unchanged(before, snapshot())


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_dm_text_gets_the_senders_own_stats_once(world, caplog, hostile):
    slack, sender = world
    start = len(slack.calls)
    posted = len(slack.calls_to("chat.postMessage"))
    before = snapshot()

    response = sender.dm("UREP", hostile)
    assert response.status_code == 200
    slack.wait_for("chat.postMessage", posted + 1)
    assert sender.dm("USENTINEL", "usage").status_code == 200
    answers = slack.wait_for("chat.postMessage", posted + 2)[posted:]
    assert [a.params["channel"] for a in answers] == ["DUREP", "DUSENTINEL"]
    answer = answers[0].params
    # Whatever the words, a DM answers about its sender, and only about them.
    assert answer["text"].startswith("Codex usage for Remy Report, "), answer["text"]
    raw = json.dumps(answer, ensure_ascii=False)
    for other in ("Max Manager", "Cleo Chief", "Ada Admin"):
        assert other not in raw
    assert_safe(slack.calls[start:])
    slack.assert_blocks_valid()
    no_errors_logged(caplog)
    assert_database_unchanged(before, snapshot())

"""Reading what people type: `/codex` subcommands, mentions and periods in plain words."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sync.notices import Notice
from sync.reports.periods import MAX_PERIOD_DAYS, STATS_PERIOD_DAYS, TEAM_PERIOD_DAYS, Period

# With should_escape on, Slack sends "@alice" as "<@U123ABC|alice>" ("|alice" may be missing).
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_DAYS = re.compile(r"^(\d{1,2})\s*d(?:ays?)?$")
SUBCOMMANDS = ("stats", "team", "digest", "audit", "connect", "status", "disconnect", "help")
DIGEST_ACTIONS = ("preview", "on", "off", "me on", "me off")


@dataclass(frozen=True)
class CodexCommand:
    name: str  # one of SUBCOMMANDS, or "help" with a problem for anything unreadable
    target_user_id: str | None = None
    days: int = 7
    problem: Notice | None = None  # what was unreadable, worded by templates/_notices.j2
    action: str | None = None  # for digest: one of DIGEST_ACTIONS; for disconnect: "forget"


def parse_codex_command(text: str) -> CodexCommand:
    words = (text or "").split()
    if not words:
        return CodexCommand("help")
    name, rest = words[0].lower(), words[1:]
    if name not in SUBCOMMANDS:
        return CodexCommand(
            "help", problem=Notice("unknown_subcommand", {"word": _quote(words[0])})
        )
    if name == "stats":
        return _parse_stats(rest)
    if name == "audit":
        mentions = [m.group(1) for w in rest if (m := MENTION.fullmatch(w))]
        if len(mentions) != 1 or len(rest) != 1:
            return CodexCommand("audit", problem=Notice("one_mention_for_audit"))
        return CodexCommand("audit", target_user_id=mentions[0])
    if name == "team":
        days, problem = _parse_days(rest, TEAM_PERIOD_DAYS)
        if problem is None and len(rest) > 1:
            problem = Notice("one_period_for_team")
        return CodexCommand("team", days=days, problem=problem)
    if name == "digest":
        action = " ".join(rest).lower()
        if action not in DIGEST_ACTIONS:
            return CodexCommand(
                "digest", problem=Notice("digest_actions", {"actions": DIGEST_ACTIONS})
            )
        return CodexCommand("digest", action=action)
    if name == "disconnect" and [w.lower() for w in rest] == ["forget"]:
        return CodexCommand(name, action="forget")
    if rest:
        return CodexCommand(name, problem=Notice("takes_nothing", {"name": name}))
    return CodexCommand(name)


def _parse_stats(words: list[str]) -> CodexCommand:
    mentions = [m.group(1) for w in words if (m := MENTION.fullmatch(w))]
    others = [w for w in words if not MENTION.fullmatch(w)]
    target = mentions[0] if mentions else None
    days, problem = _parse_days(others, STATS_PERIOD_DAYS)
    if problem is None and (len(mentions) > 1 or len(others) > 1):
        problem = Notice("one_mention_for_stats")
    return CodexCommand("stats", target_user_id=target, days=days, problem=problem)


def _parse_days(words: list[str], allowed: tuple[int, ...]) -> tuple[int, Notice | None]:
    """The period named by the first word (default: the shortest allowed)."""
    if not words:
        return allowed[0], None
    match = _DAYS.match(words[0].lower())
    if match and int(match.group(1)) in allowed:
        return int(match.group(1)), None
    return allowed[0], Notice("unknown_period", {"word": _quote(words[0]), "choices": allowed})


def _quote(word: str) -> str:
    """User text shown back: short, with no markup that could mention or format."""
    cleaned = "".join(c for c in word if c.isprintable() and c not in "<>&`*_~")
    return cleaned[:40] or "?"


# --- DMs -------------------------------------------------------------------------------

_HELP_WORDS = re.compile(r"\b(help|commands?|what can you do)\b")
_ACCESS_LOG_WORDS = re.compile(r"\bwho\b.*\b(viewed|view|looked|seen|saw|checked)\b|access log")


@dataclass(frozen=True)
class DirectMessageRequest:
    wants_help: bool
    period: Period
    wants_access_log: bool = False


def parse_direct_message(text: str, today: dt.date) -> DirectMessageRequest:
    """A DM is always about the sender; only the period is read from the words."""
    words = " ".join((text or "").lower().split())
    default = Period.ending_before(today, 7)
    if _ACCESS_LOG_WORDS.search(words):
        return DirectMessageRequest(False, default, wants_access_log=True)
    if _HELP_WORDS.search(words):
        return DirectMessageRequest(True, default)
    return DirectMessageRequest(False, period_from_words(words, today))


def period_from_words(words: str, today: dt.date) -> Period:
    if "today" in words:
        return Period(today, today)
    if "yesterday" in words:
        return Period.ending_before(today, 1)
    if "this week" in words:
        return Period(today - dt.timedelta(days=today.weekday()), today)
    if "this month" in words:
        return Period(today.replace(day=1), today)
    match = re.search(r"\b(\d{1,2})\s*d(?:ays?)?\b", words)
    if match and 1 <= int(match.group(1)) <= MAX_PERIOD_DAYS:
        return Period.ending_before(today, int(match.group(1)))
    if "month" in words:
        return Period.ending_before(today, 30)
    return Period.ending_before(today, 7)

"""Reading what people type: `/codex` subcommands, mentions and periods in plain words."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sync.reports.periods import Period

# With should_escape on, Slack sends "@alice" as "<@U123ABC|alice>" ("|alice" may be missing).
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_DAYS = re.compile(r"^(\d{1,2})\s*d(?:ays?)?$")
SUBCOMMANDS = ("stats", "team", "digest", "audit", "connect", "status", "disconnect", "help")
DIGEST_ACTIONS = ("preview", "on", "off", "me on", "me off")
STATS_DAYS = (7, 30, 90)
TEAM_DAYS = (7, 30)


@dataclass(frozen=True)
class CodexCommand:
    name: str  # one of SUBCOMMANDS, or "help" with a problem for anything unreadable
    target_user_id: str | None = None
    days: int = 7
    problem: str | None = None
    action: str | None = None  # for digest: one of DIGEST_ACTIONS


def parse_codex_command(text: str) -> CodexCommand:
    words = (text or "").split()
    if not words:
        return CodexCommand("help")
    name, rest = words[0].lower(), words[1:]
    if name not in SUBCOMMANDS:
        return CodexCommand("help", problem=f"I don't know `{_quote(words[0])}`.")
    if name == "stats":
        return _parse_stats(rest)
    if name == "audit":
        mentions = [m.group(1) for w in rest if (m := MENTION.fullmatch(w))]
        if len(mentions) != 1 or len(rest) != 1:
            return CodexCommand("audit", problem="Mention one person: `/codex audit @alice`.")
        return CodexCommand("audit", target_user_id=mentions[0])
    if name == "team":
        days, problem = _parse_days(rest, TEAM_DAYS)
        if problem is None and len(rest) > 1:
            problem = "`/codex team` takes one period, like `/codex team 30d`."
        return CodexCommand("team", days=days, problem=problem)
    if name == "digest":
        action = " ".join(rest).lower()
        if action not in DIGEST_ACTIONS:
            choices = ", ".join(f"`/codex digest {a}`" for a in DIGEST_ACTIONS)
            return CodexCommand("digest", problem=f"Use one of {choices}.")
        return CodexCommand("digest", action=action)
    if rest:
        return CodexCommand(name, problem=f"`/codex {name}` takes nothing after it.")
    return CodexCommand(name)


def _parse_stats(words: list[str]) -> CodexCommand:
    mentions = [m.group(1) for w in words if (m := MENTION.fullmatch(w))]
    others = [w for w in words if not MENTION.fullmatch(w)]
    target = mentions[0] if mentions else None
    days, problem = _parse_days(others, STATS_DAYS)
    if problem is None and (len(mentions) > 1 or len(others) > 1):
        problem = "Mention one person with @, like `/codex stats @alice 30d`."
    return CodexCommand("stats", target_user_id=target, days=days, problem=problem)


def _parse_days(words: list[str], allowed: tuple[int, ...]) -> tuple[int, str | None]:
    """The period named by the first word (default: the shortest allowed)."""
    if not words:
        return allowed[0], None
    match = _DAYS.match(words[0].lower())
    if match and int(match.group(1)) in allowed:
        return int(match.group(1)), None
    choices = "|".join(f"{d}d" for d in allowed)
    return allowed[0], f"`{_quote(words[0])}` isn't a period I know: use {choices}."


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
    if match and 1 <= int(match.group(1)) <= 90:
        return Period.ending_before(today, int(match.group(1)))
    if "month" in words:
        return Period.ending_before(today, 30)
    return Period.ending_before(today, 7)

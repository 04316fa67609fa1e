"""Reading what people type: `/codex` subcommands, mentions and periods in plain words."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sync.notices import Notice
from sync.org.directory import is_valid_email, normalize_email
from sync.reports.periods import MAX_PERIOD_DAYS, STATS_PERIOD_DAYS, TEAM_PERIOD_DAYS, Period

# With should_escape on, Slack sends "@alice" as "<@U123ABC|alice>" ("|alice" may be missing).
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
# ... and an email it recognises as "<mailto:ada@example.com|ada@example.com>".
MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>", re.IGNORECASE)
_DAYS = re.compile(r"^(\d{1,2})\s*d(?:ays?)?$")
SUBCOMMANDS = (
    "stats",
    "team",
    "digest",
    "audit",
    "org",
    "connect",
    "status",
    "disconnect",
    "help",
)
DIGEST_ACTIONS = ("preview", "on", "off", "me on", "me off")
ORG_ACTIONS = ("overview", "unmatched", "alias", "history")  # "overview" is `/codex org` alone


@dataclass(frozen=True)
class CodexCommand:
    name: str  # one of SUBCOMMANDS, or "help" with a problem for anything unreadable
    target_user_id: str | None = None  # the person named by a mention...
    days: int = 7
    problem: Notice | None = None  # what was unreadable, worded by templates/_notices.j2
    # For digest: one of DIGEST_ACTIONS; for disconnect: "forget"; for org: ORG_ACTIONS.
    action: str | None = None
    target_email: str | None = None  # ...or by their directory email (lower-cased)
    codex_email: str | None = None  # for org alias: the Codex account's email


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
        people = [person for word in rest if (person := _person(word))]
        if len(people) != 1 or len(rest) != 1:
            return CodexCommand("audit", problem=Notice("one_mention_for_audit"))
        return _naming("audit", people[0])
    if name == "org":
        return _parse_org(rest)
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
    people = [person for word in words if (person := _person(word))]
    others = [word for word in words if not _person(word)]
    days, problem = _parse_days(others, STATS_PERIOD_DAYS)
    if problem is None and (len(people) > 1 or len(others) > 1):
        problem = Notice("one_mention_for_stats")
    parsed = _naming("stats", people[0]) if people else CodexCommand("stats")
    return CodexCommand(
        "stats",
        target_user_id=parsed.target_user_id,
        target_email=parsed.target_email,
        days=days,
        problem=parsed.problem or problem,
    )


def _parse_org(words: list[str]) -> CodexCommand:
    """`/codex org`, `org unmatched`, `org history`, `org alias CODEX_EMAIL @person`."""
    if not words:
        return CodexCommand("org", action="overview")
    action, rest = words[0].lower(), words[1:]
    if action in ("unmatched", "history"):
        if rest:
            return CodexCommand("org", problem=Notice("takes_nothing", {"name": f"org {action}"}))
        return CodexCommand("org", action=action)
    if action != "alias":
        return CodexCommand("org", problem=Notice("org_actions"))
    if len(rest) != 2:
        return CodexCommand("org", problem=Notice("org_alias_usage"))
    codex_email, person = _email(rest[0]), _person(rest[1])
    if codex_email is None:
        if _person(rest[0]):  # the person first: the order is the problem
            return CodexCommand("org", problem=Notice("org_alias_usage"))
        return CodexCommand("org", problem=Notice("not_an_email", {"word": _quote(rest[0])}))
    if person is None:
        return CodexCommand("org", problem=Notice("org_alias_usage"))
    named = _naming("org", person)
    if named.problem:
        return named
    return CodexCommand(
        "org",
        action="alias",
        codex_email=codex_email,
        target_user_id=named.target_user_id,
        target_email=named.target_email,
    )


# How a person is named: ("mention", user id), ("email", email) or ("unresolved", "@name").
_Person = tuple[str, str]


def _person(word: str) -> _Person | None:
    if match := MENTION.fullmatch(word):
        return ("mention", match.group(1))
    if email := _email(word):
        return ("email", email)
    # Slack sends "@name" as typed when it could not link it to anyone.
    if word.startswith("@") and len(word) > 1:
        return ("unresolved", word)
    return None


def _email(word: str) -> str | None:
    match = MAILTO.fullmatch(word)
    email = normalize_email(match.group(1) if match else word)
    if "<" in email or ">" in email or not is_valid_email(email):
        return None
    return email


def _naming(name: str, person: _Person) -> CodexCommand:
    how, value = person
    if how == "mention":
        return CodexCommand(name, target_user_id=value)
    if how == "email":
        return CodexCommand(name, target_email=value)
    return CodexCommand(name, problem=Notice("unresolved_mention", {"name": _quote(value)}))


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

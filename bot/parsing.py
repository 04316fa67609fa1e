"""Reading what people type: `/codex` subcommands, mentions and periods in plain words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from sync.notices import Notice
from sync.org.directory import is_valid_email, normalize_email
from sync.reports.exports import EXPORT_PERIOD_DAYS
from sync.reports.periods import (
    MAX_PERIOD_DAYS,
    STATS_PERIOD_DAYS,
    TEAM_PERIOD_DAYS,
    LocalToday,
    Period,
)
from sync.reports.schedules import WeeklySlot, parse_time_of_day, parse_weekday

# With should_escape on, Slack sends "@alice" as "<@U123ABC|alice>" ("|alice" may be missing).
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
# ... and an email it recognises as "<mailto:ada@example.com|ada@example.com>".
MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|[^>]*)?>", re.IGNORECASE)
_DAYS = re.compile(r"^(\d{1,2})\s*d(?:ays?)?$")
SUBCOMMANDS = (
    "stats",
    "team",
    "adoption",
    "export",
    "digest",
    "audit",
    "org",
    "connect",
    "status",
    "disconnect",
    "help",
)
DIGEST_ACTIONS = ("preview", "on", "off", "me on", "me off")
# `/codex digest` alone lists the asker's schedule; these change it.
DIGEST_SCHEDULE_USAGE = ("schedule DAY HH:MM", "schedule default")
ONE_ON_ONE_USAGE = ("1on1 @person DAY HH:MM", "1on1 @person off")
ONE_ON_ONE_WORDS = ("1on1", "1:1", "one-on-one")
# The digest actions about when digests arrive (sync/reports/schedules.py answers them).
SCHEDULE_ACTIONS = ("show", "schedule", "1on1")
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
    whole_team: bool = False  # for export: the asker's team rather than one person
    # For digest schedule and 1on1: the day and time asked for; None resets or removes.
    slot: WeeklySlot | None = None
    everyone: bool = False  # for team and export (`all`): the whole organisation, admins only


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
        return _with_everyone(
            rest, lambda words: _person_and_period("team", words, TEAM_PERIOD_DAYS, TEAM_USAGE)
        )
    if name == "adoption":
        return _parse_adoption(rest)
    if name == "export":
        return _parse_export(rest)
    if name == "digest":
        return _parse_digest(rest)
    if name == "disconnect" and [w.lower() for w in rest] == ["forget"]:
        return CodexCommand(name, action="forget")
    if rest:
        return CodexCommand(name, problem=Notice("takes_nothing", {"name": name}))
    return CodexCommand(name)


def _parse_digest(words: list[str]) -> CodexCommand:
    """`/codex digest` (the asker's schedule), `... schedule DAY HH:MM|default`,
    `... 1on1 @person DAY HH:MM|off`, or one of DIGEST_ACTIONS."""
    if not words:
        return CodexCommand("digest", action="show")
    head, rest = words[0].lower(), words[1:]
    if head == "schedule":
        if [word.lower() for word in rest] == ["default"]:
            return CodexCommand("digest", action="schedule")
        slot = _weekly_slot(rest)
        if slot is None:
            usage = Notice("digest_usage", {"forms": DIGEST_SCHEDULE_USAGE})
            return CodexCommand("digest", problem=usage)
        return CodexCommand("digest", action="schedule", slot=slot)
    if head in ONE_ON_ONE_WORDS:
        usage = Notice("digest_usage", {"forms": ONE_ON_ONE_USAGE})
        people = [person for word in rest if (person := _person(word))]
        others = [word for word in rest if not _person(word)]
        off = [word.lower() for word in others] == ["off"]
        slot = None if off else _weekly_slot(others)
        if len(people) != 1 or (slot is None and not off):
            return CodexCommand("digest", problem=usage)
        named = _naming("digest", people[0])
        return replace(named, action="1on1", slot=slot)
    action = " ".join(words).lower()
    if action not in DIGEST_ACTIONS:
        forms = DIGEST_ACTIONS + DIGEST_SCHEDULE_USAGE + ONE_ON_ONE_USAGE
        return CodexCommand("digest", problem=Notice("digest_actions", {"actions": forms}))
    return CodexCommand("digest", action=action)


def _weekly_slot(words: list[str]) -> WeeklySlot | None:
    """ "thursday 14:00" (or "thu 14:00"): a weekday, then a 24-hour time."""
    if len(words) != 2:
        return None
    weekday, time = parse_weekday(words[0]), parse_time_of_day(words[1])
    if weekday is None or time is None:
        return None
    return WeeklySlot.of(weekday, time)


def _parse_stats(words: list[str]) -> CodexCommand:
    return _person_and_period("stats", words, STATS_PERIOD_DAYS, Notice("one_mention_for_stats"))


TEAM_USAGE = Notice("one_period_for_team")
ADOPTION_USAGE = Notice("adoption_usage")
# `/codex adoption org` (or `all`): the whole organisation, for admins and analysts.
_ORGANISATION_WORDS = ("org", "all")


def _parse_adoption(words: list[str]) -> CodexCommand:
    """`/codex adoption [team|org|@manager] [7d|30d|90d]`: `team` (the default) is the
    asker's reporting line."""
    scopes = [word.lower() for word in words if word.lower() in ("team", *_ORGANISATION_WORDS)]
    rest = [word for word in words if word.lower() not in ("team", *_ORGANISATION_WORDS)]
    parsed = _person_and_period("adoption", rest, TEAM_PERIOD_DAYS, ADOPTION_USAGE)
    names_someone = parsed.target_user_id is not None or parsed.target_email is not None
    if parsed.problem is None and (len(scopes) > 1 or (scopes and names_someone)):
        parsed = replace(parsed, problem=ADOPTION_USAGE)
    return replace(parsed, everyone=bool(scopes) and scopes[0] in _ORGANISATION_WORDS)


EXPORT_USAGE = Notice("export_usage")


def _parse_export(words: list[str]) -> CodexCommand:
    """`/codex export [@person|team|all] [7d|30d|90d]`."""
    return _with_everyone(words, _parse_export_of_someone)


def _parse_export_of_someone(words: list[str]) -> CodexCommand:
    whole_team = [word for word in words if word.lower() == "team"]
    rest = [word for word in words if word.lower() != "team"]
    parsed = _person_and_period("export", rest, EXPORT_PERIOD_DAYS, EXPORT_USAGE)
    names_someone = parsed.target_user_id is not None or parsed.target_email is not None
    if parsed.problem is None and (len(whole_team) > 1 or (whole_team and names_someone)):
        parsed = replace(parsed, problem=EXPORT_USAGE)
    return replace(parsed, whole_team=bool(whole_team))


def _with_everyone(words: list[str], parse: Callable[[list[str]], CodexCommand]) -> CodexCommand:
    """`all` (the whole organisation) beside what `parse` reads: nothing else but a period."""
    everyone = [word for word in words if word.lower() == "all"]
    parsed = parse([word for word in words if word.lower() != "all"])
    if not everyone:
        return parsed
    names_someone = parsed.target_user_id is not None or parsed.target_email is not None
    if parsed.problem is None and (len(everyone) > 1 or names_someone or parsed.whole_team):
        parsed = replace(parsed, problem=TEAM_USAGE if parsed.name == "team" else EXPORT_USAGE)
    return replace(parsed, everyone=True)


def _person_and_period(
    name: str, words: list[str], allowed: tuple[int, ...], too_many: Notice
) -> CodexCommand:
    """A command naming at most one person (by mention or email) and one period."""
    people = [person for word in words if (person := _person(word))]
    others = [word for word in words if not _person(word)]
    days, problem = _parse_days(others, allowed)
    if problem is None and (len(people) > 1 or len(others) > 1):
        problem = too_many
    parsed = _naming(name, people[0]) if people else CodexCommand(name)
    return CodexCommand(
        name,
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
# "What can my manager see?", "who can view my usage?", "who has access to my stats?":
# someone else, an ability, and seeing; or naming the privacy settings outright.
_TRANSPARENCY_WORDS = (
    re.compile(r"\b(manager|boss|lead|admins?|analysts?|who|anyone|anybody|others)\b"),
    re.compile(r"\b(can|could|may|allowed|has access|have access)\b"),
    re.compile(r"\b(see|view|access|read)\b"),
)
_PRIVACY_WORDS = re.compile(r"\bprivacy\b|works[ -]?council")


@dataclass(frozen=True)
class DirectMessageRequest:
    wants_help: bool
    words: str = ""  # what the sender wrote, lower-cased, spaces collapsed
    wants_access_log: bool = False
    wants_transparency: bool = False  # who may see the sender's figures, and who did

    def period(self, today: LocalToday) -> Period:
        """The period the words name, on the sender's own calendar: the deciding function
        knows whose today it is."""
        return period_from_words(self.words, today)


def parse_direct_message(text: str) -> DirectMessageRequest:
    """A DM is always about the sender; only the period is read from the words."""
    words = " ".join((text or "").lower().split())
    if _PRIVACY_WORDS.search(words) or all(p.search(words) for p in _TRANSPARENCY_WORDS):
        return DirectMessageRequest(False, words, wants_transparency=True)
    if _ACCESS_LOG_WORDS.search(words):
        return DirectMessageRequest(False, words, wants_access_log=True)
    if _HELP_WORDS.search(words):
        return DirectMessageRequest(True, words)
    return DirectMessageRequest(False, words)


def period_from_words(words: str, today: LocalToday) -> Period:
    """Calendar words (today, this week, this month) end on the asker's today, still
    filling in; a number of days is that many complete days."""
    day = today.day
    if "today" in words:
        return Period(day, day)
    if "yesterday" in words:
        return Period.ending_before(day, 1)
    if "this week" in words:
        return Period(day - dt.timedelta(days=day.weekday()), day)
    if "this month" in words:
        return Period(day.replace(day=1), day)
    match = re.search(r"\b(\d{1,2})\s*d(?:ays?)?\b", words)
    if match and 1 <= int(match.group(1)) <= MAX_PERIOD_DAYS:
        return today.last_days(int(match.group(1)))
    if "month" in words:
        return today.last_days(30)
    return today.last_days(7)

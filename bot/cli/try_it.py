"""`codexbot try`: the whole bot in a terminal, on the simulator and a fake Slack.

The data is `codexbot demo`'s (bot/cli/demo.py's `simulated_workspace`) on a temporary
SQLite file. The bot is a real `codexbot run --http` child process whose Web API client
points at the fake Slack (bot/cli/fake_slack.py) served from this process, where every
directory person is a Slack user with their email. What the newcomer types goes to the
bot as Slack sends it: `/codex ...` as a signed slash command, anything else as a DM
event, `home` as app_home_opened, `[Button label]` as a press of that button. Every
message the bot sends the fake Slack in answer is shown readably, with a Block Kit
Builder link that draws it as Slack would.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from bot.cli.commands import cli, simulated_organisation_options

# How long an answer may take (a chart is drawn, then uploaded in three calls), and how
# long the fake Slack stays quiet before an answer counts as complete.
ANSWER_TIMEOUT = 30.0
QUIET_AFTER_ANSWER = 0.6
STARTUP_TIMEOUT = 60.0
# Web API calls that are the bot answering someone, as opposed to asking Slack something.
ANSWER_METHODS = (
    "response_url",
    "chat.postMessage",
    "chat.postEphemeral",
    "views.publish",
    "views.open",
    "views.update",
    "files.completeUploadExternal",
)
# Started but not finished: the file's last step is still to come.
UNFINISHED_METHODS = ("files.getUploadURLExternal", "upload")
FIELD_GAP = 4  # spaces between a line's two fields, at the least
# Where the newcomer's choice of person lands when `--as` names nobody in the directory.
OUTSIDER_SLACK_ID = "UOUTSIDER1"


@dataclass(frozen=True)
class SlackPerson:
    """Someone in the fake Slack workspace: a directory person, or an outsider."""

    slack_user_id: str
    email: str
    name: str
    archived: bool = False
    timezone: str = "UTC"  # Slack profile's: the bot uses it where the directory has none
    in_directory: bool = True

    @property
    def first_name(self) -> str:
        return (self.name.split() or [self.email])[0].split("@")[0]


@dataclass(frozen=True)
class Choice:
    """One of the people offered when `--as` is not given, and what to try as them."""

    person: SlackPerson
    role: str  # "manager", "report", "peer", "admin": the template words it
    manager: SlackPerson | None = None
    reports: int = 0
    about: SlackPerson | None = None  # whom to ask about


@cli.command("try")
@click.option(
    "--as",
    "as_email",
    metavar="EMAIL",
    help="Who you are in Slack: an email (or name) from the directory; else a list to pick from.",
)
@simulated_organisation_options
def try_command(as_email: str | None, employees: int, days: int, seed: int) -> None:
    """The Slack side in your terminal: the bot on the simulator and a fake Slack.

    Type what you would type in Slack: `/codex stats @name`, `/codex team`, a DM such as
    "my usage this week", `home` for the Home tab; `help` lists it all, `quit` ends."""
    from bot.cli.demo import simulated_workspace
    from sync.config import load_settings
    from sync.store.models import database

    # Defaults only: the sandbox is the same for everyone, whatever the operator's config.
    settings = load_settings(None, environ={})
    with tempfile.TemporaryDirectory(prefix="codexbot-try-") as scratch:
        database_url = f"sqlite:///{Path(scratch) / 'try.db'}"
        try:
            with simulated_workspace(
                settings, database_url, employees=employees, days=days, seed=seed
            ) as workspace:
                people = directory_people()
                choices = offered_people(people)
                database.close()  # from here only the bot uses the database
                environment = bot_environment(
                    Path(scratch),
                    database_url,
                    workspace.simulator.base_url,
                    workspace.settings.security.secret_key or "",
                )
                _converse(people, choices, as_email, environment, Path(scratch))
        except KeyboardInterrupt:  # a way to quit: everything is cleaned up all the same
            click.echo()
        finally:
            database.close()
    _say("bye")


def _converse(
    people: list[SlackPerson],
    choices: list[Choice],
    as_email: str | None,
    environment: dict[str, str],
    scratch: Path,
) -> None:
    from bot.cli.fake_slack import FakeSlack

    slack = FakeSlack().start()
    try:
        for person in people:
            slack.add_user(
                person.slack_user_id,
                person.email,
                name=person.first_name.lower(),
                tz=person.timezone,
            )
        # The bot starts while the newcomer picks who they are.
        with running_bot(slack, environment, scratch) as listening:
            you = _choose_person(people, choices, as_email, slack)
            if you is None:
                return
            session = Session(slack, listening(), people, you)
            _say("welcome", you=you)
            session.loop()
    finally:
        slack.stop()


# ------------------------------------------------------------------------------ who is who


def directory_people() -> list[SlackPerson]:
    """Everyone in the directory as a Slack user: their Slack id from the directory, or a
    made-up one (the bot then finds them by the email Slack holds, as in a real workspace)."""
    from sync.org.access import is_archived
    from sync.store.models import Employee

    people = []
    for n, employee in enumerate(Employee.select().order_by(Employee.email), start=1):
        people.append(
            SlackPerson(
                employee.slack_user_id or f"UTRY{n:06d}",
                employee.email,
                employee.display_name,
                is_archived(employee),
                employee.timezone or "UTC",
            )
        )
    return people


def offered_people(people: list[SlackPerson]) -> list[Choice]:
    """A manager (the one with the most reports), their busiest report, another of their
    reports (who may not see the first's figures), and an admin."""
    from bot.cli.demo import busiest_report, manager_with_most_reports
    from sync.org.access import is_archived
    from sync.store.models import Employee

    by_email = {p.email: p for p in people}
    manager = manager_with_most_reports()
    reports = [r for r in manager.direct_reports if not is_archived(r)]
    report = busiest_report(manager)
    boss, busiest = by_email[manager.email], by_email[report.email]
    choices = [
        Choice(boss, "manager", reports=len(reports), about=busiest),
        Choice(busiest, "report", manager=boss),
    ]
    peers = sorted((r for r in reports if r.id != report.id), key=lambda r: r.email)
    if peers:
        choices.append(Choice(by_email[peers[0].email], "peer", manager=boss, about=busiest))
    admins = Employee.select().where(Employee.role == "admin").order_by(Employee.email)
    admin = next((a for a in admins if not is_archived(a)), None)
    if admin is not None:
        choices.append(Choice(by_email[admin.email], "admin"))
    return choices


def _choose_person(
    people: list[SlackPerson], choices: list[Choice], as_email: str | None, slack
) -> SlackPerson | None:
    if as_email:
        found = resolve_person(as_email.removeprefix("@"), people)
        if found is not None:
            return found
        if "@" not in as_email.removeprefix("@"):
            raise click.ClickException(_words("nobody", word=as_email))
        # Someone the directory does not know, signed in to Slack: what outsiders see.
        email = as_email.lower()
        outsider = SlackPerson(OUTSIDER_SLACK_ID, email, email, in_directory=False)
        slack.add_user(outsider.slack_user_id, outsider.email, name="outsider")
        return outsider
    _say("people", choices=choices, mention=lambda p: mention_word(p, people))
    try:
        picked = click.prompt(
            _words("pick"), type=click.IntRange(1, len(choices)), prompt_suffix=": "
        )
    except click.Abort:  # EOF or Ctrl-C at the question
        return None
    return choices[picked - 1].person


def resolve_person(word: str, people: list[SlackPerson]) -> SlackPerson | None:
    """The person a typed `@word` means (see matching_people), or None."""
    found = matching_people(word, people)
    return found[0] if found else None


def matching_people(word: str, people: list[SlackPerson]) -> list[SlackPerson]:
    """Whom a typed `@word` may mean, likeliest first: an exact email or email name, then
    anyone whose email or any part of whose name starts with it; people still here before
    archived ones, then by email."""
    word = word.lower()
    if not word:
        return []

    def rank(p: SlackPerson) -> tuple:
        local = p.email.split("@")[0]
        exact = word in (p.email, local)
        return (not exact, p.archived, p.email)

    def matches(p: SlackPerson) -> bool:
        names = [p.email, *p.name.lower().split(), p.name.lower().replace(" ", ".")]
        return any(n.startswith(word) for n in names)

    return sorted((p for p in people if matches(p)), key=rank)


def mention_word(person: SlackPerson, people: list[SlackPerson]) -> str:
    """The shortest `@word` that resolve_person takes to this very person."""
    for word in (person.first_name.lower(), person.email.split("@")[0]):
        if resolve_person(word, people) == person:
            return "@" + word
    return "@" + person.email


# ------------------------------------------------------------------------------ the bot


def bot_environment(
    scratch: Path, database_url: str, codex_base_url: str, secret_key: str
) -> dict[str, str]:
    """`codexbot run`'s environment: this sandbox's database, simulator and secrets, and
    nothing of the operator's own Slack, Codex or codexbot settings."""
    from bot.cli.fake_slack import SIGNING_SECRET

    config = scratch / "codexbot.toml"
    # No scheduled digests: only what the newcomer asks for reaches the terminal.
    config.write_text("[digest]\nenabled = false\n", encoding="utf-8")
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "CODEXBOT_", "CODEX_", "SCIM_")) and key != "DATABASE_URL"
    }
    return {
        **inherited,
        "CODEXBOT_CONFIG": str(config),
        "DATABASE_URL": database_url,
        "CODEX_API_BASE_URL": codex_base_url,
        "CODEXBOT_SECRET_KEY": secret_key,
        "SLACK_BOT_TOKEN": "xoxb-codexbot-try",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }


@contextlib.contextmanager
def running_bot(slack, environment: dict[str, str], scratch: Path) -> Iterator[Callable[[], str]]:
    """`codexbot run --http` on a free loopback port, its Web API client pointed at the
    fake Slack, stopped when the block ends. Yields at once a function that waits until
    it listens and returns its base URL. Its log goes to a file in `scratch`, shown only
    if it does not start."""
    port = _free_port()
    log_path = scratch / "codexbot-run.log"
    command = [sys.executable, "-c", "from bot.cli import main; main()", "run", "--http"]
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env={**environment, "SLACK_API_URL": slack.api_url},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            # Its own session: Ctrl-C in the terminal reaches this process only, which
            # then stops the bot itself.
            start_new_session=True,
        )

    def listening() -> str:
        _wait_until_listening(process, log_path)
        return f"http://127.0.0.1:{port}"

    try:
        yield listening
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_listening(process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if "listening on" in log_path.read_text(encoding="utf-8", errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise click.ClickException(_words("bot_did_not_start", log=_log_tail(log_path)))


def _log_tail(log_path: Path, lines: int = 20) -> str:
    text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------------------ the session


class Session:
    """The conversation: one line typed, one request to the bot, its answers shown."""

    def __init__(self, slack, bot_url: str, people: list[SlackPerson], you: SlackPerson):
        from bot.cli.fake_slack import SlackSender

        self.slack = slack
        self.sender = SlackSender(bot_url, slack)
        self.people = people
        self.names = {p.slack_user_id: p.name for p in people}
        self.you = you
        # The buttons of the messages shown last: (label, action_id, value).
        self.buttons: list[tuple[str, str, str]] = []

    def loop(self) -> None:
        try:
            while True:
                try:
                    line = input(_words("prompt", you=self.you) + " ").strip()
                except EOFError:
                    click.echo()
                    return
                if not sys.stdin.isatty():
                    click.echo(line)  # what a terminal echoes: a piped session reads the same
                if line.lower() in ("quit", "exit", "/quit"):
                    return
                if line:
                    self.handle(line)
        finally:
            self.sender.http.close()

    def handle(self, line: str) -> None:
        if line.lower() == "help":
            _say("welcome", you=self.you)
            return
        if line.lower().startswith("as "):
            self._become(line[3:].strip())
            return
        start = len(self.slack.calls)
        if line.lower() == "home":
            response = self.sender.event(
                {
                    "type": "app_home_opened",
                    "user": self.you.slack_user_id,
                    "channel": f"D{self.you.slack_user_id}",
                    "tab": "home",
                    "event_ts": f"{time.time():.6f}",
                }
            )
        elif line.startswith("[") and line.endswith("]"):
            button = self._button(line[1:-1].strip())
            if button is None:
                _say("no_such_button", label=line, buttons=[b[0] for b in self.buttons])
                return
            response = self.sender.block_action(self.you.slack_user_id, button[1], button[2])
        elif line.startswith("/"):
            command, _, text = line.partition(" ")
            if command != "/codex":
                _say("only_codex", command=command)
                return
            response = self.sender.command(self.you.slack_user_id, self._mentions(text))
        else:
            response = self.sender.dm(self.you.slack_user_id, self._mentions(line))
        if response.status_code != 200:
            _say("refused_request", status=response.status_code, body=response.text[:200])
            return
        self._show_answers(start)

    def _become(self, who: str) -> None:
        found = resolve_person(who.removeprefix("@"), self.people)
        if found is None:
            _say("nobody", word=who)
            return
        self.you = found
        _say("became", you=found)

    def _button(self, label: str) -> tuple[str, str, str] | None:
        return next((b for b in self.buttons if b[0].lower() == label.lower()), None)

    def _mentions(self, text: str) -> str:
        """`@mei` as Slack sends a mention it linked: `<@U…>`, for the person it names."""

        def link(match: re.Match) -> str:
            found = matching_people(match.group(1), self.people)
            if not found:
                return match.group(0)  # Slack sends what it could not link as typed
            _say("mention", word=match.group(0), person=found[0], others=found[1:])
            return f"<@{found[0].slack_user_id}>"

        return re.sub(r"(?<![\w<@])@([\w.\-]*\w)", link, text)

    def _show_answers(self, start: int) -> None:
        answers = self._wait_for_answers(start)
        if not answers:
            _say("no_answer", seconds=int(ANSWER_TIMEOUT))
            return
        self.buttons = []
        for call in answers:
            shown = shown_call(call, self.slack, self.names)
            if shown is None:
                continue
            self.buttons += shown.buttons
            click.echo(_words_of("try_message.txt.j2", message=shown))

    def _wait_for_answers(self, start: int) -> list:
        deadline = time.monotonic() + ANSWER_TIMEOUT
        count, changed = start, time.monotonic()
        while time.monotonic() < deadline:
            calls = self.slack.calls[start:]
            if len(self.slack.calls) != count:
                count, changed = len(self.slack.calls), time.monotonic()
            answered = any(c.method in ANSWER_METHODS for c in calls)
            unfinished = calls and calls[-1].method in UNFINISHED_METHODS
            if answered and not unfinished and time.monotonic() - changed >= QUIET_AFTER_ANSWER:
                break
            time.sleep(0.05)
        return [c for c in self.slack.calls[start:] if c.method in ANSWER_METHODS]


# ------------------------------------------------------------------------------ showing


@dataclass
class ShownMessage:
    place: str  # "ephemeral", "dm", "home", "modal", "file": the template words it
    lines: list[str]
    link: str | None  # the Block Kit Builder link, when there are blocks
    buttons: list[tuple[str, str, str]]


def shown_call(call, slack, names: dict[str, str]) -> ShownMessage | None:
    """What the person sees of one answer the bot sent the fake Slack."""
    from bot.cli.demo import block_kit_builder_link

    params = call.params
    if call.method == "files.completeUploadExternal":
        lines = []
        for entry in params.get("files") or []:
            stored = slack.files.get(entry.get("id"), {})
            size = len(stored.get("data") or b"")
            lines.append(f"[{entry.get('title') or stored.get('filename')}: PNG, {size:,} bytes]")
        if params.get("initial_comment"):
            lines.insert(0, plain_mrkdwn(params["initial_comment"], names))
        return ShownMessage("file", lines, None, [])
    if call.method in ("views.publish", "views.open", "views.update"):
        view = params.get("view") or {}
        blocks = view.get("blocks") or []
        place = "home" if view.get("type") == "home" else "modal"
        lines = readable_blocks(blocks, names)
        if view.get("title"):
            lines.insert(0, click.style(view["title"].get("text", ""), bold=True))
        return ShownMessage(place, lines, block_kit_builder_link(view), _buttons(blocks))
    blocks = params.get("blocks") or []
    if call.method == "chat.postMessage":
        place = "dm" if str(params.get("channel", "")).startswith("D") else "channel"
    else:
        place = "ephemeral"
    if blocks:
        lines = readable_blocks(blocks, names)
        link = block_kit_builder_link({"blocks": blocks})
    else:
        lines, link = [plain_mrkdwn(params.get("text", ""), names)], None
    return ShownMessage(place, lines, link, _buttons(blocks))


def readable_blocks(blocks: list[dict], names: dict[str, str]) -> list[str]:
    """Block Kit as a terminal shows it: a header in bold, section text and fields (two to
    a line), context dimmed, buttons as [label], mrkdwn as plain text."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = _text(block.get("text"), names)
            lines += ["", click.style(title, bold=True), "─" * min(len(title), 72)]
        elif kind == "section":
            if block.get("text"):
                lines += _text(block["text"], names).splitlines()
            fields = [_text(f, names).replace("\n", "  ") for f in block.get("fields") or []]
            # Two to a line, as Slack lays them out: the right ones start in one column.
            column = max((len(click.unstyle(f)) for f in fields[::2]), default=0)
            for left, right in itertools.zip_longest(fields[::2], fields[1::2], fillvalue=""):
                gap = " " * (column - len(click.unstyle(left)) + FIELD_GAP)
                lines.append((left + gap + right).rstrip() if right else left)
            accessory = block.get("accessory")
            if accessory:
                lines.append(_element(accessory, names))
        elif kind == "context":
            parts = [_element(e, names) for e in block.get("elements") or []]
            lines.append(click.style("  ".join(parts), dim=True))
        elif kind == "actions":
            lines.append("  ".join(_element(e, names) for e in block.get("elements") or []))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "input":
            lines.append(f"{_text(block.get('label'), names)}: [{'_' * 24}]")
            if block.get("hint"):
                lines.append(click.style("  " + _text(block["hint"], names), dim=True))
        else:
            lines.append(f"[{kind}]")
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def _element(element: dict, names: dict[str, str]) -> str:
    kind = element.get("type")
    if kind in ("mrkdwn", "plain_text"):
        return _text(element, names)
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    label = _text(element.get("text") or element.get("placeholder"), names)
    return f"[{label or kind}]"


def _buttons(blocks: list[dict]) -> list[tuple[str, str, str]]:
    found = []
    for block in blocks:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("type") == "button":
                label = (element.get("text") or {}).get("text", "")
                found.append((label, element.get("action_id", ""), element.get("value", "")))
    return found


def _text(text: dict | None, names: dict[str, str]) -> str:
    if not text:
        return ""
    if text.get("type") == "mrkdwn":
        return plain_mrkdwn(text.get("text", ""), names)
    return text.get("text", "")


_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC_OR_STRIKE = re.compile(r"(?<![\w_~])([_~])(?=\S)([^_~\n]+?)(?<=\S)\1(?![\w_~])")
_CODE = re.compile(r"```\n?|`([^`\n]*)`")


def plain_mrkdwn(text: str, names: dict[str, str]) -> str:
    """Slack's mrkdwn as plain text: *bold* in bold, _italic_, ~strike~ and `code` marks
    dropped, links as their label, mentions as @name, entities decoded."""

    def link(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "@" + (names.get(target[1:]) or label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        return label or target.removeprefix("mailto:")

    text = _LINK.sub(link, text)
    text = _CODE.sub(lambda m: m.group(1) or "", text)
    text = _BOLD.sub(lambda m: click.style(m.group(1), bold=True), text)
    text = _ITALIC_OR_STRIKE.sub(lambda m: m.group(2), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# ------------------------------------------------------------------------------ words


def _words_of(template: str, **context) -> str:
    from bot.rendering import render

    return render(template, **context).rstrip("\n")


def _words(part: str, **context) -> str:
    return _words_of("try.txt.j2", part=part, **context)


def _say(part: str, **context) -> None:
    click.echo(_words(part, **context))

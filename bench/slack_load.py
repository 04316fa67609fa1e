"""Question 5, Slack load: 500 DMs and 100 `/codex stats` at once against `codexbot run --http`.

Every DM ("my usage", one per person) and every slash command (`stats`, or `stats @report
30d` about one of the manager's reports) is signed as Slack signs it and sent from 50
threads, each with a connection of its own, all starting together. The bot is the real
`codexbot run --http` in a child process, on an org with usage prepared here by the
project's own functions; its Web API calls and answers go to the fake Slack of
bot/cli/fake_slack.py, served from a child process of its own (FakeSlackProcess), so that
serving them takes no interpreter time from the 50 sending threads and their clocks. For
every request: the acknowledgement (the HTTP response; Slack gives up after 3 s), errors
(any status but 200, any transport error) and the answer (from sending to the fake Slack
receiving the DM's chat.postMessage, or the post to that command's own response_url).
Both sides stamp with time.monotonic(), Linux's CLOCK_MONOTONIC, which is one clock for
every process of the machine, so the stamps compare across processes.

The baseline is the same burst against a bare Bolt app with the same signing secret whose
listeners only ack(), behind the same WSGI stack (bot/server.py on waitress, same thread
count). It runs in a child process too, so that neither server shares its interpreter
with the 50 sending threads, and it gets the burst three times (twice before the bot's,
once after), its acks pooled: one burst of a server doing nearly nothing gives a p99
that moves with whatever else this shared machine runs.

`--codexbot-root DIR` runs the bot from another checkout (a before/after comparison). The
database is still prepared by this checkout's code, so DIR's schema version must be this
one's (the script checks it first).

    .venv/bin/python bench/slack_load.py [--employees N] [--days N] [--dms N] [--commands N]
        [--threads N] [--codexbot-root DIR] [--smoke]
"""

from __future__ import annotations

import json
import os
import queue
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import _common
import httpx
from backfill import codexbot_command
from cryptography.fernet import Fernet
from slack_sdk.signature import SignatureVerifier

from bot.cli.fake_slack import SIGNING_SECRET, TEAM_ID, FakeSlack
from sync.store.migrations import SCHEMA_VERSION
from sync.store.models import Employee, database

REPO = Path(__file__).resolve().parent.parent

GOAL_ACK_MAX = 1.0
GOAL_DM_ANSWER_P99 = 3.0
SLACK_ACK_BUDGET = 3.0  # Slack shows the person an error after this long without an ack
REQUEST_TIMEOUT = 10.0
BARE_BURSTS = 3
STARTUP_TIMEOUT = 60.0
DM_TEXT = "my usage"
BUSY_WORDS = "busy answering"  # templates/_notices.j2, the "busy" notice
QUEUE_DEPTH = "Task queue depth is "  # waitress's warning when requests wait for a thread
MAX_BODY_BYTES = 1_048_576  # slack.max_body_bytes' default, as the bot runs with it


@dataclass
class Request:
    kind: str  # "DM" or "command"
    body: str
    content_type: str
    answer: tuple[str, str]  # (method, channel) or ("response_url", path): where it lands
    started: float = 0.0  # time.monotonic(), as the fake Slack stamps what it receives
    acked: float = 0.0
    status: int | None = None
    error: str | None = None
    answered: float | None = None  # when the fake Slack had the first answer
    busy: bool = False  # the answer was the "busy" notice

    @property
    def ack_seconds(self) -> float:
        return self.acked - self.started

    @property
    def failed(self) -> bool:
        return self.error is not None or self.status != 200


@dataclass
class Burst:
    requests: list[Request]
    wall: float  # from the first request sent to the last acknowledged
    cpu: float  # the server process's CPU over the burst
    cpu_start: float  # the server process's CPU when it began


def main() -> None:
    def configure(parser):
        parser.add_argument("--dms", type=int, help="DMs in the burst (default 500)")
        parser.add_argument("--commands", type=int, help="/codex stats in it (default 100)")
        parser.add_argument("--threads", type=int, default=50, help="sending threads")
        parser.add_argument(
            "--codexbot-root",
            type=Path,
            help="run the bot from this checkout (same schema version) instead of this one",
        )

    args = _common.parse_args(
        __doc__.splitlines()[0],
        employees=10_000,
        days=90,
        smoke_employees=60,
        smoke_days=3,
        configure=configure,
    )
    args.dms = args.dms if args.dms is not None else (20 if args.smoke else 500)
    args.commands = args.commands if args.commands is not None else (5 if args.smoke else 100)
    answer_wait = 30.0 if args.smoke else 90.0
    bot_root = checked_root(args.codexbot_root) if args.codexbot_root else None
    url = _common.database_url()
    _common.header(
        "slack load: a burst of signed DMs and /codex stats, acks and answers", url, args
    )

    db = _common.fresh_database(url)
    seconds, _ = _common.timed(_common.import_org, args.employees, args.seed)
    print(f"   org imported in {seconds:.1f} s")
    seconds, rows = _common.timed(_common.store_history, db, url, args.days, surfaces=4)
    print(f"   {rows:,} usage rows stored in {seconds:.1f} s")
    if _common.is_postgres(url):
        # After the bulk load PostgreSQL checkpoints round after round for a minute or
        # more (its log says so), and the burst's commits would wait on that I/O: a
        # long-running database is not in the middle of that, so it is done now.
        seconds, _ = _common.timed(db.execute_sql, "CHECKPOINT")
        print(f"   CHECKPOINT after the bulk load in {seconds:.1f} s")
    cast = Cast.choose(args.dms, args.commands, random.Random(args.seed))
    database.close()  # the bot is the only one touching the database from here
    print(
        f"   burst: {len(cast.dms)} DMs ({DM_TEXT!r}, one a person) and {len(cast.commands)} "
        f"/codex stats from managers, at once from {args.threads} threads with a connection "
        "each; warmed up by 2 DMs and 2 commands from others"
    )
    print(f"   codexbot: {describe_root(bot_root)}")

    slack = FakeSlackProcess.start(cast.slack_users)
    scratch = tempfile.TemporaryDirectory(prefix="codexbot-slack-load-")
    try:
        bare = start_bare_server(slack)
        bot = start_bot(url, slack, bot_root, Path(scratch.name))
        try:
            bare.wait_until_listening()
            bot.wait_until_listening()
            bot.check_health()
            warm_up(bare, slack, cast, "bare", answers=False, wait=answer_wait)
            warm_up(bot, slack, cast, "bot", answers=True, wait=answer_wait)
            # The bare bursts go before and after codexbot's (once it has answered).
            bare_bursts = [
                run_burst(bare, cast.burst(slack, f"bare-{n}"), args.threads)
                for n in range(BARE_BURSTS - 1)
            ]
            calls_before = slack.call_count()
            measured = run_burst(bot, cast.burst(slack, "bot"), args.threads)
            wait_for_answers(slack, measured.requests, answer_wait)
            answers_cpu = bot.cpu_seconds() - measured.cpu_start
            burst_calls = Counter(c.method for c in slack.calls_from(calls_before))
            bare_bursts.append(run_burst(bare, cast.burst(slack, "bare-last"), args.threads))
            baseline = Burst(
                [r for b in bare_bursts for r in b.requests],
                statistics.median(b.wall for b in bare_bursts),
                statistics.median(b.cpu for b in bare_bursts),
                0.0,
            )
        finally:
            bot.stop()
            bare.stop()
        report(baseline, measured, answers_cpu, burst_calls, bot, url, args)
    finally:
        slack.stop()
        scratch.cleanup()


# ------------------------------------------------------------------------------ who asks


@dataclass
class Cast:
    dms: list[str]  # Slack ids of the people who DM the bot
    commands: list[tuple[str, str]]  # (manager's Slack id, the command's text)
    warm_up_dms: list[str]
    warm_up_commands: list[tuple[str, str]]
    slack_users: list[tuple[str, str]]  # (Slack id, email) of everyone asking or asked about

    @classmethod
    def choose(cls, dms: int, commands: int, rng: random.Random) -> Cast:
        """Active people the directory knows by Slack id (so the bot needs no users.info):
        distinct DM senders, and managers asking about themselves or one of their reports.
        The warm-up is asked by other people, so no answer of the burst waits behind the
        one-message-a-second pacing of a channel."""
        people = list(
            Employee.select(Employee.id, Employee.slack_user_id, Employee.email, Employee.manager)
            .where(Employee.archived_on.is_null(), Employee.slack_user_id.is_null(False))
            .order_by(Employee.id)
            .tuples()
        )
        reports: dict[int, list[str]] = {}
        for _, slack_id, _, manager in people:
            if manager is not None:
                reports.setdefault(manager, []).append(slack_id)
        managers = [p for p in people if p[0] in reports]
        if len(managers) < commands + 2 or len(people) < dms + 2:
            raise SystemExit(
                f"the org has {len(people)} active people with a Slack id and {len(managers)} "
                f"managers among them: too few for {dms} DMs and {commands} commands "
                "(plus 2 of each to warm up); give more --employees"
            )
        senders = rng.sample([p[1] for p in people], dms + 2)
        askers = rng.sample(managers, commands + 2)
        texts, cast = [], set(senders)
        for n, (manager_id, slack_id, _, _) in enumerate(askers):
            about = rng.choice(reports[manager_id])
            texts.append((slack_id, "stats" if n % 2 == 0 else f"stats <@{about}> 30d"))
            cast |= {slack_id, about}
        emails = {slack_id: email for _, slack_id, email, _ in people}
        return cls(
            dms=senders[2:],
            commands=texts[2:],
            warm_up_dms=senders[:2],
            warm_up_commands=texts[:2],
            slack_users=sorted((slack_id, emails[slack_id]) for slack_id in cast),
        )

    def burst(self, slack: FakeSlackProcess, tag: str) -> list[Request]:
        """The burst's requests, DMs and commands mixed in a fixed order."""
        requests = [dm_request(user) for user in self.dms]
        requests += [
            command_request(slack, user, text, f"{tag}-{n}")
            for n, (user, text) in enumerate(self.commands)
        ]
        random.Random(_common.SEED).shuffle(requests)
        return requests


_event_ids = iter(range(1, 1 << 30))


def dm_request(user_id: str) -> Request:
    """An Events API `message` in the DM with the bot, as Slack sends it."""
    body = {
        "token": "legacy",
        "team_id": TEAM_ID,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": f"EvLoad{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "channel": f"D{user_id}",
            "channel_type": "im",
            "user": user_id,
            "text": DM_TEXT,
            "ts": f"{time.time():.6f}",
        },
    }
    return Request("DM", json.dumps(body), "application/json", ("chat.postMessage", f"D{user_id}"))


def command_request(slack: FakeSlackProcess, user_id: str, text: str, tag: str) -> Request:
    """`/codex <text>`, with a response_url of its own on the fake Slack."""
    path = f"/response/load-{tag}"
    body = urlencode(
        {
            "token": "legacy",
            "team_id": TEAM_ID,
            "team_domain": "acme",
            "channel_id": "C1",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": "/codex",
            "text": text,
            "api_app_id": "A1",
            "response_url": f"{slack.base_url}{path}",
            "trigger_id": f"trigger-load-{tag}",
        }
    )
    return Request("command", body, "application/x-www-form-urlencoded", ("response_url", path))


# ------------------------------------------------------------------------------ servers


@dataclass
class Received:
    """What the benchmark reads of a call the fake Slack received."""

    method: str
    path: str | None
    channel: str | None
    text: str
    received_at: float  # time.monotonic() in the fake Slack's process


class FakeSlackProcess:
    """bot/cli/fake_slack.py's FakeSlack, served by a child process (serve_fake_slack).
    This process asks it over the child's stdin and stdout, one JSON line each way, only
    while no burst is being acknowledged: for the calls it received since the n-th."""

    def __init__(self, process: subprocess.Popen, base_url: str) -> None:
        self.process = process
        self.base_url = base_url
        self.api_url = f"{base_url}/api/"
        self._lock = threading.Lock()

    @classmethod
    def start(cls, users: list[tuple[str, str]]) -> FakeSlackProcess:
        code = (
            f"import sys; sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(REPO)!r}]; "
            "import slack_load; slack_load.serve_fake_slack()"
        )
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit(f"the fake Slack did not start (exit status {process.wait()})")
        slack = cls(process, json.loads(line)["base_url"])
        slack._ask({"users": users})
        return slack

    def _ask(self, command: dict) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._lock:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the fake Slack exited (status {self.process.wait()})")
        return json.loads(line)

    def call_count(self) -> int:
        return self._ask({"count": True})["count"]

    def calls_from(self, start: int) -> list[Received]:
        return [Received(**call) for call in self._ask({"calls_from": start})["calls"]]

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the child stops at the end of its input
            wait_or_kill(self.process)


def serve_fake_slack() -> None:
    """The fake Slack, run in a child process: its address first, then an answer to each
    command line of FakeSlackProcess, until stdin ends."""
    slack = FakeSlack().start()
    print(json.dumps({"base_url": slack.base_url}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        answer: dict = {}
        if "users" in command:
            for slack_id, email in command["users"]:
                slack.add_user(slack_id, email)
        elif "count" in command:
            answer["count"] = len(slack.calls)
        elif "calls_from" in command:
            answer["calls"] = [
                {
                    "method": call.method,
                    "path": call.path,
                    "channel": call.params.get("channel"),
                    "text": str(call.params.get("text", "")),
                    "received_at": call.received_at,
                }
                for call in slack.calls[command["calls_from"] :]
            ]
        print(json.dumps(answer), flush=True)
    slack.stop()


class Server:
    """A child process serving Slack's requests on a loopback port."""

    def __init__(self, name: str, process: subprocess.Popen, port: int, ready_words: str):
        self.name = name
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._ready_words = ready_words
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if self._ready_words in line:
                self._ready.set()
        self._ready.set()  # the process ended: wait_until_listening says so

    def wait_until_listening(self) -> None:
        self._ready.wait(STARTUP_TIMEOUT)
        if self.process.poll() is not None or not self._ready.is_set():
            tail = "\n".join(self.lines[-30:])
            self.stop()
            raise SystemExit(f"{self.name} did not start listening:\n{tail}")

    def check_health(self) -> None:
        health = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=REQUEST_TIMEOUT)
        if health.status_code != 200:
            raise SystemExit(f"{self.name}: /healthz said {health.status_code} {health.text}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the process so far, from /proc (0 where there is none)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def problems(self) -> list[str]:
        return [line for line in self.lines if " ERROR " in line or "Traceback" in line]

    def warnings(self) -> list[str]:
        return [line for line in self.lines if " WARNING " in line]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            wait_or_kill(self.process)


def wait_or_kill(process: subprocess.Popen) -> None:
    """Wait up to 10 s for a child asked to stop, then kill it."""
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_bot(url: str, slack: FakeSlackProcess, root: Path | None, scratch: Path) -> Server:
    """`codexbot run --http` with digests off, its Slack client pointed at the fake."""
    config = scratch / "codexbot.toml"
    config.write_text("[digest]\nenabled = false\n")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "CODEXBOT_", "CODEX_"))
    }
    env.update(
        DATABASE_URL=url,
        SLACK_BOT_TOKEN="xoxb-bench-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        CODEXBOT_SECRET_KEY=Fernet.generate_key().decode(),
    )
    if root is None:
        command, cwd = codexbot_command(), None
    else:
        command, cwd = [sys.executable, "-c", "from bot.cli import main; main()"], root
        env["PYTHONPATH"] = str(root)
    port = free_port()
    process = subprocess.Popen(
        [*command, "--config", str(config), "run", "--http", "--host", "127.0.0.1"]
        + ["--port", str(port)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Server("codexbot run --http", process, port, "listening on")


def start_bare_server(slack: FakeSlackProcess) -> Server:
    port = free_port()
    code = (
        f"import sys; sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(REPO)!r}]; "
        "import slack_load; slack_load.serve_bare_ack(sys.argv[1], int(sys.argv[2]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, slack.api_url, str(port)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Server("the bare ack server", process, port, "bare ack listening")


def serve_bare_ack(api_url: str, port: int) -> None:
    """The baseline, run in a child process: Bolt as the bot builds it (its client checked
    with auth.test against the fake Slack, acknowledging in the request thread) with the
    same signing secret, listeners that only ack(), and bot/server.py's WSGI stack."""
    from slack_bolt import App
    from slack_sdk import WebClient

    from bot.server import create_http_server

    client = WebClient(token="xoxb-bench-token", base_url=api_url, timeout=10)
    app = App(client=client, signing_secret=SIGNING_SECRET, process_before_response=True)

    def acknowledge(ack) -> None:
        ack()

    app.event("message")(acknowledge)
    app.command("/codex")(acknowledge)
    server = create_http_server(app, "127.0.0.1", port, MAX_BODY_BYTES)
    print("bare ack listening", file=sys.stderr, flush=True)
    server.run()


def checked_root(root: Path) -> Path:
    """DIR for --codexbot-root, if its code imports as `bot.cli` from DIR and its schema
    version is this checkout's (the database is prepared by this checkout's code)."""
    root = root.resolve()
    probe = (
        "import bot.cli, sync.store.migrations as m; "
        "print(bot.cli.__file__); print(m.SCHEMA_VERSION)"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
    )
    lines = found.stdout.split()
    if found.returncode != 0 or len(lines) != 2:
        raise SystemExit(
            f"--codexbot-root {root}: its code does not import as bot.cli with "
            f"sync.store.migrations (the layout since 7469c02):\n{found.stderr[-2000:]}"
        )
    if not Path(lines[0]).resolve().is_relative_to(root):
        raise SystemExit(f"--codexbot-root {root}: bot.cli imported from {lines[0]} instead")
    if int(lines[1]) != SCHEMA_VERSION:
        raise SystemExit(
            f"--codexbot-root {root}: its schema version is {lines[1]}, this checkout's is "
            f"{SCHEMA_VERSION}. The database is prepared by this checkout's code, so only a "
            "checkout with the same schema version can be measured."
        )
    return root


def describe_root(root: Path | None) -> str:
    """Which code the bot runs: the command, and the commit of the checkout it is in."""
    where = root or REPO
    git = ["git", "-C", str(where)]
    commit = subprocess.run(
        [*git, "log", "-1", "--format=%h"], capture_output=True, text=True
    ).stdout.strip()
    if commit:
        changed = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no", "--", "bot", "sync"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        commit += " with uncommitted changes to bot/ or sync/" if changed else ""
    command = " ".join(codexbot_command()) if root is None else f"bot.cli from {root}"
    return f"{command} ({commit or 'not a git checkout'})"


# ------------------------------------------------------------------------------ sending


def send(client: httpx.Client, url: str, request: Request) -> None:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(
        timestamp=timestamp, body=request.body
    )
    assert signature is not None  # None only without a signing secret
    headers = {
        "Content-Type": request.content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    request.started = time.monotonic()
    try:
        response = client.post(url, content=request.body.encode(), headers=headers)
        request.status = response.status_code
    except httpx.HTTPError as exc:
        request.error = type(exc).__name__
    request.acked = time.monotonic()


def warm_up(
    server: Server, slack: FakeSlackProcess, cast: Cast, tag: str, answers: bool, wait: float
) -> None:
    """A few requests one after another before the clock: imports, templates and the
    first connections are not what the burst measures."""
    requests = [dm_request(user) for user in cast.warm_up_dms]
    requests += [
        command_request(slack, user, text, f"{tag}-warm-{n}")
        for n, (user, text) in enumerate(cast.warm_up_commands)
    ]
    with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
        for request in requests:
            send(client, server.url, request)
    failed = [r for r in requests if r.failed]
    if failed:
        raise SystemExit(
            f"{server.name} refused the warm-up: {failed[0].status or failed[0].error}\n"
            + "\n".join(server.lines[-20:])
        )
    if answers:
        wait_for_answers(slack, requests, wait)
        if any(r.answered is None for r in requests):
            raise SystemExit(
                f"{server.name} did not answer the warm-up within {wait:.0f} s:\n"
                + "\n".join(server.lines[-20:])
            )


def run_burst(server: Server, requests: list[Request], threads: int) -> Burst:
    """Every request from `threads` threads, each with its own connection, all starting
    at the same moment; each thread sends its next request as soon as the last is acked."""
    pending: queue.SimpleQueue[Request] = queue.SimpleQueue()
    for request in requests:
        pending.put(request)
    threads = min(threads, len(requests))
    start = threading.Barrier(threads + 1)

    def worker() -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            start.wait()
            while True:
                try:
                    request = pending.get_nowait()
                except queue.Empty:
                    return
                send(client, server.url, request)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    cpu_before = server.cpu_seconds()
    start.wait()
    for thread in workers:
        thread.join()
    cpu = server.cpu_seconds() - cpu_before
    wall = max(r.acked for r in requests) - min(r.started for r in requests)
    return Burst(requests, wall, cpu, cpu_before)


def wait_for_answers(slack: FakeSlackProcess, requests: list[Request], timeout: float) -> None:
    """Wait until the fake Slack has an answer for every request (or `timeout` passed),
    and note when each first arrived."""
    waiting = {r.answer: r for r in requests}
    seen = 0
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        calls = slack.calls_from(seen)
        seen += len(calls)
        for call in calls:
            if call.method == "response_url":
                key = (call.method, str(call.path))
            elif call.method == "chat.postMessage":
                key = (call.method, str(call.channel))
            else:
                continue
            request = waiting.get(key)
            if request is not None and call.received_at >= request.started:
                request.answered = call.received_at
                request.busy = BUSY_WORDS in call.text
                del waiting[key]
        time.sleep(0.02)


# ------------------------------------------------------------------------------ figures


def distribution(values: list[float]) -> str:
    if not values:
        return f"{'-':>9} {'-':>9} {'-':>9}"
    p50, p99 = _common.percentile(values, 0.5), _common.percentile(values, 0.99)
    return f"{p50 * 1000:>9.2f} {p99 * 1000:>9.2f} {max(values) * 1000:>9.2f}"


def ack_line(name: str, requests: list[Request]) -> str:
    acks = [r.ack_seconds for r in requests]
    errors = sum(r.failed for r in requests)
    late = sum(a >= SLACK_ACK_BUDGET for a in acks)
    return f"   {name:<16} {len(requests):>5} {distribution(acks)} {errors:>7} {late:>6}"


def answer_times(requests: list[Request]) -> list[float]:
    """Seconds from sending to the answer; an unanswered request or a "busy" notice counts
    as never answered (infinity), so it weighs in every percentile it reaches."""
    return [
        r.answered - r.started if r.answered is not None and not r.busy else float("inf")
        for r in requests
    ]


def answer_line(name: str, requests: list[Request]) -> str:
    times = answer_times(requests)
    unanswered = sum(r.answered is None for r in requests)
    busy = sum(r.busy for r in requests)
    return f"   {name:<16} {len(requests):>5} {distribution(times)} {unanswered:>10} {busy:>5}"


def report(
    baseline: Burst,
    measured: Burst,
    answers_cpu: float,
    calls: Counter,
    bot: Server,
    url: str,
    args,
) -> None:
    dms = [r for r in measured.requests if r.kind == "DM"]
    commands = [r for r in measured.requests if r.kind == "command"]
    print("   acknowledgements (sent -> HTTP response), ms:")
    print(f"   {'':<16} {'n':>5} {'p50':>9} {'p99':>9} {'max':>9} {'errors':>7} {'>= 3 s':>6}")
    print(ack_line(f"bare ack, {BARE_BURSTS} x", baseline.requests))
    print(ack_line("codexbot", measured.requests))
    print(ack_line("  DMs", dms))
    print(ack_line("  /codex stats", commands))
    busy = [r for r in measured.requests if r.busy]
    if busy:
        print(ack_line("  told busy", busy))
        print(ack_line("  the others", [r for r in measured.requests if not r.busy]))
    bare_p99 = _common.percentile([r.ack_seconds for r in baseline.requests], 0.99)
    bot_acks = [r.ack_seconds for r in measured.requests]
    ratio = _common.percentile(bot_acks, 0.99) / bare_p99
    print(f"   codexbot's ack p99 / the bare ack's p99: {ratio:.2f}")
    print("   answers (sent -> the fake Slack has it; busy or none counts as never), ms:")
    print(f"   {'':<16} {'n':>5} {'p50':>9} {'p99':>9} {'max':>9} {'unanswered':>10} {'busy':>5}")
    print(answer_line("  DMs", dms))
    print(answer_line("  /codex stats", commands))
    if busy:
        real = [t for t in answer_times(measured.requests) if t != float("inf")]
        print(f"   {'  real answers':<16} {len(real):>5} {distribution(real)}")
        told = [r.answered - r.started for r in busy if r.answered is not None]
        print(f"   {'  busy notices':<16} {len(told):>5} {distribution(told)}")
    answered = [r.answered for r in measured.requests if r.answered is not None]
    first = min(r.started for r in measured.requests)
    last = f"{max(answered) - first:.2f} s" if answered else "never"
    print(
        f"   burst acked in {baseline.wall:.2f} s (bare, median), {measured.wall:.2f} s "
        f"(codexbot); last answer {last} after the first request"
    )
    print(
        f"   server CPU over a burst: bare {baseline.cpu:.1f} s, codexbot {measured.cpu:.1f} s; "
        f"codexbot until the last answer {answers_cpu:.1f} s"
    )
    print(
        "   Slack calls during codexbot's burst: "
        + ", ".join(f"{m} {n}" for m, n in calls.most_common())
    )
    depths = [int(n) for line in bot.lines if (n := line.rpartition(QUEUE_DEPTH)[2]).isdigit()]
    if depths:
        print(
            f"   waitress's queue of requests waiting for one of its threads: up to {max(depths)}"
        )
    problems, warnings = bot.problems(), [w for w in bot.warnings() if QUEUE_DEPTH not in w]
    print(f"   codexbot's log: {len(problems)} errors, {len(warnings)} warnings")
    distinct = list(dict.fromkeys(line.split(": ", 1)[-1] for line in problems + warnings))
    for line in distinct[:5]:
        print(f"     {line[:150]}")
    if len(distinct) > 5:
        print(f"     ... and {len(distinct) - 5} other lines")

    errors = sum(r.failed for r in measured.requests)
    unanswered = sum(r.answered is None or r.busy for r in measured.requests)
    dm_p99 = _common.percentile(answer_times(dms), 0.99)
    command_p99 = _common.percentile(answer_times(commands), 0.99)
    print(f"   /codex stats answers p99 {format_seconds(command_p99)}")
    ack_max = max(bot_acks)
    not_answered = f", {unanswered} not answered (busy or none)" if unanswered else ""
    _common.goal_line(
        f"slack load ({_common.engine_name(url)})",
        f"acks p100 {_common.ms(ack_max)} (ratio {ratio:.2f} to a bare ack, at p99), "
        f"{errors} errors, DM answers p99 {format_seconds(dm_p99)}{not_answered}",
        f"every ack < {GOAL_ACK_MAX:.0f} s, 0 errors, DM answers p99 < {GOAL_DM_ANSWER_P99:.0f} s",
        ack_max < GOAL_ACK_MAX and errors == 0 and dm_p99 < GOAL_DM_ANSWER_P99,
        args.smoke,
    )
    if args.smoke and (errors or unanswered):
        raise SystemExit(1)  # the smoke run proves requests are acked and answered


def format_seconds(seconds: float) -> str:
    return "never" if seconds == float("inf") else _common.ms(seconds)


if __name__ == "__main__":
    main()

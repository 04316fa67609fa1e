"""`codexbot try` as a newcomer runs it: a subprocess fed what they would type in Slack,
its answers read from what it prints (a real `codexbot run --http` behind it)."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote

import pytest
from slack_sdk.models.blocks import Block

from bot.rendering import words
from sync.notices import Notice

BUILDER = "https://app.slack.com/block-kit-builder/#"
PROMPT = re.compile(r"^(\w+)> (.*)$")
# Each printed line read within this long, or the test fails instead of hanging.
LINE_TIMEOUT = 60


class TryProcess:
    """`codexbot try` on a small org, its stdout read line by line as it comes."""

    def __init__(self, tmp: Path, *arguments: str) -> None:
        tmp.mkdir()
        self.tmp = tmp
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SLACK_", "CODEXBOT_", "CODEX_")) and key != "DATABASE_URL"
        }
        env["TMPDIR"] = str(tmp)  # where its temporary files go, to see them removed
        command = [sys.executable, "-c", "from bot.cli import main; main()", "try"]
        self.stderr = tmp.parent / "stderr.txt"  # progress and log lines: read on failure
        with open(self.stderr, "w") as stderr:
            self.process = subprocess.Popen(
                [*command, "--employees", "40", "--days", "30", *arguments],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.printed: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def read_until(self, text: str) -> list[str]:
        """The lines printed up to the first that contains `text`."""
        read = []
        while (line := self.lines.get(timeout=LINE_TIMEOUT)) is not None:
            read.append(line)
            if text in line:
                self.printed += read
                return read
        raise AssertionError(f"{text!r} never printed; printed:\n" + "\n".join(read))

    def type_and_quit(self, *typed: str) -> str:
        """Types each line, then ends its input; everything it printed, once it exited."""
        assert self.process.stdin is not None
        self.process.stdin.write("".join(line + "\n" for line in typed))
        self.process.stdin.close()
        while (line := self.lines.get(timeout=LINE_TIMEOUT)) is not None:
            self.printed.append(line)
        assert self.process.wait(timeout=LINE_TIMEOUT) == 0, self.stderr.read_text()
        return "\n".join(self.printed)

    def left_nothing_behind(self) -> None:
        assert list(self.tmp.iterdir()) == []  # the temporary SQLite file and config: gone
        # No process is left with this run's TMPDIR in its environment: the bot stopped.
        marker = f"TMPDIR={self.tmp}".encode()
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                environ = (proc / "environ").read_bytes()
            except OSError:
                continue
            assert marker + b"\0" not in environ, f"process {proc.name} still runs"


def turns(transcript: str) -> dict[str, str]:
    """What followed each typed line, by `who> what was typed`."""
    found: dict[str, str] = {}
    current = None
    for line in transcript.splitlines():
        if PROMPT.match(line):
            current = line
            found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


def builder_payloads(text: str) -> list[dict]:
    links = re.findall(r"Block Kit Builder: (\S+)", text)
    assert links, text
    payloads = []
    for link in links:
        assert link.startswith(BUILDER)
        payload = json.loads(unquote(link.removeprefix(BUILDER)))
        for block in payload["blocks"]:
            assert Block.parse(block).to_dict() == block
        payloads.append(payload)
    return payloads


def header_texts(payload: dict) -> list[str]:
    return [b["text"]["text"] for b in payload["blocks"] if b["type"] == "header"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_a_manager_a_peer_and_a_report_in_the_terminal(tmp_path):
    run = TryProcess(tmp_path / "tmp")
    listed = "\n".join(run.read_until("codexbot try --as EMAIL"))
    # The people offered: a manager with a suggestion of whom to ask about, their report,
    # another of their reports (a peer), an admin.
    offered = r"^  1  (.+) <(\S+)>\n.*try /codex team, /codex stats (@\S+)$"
    manager = re.search(offered, listed, re.M)
    report = re.search(r"^  2  (.+) <(\S+)>\n\s+reports to ", listed, re.M)
    peer = re.search(r"^  3  (.+) <(\S+)>\n\s+also reports to ", listed, re.M)
    assert manager and report and peer, listed
    assert re.search(r"^  4  .+\n\s+a codexbot admin", listed, re.M), listed
    about = manager.group(3)
    report_name = report.group(1)

    transcript = run.type_and_quit(
        "1",
        f"/codex stats {about}",
        f"as {peer.group(2)}",
        f"/codex stats {about}",
        f"as {report.group(2)}",
        "my usage 7d",  # "this week" would be one day on a Monday
        "home",
        "quit",
    )
    said = turns(transcript)
    first = lambda name: name.split()[0]  # noqa: E731 - the prompt shows a first name

    # The manager's stats request: the report's figures, privately, with a Builder link.
    asked = said[f"{first(manager.group(1))}> /codex stats {about}"]
    assert f"({about} is {report_name} <{report.group(2)}>)" in asked
    assert "codexbot, only visible to you" in asked
    assert f"Codex usage: {report_name}" in asked
    assert "[Send chart to my DM]" in asked
    (stats,) = builder_payloads(asked)
    assert header_texts(stats) == [f"Codex usage: {report_name}"]

    # The peer asks the same: refused, in the very words a peer reads in Slack.
    refused = said[f"{first(peer.group(1))}> /codex stats {about}"]
    assert words(Notice("refused")) in refused
    assert report_name not in refused.replace(f"{about} is {report_name}", "")
    (refusal,) = builder_payloads(refused)
    assert words(Notice("refused")) in json.dumps(refusal)

    # The report's DM: their own last seven days, answered in the DM.
    dm = said[f"{first(report_name)}> my usage 7d"]
    assert "codexbot, in your DM" in dm
    assert f"Codex usage: {report_name}" in dm
    assert "(7 days)" in dm
    (own,) = builder_payloads(dm)
    assert header_texts(own) == [f"Codex usage: {report_name}"]

    home = said[f"{first(report_name)}> home"]
    assert "codexbot's Home tab" in home
    (view,) = builder_payloads(home)
    assert view["type"] == "home"

    assert transcript.rstrip().endswith("Stopped the bot and removed its temporary files.")
    run.left_nothing_behind()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_end_of_input_stops_the_bot_and_removes_its_files(tmp_path):
    run = TryProcess(tmp_path / "tmp", "--as", "nobody@elsewhere.example")
    transcript = run.type_and_quit("my usage")  # then the input ends: Ctrl-D
    # Someone the directory does not know, as they would be answered in Slack.
    assert words(Notice("not_in_directory")) in turns(transcript)["nobody> my usage"]
    assert transcript.rstrip().endswith("Stopped the bot and removed its temporary files.")
    run.left_nothing_behind()

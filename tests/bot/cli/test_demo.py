"""`codexbot demo --out DIR`: what Slack would show, as Block Kit JSON with a Block Kit
Builder link for each message, and the charts as PNG, with no workspace."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from urllib.parse import unquote

import matplotlib.image
from click.testing import CliRunner
from slack_sdk.models.blocks import Block

from bot.chart_drawing import HEIGHT, WIDTH
from bot.cli import cli
from sync.store.models import AccessLog

BUILDER = "https://app.slack.com/block-kit-builder/#"


def test_demo_writes_the_slack_messages_links_and_charts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "shown"
    result = CliRunner().invoke(
        cli,
        ["demo", "--employees", "40", "--days", "30", "--database", "sqlite:///demo.db"]
        + ["--out", str(out)],
        env={"CODEXBOT_SECRET_KEY": "", "DATABASE_URL": "", "CODEXBOT_CONFIG": ""},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"written into {out}/" in result.output
    # Its last lines say what to run next: the Slack side, in the terminal.
    assert "\n      codexbot try\n" in result.output.split("==> Done.")[-1]

    names = {p.name for p in out.iterdir()}
    assert {"stats.json", "team.json", "digest.json", "home.json"} <= names
    assert {"stats.png", "digest.png", "home-team.png"} <= names

    links = dict(re.findall(r"^  (\S+\.json)\n    (\S+)$", result.output, re.MULTILINE))
    assert set(links) == {str(out / n) for n in names if n.endswith(".json")}
    for path, link in links.items():
        payload = json.loads(Path(path).read_text())
        # The link carries exactly the file's JSON: open it, see the message.
        assert link.startswith(BUILDER)
        assert json.loads(unquote(link.removeprefix(BUILDER))) == payload
        limit = 100 if path.endswith("home.json") else 50
        assert 0 < len(payload["blocks"]) <= limit
        for block in payload["blocks"]:
            assert Block.parse(block).to_dict() == block
    home = json.loads((out / "home.json").read_text())
    assert home["type"] == "home"
    stats = json.loads((out / "stats.json").read_text())
    assert set(stats) == {"blocks"} and "Send chart to my DM" in json.dumps(stats)

    for name in ("stats.png", "digest.png", "home-team.png"):
        image = matplotlib.image.imread(io.BytesIO((out / name).read_bytes()), format="png")
        assert image.shape == (HEIGHT, WIDTH, 4)
        assert str(out / name) in result.output
    # Each chart drawn for the manager counts as their view of the people in it.
    assert AccessLog.select().where(AccessLog.surface == "chart").count() > 0

"""`codexbot simulator` as operators run it: a real process serving over loopback."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys

import httpx


def test_simulator_command_serves_prints_credentials_writes_org_and_stops_on_ctrl_c(tmp_path):
    org_csv = tmp_path / "org.csv"
    command = [sys.executable, "-c", "from bot.cli import main; main()", "simulator"]
    options = ["--port", "0", "--employees", "12", "--seed", "3", "--write-org", str(org_csv)]
    process = subprocess.Popen(command + options, stderr=subprocess.PIPE, text=True)
    try:
        printed = {}
        for line in process.stderr:
            if "=" in line:
                name, _, value = line.strip().partition("=")
                printed[name] = value
            if "CODEX_API_KEY" in printed:
                break
        base_url = printed["CODEX_API_BASE_URL"]
        assert base_url.startswith("http://127.0.0.1:") and not base_url.startswith(
            "http://127.0.0.1:0/"
        )
        response = httpx.get(
            f"{base_url}/workspaces/{printed['CODEX_WORKSPACE_ID']}/usage",
            headers={"Authorization": f"Bearer {printed['CODEX_API_KEY']}"},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json()["object"] == "page"
        with org_csv.open() as handle:
            assert len(list(csv.DictReader(handle))) == 12
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_quirk_options_reach_the_simulator_and_unknown_ones_are_refused(monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli
    from sync.codex.simulator import Simulator

    served = []

    def serve_forever(sim: Simulator) -> None:  # instead of serving until Ctrl-C
        served.append(sim.quirks)
        sim.stop()

    monkeypatch.setattr(Simulator, "serve_forever", serve_forever)
    env = {"CODEXBOT_CONFIG": ""}
    options = ["simulator", "--port", "0", "--employees", "3"]
    quirks = ["--quirk", "hostile_rows", "--quirk", "trickle", "--quirk", "hostile_rows"]
    result = CliRunner().invoke(cli, options + quirks, env=env)
    assert result.exit_code == 0, result.output
    assert served == [{"hostile_rows", "trickle"}]
    assert CliRunner().invoke(cli, options, env=env).exit_code == 0
    assert served[-1] == frozenset()
    refused = CliRunner().invoke(cli, [*options, "--quirk", "everything"], env=env)
    assert refused.exit_code == 2 and "everything" in refused.output
    # The command offers exactly the simulator's quirks.
    (option,) = [p for p in cli.commands["simulator"].params if p.name == "quirks"]
    assert tuple(option.type.choices) == Simulator.QUIRKS

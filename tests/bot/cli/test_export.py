"""`codexbot export`: the CSV `/codex export` sends, written to a file, end to end with the
real simulator over loopback and a real SQLite file."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from bot.cli import cli
from sync.clock import utc_today
from sync.codex.simulator import Simulator, write_org_csv
from sync.org.chart import reporting_chain
from sync.reports.periods import Period
from sync.reports.queries import stats_answers
from sync.store.models import AccessLog, Employee, database

SECRET = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def sim():
    with Simulator(employees=30, days=40, seed=5) as simulator:
        yield simulator


@pytest.fixture
def synced(sim, tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CODEX_API_BASE_URL": sim.base_url,
        "CODEXBOT_SECRET_KEY": SECRET,
        "CODEX_API_KEY": sim.api_key,
        "CODEXBOT_CONFIG": "",
    }
    org_csv = tmp_path / "org.csv"
    write_org_csv(sim.org, org_csv)
    assert invoke(env, "org", "import", str(org_csv)).exit_code == 0
    assert invoke(env, "connect", "--workspace", sim.workspace_id).exit_code == 0
    assert invoke(env, "sync", "--days", "35").exit_code == 0
    yield env
    database.close()


def invoke(env, *args):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def read_csv(path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    heading, body = text.split("\r\n", 1)
    assert heading.startswith("# codexbot export:")
    return list(csv.DictReader(io.StringIO(body)))


def a_manager_with_a_deep_team() -> Employee:
    managers = Employee.select().where(Employee.id.in_(Employee.select(Employee.manager)))
    return max(managers, key=lambda m: (0 < len(reporting_chain(m)) < 25, len(reporting_chain(m))))


def test_a_team_export_is_the_stats_answers_line_by_line(synced, tmp_path):
    manager = a_manager_with_a_deep_team()
    team = reporting_chain(manager)
    out = tmp_path / "team.csv"
    result = invoke(
        synced, "export", "--as", manager.email, "--team", "--days", "30", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert f"to {out}: {len(rows):,} lines" in result.output
    assert f"about {len(team)} people" in result.output
    assert {row["email"] for row in rows} <= {p.email for p in team}
    answers = stats_answers(team, Period.ending_before(utc_today(), 30))
    assert sum(a.current.totals.credits for a in answers.values()) > 0
    for answer in answers.values():
        mine = [row for row in rows if row["email"] == answer.employee.email]
        assert sum(int(row["turns"]) for row in mine) == answer.current.totals.turns
        assert sum(float(row["credits"]) for row in mine) == pytest.approx(
            answer.current.totals.credits
        )
    logged = [(r.viewer_id, r.target_id, r.surface) for r in AccessLog.select()]
    assert sorted(logged) == sorted((manager.id, p.id, "export") for p in team)
    assert out.stat().st_mode & 0o077 == 0  # private: it holds people's usage
    assert list(tmp_path.glob("*.part")) == []


def test_a_refusal_writes_nothing(synced, tmp_path):
    manager = a_manager_with_a_deep_team()
    report = reporting_chain(manager)[0]
    out = tmp_path / "refused.csv"
    upward = invoke(synced, "export", manager.email, "--as", report.email, "--out", str(out))
    assert upward.exit_code == 1
    assert "I can't show Codex stats for that person" in upward.output
    everyone = invoke(synced, "export", "--all", "--as", report.email, "--out", str(out))
    assert everyone.exit_code == 1 and "Only codexbot admins" in everyone.output
    assert not out.exists() and AccessLog.select().count() == 0


def test_one_person_or_the_team_not_both(synced, tmp_path):
    manager = a_manager_with_a_deep_team()
    out = tmp_path / "x.csv"
    both = invoke(
        synced, "export", manager.email, "--team", "--as", manager.email, "--out", str(out)
    )
    assert both.exit_code == 2 and "Give one of TARGET, --team and --all" in both.output
    assert not out.exists()


def test_own_usage_by_default_and_not_logged(synced, tmp_path):
    manager = a_manager_with_a_deep_team()
    out = tmp_path / "own.csv"
    result = invoke(synced, "export", "--as", manager.email, "--days", "7", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert {row["email"] for row in read_csv(out)} <= {manager.email}
    assert "Wrote your own Codex usage" in result.output
    assert AccessLog.select().count() == 0


def test_a_folder_that_is_not_there_is_said_not_a_traceback(synced, tmp_path):
    manager = a_manager_with_a_deep_team()
    out = tmp_path / "no-such-folder" / "team.csv"
    result = invoke(synced, "export", "--as", manager.email, "--team", "--out", str(out))
    assert result.exit_code == 1 and f"could not write {out}" in result.output
    assert AccessLog.select().count() == 0

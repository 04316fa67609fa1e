"""The operators' CLI end to end: real simulator over loopback, real SQLite file."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken

from bot.cli import cli
from sync.codex.simulator import Simulator, write_org_csv
from sync.store.models import Connection, DailyUsage, Employee, database

SECRET = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def sim():
    with Simulator(employees=30, days=90, seed=5) as simulator:
        yield simulator


@pytest.fixture
def env(sim, tmp_path):
    yield {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CODEX_API_BASE_URL": sim.base_url,
        "CODEXBOT_SECRET_KEY": SECRET,
        "CODEX_API_KEY": sim.api_key,
        "CODEXBOT_CONFIG": "",
    }
    database.close()


def invoke(env, *args, input=None):
    result = CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
    return result


@pytest.fixture
def org_csv(sim, tmp_path):
    path = tmp_path / "org.csv"
    write_org_csv(sim.org, path)
    return path


@pytest.fixture
def synced(env, sim, org_csv):
    assert invoke(env, "org", "import", str(org_csv)).exit_code == 0
    assert invoke(env, "connect", "--workspace", sim.workspace_id).exit_code == 0
    assert invoke(env, "sync", "--days", "30").exit_code == 0
    return env


def test_connect_validates_stores_encrypted_and_shows_only_last_four(env, sim):
    result = invoke(env, "connect", "--workspace", sim.workspace_id.upper())
    assert result.exit_code == 0, result.output
    assert f"…{sim.api_key[-4:]}" in result.output
    assert sim.api_key not in result.output
    stored = Connection.get()
    assert stored.workspace_id == sim.workspace_id
    assert sim.api_key not in stored.api_key_encrypted
    assert Fernet(SECRET).decrypt(stored.api_key_encrypted.encode()).decode() == sim.api_key


def test_connect_prompts_for_the_key_when_the_environment_has_none(env, sim):
    env = {**env, "CODEX_API_KEY": ""}
    result = invoke(env, "connect", "--workspace", sim.workspace_id, input=sim.api_key + "\n")
    assert result.exit_code == 0, result.output
    assert sim.api_key not in result.output


@pytest.mark.parametrize(
    ("workspace", "key", "words"),
    [
        ("not-a-uuid", None, "A Workspace ID is a UUID"),
        (None, "sk-wrong-key-123456", "That API key was rejected"),
        (Simulator.NO_ACCESS_WORKSPACE_ID, None, "requires a ChatGPT Enterprise or Codex plan"),
        ("11111111-2222-3333-4444-555555555555", None, "No ChatGPT workspace with that ID"),
    ],
    ids=["malformed-uuid", "wrong-key", "no-plan", "unknown-workspace"],
)
def test_connect_refusals_are_plain_and_store_nothing(env, sim, workspace, key, words):
    env = {**env, "CODEX_API_KEY": key or sim.api_key}
    result = invoke(env, "connect", "--workspace", workspace or sim.workspace_id)
    assert result.exit_code != 0
    assert words in result.output
    assert "Traceback" not in result.output
    assert (key or sim.api_key) not in result.output
    invoke(env, "org", "unmatched")  # opens the database
    assert Connection.select().count() == 0


def test_connect_without_a_secret_key_says_how_to_make_one(env, sim):
    result = invoke({**env, "CODEXBOT_SECRET_KEY": ""}, "connect", "--workspace", sim.workspace_id)
    assert result.exit_code == 1
    assert "Fernet.generate_key()" in result.output
    assert Connection.select().count() == 0


def test_sync_prints_a_summary_and_log_lines_off_a_terminal(synced):
    result = invoke(synced, "sync", "--days", "3")
    assert result.exit_code == 0
    assert "Sync 2 finished" in result.output
    assert "unmatched (codexbot org unmatched)" in result.output
    # The rate is whole rows a second, grouped: "1,234 rows/s", never "943.7 rows/s".
    assert re.search(r"\(\d{1,3}(,\d{3})* rows/s\)", result.output), result.output


def test_sync_failure_exits_non_zero_and_keeps_what_was_stored(synced, sim, tmp_path):
    stored = DailyUsage.select().count()
    config = tmp_path / "one-retry.toml"
    config.write_text("[codex]\nmax_attempts = 2\nmax_retry_seconds = 1\n")
    broken = {
        **synced,
        "CODEX_API_BASE_URL": "http://127.0.0.1:9/v1/analytics/codex",
        "CODEXBOT_CONFIG": str(config),
    }
    result = CliRunner().invoke(cli, ["sync"], env=broken)
    # Port 9 refuses connections: bounded retries, then a readable failure.
    assert result.exit_code == 1
    assert "could not be reached" in result.output
    assert "Traceback" not in result.output
    assert DailyUsage.select().count() == stored


def test_stats_for_a_report_and_a_neutral_refusal_otherwise(synced, sim):
    manager = Employee.select().where(Employee.manager.is_null(False)).first().manager
    report = Employee.get(Employee.manager == manager)
    allowed = invoke(synced, "stats", report.email.upper(), "--as", manager.email, "--days", "30")
    assert allowed.exit_code == 0, allowed.output
    assert f"Codex usage for {report.name}" in allowed.output
    assert "(30 days)" in allowed.output

    upward = invoke(synced, "stats", manager.email, "--as", report.email)
    unknown = invoke(synced, "stats", "nobody@example.com", "--as", report.email)
    assert upward.exit_code == unknown.exit_code == 1
    # The same words whether the person exists or not: a refusal reveals nothing.
    assert upward.output.replace(manager.email, "X") == unknown.output.replace(
        "nobody@example.com", "X"
    )
    assert "Codex usage" not in upward.output


def test_digest_preview_lists_direct_reports(synced):
    manager = Employee.select().where(Employee.manager.is_null(False)).first().manager
    result = invoke(synced, "digest", "preview", manager.email)
    assert result.exit_code == 0
    assert f"1:1 prep for {manager.name}" in result.output
    for report in Employee.select().where(Employee.manager == manager):
        if report.archived_on is None:
            assert f"── {report.name} ──" in result.output
    # It ends as the DM does, with the reporting line's adoption over the same days.
    adoption = result.output.split("Adoption of your reporting line, same days: ")[1]
    assert re.match(r"(\d+ of \d+ people active|Not shown: fewer than)", adoption), adoption
    missing = invoke(synced, "digest", "preview", "ghost@example.com")
    assert missing.exit_code == 1 and "not in the directory" in missing.output


def test_org_import_refusal_names_the_line_and_changes_nothing(synced, tmp_path):
    before = Employee.select().count()
    bad = tmp_path / "bad.csv"
    bad.write_text("email,role\nnew.person@example.com,employee\nother@example.com,boss\n")
    result = invoke(synced, "org", "import", str(bad))
    assert result.exit_code == 1
    assert "line 3" in result.output and "boss" in result.output
    assert Employee.select().count() == before


def test_unmatched_and_alias(synced, sim):
    listed = invoke(synced, "org", "unmatched")
    stray = next(a for a in sim.org.accounts if a.person_email is None and a.email)
    assert stray.email.lower() in listed.output
    someone = Employee.select().order_by(Employee.email).first()
    aliased = invoke(synced, "org", "alias", stray.email, someone.email)
    assert aliased.exit_code == 0
    assert stray.email.lower() not in invoke(synced, "org", "unmatched").output


def test_demo_runs_the_whole_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db_url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = CliRunner().invoke(
        cli,
        ["demo", "--employees", "40", "--days", "30", "--database", db_url],
        env={"CODEXBOT_SECRET_KEY": "", "DATABASE_URL": "", "CODEXBOT_CONFIG": ""},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "Sync 1 finished" in result.output
    assert "1:1 prep for" in result.output
    assert "Codex usage for" in result.output


def test_a_config_admin_may_ask_about_anyone(synced, tmp_path):
    outsider = Employee.select().where(Employee.manager.is_null()).first()
    someone = Employee.select().where(Employee.manager.is_null(False)).first()
    refused = invoke(synced, "stats", outsider.email, "--as", someone.email)
    assert refused.exit_code == 1
    config = tmp_path / "admins.toml"
    config.write_text(f'[slack]\nadmin_emails = ["{someone.email.upper()}"]\n')
    allowed = invoke(
        {**synced, "CODEXBOT_CONFIG": str(config)}, "stats", outsider.email, "--as", someone.email
    )
    assert allowed.exit_code == 0, allowed.output
    assert f"Codex usage for {outsider.name}" in allowed.output


def test_rotate_secret_reencrypts_and_a_wrong_old_secret_changes_nothing(env, sim):
    assert invoke(env, "connect", "--workspace", sim.workspace_id).exit_code == 0
    before = Connection.get().api_key_encrypted
    new_secret = Fernet.generate_key().decode()
    wrong = invoke(
        {
            **env,
            "CODEXBOT_SECRET_KEY": new_secret,
            "CODEXBOT_OLD_SECRET_KEY": Fernet.generate_key().decode(),
        },
        "rotate-secret",
    )
    assert wrong.exit_code == 1 and "nothing was changed" in wrong.output
    assert Connection.get().api_key_encrypted == before
    rotated = invoke(
        {**env, "CODEXBOT_SECRET_KEY": new_secret, "CODEXBOT_OLD_SECRET_KEY": SECRET},
        "rotate-secret",
    )
    assert rotated.exit_code == 0, rotated.output
    assert sim.api_key not in rotated.output and sim.api_key[-4:] in rotated.output
    token = Connection.get().api_key_encrypted.encode()
    assert Fernet(new_secret.encode()).decrypt(token).decode() == sim.api_key
    with pytest.raises(InvalidToken):
        Fernet(SECRET.encode()).decrypt(token)
    # Syncs now work with the new secret.
    synced = invoke({**env, "CODEXBOT_SECRET_KEY": new_secret}, "sync", "--days", "2")
    assert synced.exit_code == 0, synced.output


def test_status_shows_the_connection_and_the_last_sync(synced, sim):
    result = invoke(synced, "status")
    assert result.exit_code == 0, result.output
    assert f"Connection workspace `{sim.workspace_id}`" in result.output
    assert "Last sync" in result.output and ": ok, " in result.output
    assert sim.api_key not in result.output


def test_disconnect_keeps_the_history_and_forget_deletes_it_after_asking(synced, sim):
    stored = DailyUsage.select().count()
    assert stored > 0
    refused = invoke(synced, "disconnect", "--forget", input="n\n")
    assert refused.exit_code == 1 and f"Delete all {stored:,} usage rows" in refused.output
    assert DailyUsage.select().count() == stored and Connection.select().count() == 1
    kept = invoke(synced, "disconnect")
    assert "The usage history stays" in kept.output
    assert DailyUsage.select().count() == stored and Connection.select().count() == 0
    forgotten = invoke(synced, "disconnect", "--forget", "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    assert f"`{sim.workspace_id}`'s usage is deleted: {stored:,} rows" in forgotten.output
    assert DailyUsage.select().count() == 0

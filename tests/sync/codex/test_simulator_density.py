"""The simulator at full density: every employee on every day on each of four surfaces,
served over real loopback HTTP and stored by a real sync."""

from __future__ import annotations

import collections
import datetime
import json

import httpx
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from factories import TOKEN_FIELDS, utc_midnight
from freezegun import freeze_time

from bot.cli import cli
from sync.codex.connection import store_connection
from sync.codex.simulator import (
    DENSITIES,
    DENSITY_FULL,
    Simulator,
    every_day_accounts,
    generate_org,
)
from sync.codex.simulator.org import FULL_DENSITY_SURFACES
from sync.codex.simulator.server import API_PREFIX
from sync.config import load_settings
from sync.ingest.job import run_sync
from sync.org.directory import matched_employee_ids_by_codex_user
from sync.store.models import DailyUsage

TODAY = datetime.date(2025, 3, 12)  # a Wednesday
DAY = 86400
EMPLOYEES, DAYS = 45, 10


def fetch_all(sim: Simulator, **params) -> tuple[list[dict], int]:
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    rows, pages, token = [], 0, None
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=10) as client:
        while True:
            query = dict(params, **({"page": token} if token else {}))
            response = client.get(f"/workspaces/{sim.workspace_id}/usage", params=query)
            assert response.status_code == 200, response.text
            body = response.json()
            rows += body["data"]
            pages += 1
            if not body["has_more"]:
                assert body["next_page"] is None
                return rows, pages
            token = body["next_page"]


@pytest.fixture(scope="module")
def full():
    with Simulator(
        employees=EMPLOYEES, days=DAYS, seed=7, today=TODAY, density=DENSITY_FULL
    ) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def all_rows(full):
    rows, _ = fetch_all(full, start_time=utc_midnight(TODAY) - 80 * DAY, limit=30000)
    return rows


def test_every_employee_has_one_account_used_every_day_on_all_four_surfaces(full, all_rows):
    realistic = generate_org(EMPLOYEES, 7, TODAY)
    assert full.org.people == realistic.people
    assert {a.person_email for a in full.org.accounts} == {p.email for p in realistic.people}
    assert len(full.org.accounts) == EMPLOYEES
    # People keep the account the realistic org gives them; contractors have none.
    kept = {a.person_email: a.user_id for a in realistic.accounts if a.person_email}
    ids = {a.person_email: a.user_id for a in full.org.accounts}
    assert kept and all(ids[email] == user_id for email, user_id in kept.items())
    assert len(all_rows) == EMPLOYEES * DAYS
    per_day = collections.Counter(r["start_time"] for r in all_rows)
    assert sorted(per_day) == [utc_midnight(TODAY) - n * DAY for n in range(DAYS - 1, -1, -1)]
    assert set(per_day.values()) == {EMPLOYEES}  # weekends included
    for row in all_rows:
        assert [c["client_id"] for c in row["clients"]] == list(FULL_DENSITY_SURFACES)
    order = {a.user_id: i for i, a in enumerate(full.org.accounts)}
    keys = [(r["start_time"], order[r["user_id"]]) for r in all_rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_full_rows_have_the_apis_shape_and_consistent_counts(full, all_rows):
    accounts = {a.user_id: a for a in full.org.accounts}
    assert any(a.email is None for a in accounts.values())  # withheld emails stay withheld
    for row in all_rows:
        assert row["object"] == "workspace.codex.usage.result"
        assert row["end_time"] - row["start_time"] == DAY
        assert row["actor"] | {"email": None} == {
            "type": "ACCOUNT_USER",
            "user_id": row["user_id"],
            "email": None,
        }
        assert row["actor"].get("email") == accounts[row["user_id"]].email
        totals, clients = row["totals"], row["clients"]
        today = row["start_time"] == utc_midnight(TODAY)
        for field in ("threads", "turns", *TOKEN_FIELDS):
            if today and field in TOKEN_FIELDS:
                assert totals[field] is None and all(c[field] is None for c in clients)
            else:
                assert totals[field] == sum(c[field] for c in clients)
        assert all(c["threads"] >= 1 and c["turns"] >= c["threads"] for c in clients)
        assert totals["credits"] == pytest.approx(sum(c["credits"] for c in clients))
        assert sum(m["credits"] for m in row["models"]) == pytest.approx(totals["credits"])
        assert row["code_attribution"]["lines_removed"] <= row["code_attribution"]["lines_added"]
    # Not one row repeated for everyone: people and days differ.
    assert len({json.dumps(r["totals"]) for r in all_rows}) > len(all_rows) // 4
    assert any("cost_usd" in r["totals"] for r in all_rows)
    assert len({m["model"] for r in all_rows for m in r["models"]}) == 3


def test_full_pages_resume_at_their_position_and_the_same_seed_serves_the_same_bytes(
    full, all_rows
):
    small, pages = fetch_all(full, start_time=utc_midnight(TODAY) - 80 * DAY, limit=7)
    assert small == all_rows and pages == -(-len(all_rows) // 7)
    window, _ = fetch_all(full, start_time=utc_midnight(TODAY) - 3 * DAY, limit=11)
    assert window == all_rows[-4 * EMPLOYEES :]
    query = f"{API_PREFIX}/workspaces/{full.workspace_id}/usage?limit=13"
    with Simulator(
        employees=EMPLOYEES, days=DAYS, seed=7, today=TODAY, density=DENSITY_FULL
    ) as twin:
        served = full.handle(query, f"Bearer {full.api_key}")
        assert served[0] == 200 and twin.handle(query, f"Bearer {twin.api_key}") == served
    with pytest.raises(ValueError, match="density"):
        Simulator(employees=3, density="dense")


def test_quirks_apply_at_full_density_too():
    with Simulator(
        employees=5, days=2, today=TODAY, density=DENSITY_FULL, quirks=["more_without_token"]
    ) as sim:
        status, body, _ = sim.handle(
            f"{API_PREFIX}/workspaces/{sim.workspace_id}/usage?limit=100", f"Bearer {sim.api_key}"
        )
    page = json.loads(body)
    assert status == 200 and len(page["data"]) == 10
    assert page["has_more"] is True and page["next_page"] is None


@freeze_time("2025-03-12 10:30:00")
def test_a_sync_stores_every_employee_day_and_surface(db):
    secret = Fernet.generate_key().decode()
    with Simulator(employees=EMPLOYEES, days=DAYS, seed=3, density=DENSITY_FULL) as sim:
        store_connection(sim.workspace_id, sim.api_key, secret)
        settings = load_settings(None, environ={"CODEXBOT_SECRET_KEY": secret})
        settings.codex.api_base_url = sim.base_url
        settings.codex.page_size = 97
        run = run_sync(settings, days=DAYS)
    rows = EMPLOYEES * DAYS * len(FULL_DENSITY_SURFACES)
    assert run.rows == rows == DailyUsage.select().count()
    assert every_day_accounts(sim.org) == sim.org.accounts
    users = {a.user_id for a in sim.org.accounts}
    assert {u for (u,) in DailyUsage.select(DailyUsage.codex_user_id).distinct().tuples()} == users
    # No directory imported here: nobody's account is matched, which is the sync's business.
    assert matched_employee_ids_by_codex_user() == {}


def test_the_simulator_command_takes_the_density(monkeypatch):
    served = []

    def serve_forever(sim: Simulator) -> None:  # instead of serving until Ctrl-C
        served.append((sim.density, len(sim.org.accounts)))
        sim.stop()

    monkeypatch.setattr(Simulator, "serve_forever", serve_forever)
    options = ["simulator", "--port", "0", "--employees", "30"]
    env = {"CODEXBOT_CONFIG": ""}
    assert CliRunner().invoke(cli, [*options, "--density", "full"], env=env).exit_code == 0
    assert CliRunner().invoke(cli, options, env=env).exit_code == 0
    assert served[0] == ("full", 30) and served[1][0] == "realistic"
    assert served[1][1] != 30  # realistic: some have no account, contractors have one
    refused = CliRunner().invoke(cli, [*options, "--density", "dense"], env=env)
    assert refused.exit_code == 2
    # The command offers exactly the simulator's densities.
    (option,) = [p for p in cli.commands["simulator"].params if p.name == "density"]
    assert tuple(option.type.choices) == DENSITIES

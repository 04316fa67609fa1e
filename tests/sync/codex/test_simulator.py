"""The Codex API simulator, exercised over real loopback HTTP."""

from __future__ import annotations

import collections
import csv
import datetime
import json
import re
import subprocess
import sys

import httpx
import pytest
from factories import TOKEN_FIELDS, utc_midnight
from freezegun import freeze_time

from sync.codex.simulator import Simulator, generate_org, usage_row, write_org_csv
from sync.codex.simulator.org import CSV_HEADER, TIMEZONES, UNKNOWN_SURFACE

TODAY = datetime.date(2025, 3, 12)  # a Wednesday
DAY = 86400


def client_for(sim: Simulator, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key or sim.api_key}"}
    return httpx.Client(base_url=sim.base_url, headers=headers, timeout=10)


def fetch_all(client: httpx.Client, workspace_id: str, **params) -> tuple[list[dict], int]:
    rows, pages, token = [], 0, None
    while True:
        query = dict(params, **({"page": token} if token else {}))
        response = client.get(f"/workspaces/{workspace_id}/usage", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "page"
        rows += body["data"]
        pages += 1
        if not body["has_more"]:
            assert body["next_page"] is None
            return rows, pages
        token = body["next_page"]


@pytest.fixture(scope="module")
def sim():
    with Simulator(employees=200, days=90, seed=7, today=TODAY) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def api(sim):
    with client_for(sim) as client:
        yield client


@pytest.fixture(scope="module")
def all_rows(sim, api):
    rows, _ = fetch_all(
        api, sim.workspace_id, start_time=utc_midnight(TODAY) - 89 * DAY, limit=30000
    )
    return rows


def usage_url(sim: Simulator, workspace_id: str | None = None) -> str:
    return f"/workspaces/{workspace_id or sim.workspace_id}/usage"


def depth(people) -> int:
    managers = {p.email: p.manager_email for p in people}
    deepest = 0
    for email in managers:
        levels, seen = 0, set()
        while managers[email] is not None:
            assert email not in seen, "the manager chain loops"
            seen.add(email)
            email, levels = managers[email], levels + 1
        deepest = max(deepest, levels)
    return deepest


def test_same_seed_gives_same_org_and_another_seed_differs():
    first, again = generate_org(200, 7, TODAY), generate_org(200, 7, TODAY)
    other = generate_org(200, 8, TODAY)
    assert first == again
    assert [p.email for p in first.people] != [p.email for p in other.people]
    assert first.workspace_id != other.workspace_id
    assert first.api_key != other.api_key
    assert re.fullmatch(r"sk-sim-[0-9a-f]{32}", first.api_key)


def test_rows_do_not_depend_on_the_process_hash_seed():
    script = (
        "import datetime, json; from sync.codex.simulator import generate_org, usage_row;"
        "t = datetime.date(2025, 3, 12); org = generate_org(50, 3, t);"
        "print(json.dumps([usage_row(3, a, t - datetime.timedelta(days=2), t)"
        " for a in org.accounts]))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={"PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(outputs) == 1
    assert any(json.loads(outputs.pop()))


def test_org_shape():
    org = generate_org(200, 7, TODAY)
    people = {p.email: p for p in org.people}
    assert len(people) == 200
    assert [p for p in org.people if p.manager_email is None] == [org.people[0]]
    assert all(p.manager_email in people for p in org.people[1:])
    assert depth(org.people) >= 4
    reports = collections.Counter(p.manager_email for p in org.people if p.manager_email)
    assert max(reports.values()) <= 8
    assert 2 <= sum(p.role == "admin" for p in org.people) <= 3
    archived = [p for p in org.people if p.archived_on]
    assert archived
    assert all(TODAY - datetime.timedelta(days=60) <= p.archived_on < TODAY for p in archived)
    slack_ids = [p.slack_user_id for p in org.people if p.slack_user_id]
    assert 150 < len(slack_ids) < 200
    assert len(set(slack_ids)) == len(slack_ids)
    assert all(re.fullmatch(r"U[A-Z0-9]{10}", s) for s in slack_ids)
    assert {p.timezone for p in org.people} - {None} <= set(TIMEZONES)


def test_accounts_disagree_with_the_directory_like_real_ones():
    org = generate_org(200, 7, TODAY)
    emails = {p.email for p in org.people}
    accounts = org.accounts
    assert len({a.user_id for a in accounts}) == len(accounts)
    owned = [a for a in accounts if a.person_email is not None]
    assert 0.75 < len(owned) / len(org.people) < 0.95
    assert all(a.person_email in emails for a in owned)
    strangers = [a for a in accounts if a.person_email is None]
    assert len(strangers) >= 2
    assert all(a.email and not a.email.endswith("@example.com") for a in strangers)
    assert sum(a.email is None for a in accounts) >= 2
    mixed = [a for a in owned if a.email and a.email != a.email.lower()]
    assert mixed
    assert all(a.email.lower() == a.person_email for a in owned if a.email)
    assert any(UNKNOWN_SURFACE in a.surfaces for a in accounts)
    assert any(a.activity > 0.85 for a in accounts) and any(a.activity < 0.03 for a in accounts)


def test_org_csv_round_trips(tmp_path):
    org = generate_org(60, 5, TODAY)
    path = tmp_path / "org.csv"
    write_org_csv(org, path)
    assert path.read_text().splitlines()[0] == ",".join(CSV_HEADER)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 60
    for row, person in zip(rows, org.people, strict=True):
        assert row["email"] == person.email
        assert row["name"] == person.name
        assert row["manager_email"] == (person.manager_email or "")
        assert row["role"] == person.role
        assert row["archived_on"] == (person.archived_on.isoformat() if person.archived_on else "")
        assert row["slack_user_id"] == (person.slack_user_id or "")
        assert row["timezone"] == (person.timezone or "")


def test_org_needs_at_least_one_employee():
    with pytest.raises(ValueError):
        generate_org(0, 1, TODAY)
    assert len(generate_org(1, 1, TODAY).people) == 1


def test_same_seed_serves_the_same_pages_and_another_seed_differs(sim, api):
    params = {"start_time": utc_midnight(TODAY) - 10 * DAY, "limit": 50}
    first = api.get(usage_url(sim), params=params).json()
    with Simulator(employees=200, seed=7, today=TODAY) as twin, client_for(twin) as client:
        assert client.get(usage_url(twin), params=params).json() == first
    with Simulator(employees=200, seed=8, today=TODAY) as other, client_for(other) as client:
        assert client.get(usage_url(other), params=params).json()["data"] != first["data"]


def test_every_row_is_served_once_whatever_the_page_size(sim, api, all_rows):
    window = {"start_time": utc_midnight(TODAY) - 20 * DAY, "end_time": utc_midnight(TODAY) + DAY}
    small, pages = fetch_all(api, sim.workspace_id, limit=7, **window)
    large, one = fetch_all(api, sim.workspace_id, limit=30000, **window)
    assert one == 1 and pages > 100
    assert small == large
    assert large == [r for r in all_rows if r["start_time"] >= window["start_time"]]
    keys = [(r["start_time"], r["user_id"]) for r in all_rows]
    assert len(set(keys)) == len(keys)
    order = {a.user_id: i for i, a in enumerate(sim.org.accounts)}
    assert keys == sorted(keys, key=lambda k: (k[0], order[k[1]]))


def test_a_page_token_resumes_at_its_position_without_earlier_pages(sim, api, all_rows):
    params = {"start_time": utc_midnight(TODAY) - 89 * DAY, "limit": 100}
    token = api.get(usage_url(sim), params=params).json()["next_page"]
    resumed = api.get(usage_url(sim), params={**params, "limit": 50, "page": token}).json()
    assert resumed["data"] == all_rows[100:150]
    assert resumed["has_more"] is True


def test_only_days_in_the_window_and_the_history_are_served(sim, api, all_rows):
    days = sorted({r["start_time"] for r in all_rows})
    assert days[0] == utc_midnight(TODAY) - 89 * DAY and days[-1] == utc_midnight(TODAY)
    assert all(r["end_time"] - r["start_time"] == DAY for r in all_rows)
    # A window starting at noon still includes that day: it intersects the window.
    noon = utc_midnight(TODAY) - 5 * DAY + DAY // 2
    rows, _ = fetch_all(api, sim.workspace_id, start_time=noon, end_time=noon + DAY)
    assert sorted({r["start_time"] for r in rows}) == [noon - DAY // 2, noon + DAY // 2]
    default, _ = fetch_all(api, sim.workspace_id, limit=30000)
    assert {r["start_time"] for r in default} == set(days[-30:])
    with Simulator(employees=50, days=3, today=TODAY) as short, client_for(short) as client:
        rows, _ = fetch_all(client, short.workspace_id, start_time=utc_midnight(TODAY) - 80 * DAY)
    assert {r["start_time"] for r in rows} == {utc_midnight(TODAY) - n * DAY for n in range(3)}


def test_current_day_has_null_tokens_and_earlier_days_do_not(all_rows):
    today = [r for r in all_rows if r["start_time"] == utc_midnight(TODAY)]
    earlier = [r for r in all_rows if r["start_time"] < utc_midnight(TODAY)]
    assert today and earlier
    for row in today:
        for counts in (row["totals"], *row["clients"]):
            assert all(field in counts and counts[field] is None for field in TOKEN_FIELDS)
            assert counts["turns"] > 0
    for row in earlier:
        for counts in (row["totals"], *row["clients"]):
            assert all(isinstance(counts[field], int) for field in TOKEN_FIELDS)


def test_totals_are_the_sum_of_clients(all_rows):
    for row in all_rows:
        totals, clients = row["totals"], row["clients"]
        assert 1 <= len(clients) <= 3
        assert len({c["client_id"] for c in clients}) == len(clients)
        for field in ("threads", "turns", *TOKEN_FIELDS):
            if totals[field] is not None:
                assert totals[field] == sum(c[field] for c in clients)
        assert totals["credits"] == pytest.approx(sum(c["credits"] for c in clients))
        assert totals["credits"] == round(totals["credits"], 2)
        assert sum(m["credits"] for m in row["models"]) == pytest.approx(totals["credits"])
        if totals["text_total_tokens"] is not None:
            inputs = totals["uncached_text_input_tokens"] + totals["cached_text_input_tokens"]
            assert totals["text_total_tokens"] == inputs + totals["text_output_tokens"]
    assert any(r["totals"]["credits"] != int(r["totals"]["credits"]) for r in all_rows)
    assert any("cost_usd" in r["totals"] for r in all_rows)


def test_rows_follow_the_accounts(sim, all_rows):
    accounts = {a.user_id: a for a in sim.org.accounts}
    for row in all_rows:
        account = accounts[row["user_id"]]
        assert row["object"] == "workspace.codex.usage.result"
        assert row["actor"]["type"] == "ACCOUNT_USER"
        assert row["actor"]["user_id"] == row["user_id"]
        assert row["actor"].get("email") == account.email
        assert {c["client_id"] for c in row["clients"]} <= set(account.surfaces)
    active = collections.Counter(r["user_id"] for r in all_rows)
    idle = [a for a in sim.org.accounts if a.activity < 0.03]
    assert idle and all(active[a.user_id] <= 5 for a in idle)
    assert max(active.values()) > 60


def test_weekdays_are_busier_than_weekends(all_rows):
    per_day = collections.Counter(r["start_time"] for r in all_rows)
    weekday, weekend = [], []
    for start, count in per_day.items():
        day = datetime.datetime.fromtimestamp(start, datetime.UTC).date()
        (weekend if day.weekday() >= 5 else weekday).append(count)
    assert weekend
    assert sum(weekend) / len(weekend) * 3 < sum(weekday) / len(weekday)


def test_leavers_keep_or_lose_usage_after_leaving(sim, all_rows):
    left = {p.email: p.archived_on for p in sim.org.people if p.archived_on}
    accounts = {a.user_id: a for a in sim.org.accounts}
    later = collections.defaultdict(int)
    for row in all_rows:
        account = accounts[row["user_id"]]
        if account.person_email in left and row["start_time"] > utc_midnight(
            left[account.person_email]
        ):
            later[account.user_id] += 1
    leavers = [a for a in sim.org.accounts if a.person_email in left]
    assert any(a.active_until is None and later[a.user_id] for a in leavers)
    cut_off = [a for a in leavers if a.active_until is not None]
    assert cut_off and all(later[a.user_id] == 0 for a in cut_off)


def test_bad_or_missing_key_is_401(sim):
    expected = {
        "error": {
            "message": "Incorrect API key provided",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    with httpx.Client(base_url=sim.base_url) as anonymous:
        response = anonymous.get(usage_url(sim))
    assert (response.status_code, response.json()) == (401, expected)
    with client_for(sim, key="sk-sim-" + "0" * 32) as wrong:
        response = wrong.get(usage_url(sim))
    assert (response.status_code, response.json()) == (401, expected)


def test_workspace_without_plan_is_403_and_unknown_workspace_404(sim, api):
    response = api.get(usage_url(sim, Simulator.NO_ACCESS_WORKSPACE_ID))
    assert response.status_code == 403
    assert "Enterprise" in response.json()["error"]["message"]
    response = api.get(usage_url(sim, "00000000-0000-4000-8000-000000000000"))
    assert response.status_code == 404
    assert response.json()["error"]["message"]
    assert api.get("/workspaces").status_code == 404
    assert api.get(f"/workspaces/{sim.workspace_id}/code_reviews").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_time": "yesterday"}, "start_time"),
        ({"end_time": "1.5"}, "end_time"),
        ({"start_time": utc_midnight(TODAY), "end_time": utc_midnight(TODAY)}, "end_time"),
        ({"start_time": utc_midnight(TODAY) - 91 * DAY}, "start_time"),
        ({"limit": 0}, "limit"),
        ({"limit": 30001}, "limit"),
        ({"group_by": "month"}, "group_by"),
        ({"page": "not-a-token"}, "page"),
    ],
)
def test_bad_parameters_are_422(sim, api, params, field):
    response = api.get(usage_url(sim), params=params)
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["query", field]
    assert detail["msg"] and detail["type"]


def test_oldest_allowed_start_and_week_grouping_are_accepted(sim, api):
    params = {"start_time": utc_midnight(TODAY) - 90 * DAY, "group_by": "week", "limit": 1}
    response = api.get(usage_url(sim), params=params)
    assert response.status_code == 200
    assert response.json()["data"][0]["start_time"] == utc_midnight(TODAY) - 89 * DAY
    far_future = api.get(usage_url(sim), params={"end_time": 10**15})
    assert far_future.status_code == 200 and far_future.json()["data"] == []


def test_a_token_from_another_window_is_refused(sim, api):
    early = {"start_time": utc_midnight(TODAY) - 30 * DAY, "limit": 500}
    token = api.get(usage_url(sim), params=early).json()["next_page"]
    assert api.get(usage_url(sim), params={**early, "page": token}).status_code == 200
    late = {"start_time": utc_midnight(TODAY) - 2 * DAY, "page": token}
    response = api.get(usage_url(sim), params=late)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "page"]


def fetch_all_retrying(client: httpx.Client, workspace_id: str, **params) -> list[dict]:
    rows, token, attempts = [], None, 0
    while attempts < 500:
        attempts += 1
        query = dict(params, **({"page": token} if token else {}))
        response = client.get(f"/workspaces/{workspace_id}/usage", params=query)
        try:
            body = response.json() if response.status_code == 200 else None
        except json.JSONDecodeError:
            body = None
        if body is None:
            continue
        rows += body["data"]
        if not body["has_more"]:
            return rows
        token = body["next_page"]
    raise AssertionError("too many attempts")


def test_injected_failures_come_in_three_kinds():
    with Simulator(employees=30, days=5, today=TODAY, fail_rate=1.0, retry_after=0) as sim:
        with client_for(sim) as client:
            kinds = collections.Counter()
            for _ in range(30):
                response = client.get(usage_url(sim), params={"limit": 5})
                if response.status_code == 429:
                    assert response.headers["Retry-After"] == "0"
                    kinds["429"] += 1
                elif response.status_code == 500:
                    assert response.json()["error"]["message"]
                    kinds["500"] += 1
                else:
                    assert response.status_code == 200
                    assert int(response.headers["Content-Length"]) == len(response.content)
                    with pytest.raises(json.JSONDecodeError):
                        json.loads(response.content)
                    kinds["truncated"] += 1
            assert set(kinds) == {"429", "500", "truncated"}
            sim.fail_rate = 0.0
            response = client.get(usage_url(sim), params={"limit": 5})
            assert response.status_code == 200 and len(response.json()["data"]) == 5
        statuses = collections.Counter(status for _, _, status in sim.request_log[:30])
        assert statuses == {429: kinds["429"], 500: kinds["500"], 200: kinds["truncated"]}


def test_failures_are_deterministic_and_never_consume_a_page():
    sequences, results = [], []
    for _ in range(2):
        with Simulator(employees=40, days=6, today=TODAY, fail_rate=0.5) as sim:
            with client_for(sim) as client:
                results.append(fetch_all_retrying(client, sim.workspace_id, limit=4))
            sequences.append([status for _, _, status in sim.request_log])
    assert sequences[0] == sequences[1]
    assert {429, 500} <= set(sequences[0])
    with Simulator(employees=40, days=6, today=TODAY) as clean, client_for(clean) as client:
        expected, _ = fetch_all(client, clean.workspace_id, limit=4)
    assert results[0] == expected and len(expected) > 20


def test_request_log_records_each_request(sim, api):
    before = len(sim.request_log)
    api.get(usage_url(sim), params={"limit": 3})
    api.get("/nowhere")
    assert sim.request_log[before:] == [
        ("GET", f"/v1/analytics/codex{usage_url(sim)}?limit=3", 200),
        ("GET", "/v1/analytics/codex/nowhere", 404),
    ]


def test_today_comes_from_the_clock_when_not_given():
    with freeze_time("2025-06-04 15:30:00"):
        frozen = datetime.date(2025, 6, 4)
        with Simulator(employees=40, days=3) as sim, client_for(sim) as client:
            rows, _ = fetch_all(client, sim.workspace_id)
    assert max(r["start_time"] for r in rows) == utc_midnight(frozen)
    assert min(r["start_time"] for r in rows) == utc_midnight(frozen) - 2 * DAY
    current = [r for r in rows if r["start_time"] == utc_midnight(frozen)]
    assert current and all(r["totals"]["text_total_tokens"] is None for r in current)


def test_stop_closes_the_server():
    sim = Simulator(employees=10, today=TODAY)
    base_url = sim.start()
    assert base_url == f"http://127.0.0.1:{sim.port}/v1/analytics/codex" and sim.port
    with client_for(sim) as client:
        assert client.get(usage_url(sim)).status_code == 200
        sim.stop()
        with pytest.raises(httpx.TransportError):
            client.get(usage_url(sim))


def test_no_usage_after_today_or_after_deprovisioning():
    org = generate_org(200, 7, TODAY)
    busiest = max(org.accounts, key=lambda a: a.activity)
    past = [TODAY - datetime.timedelta(days=n) for n in range(15)]
    assert any(usage_row(7, busiest, day, TODAY) for day in past)
    assert usage_row(7, busiest, TODAY + datetime.timedelta(days=1), TODAY) is None
    gone = next(a for a in org.accounts if a.active_until is not None)
    before = [gone.active_until - datetime.timedelta(days=n) for n in range(30)]
    assert any(usage_row(7, gone, day, TODAY) for day in before)
    after = [gone.active_until + datetime.timedelta(days=n) for n in range(1, 60)]
    assert all(usage_row(7, gone, day, TODAY) is None for day in after if day <= TODAY)


# ------------------------------------------------------------------- hostile quirks
# (Imported here, with the tests that need them.)
import itertools  # noqa: E402
import time  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

from sync.codex.client import (  # noqa: E402
    CodexAnalyticsClient,
    ServiceUnavailableError,
    UsagePage,
)
from sync.codex.rows import UNATTRIBUTED_CLIENT, UsageRecord  # noqa: E402
from sync.codex.simulator.quirks import encode_loop_token  # noqa: E402

HOSTILE_FIGURES = {
    "not_an_object": 1,
    "no_user": 1,
    "bad_time": 3,
    "not_one_day": 2,
    "outside_window": 2,
    "bad_clients": 2,
    "not_a_number": 2,
    "not_finite": 2,
    "fractional_count": 1,
    "negative_count": 1,
    "too_large": 2,
}
HOSTILE_ROW_COUNT = 19 + 4  # rejected + stored
WINDOW_START = datetime.datetime.combine(
    TODAY - datetime.timedelta(days=6), datetime.time(), datetime.UTC
)
WINDOW_END = datetime.datetime.combine(
    TODAY + datetime.timedelta(days=1), datetime.time(), datetime.UTC
)


def analytics_client(sim: Simulator, **options) -> CodexAnalyticsClient:
    return CodexAnalyticsClient(
        sim.base_url, sim.api_key, sim.workspace_id, sleep=lambda _: None, **options
    )


def read_window(sim: Simulator, page_size: int) -> list[UsagePage]:
    with analytics_client(sim) as client:
        return list(client.iter_usage_pages(WINDOW_START, WINDOW_END, page_size))


def is_hostile(record: UsageRecord) -> bool:
    return record.codex_user_id.startswith("user-hostile-")


def test_quirks_are_off_by_default_and_unknown_ones_are_refused():
    sim = Simulator(employees=5, today=TODAY)
    assert sim.quirks == frozenset()
    assert sim.hostile_expectation(WINDOW_START, WINDOW_END).rows == 0
    assert set(Simulator.QUIRKS) == {
        "hostile_rows",
        "endless_pages",
        "more_without_token",
        "trickle",
    }
    with pytest.raises(ValueError, match="unknown quirks"):
        Simulator(employees=5, today=TODAY, quirks=["hostile_rows", "everything"])
    assert Simulator(employees=5, today=TODAY, quirks="trickle").quirks == {"trickle"}


def test_hostile_rows_are_rejected_by_reason_and_the_unusual_good_ones_stored():
    with Simulator(employees=40, days=30, seed=4, today=TODAY, quirks={"hostile_rows"}) as sim:
        pages = read_window(sim, page_size=50)
        expected = sim.hostile_expectation(WINDOW_START, WINDOW_END)
    with Simulator(employees=40, days=30, seed=4, today=TODAY) as clean:
        clean_pages = read_window(clean, page_size=50)
    assert len(pages) == len(clean_pages) > 2

    rejected = sum((page.rejected for page in pages), collections.Counter())
    assert rejected == expected.rejected == HOSTILE_FIGURES
    assert Simulator.HOSTILE_REJECTIONS == HOSTILE_FIGURES
    assert sum(p.rows for p in pages) == sum(p.rows for p in clean_pages) + HOSTILE_ROW_COUNT
    assert expected.rows == HOSTILE_ROW_COUNT
    # The ordinary rows all arrive as before, and the unusual good ones are stored as
    # the simulator says a correct client must store them.
    records = [r for page in pages for r in page.records]
    assert [r for r in records if not is_hostile(r)] == [r for p in clean_pages for r in p.records]
    hostile = sorted(r for r in records if is_hostile(r))
    assert hostile == sorted(expected.records)
    assert {(r.codex_user_id, r.client_id, r[4:]) for r in hostile} == {
        ("user-hostile-iso", "CODEX_IDE_VSCODE", (2, 6, 3.25, None, None, None, None)),
        ("user-hostile-top-level", "CODEX_WEB", (1, 4, 2.5, 400, 50, 450, 100)),
        ("user-hostile-unattributed", "CODEX_CLI", (1, 2, 3.5, 150, 20, 170, 50)),
        ("user-hostile-unattributed", UNATTRIBUTED_CLIENT, (2, 5, 6.75, 350, 40, 390, 50)),
        ("user-hostile-strings", UNATTRIBUTED_CLIENT, (2, 5, 4.75, None, None, None, None)),
    }
    assert {r.day for r in hostile} == {TODAY}
    assert {r.codex_user_id: r.email for r in hostile}["user-hostile-top-level"] == (
        "top.level@hostile.example"
    )
    # Only the first page carries them.
    assert pages[0].rejected == HOSTILE_FIGURES
    assert all(not page.rejected for page in pages[1:])


def test_hostile_rows_are_dated_in_the_served_window_and_absent_when_it_is_empty():
    with Simulator(employees=20, days=30, seed=4, today=TODAY, quirks={"hostile_rows"}) as sim:
        past_end = WINDOW_END - datetime.timedelta(days=3)
        expected = sim.hostile_expectation(WINDOW_START, past_end)
        assert {r.day for r in expected.records} == {TODAY - datetime.timedelta(days=3)}
        with analytics_client(sim) as client:
            pages = list(client.iter_usage_pages(WINDOW_START, past_end, page_size=1000))
        assert sorted(r for p in pages for r in p.records if is_hostile(r)) == sorted(
            expected.records
        )
        future = WINDOW_END + datetime.timedelta(days=10)
        nothing = sim.hostile_expectation(future, future + datetime.timedelta(days=1))
        assert (nothing.rows, nothing.rejected, nothing.records) == (0, {}, [])
        with client_for(sim) as api:
            params = {"start_time": int(future.timestamp()), "end_time": 10**10}
            assert api.get(usage_url(sim), params=params).json()["data"] == []


def test_hostile_rows_come_on_the_first_page_in_an_order_fixed_by_the_seed():
    params = {"start_time": utc_midnight(TODAY) - 3 * DAY, "limit": 10}

    def first_two_pages(seed: int) -> tuple[str, dict]:
        quirks = {"hostile_rows"}
        with (
            Simulator(employees=30, seed=seed, today=TODAY, quirks=quirks) as sim,
            client_for(sim) as api,
        ):
            first = api.get(usage_url(sim), params=params)
            token = first.json()["next_page"]
            second = api.get(usage_url(sim), params={**params, "page": token}).json()
        return first.text, second

    text, second = first_two_pages(5)
    assert "Infinity" in text and "NaN" in text  # as Python's json writes them
    data = json.loads(text)["data"]
    assert len(data) == 10 + HOSTILE_ROW_COUNT
    assert len(second["data"]) == 10
    assert not any("hostile" in json.dumps(row) for row in second["data"])
    again, _ = first_two_pages(5)
    assert again == text
    other, _ = first_two_pages(6)

    def hostile_places(page_text: str) -> list[int]:
        rows = json.loads(page_text)["data"]
        return [i for i, row in enumerate(rows) if "hostile" in json.dumps(row) or row is None]

    assert len(hostile_places(text)) == HOSTILE_ROW_COUNT - 1  # the aggregate row says no name
    assert hostile_places(other) != hostile_places(text)


def test_more_without_token_ends_with_has_more_and_no_token():
    quirks = {"more_without_token"}
    with Simulator(employees=20, days=10, seed=2, today=TODAY, quirks=quirks) as sim:
        pages = read_window(sim, page_size=25)
        with client_for(sim) as api:
            body = api.get(usage_url(sim), params={"start_time": utc_midnight(TODAY)}).json()
    with Simulator(employees=20, days=10, seed=2, today=TODAY) as clean:
        clean_pages = read_window(clean, page_size=25)
    assert len(pages) == len(clean_pages) > 1
    assert [p.warning for p in pages] == [None] * (len(pages) - 1) + ["more_without_token"]
    assert [p.records for p in pages] == [p.records for p in clean_pages]
    assert (body["has_more"], body["next_page"]) == (True, None)


def test_endless_pages_always_give_a_new_token_and_repeat_the_window():
    with Simulator(employees=10, days=2, seed=2, today=TODAY, quirks={"endless_pages"}) as sim:
        start = datetime.datetime.combine(TODAY, datetime.time(), datetime.UTC)
        end = start + datetime.timedelta(days=1)
        with analytics_client(sim) as client:
            pages = list(itertools.islice(client.iter_usage_pages(start, end, page_size=3), 12))
        tokens = [parse_qs(urlsplit(path).query).get("page") for _, path, _ in sim.request_log]
        assert tokens[0] is None
        assert len({t[0] for t in tokens[1:]}) == len(tokens) - 1 == 11
        with client_for(sim) as api:
            params = {"start_time": utc_midnight(TODAY), "page": encode_loop_token(2, "junk")}
            assert api.get(usage_url(sim), params=params).status_code == 422
    records = [p.records for p in pages]
    lap = next(i for i in range(1, len(records)) if records[i] == records[0])
    assert lap >= 2 and records[lap : 2 * lap] == records[:lap]
    assert sum(len(r) for r in records[:lap]) > 3


def test_trickle_sends_the_body_a_few_bytes_at_a_time():
    params = {"start_time": utc_midnight(TODAY) - DAY, "limit": 1}
    with Simulator(employees=20, seed=2, today=TODAY) as clean, client_for(clean) as api:
        whole = api.get(usage_url(clean), params=params).content
    options = {"quirks": {"trickle"}, "trickle_bytes": 40, "trickle_pause": 0.005}
    sim = Simulator(employees=20, seed=2, today=TODAY, **options)
    with sim, client_for(sim) as api, api.stream("GET", usage_url(sim), params=params) as response:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == len(whole)
        chunks = [chunk for chunk in response.iter_raw() if chunk]  # as they arrived
    assert b"".join(chunks) == whole
    # 40 bytes a write; a read may now and then catch two writes at once.
    assert len(chunks) >= len(whole) / 40 / 2 and max(map(len, chunks)) < len(whole) / 4


def test_a_trickled_page_times_out_as_a_whole_though_each_read_is_quick():
    pause = 0.02
    params = {"start_time": int(WINDOW_START.timestamp()), "limit": 1}
    with Simulator(employees=20, seed=2, today=TODAY) as clean, client_for(clean) as api:
        size = len(api.get(usage_url(clean), params=params).content)
    # The whole page needs over a second, each write comes within a fiftieth of one...
    assert size / 8 * pause > 1.0
    options = {"quirks": {"trickle"}, "trickle_bytes": 8, "trickle_pause": pause}
    sim = Simulator(employees=20, seed=2, today=TODAY, **options)
    with sim, analytics_client(sim, timeout_seconds=0.5, max_attempts=1) as client:
        began = time.monotonic()
        with pytest.raises(ServiceUnavailableError) as failed:
            next(client.iter_usage_pages(WINDOW_START, WINDOW_END, page_size=1))
        took = time.monotonic() - began
    # ...and the client gives up at its time-out for the whole request, not later.
    assert failed.value.params["reason"] == "timed_out"
    assert 0.5 <= took < 0.9  # one attempt (max_attempts=1): a second would pass 1.0

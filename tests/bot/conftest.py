"""Drive the Bolt app as Slack does: signed HTTP requests to the app in HTTP mode, with its
Web API client pointed at a fake Slack on loopback."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from cryptography.fernet import Fernet
from factories import person, store_usage, usage
from slack_requests import SleepRecorder, bot_settings, running_bot

from bot.cli.fake_slack import FakeSlack
from sync.clock import utc_today
from sync.codex.simulator import Simulator

SECRET_KEY = Fernet.generate_key().decode()
_ids = itertools.count(1)


@pytest.fixture
def slack():
    fake = FakeSlack().start()
    yield fake
    fake.assert_blocks_valid()
    fake.stop()


@pytest.fixture(scope="session")
def simulator():
    with Simulator(employees=20, days=30, seed=3) as sim:
        yield sim


@pytest.fixture
def settings(slack, simulator, sqlite_db):
    settings = bot_settings(slack, simulator.base_url, SECRET_KEY)
    settings.slack.admin_emails = ["config.admin@example.com"]
    return settings


@pytest.fixture
def slept():
    """The delays the bot's Slack client waited between retries (none of them for real)."""
    return SleepRecorder()


@pytest.fixture
def bot(settings, slack, slept):
    with running_bot(settings, slack, sleep=slept) as sender:
        yield sender


@pytest.fixture
def org(slack, sqlite_db):
    """A small org; some people known to the directory by Slack id, some only by email."""
    today = utc_today()  # read per test: a run may cross midnight
    admin = person("admin@example.com", "Ada Admin", role="admin")
    ceo = person("ceo@example.com", "Cleo Chief")
    mgr = person("mgr@example.com", "Max Manager", manager=ceo)
    rep = person("rep@example.com", "Remy Report", manager=mgr)
    peer = person("peer@example.com", "Pia Peer", manager=mgr)
    stranger = person("stranger@example.com", "Sol Stranger", manager=ceo)
    archived = person(
        "archived@example.com",
        "Arlo Archived",
        manager=ceo,
        archived_on=today - dt.timedelta(days=40),
    )
    people = {
        "admin": admin,
        "ceo": ceo,
        "mgr": mgr,
        "rep": rep,
        "peer": peer,
        "stranger": stranger,
        "archived": archived,
    }
    for key, employee in people.items():
        user_id = "U" + key.upper()
        if key in ("admin", "ceo", "mgr"):
            employee.slack_user_id = user_id
            employee.save()
        # Slack's profile email may differ in case from the directory's.
        slack.add_user(user_id, employee.email.title())
    slack.add_user("UOUTSIDER", "outsider@example.com")
    slack.add_user("UCONFIGADMIN", "config.admin@example.com")
    slack.add_user("UBOTUSER", None, is_bot=True)
    records = []
    for key in people:
        for offset in range(1, 8):
            day = today - dt.timedelta(days=offset)
            records.append(usage(f"codex-{key}", day, email=f"{key}@example.com", credits=1.5))
    store_usage(records)
    return people

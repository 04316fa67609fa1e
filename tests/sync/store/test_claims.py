"""Claims on both engines: one holder at a time, taken over only after expiry; the sync
lease, Slack events and digest sends all rest on them."""

from __future__ import annotations

import datetime as dt

from freezegun import freeze_time

from sync.clock import utc_timestamp
from sync.store.claims import (
    claim_once,
    forget_expired,
    held_claim,
    hold_until,
    release,
    renew,
    try_claim,
)
from sync.store.models import Claim


def holder_of(name):
    """Who holds `name` now, if anyone."""
    return (
        Claim.select(Claim.holder)
        .where(Claim.name == name, Claim.expires_at >= utc_timestamp())
        .scalar()
    )


def test_one_holder_at_a_time_and_takeover_after_expiry(db):
    with freeze_time("2026-11-25 10:00:00") as clock:
        assert try_claim("sync", "replica-a", 60)
        assert not try_claim("sync", "replica-b", 60)
        assert try_claim("sync", "replica-a", 60)  # re-taking one's own lease renews it
        clock.tick(dt.timedelta(seconds=59))
        assert not try_claim("sync", "replica-b", 60)
        assert holder_of("sync") == "replica-a"
        clock.tick(dt.timedelta(seconds=62))  # a stops renewing: its lease lapses
        assert holder_of("sync") is None
        assert try_claim("sync", "replica-b", 60)
        assert not renew("sync", "replica-a", 60)  # the old holder cannot renew it back
        assert holder_of("sync") == "replica-b"


def test_renewal_keeps_the_lease_past_its_first_expiry(db):
    with freeze_time("2026-11-25 10:00:00") as clock:
        assert try_claim("digest", "a", 30)
        for _ in range(5):
            clock.tick(dt.timedelta(seconds=20))
            assert renew("digest", "a", 30)
        assert not try_claim("digest", "b", 30)


def test_release_frees_it_for_others_but_only_by_its_holder(db):
    assert try_claim("sync", "a", 60)
    release("sync", "b")
    assert holder_of("sync") == "a"
    release("sync", "a")
    assert try_claim("sync", "b", 60)


def test_held_claim_yields_whether_this_replica_runs_the_job(db):
    with held_claim("sync", "a", 60) as held_by_a:
        assert held_by_a
        with held_claim("sync", "b", 60) as held_by_b:
            assert not held_by_b
    assert holder_of("sync") is None  # released on exit


def test_a_lease_held_by_a_dead_process_on_this_host_is_taken_over_at_once(db):
    import socket
    import subprocess
    import sys

    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_holder = f"{socket.gethostname()}:{finished.stdout.strip()}:abcd1234"
    with freeze_time("2026-11-25 10:00:00"):
        assert try_claim("sync", dead_holder, 300)
        assert try_claim("sync", "replica-b", 300)  # no wait for the 300 s expiry
        assert holder_of("sync") == "replica-b"
        # A live holder elsewhere (another host) is waited for as usual.
        assert try_claim("digest", "other-host:1:abcd", 300)
        assert not try_claim("digest", "replica-b", 300)


def test_claim_once_is_true_for_the_first_caller_only_until_it_expires(db):
    with freeze_time("2026-11-25 10:00:00") as clock:
        assert claim_once("slack-event:Ev1", 60)
        assert not claim_once("slack-event:Ev1", 60)  # a retry, even from this process
        assert claim_once("slack-event:Ev2", 60)
        clock.tick(dt.timedelta(seconds=61))
        assert claim_once("slack-event:Ev1", 60)


def test_hold_until_moves_the_expiry_and_forget_expired_deletes_only_the_lapsed(db):
    with freeze_time("2026-11-25 10:00:00") as clock:
        assert try_claim("digest:manager:1:2026-11-22", "attempt-1", 600)
        assert try_claim("sync", "a", 60)
        assert hold_until("digest:manager:1:2026-11-22", "attempt-1", dt.datetime(2026, 12, 1))
        assert not hold_until("sync", "b", dt.datetime(2026, 12, 1))  # not b's to move
        clock.tick(dt.timedelta(days=1))
        assert not try_claim("digest:manager:1:2026-11-22", "attempt-2", 600)
        assert forget_expired(utc_timestamp()) == 1  # the sync lease lapsed a day ago
        assert [c.name for c in Claim.select()] == ["digest:manager:1:2026-11-22"]

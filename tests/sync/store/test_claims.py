"""The job lease on both engines: one holder at a time, taken over only after expiry."""

from __future__ import annotations

import datetime as dt

from freezegun import freeze_time

from sync.store.claims import held_lease, holder_of, release, renew, try_acquire


def test_one_holder_at_a_time_and_takeover_after_expiry(db):
    with freeze_time("2026-11-25 10:00:00") as clock:
        assert try_acquire("sync", "replica-a", 60)
        assert not try_acquire("sync", "replica-b", 60)
        assert try_acquire("sync", "replica-a", 60)  # re-taking one's own lease renews it
        clock.tick(dt.timedelta(seconds=59))
        assert not try_acquire("sync", "replica-b", 60)
        assert holder_of("sync") == "replica-a"
        clock.tick(dt.timedelta(seconds=62))  # a stops renewing: its lease lapses
        assert holder_of("sync") is None
        assert try_acquire("sync", "replica-b", 60)
        assert not renew("sync", "replica-a", 60)  # the old holder cannot renew it back
        assert holder_of("sync") == "replica-b"


def test_renewal_keeps_the_lease_past_its_first_expiry(db):
    with freeze_time("2026-11-25 10:00:00") as clock:
        assert try_acquire("digest", "a", 30)
        for _ in range(5):
            clock.tick(dt.timedelta(seconds=20))
            assert renew("digest", "a", 30)
        assert not try_acquire("digest", "b", 30)


def test_release_frees_it_for_others_but_only_by_its_holder(db):
    assert try_acquire("sync", "a", 60)
    release("sync", "b")
    assert holder_of("sync") == "a"
    release("sync", "a")
    assert try_acquire("sync", "b", 60)


def test_held_lease_yields_whether_this_replica_runs_the_job(db):
    with held_lease("sync", "a", 60) as held_by_a:
        assert held_by_a
        with held_lease("sync", "b", 60) as held_by_b:
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
        assert try_acquire("sync", dead_holder, 300)
        assert try_acquire("sync", "replica-b", 300)  # no wait for the 300 s expiry
        assert holder_of("sync") == "replica-b"
        # A live holder elsewhere (another host) is waited for as usual.
        assert try_acquire("digest", "other-host:1:abcd", 300)
        assert not try_acquire("digest", "replica-b", 300)

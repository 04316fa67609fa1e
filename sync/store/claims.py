"""Claims: the one way codexbot makes sure something happens once across replicas and
restarts. The scheduled jobs' leases, Slack events already answered and digests being
sent are all claims.

A claim is a named row with a holder and an expiry. Taking one is one atomic upsert on
SQLite and PostgreSQL alike: the row is written only if nobody holds the name, its claim
has expired, or the holder already holds it. A holder that stops renewing (it crashed)
loses the claim at expiry, and another replica takes over then; one on this host whose
process has exited loses it at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator

from peewee import EXCLUDED

from sync.clock import utc_timestamp
from sync.store.models import Claim, database
from sync.store.prepared import Prepared

log = logging.getLogger(__name__)


def try_claim(name: str, holder: str, ttl_seconds: float) -> bool:
    """Whether `holder` holds `name` for the next `ttl_seconds` (re-claiming renews)."""
    return claim_until(name, holder, utc_timestamp() + dt.timedelta(seconds=ttl_seconds))


# Taken at every Slack event (once per event id): their SQL is built once.
_TAKE = Prepared(
    lambda name, holder, until, now: Claim.insert(
        name=name, holder=holder, expires_at=until
    ).on_conflict(
        conflict_target=[Claim.name],
        update={Claim.holder: EXCLUDED.holder, Claim.expires_at: EXCLUDED.expires_at},
        where=(Claim.expires_at < now) | (Claim.holder == holder),
    )
)
_HOLDER = Prepared(lambda name: Claim.select(Claim.holder).where(Claim.name == name).limit(1))


def _holder_of(name: str) -> str | None:
    row = _HOLDER.execute(name).fetchone()
    return row[0] if row else None


def claim_until(name: str, holder: str, until: dt.datetime) -> bool:
    """Whether `holder` holds `name` until `until` (naive UTC)."""
    now = utc_timestamp()
    with database.atomic():
        _TAKE.execute(name, holder, until, now)
        current = _holder_of(name)
        if current != holder and _died_on_this_host(current):
            # Its process is gone: no need to wait for the claim to expire.
            log.info("taking claim %s over from %s, which is no longer running", name, current)
            Claim.update(holder=holder, expires_at=until).where(
                Claim.name == name, Claim.holder == current
            ).execute()
            current = _holder_of(name)
    return current == holder


def claim_once(name: str, ttl_seconds: float) -> bool:
    """True for the first caller only, across threads, processes and replicas, until the
    claim expires: each call is its own holder, so nobody re-claims by renewing."""
    return try_claim(name, unique_holder(), ttl_seconds)


def renew(name: str, holder: str, ttl_seconds: float) -> bool:
    return hold_until(name, holder, utc_timestamp() + dt.timedelta(seconds=ttl_seconds))


def hold_until(name: str, holder: str, until: dt.datetime) -> bool:
    """Move the expiry of a claim `holder` holds; False if it has lost it."""
    updated = (
        Claim.update(expires_at=until).where(Claim.name == name, Claim.holder == holder).execute()
    )
    return updated == 1


def release(name: str, holder: str) -> None:
    Claim.delete().where(Claim.name == name, Claim.holder == holder).execute()


def forget_expired(before: dt.datetime) -> int:
    """Delete claims that expired before `before`: they decide nothing any more."""
    return Claim.delete().where(Claim.expires_at < before).execute()


def unique_holder() -> str:
    """A name for one replica (or one CLI run): host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _died_on_this_host(holder: str | None) -> bool:
    """True for a holder named by unique_holder() on this host whose process has exited."""
    host, _, rest = (holder or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# Claims this thread holds already: a job that holds "sync" may call run_sync, which takes
# "sync" again. Per thread, so another thread of the same process still has to wait.
_held_here = threading.local()


@contextlib.contextmanager
def held_claim(name: str, holder: str, ttl_seconds: float = 120.0) -> Iterator[bool]:
    """Yields True while this replica holds `name` (renewed in the background), else False;
    released at the end."""
    held = _held_here.__dict__.setdefault("claims", set())
    if (name, holder) in held:
        yield True
        return
    if not try_claim(name, holder, ttl_seconds):
        yield False
        return
    held.add((name, holder))
    stop = threading.Event()

    def keep_renewing() -> None:
        while not stop.wait(ttl_seconds / 3):
            try:
                if not renew(name, holder, ttl_seconds):
                    log.warning("claim %s was lost by %s", name, holder)
                    return
            except Exception:  # noqa: BLE001 - a failed renewal must not kill the job
                log.warning("renewing claim %s failed", name, exc_info=True)
            finally:
                database.close()

    renewer = threading.Thread(target=keep_renewing, name=f"claim-{name}", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        held.discard((name, holder))
        stop.set()
        renewer.join(timeout=5)
        release(name, holder)

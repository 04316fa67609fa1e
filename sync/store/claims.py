"""A lease row in the shared database, so only one replica runs a scheduled job.

Taking it is one atomic upsert on SQLite and PostgreSQL alike: the row is written only if
nobody holds it or the holder's lease has expired. A holder renews while it works; one that
crashes stops renewing, and another replica takes over at expiry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import uuid

from peewee import EXCLUDED

from sync.clock import utc_timestamp
from sync.store.models import Lease, database

log = logging.getLogger(__name__)


def try_acquire(name: str, holder: str, ttl_seconds: float) -> bool:
    now = utc_timestamp()
    expires = now + dt.timedelta(seconds=ttl_seconds)
    with database.atomic():
        Lease.insert(name=name, holder=holder, expires_at=expires).on_conflict(
            conflict_target=[Lease.name],
            update={Lease.holder: EXCLUDED.holder, Lease.expires_at: EXCLUDED.expires_at},
            where=(Lease.expires_at < now) | (Lease.holder == holder),
        ).execute()
        current = Lease.select(Lease.holder).where(Lease.name == name).scalar()
        if current != holder and _died_on_this_host(current):
            # Its process is gone: no need to wait for the lease to expire.
            log.info("taking lease %s over from %s, which is no longer running", name, current)
            Lease.update(holder=holder, expires_at=expires).where(
                Lease.name == name, Lease.holder == current
            ).execute()
            current = Lease.select(Lease.holder).where(Lease.name == name).scalar()
    return current == holder


def renew(name: str, holder: str, ttl_seconds: float) -> bool:
    expires = utc_timestamp() + dt.timedelta(seconds=ttl_seconds)
    updated = (
        Lease.update(expires_at=expires).where(Lease.name == name, Lease.holder == holder).execute()
    )
    return updated == 1


def release(name: str, holder: str) -> None:
    Lease.delete().where(Lease.name == name, Lease.holder == holder).execute()


def holder_of(name: str) -> str | None:
    return (
        Lease.select(Lease.holder)
        .where(Lease.name == name, Lease.expires_at >= utc_timestamp())
        .scalar()
    )


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


def unique_holder() -> str:
    """A name for one replica (or one CLI run): host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# Leases this thread holds already: a job that holds "sync" may call run_sync, which takes
# "sync" again. Per thread, so another thread of the same process still has to wait.
_held_here = threading.local()


@contextlib.contextmanager
def held_lease(name: str, holder: str, ttl_seconds: float = 120.0):
    """Yields True while this replica holds `name` (renewed in the background), else False."""
    held = _held_here.__dict__.setdefault("leases", set())
    if (name, holder) in held:
        yield True
        return
    if not try_acquire(name, holder, ttl_seconds):
        yield False
        return
    held.add((name, holder))
    stop = threading.Event()

    def keep_renewing():
        while not stop.wait(ttl_seconds / 3):
            try:
                if not renew(name, holder, ttl_seconds):
                    log.warning("lease %s was lost by %s", name, holder)
                    return
            except Exception:  # noqa: BLE001 - a failed renewal must not kill the job
                log.warning("renewing lease %s failed", name, exc_info=True)
            finally:
                database.close()

    renewer = threading.Thread(target=keep_renewing, name=f"lease-{name}", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        held.discard((name, holder))
        stop.set()
        renewer.join(timeout=5)
        release(name, holder)

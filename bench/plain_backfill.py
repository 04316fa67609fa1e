"""The plain-driver limit of a backfill, run by bench/backfill.py in a child process.

The same pages as `codexbot sync` reads, from the same simulator over loopback, stored the
fastest plain way found by bench/ingest.py: one thread, httpx for the pages, msgspec into
structs of the known shape (no checks), the stored tuples built straight from them, then
plain `sqlite3` executemany (the project's DDL and pragmas, and its 64 MB page cache
while writing) or psycopg2 COPY + INSERT ... SELECT, committing every `transaction_rows`
rows and writing each user once unless their email changes, as the sync does. No
validation, no coverage ledger, no roll-up bookkeeping, no second thread: what storing
these rows costs on this machine at the least, done plainly and in sequence. Prints the
rows stored and the seconds they took.

    python bench/plain_backfill.py DATABASE_URL API_BASE_URL WORKSPACE_ID API_KEY DAYS
        PAGE_SIZE TRANSACTION_ROWS
"""

from __future__ import annotations

import datetime as dt
import gc
import sys
import time

import _common
import httpx
import msgspec
from ingest import RawPostgres, RawSqlite, _Row

from sync.store.database import BULK_WRITE_CACHE_KIB, open_database
from sync.store.models import database


class _Page(msgspec.Struct, gc=False):
    data: list[_Row]
    next_page: str | None = None


_page = msgspec.json.Decoder(_Page)


def main() -> None:
    url, base_url, workspace_id, api_key, days, page_size, transaction_rows = sys.argv[1:]
    open_database(url)
    raw: RawSqlite | RawPostgres
    if _common.is_postgres(url):
        raw = RawPostgres(url)
    else:
        raw = RawSqlite(url, "normal")
        raw.conn.execute(f"PRAGMA cache_size = -{BULK_WRITE_CACHE_KIB}")
    database.close()
    today = _common.utc_today()
    first = dt.datetime.combine(today - dt.timedelta(days=int(days) - 1), dt.time(), dt.UTC)
    params: dict[str, str | int] = {
        "start_time": int(first.timestamp()),
        "end_time": int((first + dt.timedelta(days=int(days))).timestamp()),
        "group_by": "day",
        "limit": int(page_size),
    }
    started = time.perf_counter()
    stored = 0
    # Committed every `transaction_rows` rows, each user written once unless their email
    # changes, as the sync does (Raw.upsert).
    raw.transaction_rows = int(transaction_rows)
    with httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=60,
    ) as http:
        while True:
            response = http.get(f"workspaces/{workspace_id}/usage", params=params)
            response.raise_for_status()
            gc.disable()  # as the project and bench/ingest.py's limit do while decoding
            try:
                page = _page.decode(response.content)
                users, rows = raw.tuples(page.data, 1, structs=True)
            finally:
                gc.enable()
            raw.upsert(users, rows)
            stored += len(rows)
            if not page.next_page:
                break
            params = {**params, "page": page.next_page}
    raw.commit()
    seconds = time.perf_counter() - started
    raw.close()
    print(stored, f"{seconds:.3f}")


if __name__ == "__main__":
    main()

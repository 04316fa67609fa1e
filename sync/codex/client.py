"""Client for the Codex Enterprise Analytics API (`GET /workspaces/{id}/usage`).

Pages are fetched and parsed one at a time, so a 90-day window never sits in memory.
Transient failures (429, 5xx, time-outs, malformed bodies) are retried with backoff and
jitter, bounded in attempts and total time; the others raise typed problems
(sync/notices.py) that templates word for whoever reads them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import msgspec
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from sync.codex.rows import ApiUsageRow, UsageRecord, parse_api_rows, parse_rows
from sync.codex.telemetry import API_RESPONSES
from sync.notices import Problem

_MAX_RETRY_AFTER_SECONDS = 60.0


class CodexApiError(Problem):
    """Base of every error the client raises; worded by templates/_notices.j2."""


class InvalidApiKeyError(CodexApiError):
    kind = "invalid_api_key"


class PlanAccessError(CodexApiError):
    kind = "plan_required"


class WorkspaceNotFoundError(CodexApiError):
    kind = "workspace_not_found"


class InvalidRequestError(CodexApiError):
    """The API refused the request; `detail` is the API's own explanation."""

    kind = "request_refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail)


class ServiceUnavailableError(CodexApiError):
    """Retries ran out: the service is down, overloaded or answering garbage. `reason`
    says which (see _TransientError)."""

    kind = "service_unreachable"

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason=reason, **details)


class _TransientError(Exception):
    """A failure worth retrying. `reason` is one of: timed_out, connection_failed,
    not_json, not_a_page, rate_limited, server_error, bad_row, more_without_token,
    same_token_twice; `details` fill it in."""

    def __init__(self, reason: str, retry_after: float | None = None, **details: object):
        super().__init__(reason, details)
        self.reason = reason
        self.details = details
        self.retry_after = retry_after


@dataclass
class UsagePage:
    records: list[UsageRecord]
    rows: int
    # Rows not stored, by reason (see sync/codex/rows.py).
    rejected: Counter[str] = field(default_factory=Counter)
    # Set on the last page when the API broke its paging contract without harm to the
    # data (has_more with no token): the sync stops there and says so.
    warning: str | None = None


_Read = TypeVar("_Read")


class CodexAnalyticsClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        workspace_id: str,
        *,
        timeout_seconds: float = 30.0,
        max_attempts: int = 6,
        max_retry_seconds: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workspace_id = workspace_id
        self._connect = functools.partial(
            httpx.Client,
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
        )
        self._http = self._connect()
        self._timeout_seconds = timeout_seconds
        self._monotonic = monotonic
        self._max_attempts = max_attempts
        self._max_retry_seconds = max_retry_seconds
        self._sleep = sleep

    def __enter__(self) -> CodexAnalyticsClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def validate(self) -> None:
        """Prove the key and workspace work with the cheapest call: one row of one day."""
        end = int(time.time())
        self._get_page_body({"start_time": end - 86400, "end_time": end, "limit": 1})

    def iter_usage_pages(
        self, start: dt.datetime, end: dt.datetime, page_size: int = 1000
    ) -> Iterator[UsagePage]:
        """Yield the usage in [start, end) page by page, following the pagination tokens.
        Rows outside the UTC days of that window are rejected like any other bad row."""
        params: dict[str, str | int] = {
            "start_time": int(start.timestamp()),
            "end_time": int(end.timestamp()),
            "group_by": "day",
            "limit": page_size,
        }
        first_day = start.astimezone(dt.UTC).date()
        last_day = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()

        def read(body: ApiPage | Any) -> tuple[UsagePage, str, str | None]:
            page = usage_page(body, first_day, last_day)
            envelope = body.envelope() if isinstance(body, ApiPage) else body
            token_param, token = _next_token(envelope)
            if token is None and envelope.get("has_more") is True:
                page.warning = "more_without_token"
            return page, token_param, token

        seen_tokens: set[str] = set()
        while True:
            page, token_param, token = self._get(params, read, decode_usage_page)
            yield page
            if token is None:
                return
            if token in seen_tokens:
                raise ServiceUnavailableError("same_token_twice")
            seen_tokens.add(token)
            params = {**params, token_param: token}
            params.pop("cursor" if token_param == "page" else "page", None)

    def _get_page_body(self, params: dict[str, str | int]) -> dict:
        return self._get(params, _checked_page, decode_json)

    def _get(
        self,
        params: dict[str, str | int],
        read: Callable[[Any], _Read],
        decode: Callable[[bytes], Any],
    ) -> _Read:
        """What `read` makes of the body of one GET as `decode` decodes it, retried as
        need be (see _get_json_once)."""
        retrying = Retrying(
            retry=retry_if_exception_type(_TransientError),
            # stop_before_delay: a long Retry-After must not carry a page past the budget.
            stop=stop_after_attempt(self._max_attempts)
            | stop_before_delay(self._max_retry_seconds),
            wait=_wait_for_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._get_json_once, params, read, decode)
        except _TransientError as exc:
            raise ServiceUnavailableError(exc.reason, **exc.details) from None

    def _get_json_once(
        self,
        params: dict[str, str | int],
        read: Callable[[Any], _Read],
        decode: Callable[[bytes], Any],
    ) -> _Read:
        """One request, and what `read` makes of its JSON; a body that is not JSON is
        retried like a 5xx. Decoded and read with the collector paused throughout (see
        collector_paused): the decoded body is freed before it could see it."""
        path = f"workspaces/{self.workspace_id}/usage"
        try:
            status, headers, content = self._request_within_deadline(path, params)
        except httpx.TimeoutException:
            raise _TransientError("timed_out") from None
        except httpx.TransportError as exc:
            raise _TransientError("connection_failed", error=type(exc).__name__) from None
        API_RESPONSES.labels(status=str(status)).inc()
        if status == 200:
            with collector_paused():
                try:
                    body = decode(content)
                # RecursionError: JSON nested deeper than the parser goes is no page either.
                except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                    raise _TransientError("not_json") from None
                del content
                try:
                    return read(body)
                finally:
                    del body
        if status == 429:
            raise _TransientError("rate_limited", _retry_after_seconds(headers))
        if status >= 500:
            raise _TransientError("server_error", _retry_after_seconds(headers), status=status)
        if status == 401:
            raise InvalidApiKeyError()
        if status == 403:
            raise PlanAccessError()
        if status == 404:
            raise WorkspaceNotFoundError()
        raise InvalidRequestError(_error_detail(status, content))

    def _request_within_deadline(
        self, path: str, params: dict[str, str | int]
    ) -> tuple[int, httpx.Headers, bytes]:
        """The status and whole body of one GET, within `timeout_seconds` in all, headers
        included: httpx's time-outs bound each read, and a server can trickle bytes for
        ever. A watchdog closes the connection when the time is up, which fails a read in
        progress at once; the body is also abandoned between chunks once past the
        deadline."""
        deadline = self._monotonic() + self._timeout_seconds
        http, expired, finished = self._http, threading.Event(), threading.Lock()

        def expire() -> None:
            # Under the lock the request is either still running (close it) or finished
            # (leave its connection be): never closed just after it returned.
            with finished:
                if not done.is_set():
                    expired.set()
                    http.close()

        done = threading.Event()

        watchdog = threading.Timer(self._timeout_seconds, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            with http.stream("GET", path, params=params) as response:
                chunks = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if self._monotonic() > deadline:
                        raise httpx.ReadTimeout("the whole request took too long")
                return response.status_code, response.headers, b"".join(chunks)
        except (httpx.TransportError, RuntimeError, OSError):
            # A socket closed under a read fails as any of these, depending on when.
            if expired.is_set():  # closed under it by the watchdog: that is a time-out
                raise httpx.ReadTimeout("the whole request took too long") from None
            raise
        finally:
            with finished:
                done.set()
            watchdog.cancel()
            if expired.is_set():
                self._http = self._connect()  # the next attempt needs a connection again


def decode_json(content: bytes) -> Any:
    """A response body's JSON, as the standard library reads it, in about a third of its
    time (a 30,000-row page of 32 MB: 163 ms against 449 ms, issue 15), with the garbage
    collector paused (see collector_paused).

    orjson refuses some documents `json` accepts (NaN and Infinity, integers beyond 64
    bits, lone surrogates): those are decoded again by `json`, so that a row holding one
    is still rejected alone with its reason (rows.py) rather than the whole page being
    "not JSON".
    """
    with collector_paused():
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            return json.loads(content)


class ApiPage(msgspec.Struct, gc=False):
    """A page of usage as the API sends it, decoded typed (see sync/codex/rows.py)."""

    data: list[ApiUsageRow]
    has_more: bool | None = None
    next_page: str | int | None = None
    next_cursor: str | int | None = None

    def envelope(self) -> dict[str, Any]:
        """The paging fields, as _next_token reads them from plain JSON."""
        return {
            "has_more": self.has_more,
            "next_page": self.next_page,
            "next_cursor": self.next_cursor,
        }


_api_page = msgspec.json.Decoder(ApiPage)


def decode_usage_page(content: bytes) -> ApiPage | Any:
    """A usage page's body decoded typed, which checks its rows as it goes (rows.py);
    a body that does not fit the types, as plain JSON (decode_json), for parse_rows to
    reject its bad rows one by one."""
    with collector_paused():
        try:
            return _api_page.decode(content)
        except msgspec.DecodeError:  # not JSON, or not of the types (ValidationError)
            return decode_json(content)


def _checked_page(body: Any) -> dict:
    """`body` if it is a page; JSON that is not one will not become one on a retry."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ServiceUnavailableError("not_a_page")
    return body


def usage_page(body: ApiPage | Any, first_day: dt.date, last_day: dt.date) -> UsagePage:
    """The records of a decoded page's rows, and its rejections (see parse_rows); `body`
    as decode_usage_page gives it."""
    with collector_paused():
        if isinstance(body, ApiPage):
            rows: list = body.data
            parsed = parse_api_rows(rows, first_day, last_day)
        else:
            rows = _checked_page(body)["data"]
            parsed = parse_rows(rows, first_day, last_day)
    return UsagePage(parsed.records, len(rows), parsed.rejected)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The garbage collector off while a page is decoded and parsed.

    Decoding allocates a container for every row, client and count object, and every 700
    allocations start a collection that walks the young objects: the half-built page,
    all alive, nothing to collect. Decoded with the collector on, that was half of
    orjson's time on a 30,000-row page; on again before parsing, the whole page (300,000
    objects) was walked by the next collections, then the oldest generation with it, a
    few times a page, while nothing in it could be garbage. Paused for both at once (one
    pause from decoding to parsing, _get_json_once: paused for each alone, the first
    collection after decoding walked the whole page, 2.8 s of a 1.2M-row backfill's 24 s
    of CPU), the page is freed by reference counting once parsed, before the collector is
    on again, and the collector only ever sees the records. Decoding and parsing make no cycles;
    nor does the writer turning records into rows, which pauses it too.

    Paused process-wide, but for a fraction of a second, never across a request or a
    wait; and switched on again only by whoever switched it off: a caller that keeps it
    off keeps it off. Two threads pausing at once (a page decoded while the one before is
    written) at worst leave the collector on for the end of one of them.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _next_token(body: dict) -> tuple[str, str | None]:
    """Where the next page is: `next_page` (documented) or `next_cursor` (seen in the
    wild); None when there is no more, or when `has_more` comes without a token."""
    has_more = body.get("has_more")
    for key, param in (("next_page", "page"), ("next_cursor", "cursor")):
        if body.get(key):
            return param, str(body[key]) if has_more is not False else None
    return "page", None


def _retry_after_seconds(headers: httpx.Headers) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), _MAX_RETRY_AFTER_SECONDS))
    except ValueError:
        return None


def _wait_for_retry(retry_state: RetryCallState) -> float:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(exc, _TransientError) and exc.retry_after is not None:
        return exc.retry_after
    return wait_random_exponential(multiplier=0.5, max=30)(retry_state)


def _error_detail(status: int, content: bytes) -> str:
    try:
        detail = json.loads(content).get("detail")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        detail = None
    if isinstance(detail, list) and detail:
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", []) if p != "query")
                message = item.get("msg") or "invalid"
                parts.append(f"{where}: {message}" if where else message)
        if parts:
            return "; ".join(parts)
    if isinstance(detail, str):
        return detail
    return f"HTTP {status}"


def validate_connection(base_url: str, api_key: str, workspace_id: str, **client_options) -> None:
    """Raise a CodexApiError unless `api_key` can read `workspace_id`'s usage."""
    with CodexAnalyticsClient(base_url, api_key, workspace_id, **client_options) as client:
        client.validate()

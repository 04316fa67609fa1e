"""Client for the Codex Enterprise Analytics API (`GET /workspaces/{id}/usage`).

Pages are fetched and parsed one at a time, so a 90-day window never sits in memory.
Transient failures (429, 5xx, time-outs, malformed bodies) are retried with backoff and
jitter, bounded in attempts and total time; the others raise typed problems
(sync/notices.py) that templates word for whoever reads them.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from sync.notices import Problem

# Stored for rows that carry totals but no per-client split.
UNSPECIFIED_CLIENT = "UNSPECIFIED"
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


class UsageRecord(NamedTuple):
    """One Codex user's counts for one UTC day on one client surface."""

    codex_user_id: str
    email: str | None
    day: dt.date
    client_id: str
    threads: int
    turns: int
    credits: float
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None


@dataclass
class UsagePage:
    records: list[UsageRecord]
    rows: int


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
    ) -> None:
        self.workspace_id = workspace_id
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
        )
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
        self._get_page({"start_time": end - 86400, "end_time": end, "limit": 1})

    def iter_usage_pages(
        self, start: dt.datetime, end: dt.datetime, page_size: int = 1000
    ) -> Iterator[UsagePage]:
        """Yield the usage in [start, end) page by page, following the pagination tokens."""
        params: dict[str, str | int] = {
            "start_time": int(start.timestamp()),
            "end_time": int(end.timestamp()),
            "group_by": "day",
            "limit": page_size,
        }
        seen_tokens: set[str] = set()
        while True:
            page, (token_param, token) = self._get_page(params)
            yield page
            if token is None:
                return
            if token in seen_tokens:
                raise ServiceUnavailableError("same_token_twice")
            seen_tokens.add(token)
            params = {**params, token_param: token}
            params.pop("cursor" if token_param == "page" else "page", None)

    def _get_page(self, params: dict[str, str | int]) -> tuple[UsagePage, tuple[str, str | None]]:
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
            return retrying(self._get_page_once, params)
        except _TransientError as exc:
            raise ServiceUnavailableError(exc.reason, **exc.details) from None

    def _get_page_once(self, params: dict[str, str | int]):
        """One request, parsed: a body we cannot read is retried like a server error."""
        body = self._get_body_once(params)
        return parse_usage_page(body), _next_token(body)

    def _get_body_once(self, params: dict[str, str | int]) -> dict:
        path = f"workspaces/{self.workspace_id}/usage"
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException:
            raise _TransientError("timed_out") from None
        except httpx.TransportError as exc:
            raise _TransientError("connection_failed", error=type(exc).__name__) from None
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise _TransientError("not_json") from None
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise _TransientError("not_a_page")
            return body
        if status == 429:
            raise _TransientError("rate_limited", _retry_after_seconds(response))
        if status >= 500:
            raise _TransientError("server_error", _retry_after_seconds(response), status=status)
        if status == 401:
            raise InvalidApiKeyError()
        if status == 403:
            raise PlanAccessError()
        if status == 404:
            raise WorkspaceNotFoundError()
        raise InvalidRequestError(_error_detail(response))


def parse_usage_page(body: dict) -> UsagePage:
    records: list[UsageRecord] = []
    for row in body["data"]:
        records.extend(parse_usage_row(row))
    return UsagePage(records=records, rows=len(body["data"]))


def parse_usage_row(row: dict) -> list[UsageRecord]:
    """The per-client records of one API row; workspace-aggregate rows have no user."""
    try:
        actor = row.get("actor") or {}
        user_id = row.get("user_id") or actor.get("user_id")
        if not user_id:
            return []
        email = actor.get("email")
        email = email.strip().lower() if isinstance(email, str) and email.strip() else None
        day = dt.datetime.fromtimestamp(int(row["start_time"]), dt.UTC).date()
        clients = row.get("clients") or []
        if not clients and row.get("totals"):
            clients = [{**row["totals"], "client_id": UNSPECIFIED_CLIENT}]
        return [_record(str(user_id), email, day, client) for client in clients]
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise _TransientError("bad_row", error=repr(exc)) from None


def _record(user_id: str, email: str | None, day: dt.date, counts: dict) -> UsageRecord:
    uncached = counts.get("uncached_text_input_tokens")
    cached = counts.get("cached_text_input_tokens")
    output = counts.get("text_output_tokens")
    total = counts.get("text_total_tokens")
    # Null means "not published yet": a sum with an unknown part stays unknown.
    input_tokens = None if uncached is None or cached is None else int(uncached) + int(cached)
    if total is None and input_tokens is not None and output is not None:
        total = input_tokens + int(output)
    return UsageRecord(
        user_id,
        email,
        day,
        str(counts.get("client_id") or UNSPECIFIED_CLIENT),
        int(counts.get("threads") or 0),
        int(counts.get("turns") or 0),
        float(counts.get("credits") or 0),
        input_tokens,
        None if output is None else int(output),
        None if total is None else int(total),
    )


def _next_token(body: dict) -> tuple[str, str | None]:
    """Where the next page is: `next_page` (documented) or `next_cursor` (seen in the wild)."""
    has_more = body.get("has_more")
    for key, param in (("next_page", "page"), ("next_cursor", "cursor")):
        if body.get(key):
            return param, str(body[key]) if has_more is not False else None
    if has_more:
        raise _TransientError("more_without_token")
    return "page", None


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
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


def _error_detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
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
    return f"HTTP {response.status_code}"


def validate_connection(base_url: str, api_key: str, workspace_id: str, **client_options) -> None:
    """Raise a CodexApiError unless `api_key` can read `workspace_id`'s usage."""
    with CodexAnalyticsClient(base_url, api_key, workspace_id, **client_options) as client:
        client.validate()

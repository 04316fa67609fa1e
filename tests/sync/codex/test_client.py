"""The Codex analytics client against exact response shapes (httpx.MockTransport)."""

from __future__ import annotations

import datetime as dt
import gc
import json

import httpx
import pytest
from wording import raises_saying

from bot.rendering import words as worded
from sync.codex.client import (
    CodexAnalyticsClient,
    InvalidApiKeyError,
    InvalidRequestError,
    PlanAccessError,
    ServiceUnavailableError,
    WorkspaceNotFoundError,
)
from sync.codex.rows import UNATTRIBUTED_CLIENT

WORKSPACE = "0f8fad5b-d9cb-469f-a165-70867728950e"
KEY = "sk-test-0123456789abcdef"
DAY = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
START, END = DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=1)


def usage_row(user="user-1", email="Dev@Example.com", day=DAY, **overrides):
    clients = overrides.pop(
        "clients",
        [
            {
                "client_id": "CODEX_CLI",
                "threads": 1,
                "turns": 3,
                "credits": 8.25,
                "uncached_text_input_tokens": 600,
                "cached_text_input_tokens": 200,
                "text_output_tokens": 150,
                "text_total_tokens": 950,
            }
        ],
    )
    row = {
        "object": "workspace.codex.usage.result",
        "start_time": int(day.timestamp()),
        "end_time": int(day.timestamp()) + 86400,
        "user_id": user,
        "actor": {"type": "ACCOUNT_USER", "user_id": user, "email": email},
        "totals": {"threads": 1, "turns": 3, "credits": 8.25},
        "clients": clients,
        "models": [{"model": "gpt-5.3-codex", "credits": 8.25}],
        "code_attribution": {"lines_added": 1},
    }
    row.update(overrides)
    return row


def client_for(handler, **options) -> tuple[CodexAnalyticsClient, list[float]]:
    slept: list[float] = []
    client = CodexAnalyticsClient(
        "https://codex.test/v1/analytics/codex",
        KEY,
        WORKSPACE,
        transport=httpx.MockTransport(handler),
        sleep=slept.append,
        **options,
    )
    return client, slept


def page(rows, **extra):
    return httpx.Response(200, json={"object": "page", "data": rows, **extra})


def test_request_carries_bearer_key_path_and_unix_window():
    seen = []

    def handler(request: httpx.Request):
        seen.append(request)
        return page([usage_row()], has_more=False, next_page=None)

    client, _ = client_for(handler)
    records = [r for p in client.iter_usage_pages(START, END, page_size=250) for r in p.records]
    request = seen[0]
    assert request.url.path == f"/v1/analytics/codex/workspaces/{WORKSPACE}/usage"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.url.params["start_time"] == str(int(START.timestamp()))
    assert request.url.params["end_time"] == str(int(END.timestamp()))
    assert request.url.params["group_by"] == "day"
    assert request.url.params["limit"] == "250"
    assert records[0].email == "dev@example.com"
    assert records[0].day == DAY.date()
    assert (records[0].input_tokens, records[0].output_tokens, records[0].total_tokens) == (
        800,
        150,
        950,
    )


@pytest.mark.parametrize("style", ["next_page", "next_cursor"])
def test_pagination_follows_both_token_styles(style):
    param = {"next_page": "page", "next_cursor": "cursor"}[style]
    pages = {
        None: page([usage_row("u1")], has_more=True, **{style: "t1"}),
        "t1": page([usage_row("u2")], has_more=True, **{style: "t2"}),
        "t2": page([usage_row("u3")], has_more=False, **{style: None}),
    }
    asked = []

    def handler(request: httpx.Request):
        token = request.url.params.get(param)
        asked.append(token)
        return pages[token]

    client, _ = client_for(handler)
    users = [r.codex_user_id for p in client.iter_usage_pages(START, END) for r in p.records]
    assert users == ["u1", "u2", "u3"]
    assert asked == [None, "t1", "t2"]


def test_a_repeated_page_token_stops_instead_of_looping_forever():
    client, _ = client_for(lambda r: page([usage_row()], has_more=True, next_page="same"))
    with raises_saying(ServiceUnavailableError, "same page token"):
        list(client.iter_usage_pages(START, END))


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, InvalidApiKeyError, "That API key was rejected"),
        (403, PlanAccessError, "requires a ChatGPT Enterprise or Codex plan"),
        (404, WorkspaceNotFoundError, "No ChatGPT workspace with that ID"),
    ],
)
def test_access_errors_are_typed_readable_and_not_retried(status, error, words):
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(status, json={"error": {"message": "nope"}})

    client, slept = client_for(handler)
    with pytest.raises(error) as caught:
        client.validate()
    assert words in worded(caught.value)
    assert KEY not in str(caught.value) and KEY not in worded(caught.value)
    assert len(calls) == 1 and slept == []


def test_422_detail_is_reported_with_its_field():
    body = {"detail": [{"loc": ["query", "limit"], "msg": "must be <= 30000", "type": "value"}]}
    client, _ = client_for(lambda r: httpx.Response(422, json=body))
    with raises_saying(InvalidRequestError, "limit: must be <= 30000"):
        client.validate()


def test_429_honours_retry_after_then_succeeds():
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}, json={}),
            page([usage_row()], has_more=False),
        ]
    )
    client, slept = client_for(lambda r: next(answers))
    records = [r for p in client.iter_usage_pages(START, END) for r in p.records]
    assert slept == [7.0]
    assert len(records) == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"error": "boom"}),
        httpx.Response(503, text="upstream unavailable"),
        httpx.Response(200, content=b'{"object": "page", "data": [{"start_ti'),
    ],
    ids=["500", "503", "truncated-json"],
)
def test_transient_failure_then_success_is_retried_with_backoff(failure):
    answers = iter([failure, page([usage_row()], has_more=False)])
    client, slept = client_for(lambda r: next(answers))
    records = [r for p in client.iter_usage_pages(START, END) for r in p.records]
    assert len(records) == 1
    assert len(slept) == 1 and 0 <= slept[0] <= 30


def test_timeouts_are_retried_like_server_errors():
    answers = iter([None, page([usage_row()], has_more=False)])

    def handler(request):
        answer = next(answers)
        if answer is None:
            raise httpx.ReadTimeout("slow", request=request)
        return answer

    client, slept = client_for(handler)
    assert len(next(client.iter_usage_pages(START, END)).records) == 1
    assert len(slept) == 1


def test_retries_are_bounded_in_attempts():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(500, json={})

    client, slept = client_for(handler, max_attempts=4)
    with raises_saying(ServiceUnavailableError, "server error 500"):
        client.validate()
    assert len(calls) == 4 and len(slept) == 3


def test_retries_are_bounded_in_total_time():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "1"}, json={})

    # Retry-After waits are real sleeps in production; here the clock does not move,
    # so a zero time budget must stop after the first attempt.
    client, _ = client_for(handler, max_attempts=10, max_retry_seconds=1e-9)
    with pytest.raises(ServiceUnavailableError):
        client.validate()
    assert len(calls) == 1


def test_null_tokens_stay_unknown_and_unknown_clients_are_kept():
    row = usage_row(
        clients=[
            {
                "client_id": "CODEX_BRAND_NEW_SURFACE",
                "threads": 2,
                "turns": 4,
                "credits": 1.5,
                "uncached_text_input_tokens": None,
                "cached_text_input_tokens": None,
                "text_output_tokens": None,
                "text_total_tokens": None,
                "a_field_from_the_future": {"x": 1},
            }
        ],
        totals=None,  # this client is the whole person
    )
    client, _ = client_for(lambda r: page([row], has_more=False))
    (record,) = next(client.iter_usage_pages(START, END)).records
    assert record.client_id == "CODEX_BRAND_NEW_SURFACE"
    assert (record.threads, record.turns, record.credits) == (2, 4, 1.5)
    assert record.input_tokens is None
    assert record.output_tokens is None
    assert record.total_tokens is None


def test_total_tokens_fall_back_to_input_plus_output():
    client_counts = {
        "client_id": "CODEX_WEB",
        "threads": 1,
        "turns": 1,
        "credits": 1,
        "uncached_text_input_tokens": 10,
        "cached_text_input_tokens": 5,
        "text_output_tokens": 7,
    }
    client, _ = client_for(lambda r: page([usage_row(clients=[client_counts], totals=None)]))
    (record,) = next(client.iter_usage_pages(START, END)).records
    assert record.total_tokens == 22


def test_rows_without_email_or_clients_and_aggregate_rows():
    rows = [
        usage_row("u-noemail", email=None),
        usage_row("u-totals", clients=[]),
        usage_row(user=None, actor=None),
    ]
    rows[1]["totals"] = {"threads": 3, "turns": 9, "credits": 2.0}
    client, _ = client_for(lambda r: page(rows, has_more=False))
    result = next(client.iter_usage_pages(START, END))
    assert result.rows == 3
    by_user = {r.codex_user_id: r for r in result.records}
    assert set(by_user) == {"u-noemail", "u-totals"}
    assert result.rejected == {"no_user": 1}  # the aggregate row is counted, not stored
    assert by_user["u-noemail"].email is None
    assert by_user["u-totals"].client_id == UNATTRIBUTED_CLIENT
    assert by_user["u-totals"].turns == 9


def test_the_key_never_appears_in_error_text_or_logs(caplog):
    caplog.set_level("DEBUG")
    client, _ = client_for(lambda r: httpx.Response(500, text=json.dumps({"key": "x"})))
    with pytest.raises(ServiceUnavailableError) as caught:
        client.validate()
    assert KEY not in str(caught.value)
    assert all(KEY not in record.getMessage() for record in caplog.records)


def test_a_malformed_row_is_rejected_and_counted_not_retried_and_the_good_ones_kept():
    calls = []

    def handler(request):
        calls.append(request)
        malformed = {"object": "workspace.codex.usage.result", "user_id": "u1"}
        return page([malformed, usage_row("u2")])

    client, slept = client_for(handler, max_attempts=3)
    (result,) = list(client.iter_usage_pages(START, END))
    assert result.rejected == {"bad_time": 1}
    assert [r.codex_user_id for r in result.records] == ["u2"]
    assert len(calls) == 1 and slept == []


def test_has_more_without_a_token_ends_the_sync_with_a_warning_not_silently():
    client, _ = client_for(lambda r: page([usage_row()], has_more=True), max_attempts=1)
    (result,) = list(client.iter_usage_pages(START, END))
    assert result.warning == "more_without_token"
    assert len(result.records) == 1


def test_json_that_is_not_a_page_stops_without_retries_and_says_so():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(200, json={"object": "error", "message": "surprise"})

    client, slept = client_for(handler, max_attempts=3)
    with raises_saying(ServiceUnavailableError, "not a page of usage"):
        list(client.iter_usage_pages(START, END))
    assert len(calls) == 1 and slept == []


def test_a_422_detail_without_msg_still_reads():
    client, _ = client_for(lambda r: httpx.Response(422, json={"detail": [{"type": "x"}]}))
    with raises_saying(InvalidRequestError, "refused the request: invalid"):
        client.validate()


def test_headers_trickled_byte_by_byte_time_out_as_a_whole():
    """A server that sends its status line and headers a byte at a time: every read is
    quick, the request must still end at the client's time-out."""
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if stop.wait(0.03):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    client = CodexAnalyticsClient(
        base_url, KEY, WORKSPACE, timeout_seconds=0.5, max_attempts=1, sleep=lambda s: None
    )
    started = time.monotonic()
    with raises_saying(ServiceUnavailableError, "the request timed out"):
        client.validate()
    assert time.monotonic() - started < 1.5
    stop.set()
    listener.close()


def test_json_nested_deeper_than_the_parser_goes_is_not_json():
    deep = b"[" * 100_000 + b"]" * 100_000
    client, slept = client_for(lambda r: httpx.Response(200, content=deep), max_attempts=2)
    with raises_saying(ServiceUnavailableError, "not valid JSON"):
        client.validate()
    assert len(slept) == 1  # retried like any body that is not JSON


def test_a_page_orjson_refuses_is_decoded_as_json_reads_it_and_only_its_bad_row_rejected():
    # NaN and integers beyond 64 bits are no strict JSON; the standard library reads them,
    # and the row holding one is rejected with its reason while the page is kept.
    body = json.dumps({"object": "page", "data": [usage_row("u1"), usage_row("u2")]})
    body = body.replace('"credits": 8.25', '"credits": NaN', 1)
    huge = body.replace('"turns": 3', f'"turns": {2**70}', 1).replace("NaN", "8.25")
    for content, reason in ((body, "not_finite"), (huge, "too_large")):
        client, _ = client_for(lambda r, c=content: httpx.Response(200, content=c.encode()))
        (result,) = list(client.iter_usage_pages(START, END))
        assert result.rejected == {reason: 1}
        assert [r.codex_user_id for r in result.records] == ["u2"]


def test_decoding_leaves_the_garbage_collector_as_it_found_it():
    client, _ = client_for(lambda r: page([usage_row()]))
    assert gc.isenabled()
    next(client.iter_usage_pages(START, END))
    assert gc.isenabled()
    gc.disable()
    try:
        next(client.iter_usage_pages(START, END))
        assert not gc.isenabled()  # whoever turned it off keeps it off
    finally:
        gc.enable()
    client, _ = client_for(lambda r: httpx.Response(200, content=b'{"data": ['), max_attempts=1)
    with pytest.raises(ServiceUnavailableError):
        client.validate()
    assert gc.isenabled()  # and back on after a body that is not JSON

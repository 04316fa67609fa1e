"""The Slack Web API client codexbot uses, direct messages to people, and answers to a
slash command's response_url: all within Slack's budgets (Retry-After honoured, one
message a second in a channel), over connections kept open from call to call."""

from __future__ import annotations

import io
import random
import select
import threading
import time
from collections.abc import Callable
from http.client import HTTPConnection, HTTPSConnection
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookResponse

from sync.config import Settings

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

Sleep = Callable[[float], None]


def web_client(settings: Settings, *, sleep: Sleep = time.sleep) -> WebClient:
    """The client, retrying as slack_sdk does and pacing posts to a channel; `sleep`
    waits between attempts and between posts."""
    return PacedWebClient(
        sleep,
        token=settings.slack.bot_token,
        base_url=settings.slack.api_url or DEFAULT_SLACK_API_URL,
        timeout=10,
        retry_handlers=retry_handlers(sleep),
    )


def retry_handlers(sleep: Sleep) -> list:
    return [
        # slack_sdk's default: one retry of a connection error, after a backoff.
        _ConnectionErrorRetry(sleep),
        # slack_sdk retries only connection errors by default; 429s carry Retry-After.
        _RateLimitRetry(sleep, max_retry_count=3),
    ]


class PacedWebClient(WebClient):
    """Slack takes about one message a second in a channel and refuses bursts: posts to
    the same channel are spaced POST_INTERVAL apart, each caller waiting for its turn."""

    POST_INTERVAL = 1.0

    def __init__(self, sleep: Sleep, *args, clock: Callable[[], float] = time.monotonic, **kw):
        super().__init__(*args, **kw)
        self._sleep, self._clock = sleep, clock
        self._turns: dict[str, float] = {}  # channel -> when its next post may go
        self._turns_lock = threading.Lock()
        self._connections = KeptAliveConnections()

    def __deepcopy__(self, memo: dict) -> PacedWebClient:
        # Bolt deep-copies each request for its lazy listeners: they must all share this
        # client and its turns, not pace on copies.
        return self

    def chat_postMessage(self, **kwargs) -> SlackResponse:
        self._wait_for_turn(str(kwargs.get("channel")))
        return super().chat_postMessage(**kwargs)

    def post_to_response_url(self, url: str, message: dict) -> None:
        """One ephemeral answer to a slash command, honouring Retry-After as the client
        does (Bolt's own `respond` retries connection errors only)."""
        webhook = _KeptAliveWebhookClient(
            self._connections, url, timeout=10, retry_handlers=retry_handlers(self._sleep)
        )
        webhook.send_dict({"response_type": "ephemeral", "replace_original": False, **message})

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        # slack_sdk's one call of urlopen, retried and rate-limited around it as before.
        if self.proxy is not None:
            return super()._perform_urllib_http_request_internal(url, req)
        status, headers, body = self._connections.send(url, req, self.timeout, self.ssl)
        if headers.get_content_type() == "application/gzip":
            return {"status": status, "headers": headers, "body": body}
        charset = headers.get_content_charset() or "utf-8"
        return {"status": status, "headers": headers, "body": body.decode(charset)}

    def _wait_for_turn(self, channel: str) -> None:
        with self._turns_lock:
            now = self._clock()
            turn = max(now, self._turns.get(channel, now))
            self._turns[channel] = turn + self.POST_INTERVAL
            if len(self._turns) > 10_000:  # forget channels whose turn has long passed
                self._turns = {c: t for c, t in self._turns.items() if t > now}
        if turn > now:
            self._sleep(turn - now)


class KeptAliveConnections:
    """HTTP connections to Slack kept open between calls, one per thread and host:
    slack_sdk's urlopen opens (and Slack's side accepts) a new connection for every call,
    most of the cost of a short call. A request goes out and fails as urlopen's would:
    URLError when it cannot be sent, HTTPError for a status outside 2xx (redirects
    aside: Slack's endpoints do not redirect), so slack_sdk's retries (connection
    errors, Retry-After) see what they always saw."""

    # A connection idle this long is checked before use (the server may have closed it);
    # one used just now is not, saving a system call per call in a burst.
    CHECKED_AFTER_IDLE = 1.0

    def __init__(self) -> None:
        self._local = threading.local()

    def send(self, url: str, req: Request, timeout: float, ssl: Any) -> tuple[int, Any, bytes]:
        """(status, headers, body) of `req` sent to `url`."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SlackRequestError(f"Invalid URL detected: {url}")
        connection = self._connection(parts.scheme, parts.netloc, timeout, ssl)
        self._local.used[parts.scheme, parts.netloc] = time.monotonic()
        try:
            try:
                connection.request(
                    req.get_method(), req.selector, req.data, dict(req.header_items())
                )
            except OSError as error:  # not sent: urlopen says URLError
                raise URLError(error) from error
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            connection.close()  # opened afresh by the next request
            raise
        if not 200 <= response.status < 300:
            headers = response.headers
            raise HTTPError(url, response.status, response.reason, headers, io.BytesIO(body))
        return response.status, response.headers, body

    def _connection(self, scheme: str, host: str, timeout: float, ssl: Any) -> HTTPConnection:
        local = self._local
        if not hasattr(local, "connections"):
            local.connections, local.used = {}, {}
        connection = local.connections.get((scheme, host))
        if connection is None:
            if scheme == "https":
                connection = HTTPSConnection(host, timeout=timeout, context=ssl)
            else:
                connection = HTTPConnection(host, timeout=timeout)
            local.connections[scheme, host] = connection
        elif (
            connection.sock is not None
            and time.monotonic() - local.used[scheme, host] > self.CHECKED_AFTER_IDLE
            and _closed_by_server(connection.sock)
        ):
            connection.close()  # reopened by its next request
        connection.timeout = timeout
        return connection


def _closed_by_server(sock: Any) -> bool:
    # An idle kept-alive connection has nothing to read unless the server closed it.
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


class _KeptAliveWebhookClient(WebhookClient):
    """A response_url post over the client's kept-alive connections."""

    def __init__(self, connections: KeptAliveConnections, url: str, **options) -> None:
        super().__init__(url, **options)
        self._connections = connections

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        if self.proxy is not None:
            return super()._perform_http_request_internal(url, req)
        status, headers, body = self._connections.send(url, req, self.timeout, self.ssl)
        charset = headers.get_content_charset() or "utf-8"
        text = body.decode(charset)
        return WebhookResponse(url=url, status_code=status, body=text, headers=headers)


# slack_sdk's retry handlers wait with a bare time.sleep in prepare_for_next_attempt and
# take no other sleep. These are the stock handlers (same can_retry, counts, intervals and
# jitter) with only that call made injectable, so tests retry without waiting. Each
# prepare_for_next_attempt mirrors slack_sdk's (3.x), time.sleep aside.


class _ConnectionErrorRetry(ConnectionErrorRetryHandler):
    def __init__(self, sleep: Sleep, **options) -> None:
        super().__init__(**options)
        self.sleep = sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.sleep(self.interval_calculator.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()


class _RateLimitRetry(RateLimitErrorRetryHandler):
    def __init__(self, sleep: Sleep, **options) -> None:
        super().__init__(**options)
        self.sleep = sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        state.next_attempt_requested = True
        retry_after = [v for k, v in response.headers.items() if k.lower() == "retry-after"]
        # Retry-After's seconds (1 if Slack sent none), plus up to a second of jitter.
        seconds = int(retry_after[0][0]) if retry_after else 1
        self.sleep(seconds + random.random())
        state.increment_current_attempt()


def send_direct_message(client: WebClient, slack_user_id: str, message: dict) -> str:
    """Post `message` ({"text", "blocks"}) in the DM with a person; returns the message ts."""
    channel = client.conversations_open(users=slack_user_id)["channel"]["id"]
    return client.chat_postMessage(channel=channel, **message)["ts"]


def send_file_to_direct_message(
    client: WebClient,
    slack_user_id: str,
    *,
    filename: str,
    content: bytes,
    title: str,
    alt_text: str | None = None,
    comment: str | None = None,
) -> str:
    """Upload a file (a chart, an export) into the DM with a person, the way Slack allows
    now (files_upload_v2: an upload URL, the bytes, then the share); returns its file id,
    which an image block can show with `"slack_file": {"id": ...}`."""
    channel = client.conversations_open(users=slack_user_id)["channel"]["id"]
    uploaded = client.files_upload_v2(
        channel=channel,
        filename=filename,
        content=content,
        title=title,
        alt_txt=alt_text,
        initial_comment=comment,
    )
    return str(uploaded["file"]["id"])

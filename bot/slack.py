"""The Slack Web API client codexbot uses, and direct messages to people."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sync.config import Settings

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


def web_client(settings: Settings) -> WebClient:
    client = WebClient(
        token=settings.slack.bot_token,
        base_url=settings.slack.api_url or DEFAULT_SLACK_API_URL,
        timeout=10,
    )
    # slack_sdk retries only connection errors by default; 429s carry Retry-After.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    return client


def send_direct_message(client: WebClient, slack_user_id: str, message: dict) -> str:
    """Post `message` ({"text", "blocks"}) in the DM with a person; returns the message ts."""
    channel = client.conversations_open(users=slack_user_id)["channel"]["id"]
    return client.chat_postMessage(channel=channel, **message)["ts"]

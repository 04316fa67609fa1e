"""A fake Slack on loopback, both sides of it: the Web API codexbot calls (`FakeSlack`,
which answers the methods codexbot uses and records every call with its body) and the
signed requests Slack sends the app (`SlackSender`).

`codexbot try` runs the bot against it, and the tests assert on exactly what would have
reached Slack. It lives in `bot/cli/` because only a command-line tool of the package uses
it: the app itself (`bot/app.py`, the listeners, `bot/server.py`) never imports it, which
tests/test_layout.py checks.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qsl, urlencode

import httpx
from slack_sdk.models.blocks import Block
from slack_sdk.signature import SignatureVerifier

BOT_USER_ID = "UCODEXBOT"
# The Slack team codexbot is installed in, as auth.test says.
TEAM_ID = "T1"
# The app under test and the requests the tests sign share this secret, as with Slack.
SIGNING_SECRET = "test-signing-secret"
JSON_FIELDS = ("blocks", "view", "attachments", "errors", "files")


@dataclass
class Call:
    method: str
    params: dict
    headers: dict = field(default_factory=dict)
    # When the fake received it (time.monotonic(), so a caller in this process can time
    # an answer), and for a response_url call the path it was posted to.
    received_at: float = field(default_factory=time.monotonic)
    path: str | None = None

    @property
    def raw(self) -> str:
        return json.dumps(self.params) + json.dumps(self.headers)


class FakeSlack:
    def __init__(self) -> None:
        self.users: dict[str, dict] = {}
        self.calls: list[Call] = []
        self.held: dict[str, threading.Event] = {}
        self.failures: dict[str, list[tuple[int, dict, dict]]] = {}
        self._condition = threading.Condition()
        self._ts = itertools.count(1)
        # Files uploaded through files_upload_v2's three steps, by file id: filename,
        # length and alt_txt as announced, the bytes uploaded, then title and channel.
        self.files: dict[str, dict] = {}
        self._file_ids = itertools.count(1)
        # Where apps.connections.open sends a Socket Mode client (tests/socket_mode_server.py);
        # while None, the method is unknown here, as it always was.
        self.socket_mode_url: str | None = None
        self.connections_accepted = 0  # TCP connections, kept alive across calls
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.api_url = f"{self.base_url}/api/"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()

    def go_down(self) -> None:
        """Slack unreachable: nothing listens on the port any more."""
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port, with the same users and record of calls."""
        port = int(self.base_url.rsplit(":", 1)[1])
        self._server = _Server(("127.0.0.1", port), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def add_user(
        self,
        user_id,
        email=None,
        *,
        tz="Europe/Berlin",
        is_bot=False,
        name=None,
        team_id=TEAM_ID,
        **flags,
    ):
        self.users[user_id] = {
            "id": user_id,
            "team_id": team_id,
            "name": name or user_id.lower(),
            "is_bot": is_bot,
            **flags,
            "deleted": False,
            "tz": tz,
            "profile": {"email": email} if email else {},
        }

    def fail_next(self, method: str, status: int = 429, body=None, headers=None) -> None:
        """The next call of `method` gets this answer instead (429 with Retry-After: 0)."""
        headers = headers if headers is not None else {"Retry-After": "0"}
        body = body or {"ok": False, "error": "ratelimited"}
        self.failures.setdefault(method, []).append((status, body, headers))

    # -- what tests read ----------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._condition:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 15.0) -> list[Call]:
        """Block until `count` calls of `method` arrived (lazy listeners answer later)."""
        with self._condition:
            self._condition.wait_for(
                lambda: len([c for c in self.calls if c.method == method]) >= count, timeout
            )
            found = [c for c in self.calls if c.method == method]
        assert len(found) >= count, f"expected {count} {method} call(s), got {len(found)}"
        return found

    def posted_blocks(self) -> list[tuple[str, list[dict]]]:
        """Every block list sent to Slack, in messages and in views."""
        found = []
        for call in self.calls:
            if isinstance(call.params.get("blocks"), list):
                found.append((call.method, call.params["blocks"]))
            view = call.params.get("view")
            if isinstance(view, dict):
                found.append((call.method + ":view", view.get("blocks", [])))
        return found

    def assert_blocks_valid(self) -> None:
        for method, blocks in self.posted_blocks():
            limit = 100 if method.endswith(":view") else 50
            assert len(blocks) <= limit, f"{method}: {len(blocks)} blocks"
            for block in blocks:
                parsed = Block.parse(block)
                assert parsed is not None, block
                assert parsed.to_dict() == block, block

    # -- answering ----------------------------------------------------------------------

    def record(self, call: Call) -> None:
        with self._condition:
            self.calls.append(call)
            self._condition.notify_all()

    def hold(self, method: str) -> threading.Event:
        """Calls of `method` wait until the returned event is set: a slow Slack, on cue."""
        released = threading.Event()
        self.held[method] = released
        return released

    def answer(self, method: str, params: dict) -> tuple[int, dict, dict]:
        if method in self.held:
            self.held[method].wait(10)
        if self.failures.get(method):
            return self.failures[method].pop(0)
        if method == "auth.test":
            return (
                200,
                {"ok": True, "user_id": BOT_USER_ID, "bot_id": "BCODEX", "team_id": TEAM_ID},
                {},
            )
        if method == "apps.connections.open" and self.socket_mode_url is not None:
            return 200, {"ok": True, "url": self.socket_mode_url}, {}
        if method == "users.info":
            user = self.users.get(params.get("user") or "")
            if user is None:
                return 200, {"ok": False, "error": "user_not_found"}, {}
            return 200, {"ok": True, "user": user}, {}
        if method == "users.lookupByEmail":
            for user in self.users.values():
                if user["profile"].get("email", "").lower() == params.get("email", "").lower():
                    return 200, {"ok": True, "user": user}, {}
            return 200, {"ok": False, "error": "users_not_found"}, {}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._file_ids):08d}"
            self.files[file_id] = {
                "filename": params.get("filename"),
                "length": int(params.get("length") or 0),
                "alt_txt": params.get("alt_txt"),
                "data": None,
            }
            upload_url = f"{self.base_url}/upload/{file_id}"
            return 200, {"ok": True, "upload_url": upload_url, "file_id": file_id}, {}
        if method == "files.completeUploadExternal":
            listed = params.get("files") or []
            unknown = [f for f in listed if self.files.get(f.get("id"), {}).get("data") is None]
            if not listed or unknown:
                return 200, {"ok": False, "error": "invalid_arguments"}, {}
            for entry in listed:
                self.files[entry["id"]].update(
                    title=entry.get("title"),
                    channel=params.get("channel_id"),
                    initial_comment=params.get("initial_comment"),
                )
            shared = [
                {"id": f["id"], "title": f.get("title"), "name": self.files[f["id"]]["filename"]}
                for f in listed
            ]
            return 200, {"ok": True, "files": shared}, {}
        if method == "conversations.open":
            return 200, {"ok": True, "channel": {"id": "D" + params.get("users", "")}}, {}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            ts = f"1700000000.{next(self._ts):06d}"
            return 200, {"ok": True, "channel": params.get("channel"), "ts": ts}, {}
        if method in ("views.open", "views.update", "views.publish"):
            return 200, {"ok": True, "view": {"id": "V1", **(params.get("view") or {})}}, {}
        return 200, {"ok": False, "error": "unknown_method"}, {}


class _Server(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], handler: type, fake: FakeSlack) -> None:
        super().__init__(address, handler)
        self.fake = fake
        # Connections are kept alive (HTTP/1.1): a Slack that goes down closes them too.
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        with self._open_lock:
            self._open.add(request)
            self.fake.connections_accepted += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            still_open, self._open = self._open, set()
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: on a kept-alive connection, Nagle's
    # algorithm held the body back until the client's delayed ACK (40 ms a call), a wait
    # Slack's own servers do not make.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        fake = cast(_Server, self.server).fake
        length = int(self.headers.get("Content-Length") or 0)
        if self.path.startswith("/upload/"):  # files_upload_v2's second step: the bytes
            self._receive_upload(fake, self.rfile.read(length))
            return
        raw = self.rfile.read(length).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            params = json.loads(raw or "{}")
        else:
            params = dict(parse_qsl(raw))
        for name in JSON_FIELDS:
            if isinstance(params.get(name), str):
                params[name] = json.loads(params[name])
        headers = {"Authorization": self.headers.get("Authorization", "")}
        if self.path.startswith("/api/"):
            method = self.path.removeprefix("/api/").split("?")[0]
            fake.record(Call(method, params, headers))
            status, body, extra = fake.answer(method, params)
            payload = json.dumps(body).encode()
            content_type = "application/json"
        else:  # a response_url, as Bolt's respond() posts to it
            fake.record(Call("response_url", params, headers, path=self.path))
            status, payload, extra, content_type = 200, b"ok", {}, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _receive_upload(self, fake: FakeSlack, data: bytes) -> None:
        file_id = self.path.removeprefix("/upload/")
        known = fake.files.get(file_id)
        fake.record(Call("upload", {"file_id": file_id, "bytes": len(data)}, path=self.path))
        ok = known is not None and known["length"] == len(data)
        if known is not None and ok:
            known["data"] = data
        payload = f"OK - {len(data)}".encode() if ok else b"bad upload"
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


_ids = itertools.count(1)


class SlackSender:
    """Sends what Slack sends: form-encoded, signed, timestamped."""

    def __init__(self, base_url: str, slack: FakeSlack) -> None:
        self.url = f"{base_url}/slack/events"
        self.slack = slack
        self.http = httpx.Client(timeout=10)

    def post(self, body: str, content_type: str, *, timestamp=None, signature=None, headers=None):
        timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
        if signature is None:
            signature = SignatureVerifier(SIGNING_SECRET).generate_signature(
                timestamp=timestamp, body=body
            )
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        return self.http.post(self.url, content=body.encode(), headers=sent)

    def command(self, user_id: str, text: str, team_id: str = TEAM_ID, **signing):
        n = next(_ids)
        body = urlencode(
            {
                "token": "legacy",
                "team_id": team_id,
                "team_domain": "acme",
                "channel_id": "C1",
                "user_id": user_id,
                "user_name": user_id.lower(),
                "command": "/codex",
                "text": text,
                "api_app_id": "A1",
                "response_url": f"{self.slack.base_url}/response/{n}",
                "trigger_id": f"trigger-{n}",
            }
        )
        return self.post(body, "application/x-www-form-urlencoded", **signing)

    def view_submission(self, user_id: str, api_key: str, workspace_id: str, **signing):
        payload = view_submission_payload(user_id, api_key, workspace_id)
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **signing)

    def event(self, event: dict, event_id: str | None = None, headers=None, **signing):
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T1",
                "api_app_id": "A1",
                "type": "event_callback",
                "event_id": event_id or f"Ev{next(_ids):08d}",
                "event_time": int(time.time()),
                "event": event,
            }
        )
        return self.post(body, "application/json", headers=headers, **signing)

    def dm(self, user_id: str, text: str, **extra):
        event = {
            "type": "message",
            "channel": f"D{user_id}",
            "channel_type": "im",
            "user": user_id,
            "text": text,
            "ts": f"{time.time():.6f}",
            **extra,
        }
        return self.event(event)

    def block_action(self, user_id: str, action_id: str, value: str, **signing):
        """A button pressed in a message the bot sent in answer to a slash command."""
        response_url = f"{self.slack.base_url}/response/{next(_ids)}"
        payload = block_action_payload(user_id, action_id, value, response_url)
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **signing)


# Interactive payloads as Slack sends them, over HTTP (a form field) or Socket Mode (an
# envelope's payload): the same dictionaries either way.


def view_submission_payload(
    user_id: str, api_key: str, workspace_id: str, team_id: str = TEAM_ID, app_id: str = "A1"
) -> dict:
    """The connect form (`codex_connect`) submitted with these two values."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "acme"},
        "user": {"id": user_id, "team_id": team_id},
        "api_app_id": app_id,
        "trigger_id": f"trigger-{next(_ids)}",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "codex_connect",
            "state": {
                "values": {
                    "api_key": {"value": {"type": "plain_text_input", "value": api_key}},
                    "workspace_id": {"value": {"type": "plain_text_input", "value": workspace_id}},
                }
            },
        },
    }


def block_action_payload(
    user_id: str,
    action_id: str,
    value: str,
    response_url: str,
    team_id: str = TEAM_ID,
    app_id: str = "A1",
) -> dict:
    """A button of an ephemeral answer pressed."""
    return {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "acme"},
        "user": {"id": user_id, "team_id": team_id},
        "api_app_id": app_id,
        "trigger_id": f"trigger-{next(_ids)}",
        "response_url": response_url,
        "container": {"type": "message", "is_ephemeral": True},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": value}],
    }

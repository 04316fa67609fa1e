"""A local Socket Mode server: Slack's end of a Socket Mode WebSocket, on loopback.

The app's client (slack_sdk's built-in SocketModeClient, as in production) gets this
server's URL from apps.connections.open on the fake Slack Web API (bot/cli/fake_slack.py)
and connects. The server greets it with Slack's `hello`, sends it the envelopes a test
gives it, and records every message the app sends back, so a test can wait for the
acknowledgement of an envelope, read its payload and time it. slack_sdk's own Socket Mode
tests do the same with an aiohttp server; this one is websockets' threaded server.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

APP_ID = "A1"


@dataclass(frozen=True)
class Ack:
    """An acknowledgement the app sent: the envelope's id, the payload it carried (a
    command's answer, a form's field errors) and when it arrived (time.monotonic())."""

    envelope_id: str
    payload: dict | None
    received_at: float


class SocketModeServer:
    # Slack pings a Socket Mode client; pinging often also wakes the client's blocking
    # read, so closing it at the end of a test does not wait out its 3 s read timeout.
    PING_INTERVAL = 0.1

    def __init__(self) -> None:
        self.paths: list[str] = []  # each connection's request path, as the client asked
        self.sent: dict[str, float] = {}  # envelope id -> when it was sent
        self.acks: dict[str, Ack] = {}  # envelope id -> its first acknowledgement
        self.ack_log: list[Ack] = []  # every acknowledgement, in order (repeats too)
        self.other_messages: list[str] = []  # anything else the app sent
        self._open: list[ServerConnection] = []
        self._condition = threading.Condition()
        self._server = serve(
            self._serve_connection,
            "127.0.0.1",
            0,
            compression=None,
            ping_interval=self.PING_INTERVAL,
            ping_timeout=10,
        )
        port = self._server.socket.getsockname()[1]
        # The shape of the URL Slack hands out (wss://wss-primary.slack.com/link/?ticket=...).
        self.url = f"ws://127.0.0.1:{port}/link/?ticket=local-ticket&app_id={APP_ID}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode-server", daemon=True
        )

    def start(self) -> SocketModeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close what is still open (closing handshake, code 1001);
        returns once every connection's thread has ended."""
        self._server.shutdown()
        self._thread.join(5)
        assert not self._thread.is_alive()

    # -- what tests do ------------------------------------------------------------------

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Block until a client has connected and been greeted."""
        with self._condition:
            connected = self._condition.wait_for(lambda: self._open, timeout)
        assert connected, f"no Socket Mode client connected within {timeout} s"

    def send(self, kind: str, payload: dict, *, accepts_response_payload: bool) -> str:
        """Send an envelope of `kind` (slash_commands, events_api, interactive) on the
        open connection, as Slack does; returns its envelope id."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        with self._condition:
            assert self._open, "no Socket Mode client is connected"
            connection = self._open[-1]
            self.sent[envelope_id] = time.monotonic()
        connection.send(json.dumps(envelope))
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        with self._condition:
            self._condition.wait_for(lambda: envelope_id in self.acks, timeout)
            ack = self.acks.get(envelope_id)
        assert ack is not None, f"envelope {envelope_id} was not acknowledged within {timeout} s"
        return ack

    def unacknowledged(self) -> list[str]:
        with self._condition:
            return [envelope_id for envelope_id in self.sent if envelope_id not in self.acks]

    # -- serving ------------------------------------------------------------------------

    def _serve_connection(self, connection: ServerConnection) -> None:
        assert connection.request is not None  # the handshake is done
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "applink-local", "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        try:
            connection.send(json.dumps(hello))
            with self._condition:
                self.paths.append(connection.request.path)
                self._open.append(connection)
                self._condition.notify_all()
            for message in connection:
                self._record(message if isinstance(message, str) else message.decode())
        except ConnectionClosed:
            pass  # slack_sdk's client closes its socket without a closing handshake
        finally:
            with self._condition:
                if connection in self._open:
                    self._open.remove(connection)
                self._condition.notify_all()

    def _record(self, message: str) -> None:
        received_at = time.monotonic()
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = None
        with self._condition:
            if isinstance(parsed, dict) and "envelope_id" in parsed:
                ack = Ack(str(parsed["envelope_id"]), parsed.get("payload"), received_at)
                self.acks.setdefault(ack.envelope_id, ack)
                self.ack_log.append(ack)
            else:
                self.other_messages.append(message)
            self._condition.notify_all()

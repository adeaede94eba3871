"""Fixtures: `webhook_receiver`, a real loopback HTTP server recording JSON POSTs (it can fail or
stall on demand), and `alert_smtp`, a loopback aiosmtpd server recording the messages it gets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class WebhookReceiver:
    """POST / -> 200 and the JSON body recorded; `fail_next` answers 500 that many times first.

    `gate` = n holds each POST until n POSTs are in progress at once (or `hold_s` passed), so
    concurrent senders overlap whatever the machine's speed (process sync, never asserted on)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail_next = 0
        self.delay_s = 0.0
        self.gate = 1
        self.hold_s = 20.0
        self.in_flight = 0
        self._lock = threading.Lock()
        self._gate_open = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._wait_for_gate()
                with receiver._lock:
                    receiver.attempts += 1
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                if failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.posts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _wait_for_gate(self) -> None:
        with self._lock:
            self.in_flight += 1
            if self.in_flight >= self.gate:
                self._gate_open.set()
        self._gate_open.wait(self.hold_s)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1; `messages` are the parsed emails it accepted."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        server = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                server.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.host = "127.0.0.1"
        self._controller = Controller(Handler(), hostname=self.host, port=self.port)
        self._controller.start()

    def close(self) -> None:
        self._controller.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def alert_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.close()

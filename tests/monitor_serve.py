"""`monitor serve` as a real process on a free loopback port, for tests that need uvicorn under load."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_S = 60.0  # generous: the machine may be busy; only a limit on a hang


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def monitor_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", *args]


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path  # the server's stderr


@contextmanager
def monitor_serve(global_args: Sequence[str], tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Start `monitor <global_args> serve --port P`; wait for /healthz; stop it (SIGTERM, then kill)."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            monitor_cmd(*global_args, "serve", "--port", str(port)),
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"monitor serve exited: {log.read_text(errors='replace')}"
            try:
                if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"monitor serve did not start: {log.read_text(errors='replace')}"
            time.sleep(0.1)
        yield Served(url, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@contextmanager
def app_in_thread(settings: object) -> Iterator[str]:
    """The web app (create_app(settings)) served by uvicorn in a thread on a free loopback port: yields its
    base URL, stops the server after."""
    import threading

    import uvicorn

    from monitor.web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


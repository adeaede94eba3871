"""The newsroom page answers bad input with 400/404, never a 500 with a traceback in its log.

A real `monitor serve` process (uvicorn on loopback) over a real SQLite file, driven with httpx;
its stderr is the log the test reads.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures_search import build_search_db
from tests.test_query import HOSTILE, _random_query

HUGE = "99999999999999999999"  # beyond SQLite's INTEGER (2**63 - 1)


@dataclass
class Server:
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    db = build_search_db(tmp_path / "monitor.db")
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_TRANSLATION_ENGINE"] = "none"
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--db", str(db), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=err, stderr=subprocess.STDOUT, env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "monitor serve did not start"
            time.sleep(0.1)
        yield Server(url, log)
    finally:
        proc.terminate()
        proc.wait(30)


def _log_is_clean(server: Server) -> None:
    text = server.log.read_text(encoding="utf-8")
    assert "Traceback" not in text and "Exception in ASGI application" not in text, text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/article/{HUGE}", 404),
        (f"/story/{HUGE}", 404),
        ("/article/0", 404),
        ("/?day=9999-12-31", 400),
        ("/?day=0001-01-01", 400),
        ("/?day=2026-02-30", 400),
        (f"/api/latest?after={HUGE}", 400),
        ("/api/latest?after=-1", 400),
        ("/api/latest?after=1e9", 400),
        (f"/api/latest?limit={HUGE}", 200),  # clamped to 100
        ("/?day=9998-12-31", 200),  # the last allowed day, whose 'next day' link is beyond it
        ("/?day=1900-01-01", 200),
    ],
)
def test_bad_paths_and_parameters_are_400_or_404(server: Server, path: str, status: int) -> None:
    r = httpx.get(server.url + path, timeout=30)
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    _log_is_clean(server)


def test_search_filters_with_bad_input_are_400_not_500(server: Server) -> None:
    bad = ["cartel until:9999-12-31", "since:0001-01-01", "since:9999-12-31T23:00-06:00", "until:nope",
           "story:x", "country:Mexico", "since:2026-11-02 until:2026-11-01"]
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for q in bad:
            r = client.get("/search", params={"q": q})
            assert r.status_code == 400, (q, r.status_code)
            assert "error" in r.text.lower() or "out of range" in r.text or "not" in r.text, q
        ok = client.get("/search", params={"q": f"story:{HUGE[:18]}"})  # a well-formed id nobody has
        assert ok.status_code == 200
        rng = random.Random(9)
        for q in [*HOSTILE, *(_random_query(rng) for _ in range(60))]:
            r = client.get("/search", params={"q": q, "sort": rng.choice(["date", "relevance", "x" * 5])})
            assert r.status_code in (200, 400), (q, r.status_code)
    _log_is_clean(server)

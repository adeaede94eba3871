"""The demo: the whole pipeline on bundled sample feeds served from loopback, no network needed.

`serve_demo_feeds()` serves `monitor/demo/feeds/` on 127.0.0.1 (port chosen by the OS) and
`demo_registry()` rewrites the demo registry's `http://127.0.0.1:0/...` URLs to that server.
`build_demo_db()` is used by `monitor demo` and by the test suite's `demo_db` fixture.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config.settings import Settings
from monitor.models import Progress
from monitor.store.db import open_db

if TYPE_CHECKING:
    from monitor import pipeline
DEMO_DIR = Path(__file__).resolve().parent / "feeds"
PLACEHOLDER = "http://127.0.0.1:0/"
DEMO_DAY = "2026-11-22"  # the newest day in the sample feeds (America/Mexico_City)
# The demo replays that weekend: its clock is the next morning, whatever the machine's date, so the sample
# news is never "in the future" (a machine whose clock is behind) nor too old for the default windows.
DEMO_NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the demo folder with ETag/conditional GET, like a real outlet's server."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file() or path.suffix != ".xml":
            self.send_error(404)
            return
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serve_demo_feeds(directory: Path = DEMO_DIR) -> Iterator[str]:
    """Serve the demo feeds on loopback; yields the base URL ("http://127.0.0.1:PORT/")."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, name="demo-feeds", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def demo_registry(base_url: str, target: Path) -> Path:
    """Write the demo registry with its URLs pointing at `base_url`; returns its path."""
    text = (DEMO_DIR / "outlets.toml").read_text(encoding="utf-8")
    target.write_text(text.replace(PLACEHOLDER, base_url), encoding="utf-8")
    return target


def demo_settings(workdir: Path, base: Settings | None = None) -> Settings:
    s = base or Settings()
    return s.replace(
        db=str(workdir / "demo.db"),
        feeds=str(workdir / "demo-outlets.toml"),
        poll__allow_private=True,
        poll__per_host_spacing_s=0.0,  # every demo outlet lives on one loopback host
        poll__concurrency=8,
        digest__out_dir=str(workdir),
    )


def build_demo_db(
    workdir: Path,
    base: Settings | None = None,
    progress: Progress | None = None,
    on_stage: Callable[[str, Any | None, str | None], None] | None = None,
) -> tuple[Settings, pipeline.RunReport]:
    """Serve the sample feeds and run every stage into `workdir/demo.db`."""
    from monitor import pipeline  # the stages are slow to import: only when the demo runs

    workdir.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(workdir, base)
    with serve_demo_feeds() as base_url:
        demo_registry(base_url, Path(settings.feeds))
        db = open_db(settings.db_path)
        try:
            report = pipeline.run_all(db, settings, now=DEMO_NOW, progress=progress, on_stage=on_stage)
        finally:
            db.close()
    return settings, report

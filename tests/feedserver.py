"""A real HTTP feed server on loopback, for tests, benchmarks and the demo.

`FeedServer()` listens on 127.0.0.1 (port 0: the kernel picks one) in a background thread, one
thread per connection, so many slow connections can be open at once. It serves:

- static routes: `server.route("/a.xml", body, etag='"v1"')`; re-calling replaces the content;
  with `etag` / `last_modified` it answers conditional GETs with 304;
- files: `server.serve_dir(path, prefix="/feeds/")` (ETag = hash of the content);
- hostile and edge-case endpoints (see `BEHAVIOURS` below): `/304`, `/429`, `/503`, `/410`, `/500`,
  `/moved` (301), `/temp` (302), `/new`, `/loop` <-> `/loop2`, `/redirect-to?target=URL`,
  `/gzip-bomb`, `/huge`, `/huge-chunked`, `/trickle`, `/hang`, `/body-is-a-path`.

Every request is logged (`server.requests`, `server.count(path)`), and the peak number of requests
in progress at once is kept in `server.max_concurrent` (politeness checks). Closing the server
wakes every slow handler (trickle, hang, endless bodies) and joins all threads, so nothing outlives it.

    with FeedServer() as server:
        server.route("/feed.xml", b"<rss>...</rss>")
        httpx.get(server.url("/feed.xml"))
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import ssl
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

RSS_TYPE = "application/rss+xml; charset=utf-8"


def pause(stop: threading.Event, seconds: float) -> bool:
    """Wait `seconds` unless `stop` is set first (True: stopped). Short relative sleeps, not
    `stop.wait(seconds)`: a timed wait's absolute deadline misbehaves under a shifted clock
    (libfaketime, with which the suite is also run at other hours and dates)."""
    end = time.monotonic() + seconds
    while not stop.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(0.01, left))
    return True


def small_rss(title: str = "Test feed", items: int = 1, link: str = "http://feeds.example/") -> bytes:
    """A small valid RSS 2.0 document with `items` items."""
    entries = "".join(
        f"<item><title>{title} item {i}</title><link>{link}item/{i}</link>"
        f'<guid isPermaLink="false">{title}-{i}</guid>'
        f"<pubDate>Mon, 06 Jan 2025 12:{i % 60:02d}:00 GMT</pubDate>"
        f"<description>Item {i} of {title}.</description></item>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>{link}</link><description>{title}</description>"
        f"{entries}</channel></rss>\n"
    ).encode()


@lru_cache(maxsize=1)
def gzip_bomb(inflated_bytes: int = 200 * 1024 * 1024) -> bytes:
    """About 200 KB of gzip that inflates to `inflated_bytes` zeros (built once per process)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    parts = [comp.compress(block) for _ in range(inflated_bytes // len(block))]
    parts.append(comp.flush())
    return b"".join(parts)


@dataclass
class Route:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # as requested, with the query string
    headers: dict[str, str]  # lower-case names
    time: float  # time.monotonic()

    # unpacks as the (method, path, headers, time) tuple the tests use
    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.path, self.headers, self.time))


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of an If-None-Match header value against one ETag (RFC 9110 13.1.2)."""
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def _not_modified_since(if_modified_since: str, last_modified: str) -> bool:
    if if_modified_since.strip() == last_modified.strip():
        return True
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # joined by server_close(): no thread outlives the fixture
    block_on_close = True
    request_queue_size = 1024  # many feeds connect at once in the benchmark
    owner: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, size limits) are expected here; anything else is printed."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies
    server: _Server
    timeout = 60  # a safety net; closing the server unblocks reads much sooner

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read server.requests instead

    def setup(self) -> None:
        super().setup()
        self.server.owner._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._connection_closed(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        owner = self.server.owner
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner._begin(LoggedRequest(self.command, self.path, headers, time.monotonic()))
        try:
            if owner.latency and pause(owner._stop, owner.latency):
                self.close_connection = True
                return
            owner._respond(self, headers)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError):
            self.close_connection = True
        finally:
            owner._end()

    # helpers used by FeedServer._respond
    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        merged = {"Content-Type": RSS_TYPE} if body else {}
        merged.update(headers or {})
        for name, value in merged.items():
            self.send_header(name, value)
        if status != 304 and "content-length" not in {k.lower() for k in merged}:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD" and status != 304:
            self.wfile.write(body)


class FeedServer:
    """A loopback HTTP server with feed routes and hostile endpoints. See the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: tuple[str, str] | None = None) -> None:
        """`tls=(certfile, keyfile)` serves HTTPS (the handshake runs in the connection's thread)."""
        self.latency: float = 0.0  # seconds added before every response
        self.retry_after_429: str = "3600"  # Retry-After sent by /429 (or ?retry_after=)
        self.retry_after_503: str = "120"  # Retry-After sent by /503 (or ?retry_after=)
        self.etag_304 = '"fixed-etag-304"'  # the validator /304 honours
        self.requests: list[LoggedRequest] = []
        self.max_concurrent = 0  # peak requests in progress at once
        self.max_connections = 0  # peak TCP connections open at once
        self.bytes_sent: dict[str, int] = {}  # body bytes written by the endless endpoints, by path
        self._routes: dict[str, Route] = {}
        self._dirs: list[tuple[str, Path]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._active = 0
        self._sockets: set[socket.socket] = set()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
            self.scheme = "https"
        self.host: str = host
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"feedserver-{self.port}"
        )
        self._thread.start()

    # --- lifecycle ---

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, wake slow handlers, close every connection and join all threads."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._httpd.shutdown()
        self._thread.join()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()  # joins the handler threads

    # --- configuration ---

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{path if path.startswith('/') else '/' + path}"

    def route(
        self,
        path: str,
        body: bytes,
        status: int = 200,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve `body` at `path` (replacing any earlier content there)."""
        with self._lock:
            self._routes[path] = Route(body, status, dict(headers or {}), etag, last_modified, delay)

    def serve_dir(self, directory: str | Path, prefix: str = "/") -> None:
        """Serve the files under `directory` at `prefix` + their relative path."""
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        with self._lock:
            self._dirs.append((prefix, Path(directory).resolve()))

    # --- request log ---

    @property
    def active(self) -> int:
        """Requests in progress right now (a handler still writing an endless body counts)."""
        with self._lock:
            return self._active

    def count(self, path: str) -> int:
        """Requests seen for `path` (compared with or without the query string)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path or r.path.split("?", 1)[0] == path)

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_concurrent = self._active
            self.max_connections = len(self._sockets)
            self.bytes_sent.clear()

    def _begin(self, request: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)

    def _end(self) -> None:
        with self._lock:
            self._active -= 1

    def _connection_opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
            self.max_connections = max(self.max_connections, len(self._sockets))
        if self._stop.is_set():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _count_bytes(self, path: str, n: int) -> None:
        with self._lock:
            self.bytes_sent[path] = self.bytes_sent.get(path, 0) + n

    # --- responses ---

    def _respond(self, h: _Handler, headers: dict[str, str]) -> None:
        split = urlsplit(h.path)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        with self._lock:
            route = self._routes.get(path)
            dirs = list(self._dirs)
        if route is not None:
            if route.delay and pause(self._stop, route.delay):
                h.close_connection = True
                return
            self._conditional(
                h, headers, route.body, route.status, route.headers, route.etag, route.last_modified
            )
            return
        for prefix, root in dirs:
            if path.startswith(prefix):
                target = (root / path[len(prefix) :]).resolve()
                if target.is_file() and target.is_relative_to(root):
                    body = target.read_bytes()
                    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                    self._conditional(
                        h, headers, body, 200, {"Content-Type": _content_type(target, body)}, etag, None
                    )
                    return
        behaviour = BEHAVIOURS.get(path)
        if behaviour is None:
            h.send(404, b"not found", {"Content-Type": "text/plain"})
            return
        behaviour(self, h, headers, query)

    def _conditional(
        self,
        h: _Handler,
        headers: dict[str, str],
        body: bytes,
        status: int,
        extra: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> None:
        validators = {}
        if etag:
            validators["ETag"] = etag
        if last_modified:
            validators["Last-Modified"] = last_modified
        if status == 200:
            inm = headers.get("if-none-match")
            ims = headers.get("if-modified-since")
            if (etag and inm is not None and _etag_matches(inm, etag)) or (
                inm is None and last_modified and ims and _not_modified_since(ims, last_modified)
            ):
                h.send(304, b"", validators)
                return
        h.send(status, body, {**validators, **extra})

    # endless / slow bodies: write until the client goes away or the server closes

    def _stream(self, h: _Handler, path: str, chunk: bytes, interval: float, chunked: bool) -> None:
        while not self._stop.is_set():
            data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
            h.wfile.write(data)
            h.wfile.flush()
            self._count_bytes(path, len(chunk))
            if interval and pause(self._stop, interval):
                break
        h.close_connection = True


def _content_type(target: Path, body: bytes) -> str:
    suffix = target.suffix.lower()
    if suffix in {".html", ".htm"}:
        return "text/html; charset=utf-8"
    if suffix == ".json":
        return "application/json"
    if suffix == ".txt":
        return "text/plain; charset=utf-8"
    if b"<feed" in body[:2048]:
        return "application/atom+xml"
    return "application/rss+xml"


# --- behaviour endpoints: (server, handler, request headers, query) -> None ---


def _b_304(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    s._conditional(h, headers, small_rss("Conditional"), 200, {}, s.etag_304, None)


def _b_429(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    h.send(
        429,
        b"slow down",
        {"Content-Type": "text/plain", "Retry-After": q.get("retry_after", s.retry_after_429)},
    )


def _b_503(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    h.send(
        503,
        b"unavailable",
        {"Content-Type": "text/plain", "Retry-After": q.get("retry_after", s.retry_after_503)},
    )


def _status(code: int) -> Any:
    def behave(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
        h.send(code, f"status {code}".encode(), {"Content-Type": "text/plain"})

    return behave


def _redirect(code: int, location: str) -> Any:
    def behave(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
        h.send(code, b"", {"Location": location})

    return behave


def _b_redirect_to(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    if "target" not in q:
        h.send(400, b"missing ?target=", {"Content-Type": "text/plain"})
        return
    h.send(int(q.get("status", "302")), b"", {"Location": q["target"]})


def _b_new(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    h.send(200, small_rss("Moved feed", items=2))


def _b_gzip_bomb(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    h.send(200, gzip_bomb(), {"Content-Encoding": "gzip"})


def _endless(s: FeedServer, h: _Handler, path: str, header: tuple[str, str], chunk: bytes, interval: float) -> None:
    """A 200 streaming `chunk` every `interval` s until the client hangs up; `header` frames it."""
    h.send_response(200)
    h.send_header("Content-Type", RSS_TYPE)
    h.send_header(*header)
    h.end_headers()
    s._stream(h, path, chunk, interval, chunked=header[0] == "Transfer-Encoding")


def _b_huge(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    _endless(s, h, "/huge", ("Content-Length", "10000000000"), b"<" * 65536, 0.0)


def _b_huge_chunked(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    _endless(s, h, "/huge-chunked", ("Transfer-Encoding", "chunked"), b"x" * 65536, 0.0)


def _b_trickle(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    _endless(s, h, "/trickle", ("Content-Length", "1000000"), b" ", 0.5)


def _b_hang(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    s._stop.wait()
    h.close_connection = True


def _b_body_is_a_path(s: FeedServer, h: _Handler, headers: dict[str, str], q: dict[str, str]) -> None:
    h.send(200, b"/etc/hostname", {"Content-Type": RSS_TYPE})


BEHAVIOURS: dict[str, Any] = {
    "/304": _b_304,
    "/429": _b_429,
    "/503": _b_503,
    "/410": _status(410),
    "/500": _status(500),
    "/moved": _redirect(301, "/new"),
    "/temp": _redirect(302, "/new"),
    "/new": _b_new,
    "/loop": _redirect(302, "/loop2"),
    "/loop2": _redirect(302, "/loop"),
    "/redirect-to": _b_redirect_to,
    "/gzip-bomb": _b_gzip_bomb,
    "/huge": _b_huge,
    "/huge-chunked": _b_huge_chunked,
    "/trickle": _b_trickle,
    "/hang": _b_hang,
    "/body-is-a-path": _b_body_is_a_path,
}


def http_date(timestamp: float | None = None) -> str:
    """An HTTP-date (RFC 9110), e.g. for `route(..., last_modified=http_date(t))`."""
    return formatdate(timestamp, usegmt=True)


__all__ = ["FeedServer", "LoggedRequest", "gzip_bomb", "http_date", "small_rss"]

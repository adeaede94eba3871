"""The HTTP fetcher: one feed URL in, a bounded, checked response out.

Policy (reference style-and-reliability 2.1, 2.5-2.7, 2.14):
- SSRF: every hop's host is resolved here, every address is checked (`monitor.ingest.netguard`) and the
  connection goes to the checked address (pinned; Host header and TLS SNI keep the name), so
  redirects and DNS rebinding cannot reach loopback or private networks. `trust_env=False`: no
  proxy or .netrc from the environment.
- Redirects by hand, at most `max_redirects`; a chain of 301/308 only is reported as a permanent move.
- Conditional GET (If-None-Match wins over If-Modified-Since); 304 gives `body=None`.
- Timeouts: connect and read per operation, plus a total deadline per feed that a trickling
  server cannot defeat.
- Body cap after decompression: raw bytes are inflated here with `max_length`, so a gzip bomb
  never takes more than about the cap in memory.
- Politeness: a global concurrency limit, one request at a time per host and a minimum spacing
  between the starts of two requests to one host.

    async with Fetcher(settings.poll) as fetcher:
        result = await fetcher.fetch(url, etag=feed.etag, last_modified=feed.last_modified)
"""

from __future__ import annotations

import asyncio
import base64
import http.cookiejar
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from monitor.config.settings import PollSettings
from monitor.errors import FeedError, FetchTimeout, HttpStatusError, RedirectLoop, ResponseTooLarge
from monitor.ingest import netguard
from monitor.ingest.schedule import retry_after_until as parse_retry_after  # re-exported: one parser

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
ACCEPT_ENCODING = "gzip, deflate"  # only what we inflate ourselves, with a bound
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
INFLATE_STEP = 256 * 1024  # bytes inflated per step, so peak memory stays near the cap

Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class FetchResult:
    url: str  # requested
    final_url: str  # after redirects
    status: int  # 200 or 304 only; anything else raises
    body: bytes | None  # None on 304; decompressed bytes otherwise
    headers: dict[str, str]  # final response headers, lower-case names
    permanent_redirect: str | None  # target URL when the chain was made of 301/308 hops only
    elapsed_ms: int  # from the first request's start to the end of the body

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _too_large(message: str, limit: int) -> ResponseTooLarge:
    error = ResponseTooLarge(message)
    error.limit = limit  # type: ignore[attr-defined]
    return error


def _status_error(status: int, reason: str, url: str, retry_after: str | None) -> HttpStatusError:
    message = f"HTTP {status} {reason} from {url}".replace("  ", " ")
    if status == 410:
        message += " (the feed is gone)"
    if retry_after is not None:
        message += f" (Retry-After: {retry_after})"
    error = HttpStatusError(message, status)
    error.retry_after = retry_after  # type: ignore[attr-defined]
    return error


class _BoundedInflater:
    """Inflates gzip/zlib/raw-deflate bodies chunk by chunk, never producing more than `limit` bytes."""

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        self.limit = limit
        self.url = url
        self.out = bytearray()
        self._compressed = encoding in {"gzip", "x-gzip", "deflate"}
        self._d = zlib.decompressobj(47) if self._compressed else None  # 47: gzip or zlib header
        self._seen = bytearray()  # raw input kept until the first output, for the raw-deflate retry
        self._raw_fallback = encoding == "deflate"

    def feed(self, chunk: bytes) -> None:
        if self._d is None:
            self.out += chunk
            self._check()
            return
        if self._raw_fallback and not self.out:
            self._seen += chunk
        try:
            self._inflate(chunk)
        except zlib.error as exc:
            if self._raw_fallback and not self.out:  # "deflate" sent as raw deflate (RFC 1951)
                self._raw_fallback = False
                self._d = zlib.decompressobj(-15)
                data, self._seen = bytes(self._seen), bytearray()
                self._inflate_checked(data)
                return
            raise FeedError(f"corrupt compressed body from {self.url}: {exc}") from None
        if self.out:
            self._seen = bytearray()

    def _inflate_checked(self, data: bytes) -> None:
        try:
            self._inflate(data)
        except zlib.error as exc:
            raise FeedError(f"corrupt compressed body from {self.url}: {exc}") from None

    def _inflate(self, data: bytes) -> None:
        assert self._d is not None
        while data:
            if self._d.eof:  # concatenated gzip members
                data = self._d.unused_data + data
                if not data.strip(b"\0"):
                    return
                self._d = zlib.decompressobj(47)
            # >= 1 here (0 would mean "no limit" to zlib); small steps keep the peak near the cap
            room = min(self.limit + 1 - len(self.out), INFLATE_STEP)
            self.out += self._d.decompress(data, room)
            self._check()
            data = self._d.unconsumed_tail

    def finish(self) -> bytes:
        if self._d is not None and not self._d.eof:
            try:
                self.out += self._d.flush()
            except zlib.error as exc:
                raise FeedError(f"corrupt compressed body from {self.url}: {exc}") from None
            self._check()
        return bytes(self.out)

    def _check(self) -> None:
        if len(self.out) > self.limit:
            what = "decompressed body" if self._compressed else "body"
            raise _too_large(f"{what} of {self.url} exceeds the limit of {self.limit:,} bytes", self.limit)


@dataclass
class Hop:
    """One request/response of a redirect chain."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes | None


class Fetcher:
    """Fetches feeds politely and safely. An async context manager; use one per poll run.

    **Parameters:**
    * **settings** - the `[poll]` settings (a whole `Settings` is accepted too).
    * **resolver** - `(host, port) -> [ip, ...]`; default `socket.getaddrinfo` in a thread. Tests
      inject a stub to make names like `feeds.example` resolve to loopback.
    * **allowed_addresses** - addresses trusted although not public (an internal feed host, or a
      test server), exempt from the private-address check. Nothing else is.
    * **verify** - TLS verification: True (the certifi bundle) or an `ssl.SSLContext` with
      other trusted CAs (an internal CA; tests). Never disabled.
    """

    def __init__(
        self,
        settings: PollSettings | Any,
        resolver: Resolver | None = None,
        *,
        allowed_addresses: frozenset[str] | set[str] = frozenset(),
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        if verify is False:
            raise ValueError("TLS verification cannot be turned off")
        self.verify = verify
        self.settings: PollSettings = getattr(settings, "poll", settings)
        self.resolver = resolver
        self.allowed_addresses = frozenset(allowed_addresses)
        # one client per host name: a TLS connection verified for one name must never carry a
        # request for another name on the same address, and httpcore checks every pooled connection
        # on each request, so small per-host pools keep that O(1) (30 % less CPU per fetch)
        self._clients: dict[str, httpx.AsyncClient] | None = None
        self._ssl: ssl.SSLContext | None = None
        self._semaphore = asyncio.Semaphore(max(1, self.settings.concurrency))
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._host_last_start: dict[str, float] = {}
        # checked addresses, for this run only (in-flight lookups shared)
        self._resolved: dict[tuple[str, int], asyncio.Future[list[str]]] = {}

    async def __aenter__(self) -> Fetcher:
        self._clients = {}
        if isinstance(self.verify, ssl.SSLContext):
            self._ssl = self.verify
        else:  # certifi's bundle, loaded once; SSL_CERT_* from the environment are ignored
            self._ssl = httpx.create_ssl_context(verify=True, trust_env=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        clients, self._clients = self._clients or {}, None
        for client in clients.values():
            await client.aclose()

    def _client_for(self, scheme: str, host: str) -> httpx.AsyncClient:
        if self._clients is None:
            raise RuntimeError("use `async with Fetcher(...)` before fetch()")
        key = f"{scheme}://{host}"
        client = self._clients.get(key)
        if client is None:
            s = self.settings
            client = httpx.AsyncClient(
                trust_env=False,  # no proxy, .netrc or SSL_CERT_* from the environment
                follow_redirects=False,
                verify=self._ssl or True,
                timeout=httpx.Timeout(
                    connect=s.connect_timeout_s, read=s.read_timeout_s, write=s.read_timeout_s, pool=None
                ),
                limits=httpx.Limits(
                    max_connections=max(4, s.concurrency * 2), max_keepalive_connections=max(4, s.concurrency)
                ),
                headers={"User-Agent": s.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
            )
            # feeds need no cookies, and a cookie must never follow a redirect to another site
            client.cookies.jar.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            self._clients[key] = client
        return client

    # --- public ---

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """Fetch `url` (following redirects); see the module docstring for the rules.

        Raises BlockedAddress, FetchTimeout, ResponseTooLarge, RedirectLoop, HttpStatusError or
        FeedError (connection failures), each with a message naming the URL.
        """
        if self._clients is None:
            raise RuntimeError("use `async with Fetcher(...)` before fetch()")
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        clock: dict[str, float] = {}  # "deadline" and "start", set when the first request starts
        visited: list[str] = []
        current = url
        permanent = True
        while True:
            visited.append(current)
            hop = await self._hop(current, url, conditional, clock)
            if hop.status not in REDIRECT_STATUSES:
                break
            location = hop.headers.get("location")
            if not location:
                raise FeedError(f"HTTP {hop.status} redirect without a Location header from {current}")
            target = urljoin(current, location.strip())
            permanent = permanent and hop.status in PERMANENT_STATUSES
            if target in visited:
                chain = " -> ".join([*visited, target])
                raise RedirectLoop(f"redirect loop after {len(visited)} requests: {chain}")
            if len(visited) > self.settings.max_redirects:
                raise RedirectLoop(
                    f"too many redirects from {url} (more than {self.settings.max_redirects}); last: {target}"
                )
            current = target
        elapsed_ms = int((time.monotonic() - clock.get("start", time.monotonic())) * 1000)
        return FetchResult(
            url=url,
            final_url=current,
            status=hop.status,
            body=hop.body,
            headers=hop.headers,
            permanent_redirect=current if permanent and len(visited) > 1 else None,
            elapsed_ms=elapsed_ms,
        )

    # --- one hop ---

    async def _hop(
        self, url: str, first_url: str, conditional: dict[str, str], clock: dict[str, float]
    ) -> Hop:
        netguard.check_url(url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = netguard.normalise_host(parts.hostname or "")
        port = parts.port or DEFAULT_PORTS[scheme]
        addresses = await self._within(clock, self._resolve(host, port), f"resolving {host}")
        headers = {"Host": _host_header(host, port, scheme), **conditional}
        auth = _same_origin_auth(first_url, url)
        if auth:
            headers["Authorization"] = auth
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

        async with self._polite(host, clock):
            loop = asyncio.get_running_loop()
            if "deadline" not in clock:
                clock["start"] = time.monotonic()
                clock["deadline"] = loop.time() + self.settings.deadline_s
            try:
                async with asyncio.timeout_at(clock["deadline"]):
                    return await self._send(scheme, addresses, port, path, host, headers, url)
            except TimeoutError:
                raise FetchTimeout(
                    f"no complete response from {url} within the {self.settings.deadline_s:g} s deadline"
                ) from None

    async def _within(self, clock: dict[str, float], awaitable: Any, what: str) -> Any:
        """Await under the feed's deadline once it runs (else under the connect timeout)."""
        try:
            if "deadline" in clock:
                async with asyncio.timeout_at(clock["deadline"]):
                    return await awaitable
            async with asyncio.timeout(self.settings.connect_timeout_s):
                return await awaitable
        except TimeoutError:
            raise FetchTimeout(f"timed out {what}") from None

    async def _resolve(self, host: str, port: int) -> list[str]:
        """The checked addresses of host:port, resolved once per Fetcher (one poll run): an outlet's
        ten feeds cost one DNS lookup, concurrent requests share it, and every request connects to
        a checked address. A failed lookup is not remembered."""
        key = (host, port)
        pending = self._resolved.get(key)
        if pending is None:
            pending = asyncio.ensure_future(
                asyncio.to_thread(
                    netguard.resolve_and_check,
                    host,
                    port,
                    self.settings.allow_private,
                    self.resolver,
                    self.allowed_addresses,
                )
            )
            self._resolved[key] = pending
        try:
            return list(await asyncio.shield(pending))
        except BaseException:
            if pending.done() and self._resolved.get(key) is pending:
                del self._resolved[key]
            raise

    @asynccontextmanager
    async def _polite(self, host: str, clock: dict[str, float]) -> AsyncIterator[None]:
        """One request at a time per host, starts spaced by per_host_spacing_s, within the global limit."""
        lock = self._host_locks.setdefault(host, asyncio.Lock())
        loop = asyncio.get_running_loop()
        # later hops of a chain wait under the feed's deadline; the first waits in the queue freely
        if "deadline" in clock:
            try:
                async with asyncio.timeout_at(clock["deadline"]):
                    await lock.acquire()
            except TimeoutError:
                raise FetchTimeout(f"deadline passed waiting for {host}") from None
        else:
            await lock.acquire()
        try:
            wait = self._host_last_start.get(host, -1e9) + self.settings.per_host_spacing_s - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            async with self._semaphore:
                self._host_last_start[host] = loop.time()
                yield
        finally:
            lock.release()

    async def _send(
        self,
        scheme: str,
        addresses: list[str],
        port: int,
        path: str,
        host: str,
        headers: dict[str, str],
        url: str,
    ) -> Hop:
        client = self._client_for(scheme, host)
        extensions: dict[str, Any] = {}
        if scheme == "https" and not _is_ip(host):
            extensions["sni_hostname"] = host  # TLS name check against the host, not the pinned IP
        last_error: Exception | None = None
        for ip in addresses:
            target = f"{scheme}://{_bracket(ip)}:{port}{path}"
            request = client.build_request("GET", target, headers=headers, extensions=extensions)
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectTimeout:
                raise FetchTimeout(
                    f"connection to {host}:{port} timed out after {self.settings.connect_timeout_s:g} s"
                ) from None
            except httpx.ConnectError as exc:  # refused, unreachable: try the next address
                last_error = exc
                continue
            except httpx.TimeoutException as exc:
                raise FetchTimeout(f"{url}: {type(exc).__name__} waiting for the server") from None
            except httpx.HTTPError as exc:
                raise FeedError(f"{url}: {type(exc).__name__}: {exc or 'connection failed'}") from None
            try:
                return await self._read(response, url)
            except httpx.TimeoutException as exc:
                raise FetchTimeout(f"{url}: {type(exc).__name__} while reading the body") from None
            except httpx.HTTPError as exc:
                raise FeedError(f"{url}: {type(exc).__name__}: {exc or 'connection failed'}") from None
            finally:
                await response.aclose()
        raise FeedError(f"cannot connect to {host}:{port} ({', '.join(addresses)}): {last_error}")

    async def _read(self, response: httpx.Response, url: str) -> Hop:
        headers = {k.lower(): v for k, v in response.headers.items()}
        status = response.status_code
        if status in REDIRECT_STATUSES or status == 304:
            return Hop(status, response.reason_phrase, headers, None)
        if status != 200:
            raise _status_error(status, response.reason_phrase, url, headers.get("retry-after"))
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(
                f"{url} declares Content-Length {int(declared):,} bytes, over the limit of {limit:,}", limit
            )
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in {"", "identity", "gzip", "x-gzip", "deflate"}:
            raise FeedError(f"{url}: unsupported Content-Encoding {encoding!r} (we ask for gzip or deflate)")
        inflater = _BoundedInflater(encoding, limit, url)
        async for chunk in response.aiter_raw():
            inflater.feed(chunk)
        return Hop(status, response.reason_phrase, headers, inflater.finish())


def _is_ip(host: str) -> bool:
    try:
        netguard.check_address(host, allow_private=True)
    except FeedError:
        return False
    return True


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _host_header(host: str, port: int, scheme: str) -> str:
    name = _bracket(host)
    return name if DEFAULT_PORTS[scheme] == port else f"{name}:{port}"


def _same_origin_auth(first_url: str, url: str) -> str | None:
    """Basic credentials from the feed URL's user-info, sent only to that URL's own origin."""
    first = urlsplit(first_url)
    if first.username is None:
        return None
    here = urlsplit(url)
    if (first.scheme, first.hostname, first.port) != (here.scheme, here.hostname, here.port):
        return None
    token = f"{unquote(first.username)}:{unquote(first.password or '')}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


__all__ = ["FetchResult", "Fetcher", "parse_retry_after"]

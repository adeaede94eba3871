"""The fetcher against the real loopback feed server (tests/feedserver.py).

Hostile endpoints (bomb, endless bodies, trickle, hang, loops), SSRF on every hop, conditional
GET, status handling and politeness. No mocks: every request crosses a real socket.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import itertools
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from monitor.config.settings import PollSettings
from monitor.errors import (
    BlockedAddress,
    FeedError,
    FetchTimeout,
    HttpStatusError,
    RedirectLoop,
    ResponseTooLarge,
)
from monitor.ingest.fetch import Fetcher, FetchResult, parse_retry_after
from monitor.ingest.netguard import system_resolver
from tests.feedserver import FeedServer, gzip_bomb, http_date, small_rss

MiB = 1024 * 1024
# tests use loopback: private addresses allowed, no spacing between requests to one host
LOOPBACK = PollSettings(allow_private=True, per_host_spacing_s=0.0, max_body_bytes=MiB, deadline_s=2.0)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def fetch_one(url: str, settings: PollSettings = LOOPBACK, **kwargs: Any) -> FetchResult:
    async with Fetcher(settings) as fetcher:
        return await fetcher.fetch(url, **kwargs)


def poll(**changes: Any) -> PollSettings:
    return dataclasses.replace(LOOPBACK, **changes)


# --- the feed server itself ---


def test_feed_server_routes_replace_content_and_honour_validators(
    feed_server: FeedServer, tmp_path: Any
) -> None:
    feed_server.route("/a.xml", small_rss("v1"), etag='"v1"')
    first = run(fetch_one(feed_server.url("/a.xml")))
    assert first.status == 200 and b"v1" in (first.body or b"")
    feed_server.route("/a.xml", small_rss("v2"), etag='"v2"')
    assert run(fetch_one(feed_server.url("/a.xml"), etag='"v1"')).status == 200  # changed content
    assert run(fetch_one(feed_server.url("/a.xml"), etag='"v2"')).not_modified

    (tmp_path / "f.xml").write_bytes(small_rss("dir"))
    feed_server.serve_dir(tmp_path, prefix="/files/")
    served = run(fetch_one(feed_server.url("/files/f.xml")))
    assert served.body == small_rss("dir")
    assert served.headers["content-type"] == "application/rss+xml"
    assert run(fetch_one(feed_server.url("/files/f.xml"), etag=served.headers["etag"])).not_modified
    assert feed_server.count("/files/f.xml") == 2


def test_feed_server_close_ends_slow_handlers_and_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    server = FeedServer()
    clients = []
    for path in ("/hang", "/trickle", "/huge-chunked"):
        sock = socket.create_connection((server.host, server.port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        clients.append(sock)
    deadline = time.monotonic() + 10
    while server.active < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.active == 3
    closer = threading.Thread(target=server.close)
    closer.start()
    closer.join(10)
    for sock in clients:
        sock.close()
    assert not closer.is_alive(), "close() hung on a slow handler"
    assert set(threading.enumerate()) - before == set()


# --- SSRF ---


def test_default_settings_block_loopback_before_any_request(feed_server: FeedServer) -> None:
    feed_server.route("/feed.xml", small_rss())
    with pytest.raises(BlockedAddress, match=r"blocked: private address 127\.0\.0\.1"):
        run(fetch_one(feed_server.url("/feed.xml"), PollSettings()))
    assert feed_server.requests == []

    allowed = run(fetch_one(feed_server.url("/feed.xml"), PollSettings(allow_private=True)))
    assert allowed.body == small_rss()
    assert feed_server.count("/feed.xml") == 1


def test_redirect_to_a_private_address_is_blocked_at_the_second_hop(
    feed_server: FeedServer, feed_server_factory: Callable[..., FeedServer]
) -> None:
    inside = feed_server  # B: 127.0.0.1, must never be reached
    inside.route("/secret", b"internal data")
    trusted = feed_server_factory(host="127.0.0.2")  # A: an allowlisted "public" feed host
    trusted.route("/feed.xml", small_rss("A"))
    names = {"feeds.example": ["127.0.0.2"]}

    def resolver(host: str, port: int) -> list[str]:
        return names.get(host) or system_resolver(host, port)

    guarded = PollSettings(per_host_spacing_s=0.0)  # allow_private is off
    base = f"http://feeds.example:{trusted.port}"

    async def go() -> tuple[FetchResult, BaseException | None]:
        async with Fetcher(guarded, resolver, allowed_addresses={"127.0.0.2"}) as fetcher:
            ok = await fetcher.fetch(f"{base}/feed.xml")
            try:
                await fetcher.fetch(f"{base}/redirect-to?target={quote(inside.url('/secret'), safe='')}")
            except BaseException as exc:
                return ok, exc
            return ok, None

    ok, error = run(go())
    assert ok.body == small_rss("A")  # the allowlisted host is reachable, by its name
    assert isinstance(error, BlockedAddress)
    assert "127.0.0.1" in str(error)
    assert trusted.count("/redirect-to") == 1
    assert inside.requests == []
    # the connection was pinned to the checked address, and the Host header kept the name
    assert trusted.requests[0].headers["host"] == f"feeds.example:{trusted.port}"


def test_every_resolution_is_checked_so_rebinding_cannot_switch_to_loopback(
    feed_server: FeedServer, feed_server_factory: Callable[..., FeedServer]
) -> None:
    """Within one run a name is resolved once and requests go to that checked address, so a name
    that "rebinds" to loopback cannot switch mid-run; the next run resolves again and is blocked."""
    trusted = feed_server_factory(host="127.0.0.2")
    trusted.route("/feed.xml", small_rss())
    answers = iter([["127.0.0.2"], ["127.0.0.1"]])  # the name "rebinds" to loopback
    resolutions: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolutions.append(host)
        return next(answers)

    url = f"http://rebind.example:{trusted.port}/feed.xml"

    async def one_run(fetches: int) -> list[Any]:
        async with Fetcher(PollSettings(per_host_spacing_s=0.0), resolver, allowed_addresses={"127.0.0.2"}) as fetcher:
            return list(await asyncio.gather(*(fetcher.fetch(url) for _ in range(fetches)), return_exceptions=True))

    first_run = run(one_run(2))
    assert [r.status for r in first_run] == [200, 200] and resolutions == ["rebind.example"]
    (second_run,) = run(one_run(1))
    assert isinstance(second_run, BlockedAddress)
    assert trusted.count("/feed.xml") == 2
    assert feed_server.requests == []  # nothing ever reached the loopback server behind the rebind


def _self_signed(tmp_path: Path, name: str) -> tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_https_is_pinned_to_the_checked_address_and_verified_against_the_name(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "feeds.example")
    server = FeedServer(host="127.0.0.2", tls=(cert, key))
    try:
        server.route("/feed.xml", small_rss("tls"))
        trust = ssl.create_default_context(cafile=cert)

        def resolver(host: str, port: int) -> list[str]:
            return {"feeds.example": ["127.0.0.2"], "other.example": ["127.0.0.2"]}[host]

        async def go(name: str) -> FetchResult:
            async with Fetcher(
                poll(allow_private=False), resolver, allowed_addresses={"127.0.0.2"}, verify=trust
            ) as fetcher:
                return await fetcher.fetch(f"https://{name}:{server.port}/feed.xml")

        result = run(go("feeds.example"))  # SNI and the certificate check use the name, not the IP
        assert result.body == small_rss("tls")
        assert server.requests[0].headers["host"] == f"feeds.example:{server.port}"
        with pytest.raises(FeedError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            run(go("other.example"))  # same address, wrong name: the certificate is refused
        assert server.count("/feed.xml") == 1
    finally:
        server.close()


def test_proxy_environment_is_ignored(feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{dead_port}")
    feed_server.route("/feed.xml", small_rss())
    assert run(fetch_one(feed_server.url("/feed.xml"))).body == small_rss()


# --- request headers, conditional GET ---


def test_request_headers_user_agent_encoding_and_validators(feed_server: FeedServer) -> None:
    feed_server.route("/feed.xml", small_rss(), etag='"abc"', last_modified="Mon, 06 Jan 2025 12:00:00 GMT")
    result = run(
        fetch_one(feed_server.url("/feed.xml"), etag='"abc"', last_modified="Mon, 06 Jan 2025 12:00:00 GMT")
    )
    assert result.not_modified and result.body is None and result.status == 304
    headers = feed_server.requests[-1].headers
    assert headers["user-agent"] == LOOPBACK.user_agent
    assert headers["accept-encoding"] == "gzip, deflate"
    assert "application/rss+xml" in headers["accept"]
    assert headers["if-none-match"] == '"abc"'
    assert headers["if-modified-since"] == "Mon, 06 Jan 2025 12:00:00 GMT"


def test_last_modified_alone_gives_304(feed_server: FeedServer) -> None:
    stamp = http_date(1_736_164_800)
    feed_server.route("/feed.xml", small_rss(), last_modified=stamp)
    fresh = run(fetch_one(feed_server.url("/feed.xml")))
    assert fresh.status == 200 and fresh.headers["last-modified"] == stamp
    again = run(fetch_one(feed_server.url("/feed.xml"), last_modified=fresh.headers["last-modified"]))
    assert again.not_modified
    assert "if-none-match" not in feed_server.requests[-1].headers


def test_304_endpoint_with_our_etag(feed_server: FeedServer) -> None:
    assert run(fetch_one(feed_server.url("/304"))).status == 200
    assert run(fetch_one(feed_server.url("/304"), etag=feed_server.etag_304)).not_modified


# --- statuses ---


@pytest.mark.parametrize(("path", "status", "retry_after"), [("/429", 429, "3600"), ("/503", 503, "120")])
def test_rate_limits_raise_with_retry_after(
    feed_server: FeedServer, path: str, status: int, retry_after: str
) -> None:
    with pytest.raises(HttpStatusError) as exc:
        run(fetch_one(feed_server.url(path)))
    assert exc.value.status == status
    assert exc.value.retry_after == retry_after  # type: ignore[attr-defined]
    assert f"Retry-After: {retry_after}" in str(exc.value)


@pytest.mark.parametrize(("path", "status"), [("/410", 410), ("/500", 500), ("/missing", 404)])
def test_error_statuses_raise(feed_server: FeedServer, path: str, status: int) -> None:
    with pytest.raises(HttpStatusError) as exc:
        run(fetch_one(feed_server.url(path)))
    assert exc.value.status == status
    assert exc.value.retry_after is None  # type: ignore[attr-defined]
    assert feed_server.url(path) in str(exc.value)


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == now + timedelta(seconds=120)
    assert parse_retry_after(" 3600 ", now) == now + timedelta(hours=1)
    assert parse_retry_after("Mon, 06 Jan 2025 13:30:00 GMT", now) == datetime(2025, 1, 6, 13, 30, tzinfo=UTC)
    assert parse_retry_after("Sun, 05 Jan 2025 00:00:00 GMT", now) == datetime(2025, 1, 5, tzinfo=UTC)  # past
    assert parse_retry_after(None, now) is None
    for garbage in ("", "soon", "-5", "1.5", "Mon, 99 Foo 2025"):
        assert parse_retry_after(garbage, now) is None, garbage
    huge = parse_retry_after("9" * 40, now)
    assert huge is not None and huge > now + timedelta(days=365)
    assert parse_retry_after("60", now.replace(tzinfo=None)) == now + timedelta(minutes=1)


# --- redirects ---


def test_permanent_redirect_is_reported(feed_server: FeedServer) -> None:
    result = run(fetch_one(feed_server.url("/moved")))
    assert result.status == 200 and b"Moved feed" in (result.body or b"")
    assert result.url == feed_server.url("/moved")
    assert result.final_url == feed_server.url("/new")
    assert result.permanent_redirect == feed_server.url("/new")


def test_temporary_or_mixed_redirects_are_not_permanent(feed_server: FeedServer) -> None:
    temp = run(fetch_one(feed_server.url("/temp")))
    assert temp.final_url == feed_server.url("/new") and temp.permanent_redirect is None
    mixed = run(fetch_one(feed_server.url("/redirect-to?status=301&target=/temp")))
    assert mixed.final_url == feed_server.url("/new") and mixed.permanent_redirect is None
    assert run(fetch_one(feed_server.url("/new"))).permanent_redirect is None


def test_redirect_loop_stops(feed_server: FeedServer) -> None:
    with pytest.raises(RedirectLoop, match="loop"):
        run(fetch_one(feed_server.url("/loop")))
    assert 2 <= feed_server.count("/loop") + feed_server.count("/loop2") <= LOOPBACK.max_redirects + 1


def test_too_many_redirects_stop_at_max_redirects(feed_server: FeedServer) -> None:
    target = "/new"
    for _ in range(LOOPBACK.max_redirects + 2):  # a chain longer than allowed, without a loop
        target = f"/redirect-to?target={quote(target, safe='')}"
    with pytest.raises(RedirectLoop, match="too many redirects"):
        run(fetch_one(feed_server.url(target)))
    assert feed_server.count("/redirect-to") == LOOPBACK.max_redirects + 1
    assert feed_server.count("/new") == 0


# --- size limits ---


def test_gzip_bomb_is_stopped_with_bounded_memory(feed_server: FeedServer) -> None:
    gzip_bomb()  # built before tracing: the server's copy is not the fetcher's memory
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with pytest.raises(ResponseTooLarge) as exc:
            run(fetch_one(feed_server.url("/gzip-bomb")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert exc.value.limit == MiB  # type: ignore[attr-defined]
    assert peak < 2 * MiB, f"peak traced memory {peak:,} bytes"


def test_huge_content_length_is_rejected_before_the_body(feed_server: FeedServer) -> None:
    with pytest.raises(ResponseTooLarge, match="Content-Length 10,000,000,000"):
        run(fetch_one(feed_server.url("/huge")))
    deadline = time.monotonic() + 10
    while feed_server.active and time.monotonic() < deadline:  # the server notices the hang-up
        time.sleep(0.02)
    assert feed_server.active == 0
    assert feed_server.bytes_sent.get("/huge", 0) < 64 * MiB  # we hung up; it did not stream on


def test_endless_chunked_body_stops_at_the_cap(feed_server: FeedServer) -> None:
    with pytest.raises(ResponseTooLarge, match="exceeds the limit of 1,048,576 bytes"):
        run(fetch_one(feed_server.url("/huge-chunked")))


def test_body_of_exactly_the_cap_is_accepted_and_one_more_byte_is_not(feed_server: FeedServer) -> None:
    feed_server.route("/exact", b"a" * MiB)
    feed_server.route("/over", b"a" * (MiB + 1))
    feed_server.route("/exact.gz", gzip.compress(b"b" * MiB), headers={"Content-Encoding": "gzip"})
    feed_server.route("/over.gz", gzip.compress(b"b" * (MiB + 1)), headers={"Content-Encoding": "gzip"})
    assert run(fetch_one(feed_server.url("/exact"))).body == b"a" * MiB
    assert run(fetch_one(feed_server.url("/exact.gz"))).body == b"b" * MiB
    for path in ("/over", "/over.gz"):
        with pytest.raises(ResponseTooLarge):
            run(fetch_one(feed_server.url(path)))


def test_deflate_bodies_zlib_wrapped_or_raw_are_inflated(feed_server: FeedServer) -> None:
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    feed_server.route(
        "/raw", raw.compress(small_rss()) + raw.flush(), headers={"Content-Encoding": "deflate"}
    )
    feed_server.route("/zlib", zlib.compress(small_rss()), headers={"Content-Encoding": "deflate"})
    feed_server.route("/bad", b"not gzip at all", headers={"Content-Encoding": "gzip"})
    feed_server.route("/br", b"x", headers={"Content-Encoding": "br"})
    assert run(fetch_one(feed_server.url("/raw"))).body == small_rss()
    assert run(fetch_one(feed_server.url("/zlib"))).body == small_rss()
    with pytest.raises(FeedError, match="corrupt compressed body"):
        run(fetch_one(feed_server.url("/bad")))
    with pytest.raises(FeedError, match="unsupported Content-Encoding 'br'"):
        run(fetch_one(feed_server.url("/br")))


def test_a_body_that_is_a_path_is_just_bytes(feed_server: FeedServer) -> None:
    assert run(fetch_one(feed_server.url("/body-is-a-path"))).body == b"/etc/hostname"


# --- deadlines and failures ---


def test_slow_servers_hit_the_deadline_while_a_healthy_feed_completes(
    feed_server: FeedServer, feed_server_factory: Callable[..., FeedServer]
) -> None:
    healthy = feed_server_factory(host="127.0.0.2")
    healthy.route("/feed.xml", small_rss("healthy"))
    hanging = feed_server_factory(host="127.0.0.3")  # its own host: per-host limits do not queue it
    finished: list[str] = []

    async def one(fetcher: Fetcher, name: str, url: str) -> FetchResult | BaseException:
        try:
            return await fetcher.fetch(url)
        except FeedError as exc:
            return exc
        finally:
            finished.append(name)

    async def go() -> list[Any]:
        async with Fetcher(poll(concurrency=4)) as fetcher:
            return await asyncio.gather(
                one(fetcher, "trickle", feed_server.url("/trickle")),
                one(fetcher, "hang", hanging.url("/hang")),
                one(fetcher, "healthy", healthy.url("/feed.xml")),
            )

    trickle, hang, ok = run(go())
    assert isinstance(trickle, FetchTimeout) and "deadline" in str(trickle)
    assert isinstance(hang, FetchTimeout)
    assert isinstance(ok, FetchResult) and ok.body == small_rss("healthy")
    assert finished[0] == "healthy"  # the slow host did not hold up the other one
    assert feed_server.count("/trickle") == 1 and hanging.count("/hang") == 1


def test_connection_refused_is_a_clear_feed_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(FeedError, match=f"cannot connect to 127.0.0.1:{port}"):
        run(fetch_one(f"http://127.0.0.1:{port}/feed.xml"))


# --- politeness ---


def test_one_request_at_a_time_per_host(
    feed_server: FeedServer, feed_server_factory: Callable[..., FeedServer]
) -> None:
    other = feed_server_factory(host="127.0.0.2")
    for i in range(8):
        feed_server.route(f"/f{i}.xml", small_rss(str(i)), delay=0.05)
        other.route(f"/f{i}.xml", small_rss(str(i)), delay=0.05)

    async def go() -> list[FetchResult]:
        async with Fetcher(poll(concurrency=8)) as fetcher:
            urls = [s.url(f"/f{i}.xml") for i in range(8) for s in (feed_server, other)]
            return await asyncio.gather(*(fetcher.fetch(u) for u in urls))

    results = run(go())
    assert all(r.status == 200 for r in results)
    assert feed_server.max_concurrent == 1 and other.max_concurrent == 1
    assert len(feed_server.requests) == 8 and len(other.requests) == 8


def test_requests_to_one_host_are_spaced(feed_server: FeedServer) -> None:
    for i in range(4):
        feed_server.route(f"/f{i}.xml", small_rss(str(i)))

    async def go() -> None:
        async with Fetcher(poll(per_host_spacing_s=0.2, concurrency=8)) as fetcher:
            await asyncio.gather(*(fetcher.fetch(feed_server.url(f"/f{i}.xml")) for i in range(4)))

    run(go())
    starts = sorted(r.time for r in feed_server.requests)
    assert len(starts) == 4
    assert all(b - a >= 0.18 for a, b in itertools.pairwise(starts)), starts


def test_fetch_outside_the_context_manager_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        run(Fetcher(LOOPBACK).fetch("http://127.0.0.1:1/"))

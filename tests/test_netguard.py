"""SSRF guard: schemes, and every resolved address (reference style-and-reliability 2.1).

Literal addresses in odd spellings go through the real `getaddrinfo` (no network is needed for
them); only names that would need DNS use a stub resolver.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from monitor.errors import BlockedAddress, FeedError
from monitor.ingest import netguard


def guard(url: str, allow_private: bool = False, resolver: netguard.Resolver | None = None) -> list[str]:
    """What the fetcher does before connecting: the scheme rule, then every resolved address."""
    netguard.check_url(url, allow_private)
    parts = urlsplit(url)
    return netguard.resolve_and_check(parts.hostname or "", parts.port or 80, allow_private, resolver)


PUBLIC = {"example.org": ["93.184.215.14"], "feeds.example": ["151.101.1.67"]}


def stub(mapping: dict[str, list[str]]) -> netguard.Resolver:
    def resolve(host: str, port: int) -> list[str]:
        if host in mapping:
            return mapping[host]
        return netguard.system_resolver(host, port)

    return resolve


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://localhost/", "127.0.0.1"),
        ("http://LOCALHOST/", "127.0.0.1"),
        ("http://localhost./", "127.0.0.1"),
        ("http://127.1.2.3/", "127.1.2.3"),
        ("http://[::1]/", "::1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://0x7f.0.0.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),
        ("http://169.254.169.254./", "169.254.169.254"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://[64:ff9b::a9fe:a9fe]/", "169.254.169.254"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("http://10.1.2.3/", "10.1.2.3"),
        ("http://192.168.0.1:8080/feed", "192.168.0.1"),
        ("http://[fe80::1]/", "fe80::1"),
        ("http://224.0.0.1/", "224.0.0.1"),
    ],
)
def test_private_addresses_are_blocked_with_a_reason_naming_the_address(url: str, named: str) -> None:
    with pytest.raises(BlockedAddress) as exc:
        guard(url)
    message = str(exc.value)
    assert message.startswith("blocked: private address")
    assert named in message
    assert "--allow-private" in message


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("file:///etc/passwd", "file:"),
        ("gopher://x/", "gopher:"),
        ("feed:http://x", "feed:"),
        ("data:text/xml,<rss/>", "data:"),
        ("javascript:alert(1)", "javascript:"),
        ("ftp://example.org/feed.xml", "ftp:"),
        ("//example.org/feed.xml", "no scheme"),
        ("http:///feed.xml", "no host"),
    ],
)
def test_other_schemes_are_blocked_even_when_private_addresses_are_allowed(url: str, named: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(BlockedAddress, match="blocked:") as exc:
            netguard.check_url(url, allow_private)
        assert named in str(exc.value)


def test_public_addresses_pass() -> None:
    assert guard("https://example.org/", resolver=stub(PUBLIC)) == ["93.184.215.14"]
    for ip in ("8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"):
        netguard.check_address(ip)  # IPv4-mapped and NAT64 forms of a public address are public


def test_a_name_resolving_to_loopback_is_blocked() -> None:
    rebind = stub({"feeds.example": ["127.0.0.1"]})
    with pytest.raises(BlockedAddress, match=r"127\.0\.0\.1"):
        guard("http://feeds.example/rss", resolver=rebind)


def test_one_private_address_among_public_ones_blocks_the_host() -> None:
    mixed = stub({"feeds.example": ["151.101.1.67", "10.0.0.5"]})
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.5"):
        guard("http://feeds.example/rss", resolver=mixed)


def test_allow_private_lets_loopback_through() -> None:
    assert guard("http://127.0.0.1/", allow_private=True) == ["127.0.0.1"]
    assert guard("http://0x7f.0.0.1/", allow_private=True) == ["127.0.0.1"]


def test_allowed_addresses_exempt_exactly_those_addresses() -> None:
    allowed = frozenset({"127.0.0.2"})
    assert netguard.check_addresses(["127.0.0.2"], allowed=allowed) == ["127.0.0.2"]
    with pytest.raises(BlockedAddress, match=r"127\.0\.0\.1"):
        netguard.check_addresses(["127.0.0.1"], allowed=allowed)


def test_a_resolver_answer_that_is_not_an_address_is_blocked() -> None:
    with pytest.raises(BlockedAddress, match="not an IP address"):
        netguard.check_addresses(["feeds.example"])
    with pytest.raises(BlockedAddress, match="no address"):
        netguard.check_addresses([])


def test_an_unresolvable_name_is_a_feed_error_not_a_crash() -> None:
    def nxdomain(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(FeedError, match=r"cannot resolve host 'feeds\.example'"):
        guard("http://feeds.example/", resolver=nxdomain)

"""SSRF guard: which URLs and addresses the fetcher may connect to.

Feed URLs, and above all the redirects and links inside feeds, can point at the machine running
the monitor or its network (loopback, RFC 1918, cloud metadata at 169.254.169.254). By default we
connect only to globally routable addresses. Checks are made on the *resolved* addresses, the
ones actually connected to: `0177.0.0.1`, `0x7f.0.0.1`, `2130706433` and `127.1` are all
127.0.0.1 to `getaddrinfo`, and a hostname can resolve anywhere, so parsing the literal alone
is never enough (reference: style-and-reliability 2.1).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from monitor.errors import BlockedAddress, FeedError
from monitor.ingest.urls import ALLOWED_SCHEMES  # one definition of the schemes we ever follow

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
CGNAT = ipaddress.IPv4Network("100.64.0.0/10")  # not is_private, not is_global
ALLOW_HINT = "set --allow-private to allow"

Resolver = Callable[[str, int], list[str]]


def check_url(url: str, allow_private: bool = False) -> None:
    """Reject URLs we never fetch: other schemes than http(s), and URLs without a host.

    Addresses are checked after resolution (`check_address`); `allow_private` does not lift the
    scheme rule (no `file:` or `gopher:` even in tests).
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise BlockedAddress(f"blocked: invalid URL {url!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}:" if scheme else "no scheme"
        raise BlockedAddress(f"blocked: scheme {shown} is not allowed in {url!r} (only http and https)")
    if not host or not normalise_host(host):
        raise BlockedAddress(f"blocked: no host in {url!r}")


def normalise_host(host: str) -> str:
    """Lower-case, without brackets or trailing dots (`169.254.169.254.` is 169.254.169.254)."""
    return host.strip().strip("[]").rstrip(".").lower()


def unwrap(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::/96) address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def classify(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why this address is not public ("loopback", "private", ...), or None for a global address."""
    candidate = unwrap(ip)  # a mapped or NAT64 address is judged by the IPv4 address it reaches
    if candidate.is_global and not candidate.is_multicast:
        return None
    if candidate.is_loopback:
        return "loopback"
    if candidate.is_unspecified:
        return "unspecified"
    if candidate.is_link_local:
        return "link-local"
    if candidate.is_multicast:
        return "multicast"
    if candidate in CGNAT:
        return "shared (CGNAT)"
    if candidate.is_private:
        return "private"
    return "reserved"


def check_address(ip: str, allow_private: bool = False) -> None:
    """Raise BlockedAddress unless `ip` (a resolved address) is global or `allow_private` is set."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        raise BlockedAddress(f"blocked: {ip!r} is not an IP address") from None
    if allow_private:
        return
    reason = classify(addr)
    if reason is None:
        return
    shown = str(addr)
    inner = unwrap(addr)
    if inner is not addr:
        shown += f" (= {inner})"
    # "private address" is the family users think of; the precise class follows in the hint
    raise BlockedAddress(f"blocked: private address {shown} ({reason}; {ALLOW_HINT})")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `getaddrinfo` gives for host:port (TCP), in its order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]), None)
    return list(seen)


def check_addresses(
    addresses: Iterable[str], allow_private: bool = False, allowed: frozenset[str] = frozenset()
) -> list[str]:
    """Check every resolved address (any blocked one blocks the host); return them in order.

    `allowed` lists addresses an operator explicitly trusts (an internal feed host), checked
    after normalisation, so it cannot be reached by spelling the address differently.
    """
    result = list(addresses)
    if not result:
        raise BlockedAddress("blocked: the host resolved to no address")
    for ip in result:
        if ip.split("%", 1)[0] in allowed:
            continue
        check_address(ip, allow_private)
    return result


def resolve_and_check(
    host: str,
    port: int,
    allow_private: bool = False,
    resolver: Resolver | None = None,
    allowed: frozenset[str] = frozenset(),
) -> list[str]:
    """Resolve `host` and check every address; return the addresses (connect only to these)."""
    name = normalise_host(host)
    try:
        addresses = (resolver or system_resolver)(name, port)
    except (OSError, UnicodeError) as exc:
        raise FeedError(f"cannot resolve host {name!r}: {exc}") from None
    return check_addresses(addresses, allow_private, allowed)

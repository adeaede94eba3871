"""Fixtures: `feed_server`, a real loopback HTTP server (tests/feedserver.py), and `feed_server_factory`
for tests that need more than one (e.g. a redirect from one host to another)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.feedserver import FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A FeedServer on 127.0.0.1:<free port>, closed (all threads joined) after the test."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def feed_server_factory() -> Iterator[Callable[..., FeedServer]]:
    """Start extra servers: `make(host="127.0.0.2")`; all are closed after the test."""
    servers: list[FeedServer] = []

    def make(host: str = "127.0.0.1") -> FeedServer:
        server = FeedServer(host=host)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()

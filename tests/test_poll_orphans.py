"""A `monitor poll` killed with SIGKILL or SIGTERM leaves no process behind: the forkserver and the
parse workers die with it. Real processes, a real loopback feed server, /proc for the process tree."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.ingest.workers import ParseWorkers
from tests.feedserver import FeedServer
from tests.test_poll import item, rss
from tests.test_poll_processes import env, monitor_cmd

FEEDS = ParseWorkers.PROCESSES_FROM + 2  # enough feeds for the poll to parse in worker processes
GENEROUS_S = 120.0  # how long we wait for anything: a deadline on a loaded machine, never a timing claim

pytestmark = pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or not Path("/proc/self/stat").exists(),
    reason="worker processes are used only with 2+ cores; the process tree is read from Linux /proc",
)


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of `pid`, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), fields[0], fields[19]


def descendants(root: int) -> dict[int, str]:
    """Every living descendant of `root`: pid -> start time (to tell a reused pid apart)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(int(entry))) is not None:
            children.setdefault(info[0], []).append(int(entry))
            starts[int(entry)] = info[2]
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def alive(pid: int, start: str) -> bool:
    info = _stat(pid)
    return info is not None and info[2] == start and info[1] not in ("Z", "X")


def wait_for(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + GENEROUS_S
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def start_poll_with_workers(
    feed_server: FeedServer, make_registry: Callable[..., Path], db: Path
) -> subprocess.Popen:
    """A poll over FEEDS feeds on one host (fetched one after another): the last answers only after
    10 minutes, so the poll is still running when the others have been parsed in worker processes."""
    outlets = []
    for n in range(FEEDS):
        feed_server.route(
            f"/f{n}.xml", rss([item(n * 100 + k) for k in range(3)]), delay=600 if n == FEEDS - 1 else 0
        )
        outlets.append({"id": f"o{n}", "feeds": [(feed_server.url(f"/f{n}.xml"), "")]})
    registry = make_registry(outlets)
    e = env()
    e["MONITOR_POLL_DEADLINE_S"] = "900"
    e["MONITOR_POLL_READ_TIMEOUT_S"] = "900"
    return subprocess.Popen(
        monitor_cmd(db, registry, "poll", "--allow-private"),
        env=e,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_killed_poll_leaves_no_worker_processes(
    feed_server: FeedServer, make_registry: Callable[..., Path], tmp_path: Path, sig: signal.Signals
) -> None:
    proc = start_poll_with_workers(feed_server, make_registry, tmp_path / "orphans.db")
    try:
        # the forkserver and at least one parse worker under it
        assert wait_for(lambda: len(descendants(proc.pid)) >= 2), "the poll never started worker processes"
        assert wait_for(lambda: feed_server.count(f"/f{FEEDS - 1}.xml") == 1)
        tree = descendants(proc.pid)
        os.kill(proc.pid, sig)
        proc.wait(timeout=GENEROUS_S)
        survivors = lambda: {pid for pid, start in tree.items() if alive(pid, start)}  # noqa: E731
        assert wait_for(lambda: not survivors()), f"orphaned after {sig.name}: {sorted(survivors())}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

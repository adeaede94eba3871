"""Where a poll run does its blocking work: one thread for every database call, and worker
processes (or a thread) for parsing feed bodies."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing.connection import Connection
from typing import Any, TypeVar

_T = TypeVar("_T")
PR_SET_PDEATHSIG = 1  # from linux/prctl.h


class DbWorker:
    """Runs every database call of a poll run on one dedicated thread, one at a time.

    The event loop thread then only waits on the network: while a feed's articles are written
    (SQLite releases the GIL while it works) the other feeds' requests keep flowing, and the one
    connection is never used by two threads at once.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-db")

    async def __call__(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def _die_with_parent(parent_pid: int) -> None:
    """Linux: have the kernel SIGKILL this process when the one that started it dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return  # no prctl: the lifeline watcher still ends the worker
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _watch_lifeline(lifeline: Connection) -> None:
    """Block on the read end of the parent's pipe: when the parent exits, however it dies, the
    kernel closes the only write end, the read ends with EOF, and this process exits."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    os._exit(1)


def _worker_init(parent_pid: int, lifeline: Connection) -> None:
    """Runs first in every parse worker: it must never outlive the poll process that started it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent(parent_pid)
    threading.Thread(target=_watch_lifeline, args=(lifeline,), name="monitor-lifeline", daemon=True).start()


class ParseWorkers:
    """Where feed bodies are parsed: worker processes for a big run (feedparser is pure Python, so
    threads would share one core), a thread for a small one (no process start-up to pay).

    The workers are spawned by this process itself (no forkserver to leave behind) and die with it:
    each watches the read end of a pipe whose only write end is ours, so when this process exits,
    even by kill -9, the worker sees EOF and exits; on Linux PR_SET_PDEATHSIG kills it as well. A
    worker that dies mid-parse (killed, out of memory) fails the feeds it was parsing, not the run:
    the next call gets a fresh pool.
    """

    PROCESSES_FROM = 24  # feeds in a run from which worker processes pay for their start-up

    def __init__(self, feeds: int) -> None:
        cores = os.cpu_count() or 1
        self._processes = min(cores, 4) if feeds >= self.PROCESSES_FROM and cores > 1 else 0
        self._lifeline: tuple[Connection, Connection] | None = None  # (read end, write end)
        self._pool = self._new_pool() if self._processes else None

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")  # never fork this threaded process
        self._close_lifeline()
        # Workers start lazily, each given a copy of the read end, so we keep ours open until
        # close(); only write ends decide EOF, and no worker ever holds the write end.
        self._lifeline = context.Pipe(duplex=False)
        return ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=context,
            initializer=_worker_init,
            initargs=(os.getpid(), self._lifeline[0]),
        )

    def _close_lifeline(self) -> None:
        if self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None

    async def __call__(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        pool = self._pool
        if pool is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args, **kwargs))
        except BrokenProcessPool:
            if self._pool is pool:  # the first caller to notice replaces it; the exception is the feed's
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._close_lifeline()

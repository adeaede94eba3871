"""Where a poll run does its blocking work: one thread for every database call, and worker
processes (or a thread) for parsing feed bodies."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

_T = TypeVar("_T")


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


class ParseWorkers:
    """Where feed bodies are parsed: worker processes for a big run (feedparser is pure Python, so
    threads would share one core), a thread for a small one (no process start-up to pay)."""

    PROCESSES_FROM = 24  # feeds in a run from which worker processes pay for their start-up

    def __init__(self, feeds: int) -> None:
        cores = os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        if feeds >= self.PROCESSES_FROM and cores > 1:
            methods = multiprocessing.get_all_start_methods()  # never fork this threaded process
            method = "forkserver" if "forkserver" in methods else "spawn"
            self._pool = ProcessPoolExecutor(max_workers=min(cores, 4), mp_context=multiprocessing.get_context(method))

    async def __call__(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._pool is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args, **kwargs))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

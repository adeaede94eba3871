"""A bounded pool for translating search queries: a few worker threads, a small queue, a time budget.

A search translates its words before it runs. Under a burst of novel searches (the web page), one
engine call per request would start one apertium process per request (each a pipeline of several
programs) and starve everything else, `/healthz` included. Here a process holds one pool per engine:
at most `workers` engine calls run at once, at most `queue_size` more wait, and a caller waits at
most its budget. A full queue or a spent budget raises `TranslationBusy` at once: the caller then
searches the words as typed and says so. A request that gave up is dropped from the queue if it has
not started; one already running finishes (its result still fills the caller's cache).

    pool = shared_pool("apertium", lambda: get_translator(settings))
    texts = pool.translate(["cártel"], "es", "en", budget_s=3.0)
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from monitor.errors import MonitorError

WORKERS = 2  # engine calls running at once (apertium: processes at once) per process
QUEUE_SIZE = 8  # calls waiting for a worker; a burst beyond this is searched untranslated at once
POLL_S = 0.01  # how often a caller with a budget looks at its call


def _done_within(future: Future[list[str]], budget_s: float) -> bool:
    """Whether `future` is done within `budget_s` seconds. Checked with short relative sleeps, not
    a timed wait on a lock: a timed wait's absolute deadline misbehaves under a shifted clock
    (libfaketime), and a request must never wait longer than its budget."""
    end = time.monotonic() + max(0.0, budget_s)
    while not future.done():
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(POLL_S, left))
    return True


class TranslationBusy(MonitorError):
    """The query could not be translated within its budget (every worker busy, or the queue full)."""


@dataclass
class _Job:
    future: Future[list[str]]
    texts: list[str]
    source: str
    target: str


class TranslationPool:
    """`workers` threads calling one translator, fed by a queue of at most `queue_size` jobs."""

    def __init__(self, translator: Any, workers: int = WORKERS, queue_size: int = QUEUE_SIZE) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("a translation pool needs at least one worker and a queue of at least one")
        self.translator = translator
        self.workers = workers
        self._jobs: queue.Queue[_Job] = queue.Queue(maxsize=queue_size)
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._busy = 0  # jobs being translated right now

    @property
    def engine(self) -> str:
        return str(getattr(self.translator, "engine", ""))

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"query-translation-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if not job.future.set_running_or_notify_cancel():  # the caller gave up before we started
                continue
            with self._lock:
                self._busy += 1
            try:
                job.future.set_result(self.translator.translate(job.texts, job.source, job.target))
            except BaseException as exc:  # handed to the caller, never kills the worker
                job.future.set_exception(exc)
            finally:
                with self._lock:
                    self._busy -= 1

    def translate(self, texts: list[str], source: str, target: str, budget_s: float | None = None) -> list[str]:
        """The engine's translations of `texts`, waiting at most `budget_s` seconds (None: as long as it
        takes). Raises TranslationBusy when the budget is spent or the queue is full; engine errors
        are raised as the engine raised them."""
        self._start()
        job = _Job(Future(), list(texts), source, target)
        self._enqueue(job, budget_s)
        if budget_s is not None and not _done_within(job.future, budget_s):
            job.future.cancel()  # dropped if still queued; a running call finishes on its own
            raise TranslationBusy(f"query translation took longer than {budget_s:g}s")
        return job.future.result()

    def _enqueue(self, job: _Job, budget_s: float | None) -> None:
        if budget_s is None:
            self._jobs.put(job)
            return
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            raise TranslationBusy(f"{self._queue_size} query translations already waiting") from None

    def idle(self) -> bool:
        """No call running or waiting."""
        with self._lock:
            return self._busy == 0 and self._jobs.qsize() == 0

    def stats(self) -> dict[str, int]:
        """Workers started, calls running and calls waiting (for tests and diagnostics)."""
        with self._lock:
            return {"workers": len(self._threads), "running": self._busy, "queued": self._jobs.qsize()}


_POOLS: dict[str, TranslationPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(key: str, make_translator: Callable[[], Any]) -> TranslationPool:
    """The process's one pool for `key` (an engine name); the translator is built once, under a lock,
    so a burst of first searches builds one engine, not one per request."""
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = TranslationPool(make_translator())
        return pool


def shared_pools() -> list[TranslationPool]:
    """The pools this process made so far."""
    with _POOLS_LOCK:
        return list(_POOLS.values())


def reset_shared_pools() -> None:
    """Forget the shared pools (their idle daemon threads stay parked); for tests that change engines."""
    with _POOLS_LOCK:
        _POOLS.clear()


def monotonic_deadline(budget_s: float | None) -> Callable[[], float | None]:
    """A function giving the seconds left of `budget_s` from now (None: no budget)."""
    if budget_s is None:
        return lambda: None
    end = time.monotonic() + budget_s
    return lambda: max(0.0, end - time.monotonic())

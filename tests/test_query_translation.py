"""Query translation under load: the process-wide cache (bounded, thread-safe, never evicting what a
call is about to read) and the shared bounded pool (at most `workers` apertium processes, a small
queue, a time budget after which the search runs as typed and says so).

The real apertium engine runs everywhere. To hold a translation "busy" for as long as a test needs,
without any timing assumption, `gated_apertium` puts an `apertium` wrapper first on PATH: it marks
that it started, waits until the test opens a gate, then runs the real apertium."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from monitor.config.settings import Settings
from monitor.errors import TranslationError
from monitor.search import engine as search_mod
from monitor.search.engine import BUSY_NOTE, search
from monitor.search.query import parse_query
from monitor.store.db import open_db, to_jsonable
from monitor.translation.apertium import ApertiumTranslator
from monitor.translation.pool import (
    WORKERS,
    TranslationBusy,
    TranslationPool,
    reset_shared_pools,
    shared_pools,
)
from tests.fixtures_search import search_db_path  # noqa: F401 - fixture
from tests.monitor_serve import monitor_serve

WAIT_S = 120.0  # generous limit on waiting for a condition; never a measure of speed


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def real_apertium() -> str:
    path = shutil.which("apertium")
    if not path:
        pytest.fail("apertium is a required test dependency (Debian packages apertium, apertium-eng-spa)")
    return path


class Gate:
    """An `apertium` on PATH that waits for `open()` before running the real one."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.dir = root / "gate"
        self.bin.mkdir()
        self.dir.mkdir()
        script = self.bin / "apertium"
        script.write_text(
            "#!/bin/sh\n"
            f'echo "$PPID $*" > "{self.dir}/started.$$"\n'
            f'while [ ! -e "{self.dir}/open" ]; do sleep 0.02; done\n'
            f'exec "{real_apertium()}" "$@"\n',
            encoding="utf-8",
        )
        script.chmod(0o755)
        self.path = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"

    def open(self) -> None:
        (self.dir / "open").touch()

    def started(self) -> int:
        """How many apertium processes were started so far."""
        return len(list(self.dir.glob("started.*")))

    def parents(self) -> set[int]:
        """The process ids that started them."""
        return {int(p.read_text().split()[0]) for p in self.dir.glob("started.*")}

    def running(self) -> int:
        """How many gated apertium processes are alive right now (from /proc). The gate's shell forks a
        `sleep` while it waits, and for an instant that child still shows the gate's command line: a process
        whose parent is itself gated is such a child, not another apertium."""
        gated: dict[int, int] = {}  # pid -> parent pid
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
                status = (proc / "status").read_text()
            except OSError:
                continue
            if str(self.bin / "apertium").encode() in cmdline:
                ppid = re.search(r"^PPid:\s*(\d+)", status, re.M)
                gated[int(proc.name)] = int(ppid.group(1)) if ppid else 0
        return sum(1 for parent in gated.values() if parent not in gated)


@pytest.fixture
def fresh_pools() -> Iterator[None]:
    """Each test starts with no shared pool and an empty cache (both are per process); a test's
    pooled calls finish before the next test (which may put another apertium on PATH) starts."""
    reset_shared_pools()
    search_mod._TRANSLATION_CACHE.clear()
    yield
    wait_for(lambda: all(pool.idle() for pool in shared_pools()), "the shared pools to be idle")
    reset_shared_pools()
    search_mod._TRANSLATION_CACHE.clear()


@pytest.fixture
def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_pools: None) -> Iterator[Gate]:
    g = Gate(tmp_path)
    monkeypatch.setenv("PATH", g.path)
    yield g
    g.open()  # never leave a wrapper waiting
    wait_for(lambda: all(pool.idle() for pool in shared_pools()), "the shared pools to be idle")
    wait_for(lambda: g.running() == 0, "the gated apertium processes to finish")


def apertium_settings(db: Path) -> Settings:
    real_apertium()
    return Settings(db=str(db)).replace(translation__engine="apertium")


# --------------------------------------------------------------------------- the cache


def test_more_than_the_cache_size_in_one_call_returns_every_translation(fresh_pools: None) -> None:
    """A call translating more new texts than the cache holds used to evict its own first results,
    then read them: KeyError (a 500 on the web page)."""
    pool = TranslationPool(ApertiumTranslator(), workers=1)
    words = [f"casa{n}" for n in range(search_mod._CACHE_SIZE + 88)] + ["casa"]
    out = search_mod._translate_texts(pool, words, "es", "en", None)
    assert len(out) == len(words)
    assert out[-1].lower() == "house"
    assert len(search_mod._TRANSLATION_CACHE) == search_mod._CACHE_SIZE


def test_a_full_cache_keeps_serving_queries_mixing_old_and_new_terms(search_db_path: Path, fresh_pools: None) -> None:  # noqa: F811
    """After 512 cached texts, a query whose terms are the oldest cached one and a new one used to
    evict the old one while inserting the new one and then read it: KeyError after 512 queries."""
    settings = apertium_settings(search_db_path)
    db = open_db(search_db_path, readonly=True)
    try:
        first = search(db, settings, parse_query("cártel OR tráfico"))  # cached first: the oldest entries
        assert not first.translation_busy
        pool = search_mod._get_pool(settings)[0]
        filler = [f"palabra{n}" for n in range(search_mod._CACHE_SIZE)]
        for start in range(0, len(filler), 64):  # fill the cache with 512 newer texts, as 8 calls
            search_mod._translate_texts(pool, filler[start : start + 64], "es", "en", None)
        assert len(search_mod._TRANSLATION_CACHE) == search_mod._CACHE_SIZE
        result = search(db, settings, parse_query("cártel OR estrategia"))
    finally:
        db.close()
    assert result.translation_busy is False
    assert any("cartel" in text.lower() for text in result.translated_query.values()), result.translated_query
    assert 5 in [h.id for h in result.hits]  # "El cártel de Sinaloa y la guerra contra el narco"


class _Upper:
    """A deterministic in-process engine (upper-cases), so the threads race on the cache, not on apertium."""

    engine = "upper"
    rough = False

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        return [t.upper() for t in texts]


def test_the_cache_is_safe_across_threads(fresh_pools: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_mod, "_TRANSLATION_CACHE", search_mod._TranslationCache(16))
    pool = TranslationPool(_Upper(), workers=4, queue_size=64)
    vocabulary = [f"w{n}" for n in range(40)]
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        try:
            for i in range(300):
                texts = [vocabulary[(seed * 7 + i * k) % len(vocabulary)] for k in (1, 3, 5)]
                assert search_mod._translate_texts(pool, texts, "es", "en", None) == [t.upper() for t in texts]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(search_mod._TRANSLATION_CACHE) <= 16


# --------------------------------------------------------------------------- the pool


def test_pool_bounds_engine_processes_and_refuses_beyond_its_queue(gate: Gate) -> None:
    pool = TranslationPool(ApertiumTranslator(), workers=2, queue_size=3)
    results: dict[int, list[str] | BaseException] = {}

    def submit(n: int) -> threading.Thread:
        def run() -> None:
            try:
                results[n] = pool.translate([f"perro {n}"], "es", "en", budget_s=WAIT_S * 2)
            except BaseException as exc:
                results[n] = exc

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    threads = [submit(0), submit(1)]
    wait_for(lambda: pool.stats()["running"] == 2, "both workers to be busy")
    threads += [submit(n) for n in (2, 3, 4)]
    wait_for(lambda: pool.stats()["queued"] == 3, "three queued jobs")
    with pytest.raises(TranslationBusy, match="already waiting"):  # the queue is full: refused at once
        pool.translate(["gato"], "es", "en", budget_s=WAIT_S)
    # a busy worker may not have started its process yet: wait for both, then none more may come
    wait_for(lambda: gate.started() == 2, "both workers' apertium processes")
    assert gate.started() == 2 and gate.running() == 2  # one apertium per worker, however many wait
    gate.open()
    for t in threads:
        t.join()
    assert all(isinstance(results[n], list) for n in range(5)), results
    assert [str(results[n][0]).lower() for n in range(5)] == [f"dog {n}" for n in range(5)]  # type: ignore[index]


def test_a_spent_budget_is_busy_and_its_queued_job_never_runs(gate: Gate) -> None:
    pool = TranslationPool(ApertiumTranslator(), workers=1, queue_size=2)
    first: list[list[str]] = []
    holder = threading.Thread(target=lambda: first.append(pool.translate(["perro"], "es", "en")))
    holder.start()
    wait_for(lambda: pool.stats()["running"] == 1, "the worker to be busy")
    with pytest.raises(TranslationBusy, match="longer than"):
        pool.translate(["gato"], "es", "en", budget_s=0.2)  # queued behind the gated call; gives up
    gate.open()
    holder.join()
    assert first[0][0].lower() == "dog"
    started = gate.started()
    assert pool.translate(["casa"], "es", "en")[0].lower() == "house"  # runs after the dropped job's turn
    assert gate.started() == started + 1  # only "casa" started a process: "gato" was dropped unrun


def test_an_engine_error_reaches_its_caller_and_the_worker_goes_on(fresh_pools: None) -> None:
    real_apertium()
    pool = TranslationPool(ApertiumTranslator(), workers=1)
    with pytest.raises(TranslationError, match="no fr->de mode"):
        pool.translate(["bonjour"], "fr", "de")
    assert pool.translate(["casa"], "es", "en")[0].lower() == "house"


# --------------------------------------------------------------------------- search and the web page


def test_search_runs_untranslated_and_says_so_when_translation_is_busy(search_db_path: Path, gate: Gate) -> None:  # noqa: F811
    settings = apertium_settings(search_db_path)
    db = open_db(search_db_path, readonly=True)
    try:
        result = search(db, settings, parse_query("cártel"), translation_budget_s=0.2)
        wait_for(lambda: gate.started() >= 1, "the engine to be asked")  # and held at the gate (the search gave up first)
    finally:
        db.close()
    assert result.translation_busy is True
    assert BUSY_NOTE in result.notes
    assert result.translated_query == {}
    assert 5 in [h.id for h in result.hits]  # the words as typed still find "El cártel de Sinaloa ..."
    assert to_jsonable(result)["translation_busy"] is True  # `monitor search --json` carries the flag


def test_fifty_concurrent_novel_searches_keep_apertium_bounded_and_the_server_responsive(
    search_db_path: Path,  # noqa: F811
    gate: Gate,
    tmp_path: Path,
) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text('[translation]\nengine = "apertium"\n', encoding="utf-8")
    args = ["--config", str(config), "--db", str(search_db_path)]
    with monitor_serve(args, tmp_path, env={"PATH": gate.path}) as served:

        def one(n: int) -> httpx.Response:
            return httpx.get(served.url + "/search", params={"q": f"palabranueva{n} frontera"}, timeout=WAIT_S)

        with ThreadPoolExecutor(max_workers=50) as ex:
            futures = [ex.submit(one, n) for n in range(50)]
            # while every translation is held at the gate, the page still answers its health check
            health = httpx.get(served.url + "/healthz", timeout=WAIT_S)
            pages = [f.result() for f in futures]
        assert health.status_code == 200 and health.json()["ok"] is True
        assert [p.status_code for p in pages] == [200] * 50
        assert all("translation was busy" in p.text for p in pages)  # none could be translated: all say so
        wait_for(lambda: gate.started() >= 1, "an apertium process to start")
        assert gate.started() <= WORKERS and gate.running() <= WORKERS
        assert gate.parents() == {served.process.pid}  # counted: the server's own apertium processes
        assert httpx.get(served.url + "/healthz", timeout=WAIT_S).status_code == 200

        gate.open()  # the engine is free again: a new search is translated, without the notice

        def translated() -> bool:
            page = httpx.get(served.url + "/search", params={"q": "estrategia"}, timeout=WAIT_S)
            return page.status_code == 200 and "translation was busy" not in page.text

        wait_for(translated, "a search translated after the burst")
    log = served.log.read_text(errors="replace")
    assert "Traceback" not in log and "KeyError" not in log, log

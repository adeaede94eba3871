"""Argos models from the package index: what a first run downloads so that it translates.

`install_pairs(settings, pairs)` fetches the index JSON at `[translation] index_url` (a list of
packages: `from_code`, `to_code`, `package_version`, `links`, optionally `sha256`/`checksum` and
`size`), picks the newest package per language pair, downloads it and installs it:

- through the feed fetcher (`monitor.ingest.fetch.Fetcher`): the SSRF guard on every hop and every
  resolved address, the same `[poll] allow_private` / `--allow-private` rule as feeds, connect
  and read timeouts, redirects by hand; plus a total deadline per package
  (`translation.download_timeout_s`) and a size limit (`translation.max_package_mb`), checked on
  the declared length and on every chunk written;
- streamed to a `.download-*` file beside the packages, its SHA-256 checked when the index gives one,
  then installed by `packages.install_file()` (extracted into a staging folder and renamed into
  place): a killed download or a bad file leaves no package, only a temporary file the next
  attempt removes; one process installs at a time (a lock file);
- with a progress bar (rich on a terminal, plain lines otherwise) through the stage's `progress`.

The translate stage calls `install_missing()` when a pair it needs has no installed package and
`translation.auto_install` is on; failing or offline, it says so in one line and the run goes on with
apertium or untranslated (and it does not try again in this process for an hour: a watcher offline
does not retry every tick). `monitor models install` without `--from` calls `install_pairs()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlite_utils

from monitor.config.settings import Settings
from monitor.errors import FeedError, MonitorError, ResponseTooLarge, TranslationError
from monitor.ingest.fetch import Fetcher, Hop
from monitor.models import Progress, note, track
from monitor.translation import packages

PARTIAL_PREFIX = ".download-"
LOCK_NAME = ".install.lock"
RETRY_AFTER_FAILURE_S = 3600.0  # a process that failed to install does not try again before this
MAX_INDEX_BYTES = 8 * 1024 * 1024  # the real index is ~100 KB
OFFLINE_HINT = "offline: copy the .argosmodel files over and run `monitor models install --from FILE`"

_failed_at: dict[str, float] = {}  # index_url -> monotonic time of this process's last failed attempt


@dataclass(frozen=True)
class IndexEntry:
    """One translation package the index offers."""

    code: str
    from_code: str
    to_code: str
    version: str
    links: tuple[str, ...]
    sha256: str | None = None  # hex digest, when the index gives one
    size: int | None = None  # bytes, when the index gives it

    @property
    def name(self) -> str:
        return f"{self.code}-{self.version.replace('.', '_')}"


def _sha256_of(item: dict[str, Any]) -> str | None:
    for key in ("sha256", "checksum"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            algo, _, digest = value.strip().lower().rpartition(":")
            if algo not in ("", "sha256") or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise TranslationError(f"the index gives an unusable checksum {value!r} (only SHA-256 is supported)")
            return digest
    return None


def parse_index(body: bytes, url: str) -> list[IndexEntry]:
    """The translation packages of an index document; TranslationError when it is not one."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise TranslationError(f"the package index at {url} is not JSON ({exc})") from None
    if isinstance(data, dict):
        data = data.get("packages", data)
    if not isinstance(data, list):
        raise TranslationError(f"the package index at {url} is not a list of packages")
    entries = []
    for item in data:
        if not isinstance(item, dict) or item.get("type", "translate") != "translate":
            continue
        source, target = item.get("from_code"), item.get("to_code")
        links = item.get("links")
        if not isinstance(source, str) or not isinstance(target, str) or not isinstance(links, list):
            continue
        size = item.get("size")
        entries.append(
            IndexEntry(
                code=str(item.get("code") or f"translate-{source}_{target}"),
                from_code=source,
                to_code=target,
                version=str(item.get("package_version", "0")),
                links=tuple(str(link) for link in links if isinstance(link, str) and link.strip()),
                sha256=_sha256_of(item),
                size=size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None,
            )
        )
    return entries


def pick(entries: list[IndexEntry], source: str, target: str) -> IndexEntry | None:
    """The newest package for source->target that has a download link."""
    match = [e for e in entries if e.from_code == source and e.to_code == target and e.links]
    return max(match, key=lambda e: packages.version_key(e.version)) if match else None


# --- downloading through the feed fetcher -------------------------------------------------------


def _download_settings(settings: Settings, max_bytes: int, deadline_s: float) -> Any:
    """The feed fetcher's settings (timeouts, redirects, allow_private, user agent) with the
    download's own size limit and deadline; one request at a time."""
    return dataclasses.replace(
        settings.poll, max_body_bytes=max_bytes, deadline_s=deadline_s, concurrency=1, per_host_spacing_s=0.0
    )


class _FileFetcher(Fetcher):
    """The feed fetcher, but a 200 body is streamed into `target` (with its SHA-256 and progress)
    instead of memory. Everything else (SSRF guard per hop, redirects, statuses, timeouts,
    the deadline) is the fetcher's own."""

    def __init__(self, settings: Any, target: Path, on_bytes: Callable[[int, int | None], None], **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.target = target
        self.on_bytes = on_bytes
        self.sha256 = hashlib.sha256()
        self.written = 0

    def _client_for(self, scheme: str, host: str) -> httpx.AsyncClient:
        client = super()._client_for(scheme, host)
        client.headers["Accept"] = "*/*"
        client.headers["Accept-Encoding"] = "identity"  # a zip: written as it comes, never inflated
        return client

    async def _read(self, response: httpx.Response, url: str) -> Hop:
        if response.status_code != 200:
            return await super()._read(response, url)  # redirects and errors as for feeds
        headers = {k.lower(): v for k, v in response.headers.items()}
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FeedError(f"{url}: unexpected Content-Encoding {encoding!r} for a model package")
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length", "").strip()
        total = int(declared) if declared.isdigit() else None
        if total is not None and total > limit:
            raise ResponseTooLarge(f"{url} is {total:,} bytes, over translation.max_package_mb ({limit:,} bytes)")
        self.sha256, self.written = hashlib.sha256(), 0
        with self.target.open("wb") as out:
            async for chunk in response.aiter_raw():
                self.written += len(chunk)
                if self.written > limit:
                    raise ResponseTooLarge(f"{url} sent more than translation.max_package_mb ({limit:,} bytes)")
                out.write(chunk)
                self.sha256.update(chunk)
                self.on_bytes(self.written, total)
        return Hop(200, response.reason_phrase, headers, b"")


@dataclass
class _Options:
    settings: Settings
    progress: Progress | None
    resolver: Any = None  # tests: a stub resolver for names
    allowed_addresses: frozenset[str] = frozenset()  # tests: addresses trusted although not public

    def fetcher_args(self) -> dict[str, Any]:
        return {"resolver": self.resolver, "allowed_addresses": self.allowed_addresses}


async def _fetch_index(opts: _Options) -> list[IndexEntry]:
    url = opts.settings.translation.index_url
    deadline = opts.settings.poll.deadline_s
    async with Fetcher(_download_settings(opts.settings, MAX_INDEX_BYTES, deadline), **opts.fetcher_args()) as fetcher:
        result = await fetcher.fetch(url)
    return parse_index(result.body or b"", url)


class _Bar:
    """Download progress in kB: the bar starts at the first bytes, when the length is known."""

    def __init__(self, progress: Progress | None, stage: str, size: int | None) -> None:
        self.progress, self.stage, self.size = progress, stage, size
        self._stack = contextlib.ExitStack()
        self._advance: Any = None
        self._shown = 0

    def __call__(self, done: int, total: int | None) -> None:
        if self._advance is None:
            self._advance = self._stack.enter_context(track(self.progress, self.stage, _kb(total or self.size)))
        kb = _kb(done) or 0
        if kb > self._shown:
            size = f"/{total / 1e6:.1f}" if total else ""
            self._advance(kb - self._shown, note=f"{done / 1e6:.1f}{size} MB")
            self._shown = kb

    def close(self) -> None:
        self._stack.close()


async def _download(opts: _Options, entry: IndexEntry, target: Path) -> None:
    """The package into `target`, from the first of its links that works; checksum checked."""
    t = opts.settings.translation
    limit = t.max_package_mb * 1024 * 1024
    if entry.size is not None and entry.size > limit:
        raise TranslationError(
            f"{entry.name} is {entry.size:,} bytes, over translation.max_package_mb = {t.max_package_mb}; nothing installed"
        )
    errors: list[str] = []
    for link in entry.links:
        bar = _Bar(opts.progress, f"download {entry.name} (kB)", entry.size)
        fetcher = _FileFetcher(
            _download_settings(opts.settings, limit, t.download_timeout_s), target, bar, **opts.fetcher_args()
        )
        try:
            async with fetcher:
                await fetcher.fetch(link)
        except FeedError as exc:
            errors.append(str(exc))
            target.unlink(missing_ok=True)
            continue
        finally:
            bar.close()
        digest = fetcher.sha256.hexdigest()
        if entry.sha256 is not None and digest != entry.sha256:
            target.unlink(missing_ok=True)
            raise TranslationError(
                f"{entry.name} from {link}: checksum mismatch (SHA-256 {digest[:12]}..., the index says "
                f"{entry.sha256[:12]}...); nothing installed"
            )
        return
    raise TranslationError(f"cannot download {entry.name}: {errors[-1] if errors else 'the index gives no link'}")


def _kb(size: int | None) -> int | None:
    return None if size is None else (size + 1023) // 1024


def _check_pair(file: Path, entry: IndexEntry) -> None:
    top = packages.check_argosmodel(file)
    with zipfile.ZipFile(file) as zf:
        meta = json.loads(zf.read(f"{top}/metadata.json"))
    if (meta.get("from_code"), meta.get("to_code")) != (entry.from_code, entry.to_code):
        raise TranslationError(
            f"{entry.name}: the downloaded package is {meta.get('from_code')}->{meta.get('to_code')}, "
            f"not {entry.from_code}->{entry.to_code}; nothing installed"
        )


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """One installing process at a time; leftovers of a killed one are removed once the lock is ours."""
    home = packages.argos_home()
    home.mkdir(parents=True, exist_ok=True)
    with (home / LOCK_NAME).open("a+") as handle:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # no fcntl (Windows): no lock
            pass
        except OSError:
            raise TranslationError("another monitor process is installing translation models right now") from None
        for stale in home.iterdir():
            if stale.name.startswith((PARTIAL_PREFIX, ".installing-")):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
        yield


async def _install_all(opts: _Options, pairs: list[tuple[str, str]]) -> list[str]:
    """Every package downloaded and checked first, then all installed: one bad package installs none."""
    entries = await _fetch_index(opts)
    chosen = []
    for source, target in pairs:
        entry = pick(entries, source, target)
        if entry is None:
            raise TranslationError(f"the package index at {opts.settings.translation.index_url} has no {source}->{target} package")
        chosen.append(entry)
    files = [packages.argos_home() / f"{PARTIAL_PREFIX}{e.name}-{os.getpid()}.argosmodel" for e in chosen]
    try:
        for entry, partial in zip(chosen, files, strict=True):
            await _download(opts, entry, partial)
            _check_pair(partial, entry)
        return [packages.install_file(partial) for partial in files]
    finally:
        for partial in files:
            partial.unlink(missing_ok=True)


def install_pairs(
    settings: Settings,
    pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...] = packages.PAIRS,
    progress: Progress | None = None,
    *,
    resolver: Any = None,
    allowed_addresses: frozenset[str] = frozenset(),
) -> list[str]:
    """Download and install the newest index package of each pair; one line per package installed.

    Raises a MonitorError with a one-line message (index unreachable or blocked, no such package,
    too large, checksum mismatch, not a package); packages installed before the failure stay.
    """
    opts = _Options(settings, progress, resolver, frozenset(allowed_addresses))
    with _install_lock():
        try:
            return asyncio.run(_install_all(opts, list(pairs)))
        except FeedError as exc:
            raise TranslationError(f"cannot fetch translation models: {exc}; {OFFLINE_HINT}") from None
        except OSError as exc:
            raise TranslationError(f"cannot write translation models under {packages.argos_home()}: {exc}") from None


# --- the translate stage's hook ---------------------------------------------------------------


def missing_pairs(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """Language pairs the stored articles need that no installed package covers: from each article
    language to every registry language; with any es/en pair missing, both es<->en (the argos
    engine is chosen only when both are installed)."""
    from monitor.translation.language import registry_languages

    targets = registry_languages(db)
    sources = [r[0] for r in db.execute("SELECT DISTINCT language FROM articles WHERE language IS NOT NULL")]
    installed = packages.newest_packages()
    wanted = [(s, t) for s in sorted(sources) for t in targets if s != t and (s, t) not in installed]
    if any(p in packages.PAIRS for p in wanted):
        wanted += [p for p in packages.PAIRS if p not in installed and p not in wanted]
    return wanted


def install_missing(
    db: sqlite_utils.Database,
    settings: Settings,
    engine: str | None = None,
    progress: Progress | None = None,
    *,
    resolver: Any = None,
    allowed_addresses: frozenset[str] = frozenset(),
) -> list[str]:
    """Before the translate stage picks its engine: install what it needs from the index, when
    `translation.auto_install` is on and the engine may be argos. Never raises for a failed download:
    one line through `progress` (the run goes on with apertium or untranslated). Returns the lines
    of what was installed."""
    t = settings.translation
    if not t.auto_install or (engine or t.engine).lower() not in ("auto", "argos"):
        return []
    pairs = missing_pairs(db)
    if not pairs:
        return []
    failed = _failed_at.get(t.index_url)
    if failed is not None and time.monotonic() - failed < RETRY_AFTER_FAILURE_S:
        return []
    shown = ", ".join(f"{s}->{t_}" for s, t_ in pairs)
    note(progress, "translate", f"translate: no installed model for {shown}; downloading from {t.index_url}")
    try:
        installed = install_pairs(settings, pairs, progress, resolver=resolver, allowed_addresses=allowed_addresses)
    except MonitorError as exc:
        _failed_at[t.index_url] = time.monotonic()
        hint = "" if OFFLINE_HINT in str(exc) else f"; {OFFLINE_HINT}"
        note(progress, "translate", f"translate: models not installed: {exc}{hint}; going on without them")
        return []
    _failed_at.pop(t.index_url, None)
    for line in installed:
        note(progress, "translate", f"translate: installed {line}")
    return installed

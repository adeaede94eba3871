"""The common data model shared by the stages: registry entries, normalised articles, the report every
stage returns (`StageReport`) and the progress events a stage sends while it works (`ProgressEvent`).

A stage never prints. It takes `progress: Progress | None` (any callable taking a `ProgressEvent`;
None: nobody is watching) and reports through `track()`/`note()`; the CLI passes a rich bar or plain
lines (monitor.cli.console), the watcher a logger, a test a list's `append`:

>>> events: list[ProgressEvent] = []
>>> with track(events.append, "language", 2) as advance:
...     advance(2, note="en")
>>> [(e.kind, e.done, e.total) for e in events]
[('start', 0, 2), ('advance', 2, 2), ('done', 2, 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import ClassVar, Literal, Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True)
class FeedSpec:
    """One feed of an outlet, as the registry declares it."""

    url: str
    section: str = ""


@dataclass(frozen=True)
class Outlet:
    """One news outlet of the registry (feeds/outlets.toml)."""

    id: str
    name: str
    country: str  # ISO 3166-1 alpha-2
    language: str  # ISO 639-1
    homepage: str = ""
    timezone: str = ""  # IANA zone for naive feed times; empty: the country's main zone
    feeds: tuple[FeedSpec, ...] = ()


@dataclass(frozen=True)
class Registry:
    outlets: tuple[Outlet, ...]
    source: str  # the file it came from

    def by_id(self, outlet_id: str) -> Outlet | None:
        return next((o for o in self.outlets if o.id == outlet_id), None)

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(sorted({o.country for o in self.outlets}))

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted({o.language for o in self.outlets}))


@dataclass(frozen=True)
class ParsedEntry:
    """One feed entry, normalised, before it has an identity in the database.

    Text fields are clean text (HTML removed, entities decoded, whitespace folded); `content_html`
    is HTML cleaned with a narrow allowlist. Times are UTC ISO-8601 strings.
    """

    title: str
    summary: str
    url: str | None  # canonical (tracking parameters and fragment removed), http(s) only
    link: str | None  # as given, http(s) only
    guid: str | None
    content_html: str | None
    content_text: str | None
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    published: str | None  # None when missing, unparseable or absurd (see date_flag)
    date_flag: str | None  # None | missing | unparseable | future
    content_hash: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedFeed:
    """The result of parsing one feed body."""

    entries: tuple[ParsedEntry, ...]
    title: str = ""
    language: str = ""  # what the feed declares (often wrong)
    ttl_min: int | None = None  # RSS <ttl>
    warnings: tuple[str, ...] = ()  # bozo and sanitising notes, stored on the feed
    hostile: bool = False  # DOCTYPE/ENTITY declarations were neutralised


@dataclass(frozen=True)
class FeedJob:
    """One feed to poll, with the state the poll needs from its row."""

    feed_id: int
    url: str  # the URL fetched: the registry's, or where it permanently moved
    registry_url: str
    outlet: Outlet
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    failures: int
    moved_to: str | None
    moved_count: int
    unconditional: bool

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


ProgressKind = Literal["start", "advance", "done", "note"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a stage's work: `start` (with the total, when known), `advance` (items done so far),
    `done`, or a `note` (a one-line message, e.g. which engine translates)."""

    stage: str
    kind: ProgressKind
    done: int = 0
    total: int | None = None
    note: str = ""


Progress = Callable[[ProgressEvent], None]


class Advance(Protocol):
    def __call__(self, n: int = 1, note: str = "") -> None: ...


@contextmanager
def track(progress: Progress | None, stage: str, total: int | None) -> Iterator[Advance]:
    """Report `total` steps of `stage`'s work: a `start` event, one `advance` per call, and `done` when
    the block ends (also when it fails: a bar is never left open). No `progress`: nothing is sent."""
    count = 0

    def advance(n: int = 1, note: str = "") -> None:
        nonlocal count
        count += n
        if progress is not None:
            progress(ProgressEvent(stage, "advance", count, total, note))

    if progress is not None:
        progress(ProgressEvent(stage, "start", 0, total))
    try:
        yield advance
    finally:
        if progress is not None:
            progress(ProgressEvent(stage, "done", count, total))


def note(progress: Progress | None, stage: str, message: str) -> None:
    """A one-line message from `stage` (what a stage would otherwise print)."""
    if progress is not None:
        progress(ProgressEvent(stage, "note", note=message))


class Milestones:
    """Which `advance` events deserve a line when lines are all one has (plain logs, the watcher):
    the first step past every `fraction` of the total, and the last one."""

    def __init__(self, fraction: float = 0.1):
        self.fraction = fraction
        self._next: dict[str, int] = {}

    def due(self, event: ProgressEvent) -> bool:
        if event.kind == "start":
            self._next[event.stage] = self._step(event.total)
            return False
        if event.kind != "advance":
            return False
        step = self._step(event.total)
        upcoming = self._next.get(event.stage, step)
        if event.done < upcoming and (event.total is None or event.done < event.total):
            return False
        while upcoming <= event.done:
            upcoming += step
        self._next[event.stage] = upcoming
        return True

    def _step(self, total: int | None) -> int:
        return max(1, int((total or 10) * self.fraction))


SummaryValue = int | float | str


@dataclass(kw_only=True)
class StageReport:
    """What every pipeline stage returns. Subclasses add their own counters (dataclass fields) and say
    what `changed` counts; `summary()` is the part worth one log line, `describe()` one sentence."""

    stage: ClassVar[str] = ""
    errors: list[dict[str, str]] = field(default_factory=list)  # one per failed item (e.g. a feed)

    @property
    def changed(self) -> int:
        """Rows this run wrote or removed: 0 means the stage found nothing to do."""
        return 0

    def summary(self) -> dict[str, SummaryValue]:
        """`stage`, then every scalar field; a list counts its items, a dict becomes `key:value,...`;
        `errors` (counted) last, and only when there are some."""
        out: dict[str, SummaryValue] = {"stage": self.stage}
        for f in sorted(fields(self), key=lambda f: f.name == "errors"):
            value = getattr(self, f.name)
            if f.name == "errors" and not value:
                continue
            if isinstance(value, bool | int | float | str):
                out[f.name] = value
            elif isinstance(value, list | tuple):
                out[f.name] = len(value)
            elif isinstance(value, dict):
                out[f.name] = ",".join(f"{k}:{v}" for k, v in value.items())
        return out

    def describe(self) -> str:
        """One line for a person: the summary's numbers (subclasses say it better)."""
        parts = [f"{k}={v}" for k, v in self.summary().items() if k != "stage" and not isinstance(v, bool)]
        return ", ".join(parts[:8])


@dataclass
class PollReport(StageReport):
    stage: ClassVar[str] = "poll"
    feeds_total: int = 0
    fetched: int = 0
    not_modified: int = 0
    unchanged: int = 0  # 200 with the same body hash
    skipped: int = 0  # not due yet (or host rate-limited)
    failed: int = 0
    gone: int = 0
    new_articles: int = 0
    updated_articles: int = 0

    @property
    def changed(self) -> int:
        return self.new_articles + self.updated_articles

    def describe(self) -> str:
        return (
            f"{self.feeds_total} feeds: {self.fetched} fetched, {self.not_modified} not modified, "
            f"{self.unchanged} unchanged, {self.skipped} skipped until next check, {self.failed} failed"
            + (f", {self.gone} gone" if self.gone else "")
            + f"; {self.new_articles} new and {self.updated_articles} updated articles"
        )

"""The monitor's Python API: open a monitor, poll, run the pipeline, search, build a digest.

This module is the documented, stable way to use the monitor from Python (docs/api.md). Everything
else in the `monitor` package is internal: modules, functions and report fields may move or change
between releases. `Monitor.db` (a sqlite-utils Database) is there for reading the tables directly.

A monitor is one SQLite database plus its settings (defaults, a TOML config file, `MONITOR_*`
environment variables, then the keyword options given here). Each call reads the clock once (or
takes `now=`) and passes that instant to the stages, so a script can replay a given moment.

Try it offline on the bundled sample feeds, served on loopback (this example runs as a test):

>>> import tempfile
>>> from datetime import UTC, datetime
>>> from pathlib import Path
>>> from monitor.api import Monitor, demo_feeds
>>> folder = Path(tempfile.mkdtemp())
>>> morning = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # the day after the sample news
>>> with demo_feeds(folder) as registry, Monitor(
...     folder / "news.db", feeds=registry, poll__allow_private=True, poll__per_host_spacing_s=0,
...     clock=lambda: morning,
... ) as monitor:
...     run = monitor.run()  # every stage, from poll to digest
...     found = monitor.search("cártel country:US")  # a Spanish word finds US articles too
...     digest = monitor.digest("2026-11-22")
...     text = monitor.render_digest("2026-11-22", fmt="text")
>>> run.ok, run.failed
(True, {})
>>> run.stages["poll"].new_articles > 0
True
>>> found.total_estimate > 0 and {hit.country for hit in found.hits}
{'US'}
>>> digest.day, sorted(digest.countries), digest.total_stories > 0
('2026-11-22', ['MX', 'US'], True)
>>> print(text.splitlines()[1])
Daily digest · Sunday, 22 November 2026

Errors are exceptions from `monitor.errors`: a `UsageError` (bad input: an unparseable query or
date, an unknown option) or a `ConfigError` carries one line saying what to fix; `MonitorError` is
their base class.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlite_utils

from monitor.config import settings as settings_mod
from monitor.config.settings import Settings
from monitor.errors import ConfigError, MonitorError, UsageError
from monitor.store.db import open_db, utcnow

if TYPE_CHECKING:
    from monitor.digest.model import Digest
    from monitor.digest.stage import DigestReport
    from monitor.models import PollReport
    from monitor.pipeline import RunReport
    from monitor.search.engine import ArticleDetail, SearchResult

__all__ = [
    "ConfigError",
    "Monitor",
    "MonitorError",
    "UsageError",
    "demo_feeds",
    "open_monitor",
]

TOP_LEVEL = ("db", "feeds", "debate")  # the options outside a [section]
StageCallback = Callable[[str, Any | None, str | None], None]


def configure(base: Settings, options: dict[str, Any]) -> Settings:
    """`base` with `options` applied and checked like a config file's values: `feeds=PATH` for a
    top-level option, `poll__concurrency=4` for `[poll] concurrency`. A wrong name or a value
    outside the option's range is a ConfigError."""
    settings = base
    for key, value in options.items():
        if key in TOP_LEVEL:
            settings = settings.replace(**{key: str(value)})
            continue
        section, sep, name = key.partition("__")
        if not sep or section not in settings_mod.SECTIONS:
            known = ", ".join([*TOP_LEVEL, *(f"{s}__<option>" for s in settings_mod.SECTIONS)])
            raise ConfigError(f"unknown option {key!r} (known: {known})")
        checked = settings_mod._apply(getattr(settings, section), {name: value}, f"option {key}")
        settings = settings.replace(**{section: checked})
    return settings


def _day(value: date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


class Monitor:
    """One monitor: a database and its settings. Use it as a context manager, or call `close()`.

    `db_path`: the SQLite file (created and migrated on first use); default: `[db]` of the config,
    `MONITOR_DB`, else the default location (docs/operations.md).
    `config`: a TOML config file (default: `MONITOR_CONFIG`, if set). `settings`: a ready
    `Settings` instead of reading the config and environment.
    `clock`: returns the present as an aware UTC datetime (default: the system clock); read once
    per call unless the call is given `now=`.
    `**options`: settings on top, checked like the config file's: `feeds=PATH`, `debate=PATH`,
    or `<section>__<option>=value` such as `translation__engine="apertium"`.
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        config: str | Path | None = None,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = utcnow,
        **options: Any,
    ) -> None:
        base = settings if settings is not None else settings_mod.load(config)
        if db_path is not None:
            options = {**options, "db": db_path}
        self.settings: Settings = configure(base, options)
        self.clock = clock
        self._db: sqlite_utils.Database | None = None

    # -- the database -------------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        """The database file."""
        return self.settings.db_path

    @property
    def db(self) -> sqlite_utils.Database:
        """The open database (opened, and migrated to the current schema, on first use)."""
        if self._db is None:
            self._db = open_db(self.db_path)
        return self._db

    def close(self) -> None:
        """Close the database (a later call opens it again)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _now(self, now: datetime | None) -> datetime:
        moment = self.clock() if now is None else now
        if moment.tzinfo is None:
            raise UsageError("now must be a timezone-aware datetime (e.g. datetime.now(UTC))")
        return moment

    # -- the pipeline -------------------------------------------------------------------------

    def poll(self, *, force: bool = False, outlets: Iterable[str] | None = None, now: datetime | None = None) -> PollReport:
        """Fetch the feeds that are due (all active feeds with `force`; only `outlets` if given) and
        store new and updated articles. Needs the network for real feeds."""
        return self.stage("poll", now=now, force=force, outlets=list(outlets) if outlets else None)

    def stage(self, name: str, *, now: datetime | None = None, **options: Any) -> Any:
        """Run one pipeline stage by name (as `monitor run` lists them: `poll`, `translate`,
        `cluster`, `digest` ...) and return its report; `options` go to the stage."""
        from monitor import pipeline

        try:
            fn = pipeline.stage_function(name)
        except KeyError:
            names = ", ".join(n for n, _ in pipeline.STAGES)
            raise UsageError(f"unknown stage {name!r}; the stages are: {names}") from None
        return pipeline.run_stage(self.db, self.settings, name, fn, now=self._now(now), **options)

    def run(
        self,
        *,
        stages: Iterable[str] | None = None,
        now: datetime | None = None,
        on_stage: StageCallback | None = None,
    ) -> RunReport:
        """Every stage once, in order (`monitor run`), or only the named `stages`. A failing stage is
        recorded in the report's `failed` and the later stages still run; `on_stage(name, report,
        error)` is called after each."""
        from monitor import pipeline

        chosen = None
        if stages is not None:
            wanted = list(stages)
            known = [n for n, _ in pipeline.STAGES]
            unknown = [n for n in wanted if n not in known]
            if unknown:
                raise UsageError(f"unknown stage(s) {', '.join(unknown)}; the stages are: {', '.join(known)}")
            chosen = [(n, fn) for n, fn in pipeline.STAGES if n in wanted]
        return pipeline.run_all(self.db, self.settings, now=self._now(now), on_stage=on_stage, stages=chosen)

    # -- reading ------------------------------------------------------------------------------

    def search(
        self,
        query: str = "",
        *,
        limit: int = 20,
        sort: str = "relevance",
        translate: bool = True,
        raw: bool = False,
        semantic: bool = False,
        like: int | None = None,
        title_language: str | None = None,
        now: datetime | None = None,
        **filters: Any,
    ) -> SearchResult:
        """Search originals and translations with `monitor search`'s syntax (docs/search.md).

        `filters`: `country`, `outlet`, `lang`, `frame`, `story`, `since`, `until` (as the CLI's
        options). `sort`: "relevance" or "date". Raises UsageError (QueryError) for a query that
        cannot be searched, with one line saying what to fix.

        `semantic=True` ranks by meaning (`monitor search --semantic`): the articles whose stored
        embeddings are nearest to the query's words, in either language with no translation, within
        the filters; each hit's `score` is its cosine similarity once the model's English-Spanish
        axis is taken out (docs/search.md). `like=ARTICLE_ID` is "more like
        this" (`monitor search --like`, see `similar()`): the articles nearest in meaning to that
        one, which is left out; the query may then be empty (its filters still apply). Both need the
        embed stage to have run, and neither combines with `raw`.

        Each hit carries its story's headline title (`story_title`, with `story_title_translated`
        and `story_title_rough` marking a machine translation) in `title_language` ("en" or "es");
        default: the query's one `lang:` filter, else `[digest] lang`."""
        from monitor.search.engine import search
        from monitor.search.query import parse_query
        from monitor.search.semantic import semantic_search

        if raw and (semantic or like is not None):
            raise UsageError("raw is FTS5 syntax; it does not combine with semantic or like")
        moment = self._now(now)
        parsed = parse_query(
            query, raw=raw, now=moment, allow_empty=bool(filters) or like is not None, **filters
        )
        if semantic or like is not None:
            return semantic_search(
                self.db, self.settings, parsed, like=like, limit=limit, sort=sort, now=moment, title_language=title_language
            )
        return search(
            self.db, self.settings, parsed, limit=limit, sort=sort, translate=translate, now=moment,
            title_language=title_language,
        )

    def similar(
        self, article_id: int, *, limit: int = 10, now: datetime | None = None, **filters: Any
    ) -> SearchResult:
        """More like this (`monitor similar`): the articles nearest in meaning to article
        `article_id`, in either language, best first (itself left out), within `filters` (as
        `search()`'s). The same as `search("", like=article_id, ...)`. Raises UsageError when the
        article has no stored embedding (run the embed stage) or does not exist."""
        return self.search("", like=article_id, limit=limit, now=now, **filters)

    def article(self, article_id: int) -> ArticleDetail | None:
        """One article in full (`monitor show`): original, translations, analysis, story; None if absent."""
        from monitor.search.engine import get_article

        return get_article(self.db, article_id)

    # -- the digest ---------------------------------------------------------------------------

    def _produce(self, day: date | str | None, lang: str | None, now: datetime | None) -> Any:
        from monitor.days import parse_day
        from monitor.digest.stage import produce

        moment = self._now(now)
        when = parse_day(_day(day), self.settings.digest.timezone, now=moment)
        return produce(self.db, self.settings, when, now=moment, lang=lang)

    def digest(self, day: date | str | None = None, *, lang: str | None = None, now: datetime | None = None) -> Digest:
        """The digest of `day` (a date, "YYYY-MM-DD", "today", "yesterday"; default today, in
        `[digest] timezone`), built from the database and stored in it. `lang`: "en" or "es"."""
        return self._produce(day, lang, now).digest

    def render_digest(
        self, day: date | str | None = None, *, fmt: str = "text", lang: str | None = None, now: datetime | None = None
    ) -> str:
        """The digest of `day` rendered as `fmt`: "text", "markdown", "html" (the e-mail) or "json"."""
        from monitor.digest.render import FORMATS

        if fmt not in FORMATS:
            raise UsageError(f"unknown digest format {fmt!r}; use one of: {', '.join(FORMATS)}")
        return str(self._produce(day, lang, now).rendered[fmt])

    def send_digest(
        self,
        day: date | str | None = None,
        *,
        recipients: Iterable[str] | None = None,
        resend: bool = False,
        lang: str | None = None,
        now: datetime | None = None,
    ) -> DigestReport:
        """E-mail the digest of `day` over `[smtp]` to `recipients` (default `[digest] recipients`),
        once per day, language and recipient across processes (docs/operations.md, "Sending once")
        unless `resend`. A failed recipient is in the report's `failed`; the next call retries it."""
        from monitor.digest.stage import deliver

        moment = self._now(now)
        produced = self._produce(day, lang, moment)
        to = list(recipients) if recipients is not None else None
        return deliver(self.db, self.settings, produced, now=moment, send=True, recipients=to, resend=resend)


def open_monitor(db_path: str | Path | None = None, **kwargs: Any) -> Monitor:
    """`Monitor(db_path, **kwargs)`: the same, as a function."""
    return Monitor(db_path, **kwargs)


@contextlib.contextmanager
def demo_feeds(folder: str | Path) -> Iterator[Path]:
    """Serve the bundled sample feeds (12+ US and Mexican outlets) on 127.0.0.1 while the block
    runs; yields a registry file in `folder` that points at them. Poll it with
    `poll__allow_private=True` (the feeds are on loopback)."""
    from monitor.demo.runner import demo_registry, serve_demo_feeds

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    with serve_demo_feeds() as base_url:
        yield demo_registry(base_url, target / "demo-outlets.toml")

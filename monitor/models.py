"""The common data model shared by the stages: registry entries and normalised articles."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class PollReport:
    feeds_total: int = 0
    fetched: int = 0
    not_modified: int = 0
    unchanged: int = 0  # 200 with the same body hash
    skipped: int = 0  # not due yet (or host rate-limited)
    failed: int = 0
    gone: int = 0
    new_articles: int = 0
    updated_articles: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

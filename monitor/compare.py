"""Country comparison: how the US and the Mexican press covered the debate over a time range.

`compare(db, settings, start, end)` reads what `monitor analyze` and `monitor cluster` stored and
returns, per country: relevant article counts, outlets, frame shares with evidence examples, the
words that country's press used distinctively (log-odds ratio with an informative Dirichlet prior,
Monroe, Colaresi & Quinn 2008, over the English pivot text, with z-scores); plus blindspots (stories
only one country's press covered) and lead/lag (which press covered a shared story first, by how
long). `day_bounds(day, tz)` gives the UTC range of a calendar day in a time zone.
The result is JSON-able with `monitor.store.to_jsonable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from monitor.settings import Settings


@dataclass
class EvidenceExample:
    """One piece of evidence for a frame: the matched terms and the sentence they stand in."""

    article: int  # articles.id
    outlet: str  # outlet id
    title: str  # the article's headline (own language)
    terms: list[str]  # the lexicon terms that matched, as written in the text
    sentence: str  # the sentence in the article's own language
    sentence_translated: str | None  # the same sentence in translation (English pivot or Spanish), None if none
    language: str  # language of `sentence`


@dataclass
class FrameShare:
    """How much of one country's relevant coverage used a frame."""

    frame: str  # frame id from the debate file
    label_en: str
    label_es: str
    articles: int  # relevant articles of this country with this frame among their frames (over threshold)
    top: int  # relevant articles of this country with this frame as their top frame
    share: float  # top / relevant articles with any top frame (the shares of one country sum to 1)
    examples: list[EvidenceExample] = field(default_factory=list)  # up to 3, strongest first


@dataclass
class DistinctiveWord:
    """A word one country's press used more than the other's (Monroe et al. 2008 log-odds, z-score)."""

    word: str  # the English pivot word (most frequent surface form of the stem)
    word_es: str | None  # Spanish form where known (from Spanish originals aligned to the pivot, or translation)
    z: float  # z-score of the log-odds ratio (this country vs the other); > 1.96 is significant at 5 %
    log_odds: float  # the point estimate delta
    count: int  # occurrences in this country's relevant articles
    other_count: int  # occurrences in the other country's relevant articles


@dataclass
class Blindspot:
    """A story covered by one country's press only, with at least settings.analysis.blindspot_min_articles."""

    story: int  # stories.id
    label_en: str
    label_es: str
    covered_by: str  # the country whose press covered it
    missing: str  # the country whose press did not
    size: int  # its articles in the range
    outlets: list[str]  # outlet ids covering it
    first_seen: str  # UTC ISO


@dataclass
class LeadLag:
    """For a story both presses covered: who covered it first, and by how long."""

    story: int
    label_en: str
    label_es: str
    first_country: str  # country whose press published first
    first_seen_by_country: dict[str, str]  # {"US": iso, "MX": iso}
    lead_minutes: int  # minutes between the first article of each country (0: same minute)


@dataclass
class CountryComparison:
    country: str  # US | MX
    articles: int  # relevant articles published in the range
    analysed: int  # all analysed articles of this country in the range (relevant or not)
    outlets: int  # distinct outlets with relevant articles
    outlet_ids: list[str]  # those outlets, most articles first
    frames: list[FrameShare]  # every frame with at least one article, largest share first
    distinctive_words: list[DistinctiveWord]  # top words by z (z > 0 means more used by this country)
    stories: int  # stories this country's press covered in the range


@dataclass
class Comparison:
    start: str  # UTC ISO, inclusive
    end: str  # UTC ISO, exclusive
    debate: str  # the debate's name
    countries: dict[str, CountryComparison]  # keyed by country code, sorted
    shared_stories: int  # stories both presses covered in the range
    blindspots: list[Blindspot]  # biggest first
    lead_lag: list[LeadLag]  # stories both covered, largest lead first


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The [start, end) of a calendar day in `timezone`, as aware datetimes (convert with store.iso)."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(day, time(0, 0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)
    return start, end


def compare(db: sqlite_utils.Database, settings: Settings, start: datetime, end: datetime) -> Comparison:
    """The country comparison over articles published in [start, end)."""
    raise NotImplementedError

"""The digest's content model: one calendar day of the debate, built from the database.

`build_digest(db, settings, day)` reads the stories (`monitor.analysis.stories.list_stories`), the country
comparison of the day and of the 7 days before (`monitor.analysis.compare.compare`), the frame evidence,
translations and feed health, and returns a `Digest`: plain dataclasses holding every number and
every piece of feed text the renderers show. Renderers never query the database; they only lay this
out (text, Markdown, HTML) or dump it (JSON). Links are kept only when they are http(s).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from monitor.analysis.compare import Comparison, compare
from monitor.analysis.debate import load_debate
from monitor.analysis.frame_mix import frame_shares
from monitor.analysis.stories import StoryArticle, StoryView, list_stories
from monitor.analysis.titles import StoryTitle
from monitor.config.settings import Settings
from monitor.days import day_bounds, zone
from monitor.digest import i18n
from monitor.ingest.urls import http_url, redact, redact_text
from monitor.mail import one_line
from monitor.store.db import iso, parse_iso, to_jsonable, utcnow

THIN_ARTICLES = 5  # fewer relevant articles than this: the digest says the day is thin
HEADLINES_PER_SIDE = 4  # headlines shown per country in a story; the rest are counted
WORDS_PER_SIDE = 8  # distinctive words shown per country
WORD_MIN_COUNT = 2  # a distinctive word must occur at least this often in its side's articles
SIGNIFICANT_Z = 1.96  # log-odds z-score significant at 5 %: marked in the digest
SHIFT_MIN_POINTS = 5  # frame share changes smaller than this (percentage points) are not listed
DIFFERENCES = 3  # how many of the biggest frame differences to list
QUIET_AFTER = timedelta(hours=48)  # a feed without a new article for this long is "quiet"
FEED_PROBLEMS_SHOWN = 12  # per list in the footer; the rest are counted
PREVIOUS_DAYS = 7
COUNTRY_ORDER = ("US", "MX")  # columns left to right; other countries follow alphabetically


@dataclass
class CountryNumbers:
    """The headline numbers of one country's press for the day."""

    country: str
    press: str  # "US press" / "prensa de EE. UU." in the digest's language
    articles: int  # relevant articles published that day
    outlets: int  # outlets with relevant articles that day
    prev_daily: float  # relevant articles per day over the previous 7 days
    change_pct: int | None  # against prev_daily; None when the previous 7 days had none


@dataclass
class Headline:
    """One article as shown in a story: original headline, its translation beneath."""

    title: str  # original headline
    language: str  # its language
    translated: str | None  # headline in the other language, None if not translated
    translated_language: str | None
    rough: bool  # the translation came from a word-for-word engine
    outlet: str  # outlet display name
    url: str | None  # http(s) only
    time: str  # local time of publication, HH:MM in the digest's time zone


@dataclass
class FrameMix:
    frame: str  # frame id
    label: str  # in the digest's language
    share: float  # 0..1 of the side's articles with a top frame


@dataclass
class Evidence:
    """The sentence behind a side's dominant frame, in its own language and translated."""

    frame: str
    label: str
    sentence: str
    translated: str | None
    language: str
    terms: list[str]
    outlet: str
    url: str | None


@dataclass
class StorySide:
    country: str
    press: str
    articles: int
    outlets: list[str]  # display names, most articles first
    headlines: list[Headline]
    more: int  # headlines not shown
    more_outlets: list[str]  # outlets of the headlines not shown
    frames: list[FrameMix]  # largest share first
    evidence: Evidence | None


@dataclass
class StoryHeadline:
    """A story's title: the headline of its most central article (monitor/analysis/titles.py), in the
    digest's language: the original, or its machine translation (`translated`, `rough` as for headlines)."""

    text: str  # as shown
    language: str  # language of `text`
    translated: bool  # `text` is a machine translation of `original`
    rough: bool  # ... by a word-for-word engine
    original: str  # the article's own headline
    original_language: str
    country: str  # the article's country
    press: str  # "US press" / "prensa de EE. UU." in the digest's language
    outlet: str  # outlet display name
    url: str | None  # http(s) only
    source: str = "headline"  # headline | lede (no headline to title it: the lede's first sentence)


@dataclass
class Story:
    id: int
    label: str  # keywords, in the digest's language (a secondary line under the title)
    label_other: str  # keywords in the other language
    articles: int
    outlets: int
    both: bool  # covered by both presses
    sides: list[StorySide]  # one per country in Digest.countries, even when empty
    title: StoryHeadline | None = None  # the central headline; None when no article has one (the label stands in)
    title_other: StoryHeadline | None = None  # the other country's central headline, when both covered it


@dataclass
class FrameRow:
    """One frame across countries: today's shares, the previous 7 days' shares."""

    frame: str
    label: str
    shares: dict[str, float]  # {country: share today}
    previous: dict[str, float]  # {country: share over the previous 7 days}


@dataclass
class FrameDifference:
    frame: str
    label: str
    a: str  # country with the larger share
    b: str
    a_share: float
    b_share: float
    points: int  # percentage points between them


@dataclass
class FrameShift:
    frame: str
    label: str
    country: str
    before: float
    now: float
    points: int  # signed percentage points


@dataclass
class Word:
    word: str  # English
    word_es: str | None  # Spanish where known
    z: float
    count: int  # occurrences on this side
    other_count: int  # occurrences on the other side
    significant: bool  # z >= SIGNIFICANT_Z


@dataclass
class CountryWords:
    country: str
    press: str
    words: list[Word]


@dataclass
class BlindspotItem:
    story: int
    label: str
    label_other: str
    covered_by: str
    press: str
    articles: int
    outlets: list[str]  # display names
    title: StoryHeadline | None = None  # the story's central headline in the digest's language


@dataclass
class LeadItem:
    story: int
    label: str
    label_other: str
    first_country: str
    press: str
    lead_minutes: int
    lead: str  # formatted
    title: StoryHeadline | None = None  # the story's central headline in the digest's language


@dataclass
class FeedProblem:
    outlet: str  # display name
    url: str
    error: str | None  # the last error (failing, gone)
    failures: int  # consecutive failures
    last_article: str | None  # YYYY-MM-DD of its newest article (quiet feeds), None if it never had one


@dataclass
class EngineUse:
    engine: str  # argos | apertium
    model: str  # model name + version
    articles: int  # articles of the day translated with it
    rough: bool  # a word-for-word engine


@dataclass
class Footer:
    failing: list[FeedProblem]
    failing_more: int
    gone: list[FeedProblem]
    gone_more: int
    quiet: list[FeedProblem]
    quiet_more: int
    engines: list[EngineUse]  # most articles first
    subscription: str
    generated_at: str  # UTC ISO


@dataclass
class Digest:
    day: str  # YYYY-MM-DD, a calendar day in `timezone`
    date_long: str  # "Sunday, 22 November 2026" in the digest's language
    timezone: str
    lang: str
    start: str  # UTC ISO, inclusive
    end: str  # UTC ISO, exclusive
    title: str
    subject: str
    countries: list[str]
    total_articles: int
    total_stories: int
    shared_stories: int
    empty: bool  # nothing relevant was published that day
    thin: bool  # fewer than THIN_ARTICLES relevant articles
    numbers: list[CountryNumbers]
    stories: list[Story]
    frames: list[FrameRow]
    differences: list[FrameDifference]
    shifts: list[FrameShift]
    words: list[CountryWords]
    blindspots: list[BlindspotItem]
    lead_lag: list[LeadItem]
    lead_summary: list[str]  # one line per country that led at least one shared story
    footer: Footer
    shift_min: int  # frame shifts smaller than this many points are not listed
    blindspot_min: int  # articles a one-sided story needs to count as a blindspot
    labels: dict[str, str] = field(default_factory=dict)  # the surrounding text, resolved for `lang`
    press: dict[str, str] = field(default_factory=dict)  # {country: "US press"} in `lang`


# --- small helpers -------------------------------------------------------------------------------

def _label(lang: str, en: str, es: str) -> tuple[str, str]:
    """(label in lang, label in the other language); either falls back to the other when empty."""
    en, es = one_line(en or es or ""), one_line(es or en or "")
    return (es, en) if lang == "es" else (en, es)


def _headline(lang: str, title: StoryTitle | None) -> StoryHeadline | None:
    """A story title (analysis/titles.py) as the digest shows it."""
    if title is None:
        return None
    return StoryHeadline(
        text=one_line(title.headline),
        language=title.language,
        translated=title.translated,
        rough=title.rough,
        original=one_line(title.original),
        original_language=title.original_language,
        country=title.country,
        press=i18n.country(lang, title.country),
        outlet=one_line(title.outlet),
        url=http_url(title.url),
        source=title.source,
    )


def _frame_labels(settings: Settings, comparisons: list[Comparison], lang: str) -> dict[str, str]:
    # the debate file has every frame's labels (compare() has already loaded and cached it);
    # the comparisons' labels cover frames the file no longer lists
    labels = {f.id: _label(lang, f.label_en, f.label_es)[0] for f in load_debate(settings.debate_path).frames}
    for comp in comparisons:
        for cc in comp.countries.values():
            for fs in cc.frames:
                labels.setdefault(fs.frame, _label(lang, fs.label_en, fs.label_es)[0])
    return labels


def _frame_label(labels: dict[str, str], frame: str) -> str:
    return labels.get(frame) or frame.replace("_", " ").capitalize()


# --- database reads ------------------------------------------------------------------------------


def _chunks(ids: list[int], size: int = 500) -> Iterator[tuple[list[int], str]]:
    """`ids` in slices small enough for one IN (...) list, each with its placeholders."""
    for i in range(0, len(ids), size):
        chunk = ids[i : i + size]
        yield chunk, ",".join("?" * len(chunk))


def _outlet_names(db: sqlite_utils.Database) -> dict[str, str]:
    return {str(r[0]): one_line(str(r[1])) for r in db.execute("SELECT id, name FROM outlets").fetchall()}


def _rough(db: sqlite_utils.Database, ids: list[int]) -> dict[tuple[int, str], bool]:
    if not ids:
        return {}
    out: dict[tuple[int, str], bool] = {}
    for chunk, marks in _chunks(ids):
        for art, lang, rough in db.execute(
            f"SELECT article, language, rough FROM article_translations WHERE article IN ({marks})", chunk
        ).fetchall():
            out[(int(art), str(lang))] = bool(rough)
    return out


def _evidence(
    db: sqlite_utils.Database, articles: list[StoryArticle], frame: str, label: str
) -> Evidence | None:
    """The strongest evidence sentence for `frame` among `articles`."""
    if not articles:
        return None
    by_id = {a.id: a for a in articles}
    marks = ",".join("?" * len(by_id))
    rows = db.execute(
        f"SELECT article, evidence FROM article_frames WHERE frame = ? AND article IN ({marks}) "
        "ORDER BY score DESC, article",
        [frame, *by_id],
    ).fetchall()
    for art, raw in rows:
        try:
            items = json.loads(raw or "[]")
        except ValueError:
            continue
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not str(item.get("sentence") or "").strip():
                continue
            a = by_id[int(art)]
            translated = item.get("sentence_translated")
            return Evidence(
                frame=frame,
                label=label,
                sentence=one_line(str(item["sentence"])),
                translated=one_line(str(translated)) if translated else None,
                language=str(item.get("language") or a.language),
                terms=[one_line(str(x)) for x in item.get("terms") or []],
                outlet=one_line(a.outlet_name),
                url=http_url(a.url),
            )
    return None


def _feed_health(
    db: sqlite_utils.Database, settings: Settings, at: datetime, tz: ZoneInfo
) -> tuple[list[FeedProblem], list[FeedProblem], list[FeedProblem]]:
    """(failing, gone, quiet) feeds as of `at`."""
    failing: list[FeedProblem] = []
    gone: list[FeedProblem] = []
    quiet: list[FeedProblem] = []
    rows = db.execute(
        """
        SELECT COALESCE(o.name, f.outlet), f.url, f.status, f.consecutive_failures, f.last_error,
               f.last_fetched_at,
               (SELECT MAX(a.first_seen) FROM articles a WHERE a.feed = f.id AND a.first_seen < ?)
        FROM feeds f LEFT JOIN outlets o ON o.id = f.outlet
        WHERE f.status != 'removed'
        ORDER BY COALESCE(o.name, f.outlet), f.url
        """,
        [iso(at)],
    ).fetchall()
    for name, url, status, failures, error, fetched, newest in rows:
        name = one_line(str(name))
        err = one_line(redact_text(str(error)) or "")[:160] if error else None
        url = redact(str(url))  # digests are mailed: a feed's credentials stay out of them
        if status == "gone":
            gone.append(FeedProblem(name, str(url), err, int(failures or 0), None))
        elif status == "failing" or int(failures or 0) >= settings.poll.failing_after:
            failing.append(FeedProblem(name, str(url), err, int(failures or 0), None))
        elif (fetched and parse_iso(str(fetched)) <= at) and (
            newest is None or parse_iso(str(newest)) < at - QUIET_AFTER
        ):
            last = parse_iso(str(newest)).astimezone(tz).date().isoformat() if newest else None
            quiet.append(FeedProblem(name, str(url), None, int(failures or 0), last))
    return failing, gone, quiet


def _engines(db: sqlite_utils.Database, ids: list[int]) -> list[EngineUse]:
    if not ids:
        return []
    counts: dict[tuple[str, str, int], int] = {}
    for chunk, marks in _chunks(ids):
        for engine, model, rough, n in db.execute(
            f"SELECT engine, model, MAX(rough), COUNT(DISTINCT article) FROM article_translations "
            f"WHERE article IN ({marks}) GROUP BY engine, model",
            chunk,
        ).fetchall():
            key = (str(engine), str(model), int(rough or 0))
            counts[key] = counts.get(key, 0) + int(n)
    return [
        EngineUse(engine, model, n, bool(rough))
        for (engine, model, rough), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


# --- building ------------------------------------------------------------------------------------


def _local_time(value: str, tz: ZoneInfo) -> str:
    return parse_iso(value).astimezone(tz).strftime("%H:%M")


def _side(
    db: sqlite_utils.Database,
    lang: str,
    country: str,
    articles: list[StoryArticle],
    rough: dict[tuple[int, str], bool],
    labels: dict[str, str],
    tz: ZoneInfo,
) -> StorySide:
    counts: dict[str, int] = {}
    for a in articles:
        counts[a.outlet_name] = counts.get(a.outlet_name, 0) + 1
    # one headline per outlet first (the most relevant), then the rest, so a side is not one outlet's feed
    ordered = sorted(articles, key=lambda a: (-a.relevance, a.published, a.id))
    seen: set[str] = set()
    first = [a for a in ordered if not (a.outlet in seen or seen.add(a.outlet))]  # type: ignore[func-returns-value]
    rest = [a for a in ordered if a not in first]
    shown = (first + rest)[:HEADLINES_PER_SIDE]
    headlines = [
        Headline(
            title=one_line(a.title),
            language=a.language,
            translated=one_line(a.title_translated) if a.title_translated else None,
            translated_language=a.translated_language,
            rough=bool(a.title_translated and rough.get((a.id, a.translated_language or ""), False)),
            outlet=one_line(a.outlet_name),
            url=http_url(a.url),
            time=_local_time(a.published, tz),
        )
        for a in shown
    ]
    top = Counter(a.top_frame for a in articles if a.top_frame)
    frames = [FrameMix(f, _frame_label(labels, f), share) for f, _, share in frame_shares(top)]
    evidence = None
    if frames:
        dominant = frames[0].frame
        evidence = _evidence(db, [a for a in articles if a.top_frame == dominant], dominant, frames[0].label)
        evidence = evidence or _evidence(db, articles, dominant, frames[0].label)
    return StorySide(
        country=country,
        press=i18n.country(lang, country),
        articles=len(articles),
        outlets=sorted(counts, key=lambda o: (-counts[o], o)),
        headlines=headlines,
        more=max(0, len(articles) - len(shown)),
        more_outlets=sorted({one_line(a.outlet_name) for a in articles if a not in shown}),
        frames=frames,
        evidence=evidence,
    )


def _story(
    db: sqlite_utils.Database,
    view: StoryView,
    lang: str,
    countries: list[str],
    rough: dict[tuple[int, str], bool],
    labels: dict[str, str],
    tz: ZoneInfo,
) -> Story:
    label, other = _label(lang, view.label_en, view.label_es)
    title = view.title(lang)
    sides = [
        _side(db, lang, c, view.articles_by_country.get(c, []), rough, labels, tz)
        for c in countries
    ]
    return Story(
        id=view.id,
        label=label,
        label_other=other if other != label else "",
        articles=view.size,
        outlets=len(view.outlets),
        both=view.both_countries,
        sides=sides,
        title=_headline(lang, title),
        title_other=_headline(lang, title.other if title else None),
    )


def _frames(
    today: Comparison, previous: Comparison, countries: list[str], labels: dict[str, str]
) -> list[FrameRow]:
    shares: dict[str, dict[str, float]] = {}
    before: dict[str, dict[str, float]] = {}
    for c in countries:
        cc = today.countries.get(c)
        for fs in cc.frames if cc else []:
            shares.setdefault(fs.frame, {})[c] = fs.share
        pc = previous.countries.get(c)
        for fs in pc.frames if pc else []:
            before.setdefault(fs.frame, {})[c] = fs.share
    rows = [
        FrameRow(
            frame=f,
            label=_frame_label(labels, f),
            shares={c: shares.get(f, {}).get(c, 0.0) for c in countries},
            previous={c: before.get(f, {}).get(c, 0.0) for c in countries},
        )
        for f in sorted(set(shares) | set(before))
    ]
    rows.sort(key=lambda r: (-max(r.shares.values(), default=0), -sum(r.shares.values()), r.frame))
    return rows


def _differences(rows: list[FrameRow], countries: list[str]) -> list[FrameDifference]:
    if len(countries) < 2:
        return []
    out: list[FrameDifference] = []
    for r in rows:
        ranked = sorted(countries, key=lambda c: (-r.shares.get(c, 0.0), c))
        a, b = ranked[0], ranked[-1]
        points = round((r.shares[a] - r.shares[b]) * 100)
        if points > 0:
            out.append(FrameDifference(r.frame, r.label, a, b, r.shares[a], r.shares[b], points))
    out.sort(key=lambda d: (-d.points, d.frame))
    return out[:DIFFERENCES]


def _shifts(rows: list[FrameRow], countries: list[str], previous: Comparison) -> list[FrameShift]:
    out: list[FrameShift] = []
    for r in rows:
        for c in countries:
            pc = previous.countries.get(c)
            if not pc or not pc.frames:  # no baseline for this country: a shift would mean nothing
                continue
            points = round((r.shares.get(c, 0.0) - r.previous.get(c, 0.0)) * 100)
            if abs(points) >= SHIFT_MIN_POINTS:
                out.append(FrameShift(r.frame, r.label, c, r.previous.get(c, 0.0), r.shares.get(c, 0.0), points))
    out.sort(key=lambda s: (-abs(s.points), s.frame, s.country))
    return out[:6]


def build_digest(
    db: sqlite_utils.Database,
    settings: Settings,
    day: date,
    lang: str | None = None,
    now: datetime | None = None,
) -> Digest:
    """Everything the digest of `day` (a calendar day in settings.digest.timezone) shows."""
    lang = i18n.check_lang(lang or settings.digest.lang)
    tz_name = settings.digest.timezone
    tz = zone(tz_name)
    now = now or utcnow()
    start, end = day_bounds(day, tz_name)
    prev_start = start - timedelta(days=PREVIOUS_DAYS)

    today = compare(db, settings, start, end)
    # the previous week is estimated as today is (a week of many stories would otherwise sum frame
    # mixes where today counts top frames, and the shifts would show the change of method)
    previous = compare(db, settings, prev_start, start, shares_by={c: cc.shares_by for c, cc in today.countries.items()})
    labels = _frame_labels(settings, [today, previous], lang)
    countries = sorted(set(today.countries) | set(previous.countries)) or ["MX", "US"]
    # the registry's countries, so an unrepresented press still shows as "0"
    countries = sorted(
        set(countries) | {str(r[0]) for r in db.execute("SELECT DISTINCT country FROM outlets").fetchall()},
        key=lambda c: (COUNTRY_ORDER.index(c) if c in COUNTRY_ORDER else len(COUNTRY_ORDER), c),
    )
    press = {c: i18n.country(lang, c) for c in countries}

    views = list_stories(db, start, end)
    total_stories = len(views)
    shown_views = views[: max(0, settings.digest.max_stories)]
    all_ids = sorted({a.id for v in views for side in v.articles_by_country.values() for a in side})
    rough = _rough(db, [a.id for v in shown_views for side in v.articles_by_country.values() for a in side])
    outlet_names = _outlet_names(db)

    numbers: list[CountryNumbers] = []
    for c in countries:
        cc = today.countries.get(c)
        pc = previous.countries.get(c)
        arts = cc.articles if cc else 0
        prev_daily = (pc.articles if pc else 0) / PREVIOUS_DAYS
        change = round((arts - prev_daily) / prev_daily * 100) if prev_daily > 0 else None
        numbers.append(CountryNumbers(c, press[c], arts, cc.outlets if cc else 0, round(prev_daily, 1), change))
    total_articles = sum(n.articles for n in numbers)

    stories = [_story(db, v, lang, countries, rough, labels, tz) for v in shown_views]
    all_frames = _frames(today, previous, countries, labels)  # including frames seen only in the previous days
    frames = [r for r in all_frames if any(v > 0 for v in r.shares.values())]

    words: list[CountryWords] = []
    for c in countries:
        cc = today.countries.get(c)
        picked = [w for w in (cc.distinctive_words if cc else []) if w.z > 0 and w.count >= WORD_MIN_COUNT]
        picked = sorted(picked, key=lambda w: (-w.z, w.word))[:WORDS_PER_SIDE]
        if picked:
            words.append(
                CountryWords(
                    c,
                    press[c],
                    [
                        Word(
                            one_line(w.word), one_line(w.word_es) if w.word_es else None, round(w.z, 2), w.count,
                            w.other_count, w.z >= SIGNIFICANT_Z,
                        )
                        for w in picked
                    ],
                )
            )

    blindspots = []
    for b in today.blindspots:
        label, other = _label(lang, b.label_en, b.label_es)
        blindspots.append(
            BlindspotItem(
                b.story, label, other if other != label else "", b.covered_by, i18n.country(lang, b.covered_by),
                b.size, [outlet_names.get(o, o) for o in b.outlets],
                title=_headline(lang, b.title_es if lang == "es" else b.title_en),
            )
        )

    lead_lag = []
    firsts: dict[str, int] = {}
    for ll in today.lead_lag:
        label, other = _label(lang, ll.label_en, ll.label_es)
        lead_lag.append(
            LeadItem(
                ll.story, label, other if other != label else "", ll.first_country,
                i18n.country(lang, ll.first_country), ll.lead_minutes,
                i18n.duration(lang, ll.lead_minutes) if ll.lead_minutes else i18n.t(lang, "same_time"),
                title=_headline(lang, ll.title_es if lang == "es" else ll.title_en),
            )
        )
        if ll.lead_minutes > 0:
            firsts[ll.first_country] = firsts.get(ll.first_country, 0) + 1
    lead_summary = [
        i18n.t(lang, "lead_lag_summary", press=press.get(c, c), n=n, total=len(today.lead_lag))
        for c, n in sorted(firsts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]

    health_at = min(end, now)
    failing, gone, quiet = _feed_health(db, settings, health_at, tz)
    default_note = type(settings.digest)().subscription_note
    note = settings.digest.subscription_note
    footer = Footer(
        failing=failing[:FEED_PROBLEMS_SHOWN],
        failing_more=max(0, len(failing) - FEED_PROBLEMS_SHOWN),
        gone=gone[:FEED_PROBLEMS_SHOWN],
        gone_more=max(0, len(gone) - FEED_PROBLEMS_SHOWN),
        quiet=quiet[:FEED_PROBLEMS_SHOWN],
        quiet_more=max(0, len(quiet) - FEED_PROBLEMS_SHOWN),
        engines=_engines(db, all_ids),
        subscription=i18n.t(lang, "subscription") if note == default_note else one_line(note),
        generated_at=iso(now),
    )

    subject = i18n.t(lang, "subject", day=day.isoformat(), stories=total_stories, articles=total_articles)
    if stories and stories[0].title:  # the top story's title; an original over a translation (no room for a mark)
        top = stories[0]
        lead = next((h for h in (top.title, top.title_other) if h and not h.translated), top.title)
        subject += " · " + i18n.t(lang, "subject_lead", headline=_clip(lead.text, 90))
    return Digest(
        day=day.isoformat(),
        date_long=i18n.long_date(lang, day),
        timezone=tz_name,
        lang=lang,
        start=iso(start),
        end=iso(end),
        title=i18n.t(lang, "title"),
        subject=one_line(subject),
        countries=countries,
        total_articles=total_articles,
        total_stories=total_stories,
        shared_stories=today.shared_stories,
        empty=total_articles == 0 and total_stories == 0,
        thin=0 < total_articles < THIN_ARTICLES,
        numbers=numbers,
        stories=stories,
        frames=frames,
        differences=_differences(frames, countries),
        shifts=_shifts(all_frames, countries, previous),
        words=words,
        blindspots=blindspots,
        lead_lag=lead_lag,
        lead_summary=lead_summary,
        footer=footer,
        shift_min=SHIFT_MIN_POINTS,
        blindspot_min=settings.analysis.blindspot_min_articles,
        labels=dict(i18n.MESSAGES[lang]),
        press=press,
    )


def _clip(text: str, limit: int) -> str:
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def as_dict(digest: Digest) -> dict[str, Any]:
    """The model as plain data (the JSON renderer), without the resolved labels."""
    data: dict[str, Any] = to_jsonable(digest)
    data.pop("labels", None)
    return data

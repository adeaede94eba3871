"""Country comparison: how the US and the Mexican press covered the debate over a time range.

`compare(db, settings, start, end)` reads what `monitor analyze` and `monitor cluster` stored and
returns, per country: relevant article counts, outlets, frame shares with evidence examples, the
words that country's press used distinctively (log-odds ratio with an informative Dirichlet prior,
Monroe, Colaresi & Quinn 2008, over the English pivot text, with z-scores); plus blindspots (stories
only one country's press covered) and lead/lag (which press covered a shared story first, by how
long); `monitor.days.day_bounds` gives a calendar day's range.
The result is JSON-able with `monitor.store.db.to_jsonable`.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlite_utils

from monitor.analysis.analyze import frames_json_sql
from monitor.analysis.debate import Debate, load_debate
from monitor.analysis.frame_mix import TOPS, article_mix, coverage_shares, method_for
from monitor.analysis.stories import StoryView, list_stories
from monitor.analysis.textnorm import is_stopword, tokens
from monitor.analysis.titles import StoryTitle
from monitor.config.settings import Settings
from monitor.errors import MonitorError
from monitor.store.db import iso, parse_iso

WordTranslator = Callable[[list[str]], list[str | None]]  # English words -> Spanish (None: unknown)
MAX_EXAMPLES = 3
MAX_WORDS = 15
MIN_WORD_COUNT = 2


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
    share: float  # its share of the articles' primary frames, by CountryComparison.shares_by (frame_mix.py; sum to 1)
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
    title_en: StoryTitle | None = None  # the story's central headline for an English reader (see analysis/titles.py)
    title_es: StoryTitle | None = None  # ... for a Spanish reader


@dataclass
class LeadLag:
    """For a story both presses covered: who covered it first, and by how long."""

    story: int
    label_en: str
    label_es: str
    first_country: str  # country whose press published first
    first_seen_by_country: dict[str, str]  # {"US": iso, "MX": iso}
    lead_minutes: int  # minutes between the first article of each country (0: same minute)
    title_en: StoryTitle | None = None  # the story's central headline for an English reader (see analysis/titles.py)
    title_es: StoryTitle | None = None  # ... for a Spanish reader


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
    shares_by: str = TOPS  # how the frame shares were estimated: frame_mix.TOPS or MIXES (by `stories`, unless fixed)


@dataclass
class Comparison:
    start: str  # UTC ISO, inclusive
    end: str  # UTC ISO, exclusive
    debate: str  # the debate's name
    countries: dict[str, CountryComparison]  # keyed by country code, sorted
    shared_stories: int  # stories both presses covered in the range
    blindspots: list[Blindspot]  # biggest first
    lead_lag: list[LeadLag]  # stories both covered, largest lead first


@dataclass(frozen=True)
class _Analysed:
    """One analysed article of the range, as the comparison reads it."""

    id: int
    country: str
    outlet: str
    top_frame: str | None
    frames: list[str]  # over threshold, best first
    relevant: bool
    mix: dict[str, float]  # frame_mix.article_mix: the frame shares it counts for ({} without a frame)


def _analysed_rows(db: sqlite_utils.Database, start: datetime, end: datetime) -> list[_Analysed]:
    rows = db.execute(
        f"""SELECT a.id, a.country, a.outlet, an.top_frame, {frames_json_sql("a.id")}, an.relevant, an.frame_mix
           FROM articles a JOIN analyses an ON an.article = a.id
           WHERE a.published >= ? AND a.published < ? ORDER BY a.id""",
        [iso(start), iso(end)],
    ).fetchall()
    return [
        _Analysed(int(r[0]), str(r[1]), str(r[2]), r[3], json.loads(r[4] or "[]"), bool(r[5]), article_mix(r[3], r[6]))
        for r in rows
    ]


def _pivot_texts(db: sqlite_utils.Database, ids: list[int]) -> dict[int, tuple[str, str]]:
    """{article: (English pivot text, its language)}: original English, else the English translation, else the original."""
    out: dict[int, tuple[str, str]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for aid, lang, title, summary, en in db.execute(
            "SELECT a.id, a.language, a.title, a.summary, (SELECT title || '. ' || summary FROM article_translations t"
            f" WHERE t.article = a.id AND t.language = 'en') FROM articles a WHERE a.id IN ({marks})",
            chunk,
        ).fetchall():
            if lang == "en" or not en:
                out[int(aid)] = (f"{title}. {summary}", str(lang))
            else:
                out[int(aid)] = (str(en), "en")
    return out


def log_odds(
    counts_a: Counter[str], counts_b: Counter[str], prior: Counter[str] | None = None
) -> dict[str, tuple[float, float]]:
    """Monroe, Colaresi & Quinn (2008) log-odds ratio with an informative Dirichlet prior.

    Returns {word: (delta, z)} where delta > 0 means more used in `a` than in `b`. The prior is
    `prior` (default: the pooled counts of a and b), so alpha_0 is its total.
    """
    prior = prior if prior is not None else counts_a + counts_b
    n_a, n_b, a0 = sum(counts_a.values()), sum(counts_b.values()), sum(prior.values())
    out: dict[str, tuple[float, float]] = {}
    if not n_a or not n_b or not a0:
        return out
    for w in set(counts_a) | set(counts_b):
        aw = prior.get(w, 0) or 0.01
        ya, yb = counts_a.get(w, 0), counts_b.get(w, 0)
        la = math.log((ya + aw) / (n_a + a0 - ya - aw))
        lb = math.log((yb + aw) / (n_b + a0 - yb - aw))
        delta = la - lb
        var = 1.0 / (ya + aw) + 1.0 / (yb + aw)
        out[w] = (delta, delta / math.sqrt(var))
    return out


_WORD_CACHE: dict[tuple[str, str], str | None] = {}  # (engine model, English word) -> Spanish


def apertium_words(words: list[str], debate_path: Path | None = None) -> list[str | None]:
    """Spanish for English words with the local apertium engine and the debate file's glossary
    ("drone" -> "dron", "border" -> "frontera"), one call for all (None when unavailable)."""
    try:
        from monitor.translation.apertium import ApertiumTranslator, glossary_of, is_installed

        if not is_installed():
            return [None] * len(words)
        engine = ApertiumTranslator([], 30.0, glossary_of(debate_path))
        model = engine.model_for("en", "es")
        todo = [w for w in dict.fromkeys(words) if (model, w) not in _WORD_CACHE]
        results = engine.translate(todo, "en", "es") if todo else []
    except (MonitorError, OSError, ImportError):
        return [None] * len(words)
    for w, r in zip(todo, results, strict=False):
        r = r.lstrip("*#@").strip()
        _WORD_CACHE[(model, w)] = (r.lower() if w.islower() else r) or None
    return [_WORD_CACHE.get((model, w)) for w in words]


def _distinctive(
    pivot: dict[int, tuple[str, str]],
    by_country: dict[str, list[int]],
    translate_words: WordTranslator | None,
) -> dict[str, list[DistinctiveWord]]:
    counts: dict[str, Counter[str]] = {}
    surface: dict[str, Counter[str]] = {}
    for country, ids in by_country.items():
        c: Counter[str] = Counter()
        for aid in ids:
            text, lang = pivot.get(aid, ("", "en"))
            for t in tokens(text, lang):
                if len(t.folded) < 3 or t.folded.isdigit() or is_stopword(t.folded, lang):
                    continue
                c[t.stem] += 1
                surface.setdefault(t.stem, Counter())[t.raw.lower()] += 1
        counts[country] = c
    out: dict[str, list[DistinctiveWord]] = {}
    countries = sorted(counts)
    for country in countries:
        others: Counter[str] = Counter()
        for other in countries:
            if other != country:
                others += counts[other]
        scores = log_odds(counts[country], others)
        best = sorted(
            ((w, d, z) for w, (d, z) in scores.items() if z > 0 and counts[country][w] >= MIN_WORD_COUNT),
            key=lambda x: -x[2],
        )[:MAX_WORDS]
        words = [surface[w].most_common(1)[0][0] for w, _, _ in best]
        spanish = translate_words(words) if translate_words and words else [None] * len(words)
        out[country] = [
            DistinctiveWord(
                word=word,
                word_es=(es if es and es.lower() != word else None),
                z=round(z, 2),
                log_odds=round(d, 3),
                count=counts[country][w],
                other_count=others.get(w, 0),
            )
            for (w, d, z), word, es in zip(best, words, spanish, strict=True)
        ]
    return out


def _examples(db: sqlite_utils.Database, frame: str, ids: list[int]) -> list[EvidenceExample]:
    if not ids:
        return []
    out: list[EvidenceExample] = []
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"""SELECT af.article, a.outlet, a.title, af.evidence FROM article_frames af JOIN articles a ON a.id = af.article
            WHERE af.frame = ? AND af.article IN ({marks}) ORDER BY af.score DESC, af.article LIMIT 20""",
        [frame, *ids],
    ).fetchall()
    for aid, outlet, title, evidence in rows:
        items = json.loads(evidence or "[]")
        if not items:
            continue
        e = items[0]
        out.append(
            EvidenceExample(
                article=int(aid),
                outlet=str(outlet),
                title=str(title),
                terms=list(e.get("terms", [])),
                sentence=str(e.get("sentence", "")),
                sentence_translated=e.get("sentence_translated"),
                language=str(e.get("language", "")),
            )
        )
        if len(out) >= MAX_EXAMPLES:
            break
    return out


def _frames(db: sqlite_utils.Database, debate: Debate, rows: list[_Analysed], method: str) -> list[FrameShare]:
    top = Counter(r.top_frame for r in rows if r.top_frame)
    anyf: Counter[str] = Counter(f for r in rows for f in r.frames)
    share_of = {f: share for f, _, share in coverage_shares(((r.top_frame, r.mix) for r in rows), method)}
    shares: list[FrameShare] = []
    for frame in debate.frames:
        share = round(share_of.get(frame.id, 0.0), 3)
        if not anyf.get(frame.id) and not share:
            continue
        ids = [r.id for r in rows if r.top_frame == frame.id] or [r.id for r in rows if frame.id in r.frames]
        shares.append(
            FrameShare(
                frame=frame.id,
                label_en=frame.label_en,
                label_es=frame.label_es,
                articles=anyf[frame.id],
                top=top.get(frame.id, 0),
                share=share,
                examples=_examples(db, frame.id, ids),
            )
        )
    shares.sort(key=lambda f: (-f.share, -f.articles, f.frame))
    return shares


def _countries(db: sqlite_utils.Database, seen: set[str]) -> list[str]:
    known = {str(r[0]) for r in db.execute("SELECT DISTINCT country FROM outlets").fetchall()}
    return sorted(known | seen)


def _blindspots(views: list[StoryView], countries: list[str], min_articles: int) -> list[Blindspot]:
    out = []
    for v in views:
        if len(v.countries) != 1 or v.size < min_articles:
            continue
        covered = v.countries[0]
        for missing in countries:
            if missing != covered:
                out.append(
                    Blindspot(
                        story=v.id, label_en=v.label_en, label_es=v.label_es, covered_by=covered, missing=missing,
                        size=v.size, outlets=v.outlets, first_seen=v.first_seen_by_country.get(covered, v.first_seen or ""),
                        title_en=v.title_en, title_es=v.title_es,
                    )
                )
    out.sort(key=lambda b: (-b.size, b.story))
    return out


def _lead_lag(views: list[StoryView]) -> list[LeadLag]:
    out = []
    for v in views:
        if len(v.countries) < 2:
            continue
        firsts = {c: v.first_seen_by_country[c] for c in v.countries if c in v.first_seen_by_country}
        if len(firsts) < 2:
            continue
        ordered = sorted(firsts.items(), key=lambda kv: parse_iso(kv[1]))
        lead = (parse_iso(ordered[1][1]) - parse_iso(ordered[0][1])).total_seconds() / 60
        out.append(
            LeadLag(
                story=v.id, label_en=v.label_en, label_es=v.label_es, first_country=ordered[0][0],
                first_seen_by_country=dict(sorted(firsts.items())), lead_minutes=round(lead),
                title_en=v.title_en, title_es=v.title_es,
            )
        )
    out.sort(key=lambda x: (-x.lead_minutes, x.story))
    return out


def compare(
    db: sqlite_utils.Database,
    settings: Settings,
    start: datetime,
    end: datetime,
    translate_words: WordTranslator | None = apertium_words,
    shares_by: Mapping[str, str] | None = None,
) -> Comparison:
    """The country comparison over articles published in [start, end).

    `translate_words` gives the Spanish of the distinctive English pivot words (default: apertium
    with the debate file's glossary, when installed; pass None to show English only). `shares_by`
    fixes a country's frame-share method (frame_mix.TOPS or MIXES; default: by its stories in the
    range), so that two periods compared are estimated alike.
    """
    debate = load_debate(settings.debate_path)
    if translate_words is apertium_words:
        translate_words = functools.partial(apertium_words, debate_path=settings.debate_path)
    rows = _analysed_rows(db, start, end)
    relevant = [r for r in rows if r.relevant]
    countries = _countries(db, {r.country for r in rows})
    views = list_stories(db, start, end)
    by_country_ids = {c: [r.id for r in relevant if r.country == c] for c in countries}
    pivot = _pivot_texts(db, [r.id for r in relevant])
    words = _distinctive(pivot, by_country_ids, translate_words) if len([c for c in by_country_ids.values() if c]) > 1 else {}
    result: dict[str, CountryComparison] = {}
    for c in countries:
        mine = [r for r in relevant if r.country == c]
        outlets = Counter(r.outlet for r in mine)
        stories = sum(1 for v in views if c in v.countries)
        method = (shares_by or {}).get(c) or method_for(stories)
        result[c] = CountryComparison(
            country=c,
            articles=len(mine),
            analysed=sum(1 for r in rows if r.country == c),
            outlets=len(outlets),
            outlet_ids=[o for o, _ in outlets.most_common()],
            frames=_frames(db, debate, mine, method),
            distinctive_words=words.get(c, []),
            stories=stories,
            shares_by=method,
        )
    return Comparison(
        start=iso(start),
        end=iso(end),
        debate=debate.name_en,
        countries=result,
        shared_stories=sum(1 for v in views if len(v.countries) > 1),
        blindspots=_blindspots(views, countries, settings.analysis.blindspot_min_articles),
        lead_lag=_lead_lag(views),
    )

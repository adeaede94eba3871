"""Stage `analyze`: relevance to the debate, frames with evidence, actors and keywords per article.

Each article is read in its own language and in its translation (article_translations): English
patterns of the debate file are matched on English text, Spanish patterns on Spanish text, both
accent- and case-folded and stemmed. The relevance score and each frame's score are the better of
the two readings, so an untranslated article is still analysed on its original. Evidence keeps the
sentence that matched, in the original language and (where the sentences align) in translation.

Idempotent: an article is analysed again only when its content, its translations or the debate
file changed (the file's hash and the article's content hash are stored with the result).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import sqlite_utils

from monitor.analysis.debate import Debate, Pattern, load_debate
from monitor.analysis.textnorm import Token, is_stopword, sentences, tokens
from monitor.config.settings import Settings
from monitor.models import Progress, StageReport, track
from monitor.store.db import iso, write_transaction

TITLE_BOOST = 1.5
MAX_TEXT_CHARS = 5000
MAX_EVIDENCE = 3
MAX_KEYWORDS = 10
BATCH = 200


@dataclass
class Sentence:
    field: str  # title | summary | content
    index: int  # position within its field
    text: str
    toks: list[Token]
    stems: dict[str, list[int]]  # stem -> positions


@dataclass
class Side:
    """One reading of an article: the original or a translation."""

    language: str
    original: bool
    sentences: list[Sentence]
    stems: set[str]


@dataclass
class ArticleText:
    id: int
    language: str
    title: str
    summary: str
    content: str
    translations: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # language -> (title, summary, content)


@dataclass
class Evidence:
    terms: list[str]
    sentence: str
    sentence_translated: str | None
    language: str
    weight: float = 0.0


@dataclass
class FrameResult:
    frame: str
    score: float
    evidence: list[Evidence]


@dataclass
class AnalysisResult:
    relevant: bool
    relevance: float
    top_frame: str | None
    frames: list[str]  # over threshold, best first
    frame_scores: list[FrameResult]  # every frame with score > 0, best first
    actors: list[str]
    keywords: list[str]


@dataclass
class AnalyzeReport(StageReport):
    stage: ClassVar[str] = "analyze"
    debate: str = ""
    debate_hash: str = ""
    examined: int = 0  # articles needing analysis
    analysed: int = 0
    relevant: int = 0
    skipped_unchanged: int = 0

    @property
    def changed(self) -> int:
        return self.analysed

    def describe(self) -> str:
        return (
            f"{self.analysed} analysed ({self.relevant} relevant), {self.skipped_unchanged} unchanged; "
            f"debate {self.debate} ({self.debate_hash})"
        )


def make_side(language: str, original: bool, title: str, summary: str, content: str) -> Side:
    sents: list[Sentence] = []
    stems: set[str] = set()
    parts: list[tuple[str, list[str]]] = [("title", [title.strip()] if title.strip() else [])]
    parts.append(("summary", sentences(summary)))
    if content and content.strip() and content.strip()[:200] != summary.strip()[:200]:
        parts.append(("content", sentences(content[:MAX_TEXT_CHARS])))
    for fname, texts in parts:
        for i, text in enumerate(texts):
            toks = tokens(text, language)
            index: dict[str, list[int]] = {}
            for pos, t in enumerate(toks):
                index.setdefault(t.stem, []).append(pos)
            stems.update(index)
            sents.append(Sentence(fname, i, text, toks, index))
    return Side(language, original, sents, stems)


def sides_of(article: ArticleText) -> list[Side]:
    out = [make_side(article.language, True, article.title, article.summary, article.content)]
    for lang, (t, s, c) in sorted(article.translations.items()):
        if lang != article.language and (t or s):
            out.append(make_side(lang, False, t, s, c or ""))
    return out


def _part_positions(part: tuple[Any, ...], sent: Sentence) -> list[int]:
    first = part[0]
    if first.prefix:
        candidates = [i for i, t in enumerate(sent.toks) if t.folded.startswith(first.value)]
    else:
        candidates = sent.stems.get(first.value, [])
    if len(part) == 1:
        return list(candidates)
    out = []
    n = len(sent.toks)
    for i in candidates:
        if i + len(part) > n:
            continue
        ok = True
        for j in range(1, len(part)):
            m, t = part[j], sent.toks[i + j]
            if not (t.folded.startswith(m.value) if m.prefix else t.stem == m.value):
                ok = False
                break
        if ok:
            out.append(i)
    return out


def match(pattern: Pattern, sent: Sentence) -> list[list[int]]:
    """Every match of `pattern` in `sent`, each as the token positions it covers."""
    positions = []
    for part in pattern.parts:
        found = _part_positions(part, sent)
        if not found:
            return []
        positions.append(found)
    lengths = [len(p) for p in pattern.parts]
    if len(positions) == 1:
        return [list(range(i, i + lengths[0])) for i in positions[0]]
    out = []
    for p0 in positions[0]:
        covered = list(range(p0, p0 + lengths[0]))
        ok = True
        for k in range(1, len(positions)):
            near = [q for q in positions[k] if abs(q - p0) <= pattern.window and q != p0]
            if not near:
                ok = False
                break
            q = min(near, key=lambda q: abs(q - p0))
            covered += list(range(q, q + lengths[k]))
        if ok:
            out.append(sorted(set(covered)))
    return out


def _could_match(pattern: Pattern, side: Side) -> bool:
    return all(part[0].prefix or part[0].value in side.stems for part in pattern.parts)


Hits = list[tuple[int, list[int]]]  # (sentence index, token positions)


def find(pattern: Pattern, side: Side, masked: set[tuple[int, int]]) -> Hits:
    if pattern.language != side.language or not _could_match(pattern, side):
        return []
    hits: Hits = []
    for si, sent in enumerate(side.sentences):
        for covered in match(pattern, sent):
            if not any((si, p) in masked for p in covered):
                hits.append((si, covered))
    return hits


def _contribution(weight: float, hits: Hits, side: Side) -> float:
    count = min(len(hits), 3)
    score = weight * (1 + 0.25 * (count - 1))
    if any(side.sentences[si].field == "title" for si, _ in hits):
        score *= TITLE_BOOST
    return score


def _exclusions(debate: Debate, side: Side) -> tuple[set[tuple[int, int]], float]:
    masked: set[tuple[int, int]] = set()
    penalty = 0.0
    for exc in debate.exclusions:
        distinct = 0
        for p in exc.patterns:
            hits = find(p, side, set())
            if hits:
                distinct += 1
                for si, covered in hits:
                    masked.update((si, c) for c in covered)
        penalty += exc.penalty * min(distinct, 3)
    return masked, penalty


def _relevance(debate: Debate, side: Side, masked: set[tuple[int, int]], penalty: float) -> float:
    score = context_score = 0.0
    for group in debate.terms:
        used: set[tuple[int, int]] = set()  # a word counts once per group: "drug traffickers" is not also "traffickers"
        for p in sorted(group.patterns, key=_length, reverse=True):
            hits = [(si, cov) for si, cov in find(p, side, masked) if not all((si, c) in used for c in cov)]
            if hits:
                points = _contribution(group.weight * p.weight, hits, side)
                if group.context:
                    context_score += points
                else:
                    score += points
                used.update((si, c) for si, cov in hits for c in cov)
    if score == 0:
        return -penalty  # context words alone (Trump, troops, tariffs) never make an article relevant
    return score + context_score - penalty


def _length(pattern: Pattern) -> int:
    return sum(len(part) for part in pattern.parts)


def _aligned(article_sides: list[Side], side: Side, sent: Sentence) -> tuple[str | None, Side | None]:
    """The same sentence in another reading of the article, when the sentences align one to one."""
    for other in article_sides:
        if other is side:
            continue
        same_field = [s for s in other.sentences if s.field == sent.field]
        mine = [s for s in side.sentences if s.field == sent.field]
        if len(same_field) == len(mine) and sent.index < len(same_field):
            return same_field[sent.index].text, other
    return None, None


def _frames(debate: Debate, sides: list[Side], masks: list[set[tuple[int, int]]]) -> list[FrameResult]:
    results: list[FrameResult] = []
    for frame in debate.frames:
        best_score, best_side, best_hits = 0.0, -1, {}
        for k, side in enumerate(sides):
            score = 0.0
            by_sentence: dict[int, tuple[float, list[str]]] = {}
            for p in frame.patterns:
                hits = find(p, side, masks[k])
                if not hits:
                    continue
                score += _contribution(p.weight, hits, side)
                for si, covered in hits:
                    sent = side.sentences[si]
                    w, terms = by_sentence.get(si, (0.0, []))
                    term = " ".join(sent.toks[c].raw for c in covered) if len(covered) <= 4 else p.text
                    if term not in terms:
                        terms.append(term)
                    by_sentence[si] = (w + p.weight * (TITLE_BOOST if sent.field == "title" else 1.0), terms)
            if score > best_score:
                best_score, best_side, best_hits = score, k, by_sentence
        if best_score <= 0:
            continue
        side = sides[best_side]
        evidence: list[Evidence] = []
        for si, (w, terms) in sorted(best_hits.items(), key=lambda kv: (-kv[1][0], kv[0]))[:MAX_EVIDENCE]:
            sent = side.sentences[si]
            other_text, _ = _aligned(sides, side, sent)
            if side.original:
                evidence.append(Evidence(terms, sent.text, other_text, side.language, round(w, 3)))
            elif other_text is not None:  # matched in translation: show the original sentence first
                evidence.append(Evidence(terms, other_text, sent.text, sides[0].language, round(w, 3)))
            else:
                evidence.append(Evidence(terms, sent.text, None, side.language, round(w, 3)))
        results.append(FrameResult(frame.id, round(best_score, 3), evidence))
    order = {f.id: i for i, f in enumerate(debate.frames)}
    results.sort(key=lambda r: (-r.score, order[r.frame]))
    return results


def _actors(debate: Debate, sides: list[Side]) -> list[str]:
    found: list[str] = []
    for actor in debate.actors:
        hit = False
        for name in actor.names:
            n = len(name.tokens)
            for side in sides:
                for sent in side.sentences:
                    seq = [t.raw if name.case_sensitive else t.folded for t in sent.toks]
                    if any(tuple(seq[i : i + n]) == name.tokens for i in range(len(seq) - n + 1)):
                        hit = True
                        break
                if hit:
                    break
            if hit:
                break
        if hit:
            found.append(actor.id)
    return found


def pivot_side(sides: list[Side]) -> Side:
    """The English reading (original or translation); the original when there is none."""
    return next((s for s in sides if s.language == "en"), sides[0])


def keywords(side: Side, limit: int = MAX_KEYWORDS) -> list[str]:
    counts: Counter[str] = Counter()
    surface: dict[str, Counter[str]] = {}
    for sent in side.sentences:
        for t in sent.toks:
            if len(t.folded) < 3 or t.folded.isdigit() or is_stopword(t.folded, side.language):
                continue
            counts[t.stem] += 2 if sent.field == "title" else 1
            surface.setdefault(t.stem, Counter())[t.raw.lower()] += 1
    return [surface[s].most_common(1)[0][0] for s, _ in counts.most_common(limit)]


def analyze_article(debate: Debate, article: ArticleText) -> AnalysisResult:
    """The analysis of one article (pure: reads nothing but its arguments)."""
    sides = sides_of(article)
    masks: list[set[tuple[int, int]]] = []
    relevance = float("-inf")
    for side in sides:
        masked, penalty = _exclusions(debate, side)
        masks.append(masked)
        relevance = max(relevance, _relevance(debate, side, masked, penalty))
    relevance = round(max(relevance, 0.0) if relevance != float("-inf") else 0.0, 3)
    relevant = relevance >= debate.relevance_threshold
    frame_scores = _frames(debate, sides, masks) if relevant else []
    thresholds = {f.id: f.threshold for f in debate.frames}
    over = [r.frame for r in frame_scores if r.score >= thresholds[r.frame]]
    return AnalysisResult(
        relevant=relevant,
        relevance=relevance,
        top_frame=over[0] if over else None,
        frames=over,
        frame_scores=frame_scores,
        actors=_actors(debate, sides),
        keywords=keywords(pivot_side(sides)),
    )


# --- the stage --------------------------------------------------------------------------------

_STAMP_SQL = (
    "COALESCE((SELECT translated_at || ':' || engine FROM article_translations t WHERE t.article = a.id AND t.language = 'en'), '')"
    " || '|' || "
    "COALESCE((SELECT translated_at || ':' || engine FROM article_translations t WHERE t.article = a.id AND t.language = 'es'), '')"
)


def pending_articles(db: sqlite_utils.Database, debate_hash: str) -> list[int]:
    """Articles never analysed, or analysed before their content, translations or the debate changed."""
    rows = db.execute(
        f"""SELECT a.id FROM articles a LEFT JOIN analyses an ON an.article = a.id
            WHERE an.article IS NULL OR an.debate_hash != ? OR an.content_hash != a.content_hash
               OR COALESCE(an.translation_hash, '') != {_STAMP_SQL}
            ORDER BY a.id""",
        [debate_hash],
    ).fetchall()
    return [int(r[0]) for r in rows]


def load_articles(db: sqlite_utils.Database, ids: list[int]) -> list[tuple[ArticleText, str, str]]:
    """(text, content_hash, translation stamp) for each id."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"SELECT a.id, a.language, a.title, a.summary, COALESCE(a.content_text, ''), a.content_hash, {_STAMP_SQL}"
        f" FROM articles a WHERE a.id IN ({marks})",
        ids,
    ).fetchall()
    trans: dict[int, dict[str, tuple[str, str, str]]] = {}
    for art, lang, t, s, c in db.execute(
        f"SELECT article, language, title, summary, COALESCE(content, '') FROM article_translations WHERE article IN ({marks})",
        ids,
    ).fetchall():
        trans.setdefault(int(art), {})[str(lang)] = (t or "", s or "", c or "")
    out = []
    for r in rows:
        text = ArticleText(int(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), str(r[4]), trans.get(int(r[0]), {}))
        out.append((text, str(r[5]), str(r[6])))
    return out


def _evidence_json(ev: list[Evidence]) -> str:
    return json.dumps(
        [{"terms": e.terms, "sentence": e.sentence, "sentence_translated": e.sentence_translated, "language": e.language} for e in ev],
        ensure_ascii=False,
    )


def store_result(
    db: sqlite_utils.Database, article: int, debate_hash: str, content_hash: str, stamp: str, res: AnalysisResult, now: str
) -> None:
    """Replace one article's analysis, analysed at `now` (call inside a write transaction)."""
    db.execute(
        """INSERT OR REPLACE INTO analyses
           (article, debate_hash, content_hash, translation_hash, relevant, relevance, top_frame, actors, keywords, analyzed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            article, debate_hash, content_hash, stamp, int(res.relevant), res.relevance, res.top_frame,
            json.dumps(res.actors), json.dumps(res.keywords, ensure_ascii=False), now,
        ],
    )
    db.execute("DELETE FROM article_frames WHERE article = ?", [article])
    over = set(res.frames)
    for position, fr in enumerate(res.frame_scores):
        db.execute(
            """INSERT INTO article_frames (article, frame, score, evidence, over_threshold, position)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [article, fr.frame, fr.score, _evidence_json(fr.evidence), int(fr.frame in over), position],
        )


# --- reading frames back: article_frames is the only place an article's frames are stored -------


def frames_json_sql(article: str) -> str:
    """A SQL expression: the JSON list of the frame ids over threshold of `article` (an SQL expression
    for its id, e.g. "a.id"), best first; '[]' when none."""
    return (
        "(SELECT json_group_array(frame) FROM (SELECT frame FROM article_frames"
        f" WHERE article = {article} AND over_threshold = 1 ORDER BY position))"
    )


def frames_over_threshold(db: sqlite_utils.Database, ids: list[int]) -> dict[int, list[str]]:
    """{article: frame ids over threshold, best first} for the given articles (absent: none)."""
    out: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for article, frame in db.execute(
            f"SELECT article, frame FROM article_frames WHERE over_threshold = 1 AND article IN ({marks})"
            " ORDER BY article, position",
            chunk,
        ).fetchall():
            out.setdefault(int(article), []).append(str(frame))
    return out


def run(
    db: sqlite_utils.Database, settings: Settings, *, now: datetime, progress: Progress | None = None
) -> AnalyzeReport:
    """Analyse every new or changed article (or all of them when the debate file changed), stamped `now`."""
    debate = load_debate(settings.debate_path)
    report = AnalyzeReport(debate=debate.id, debate_hash=debate.hash[:12])
    ids = pending_articles(db, debate.hash)
    report.examined = len(ids)
    total = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    report.skipped_unchanged = int(total) - len(ids)
    if not ids:
        return report
    with track(progress, "analyze", len(ids)) as advance:
        for start in range(0, len(ids), BATCH):
            batch = load_articles(db, ids[start : start + BATCH])
            results = [(text.id, h, stamp, analyze_article(debate, text)) for text, h, stamp in batch]
            with write_transaction(db):
                for aid, h, stamp, res in results:
                    store_result(db, aid, debate.hash, h, stamp, res, iso(now))
            report.analysed += len(results)
            report.relevant += sum(1 for *_, r in results if r.relevant)
            advance(len(results), f"{report.relevant} relevant")
    return report

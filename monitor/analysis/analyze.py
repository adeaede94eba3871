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

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import sqlite_utils

from monitor.analysis.classifier import MAX_FRAMES, Inputs, Model, decide, load_model, predict, rank_frames
from monitor.analysis.debate import Debate, Pattern, load_debate
from monitor.analysis.frame_mix import mix_of
from monitor.analysis.textnorm import Token, is_stopword, sentences, tokens
from monitor.config.settings import Settings
from monitor.embedding.base import from_blob
from monitor.models import Progress, StageReport, track
from monitor.store.db import iso, write_transaction

TITLE_BOOST = 1.5
MAX_TEXT_CHARS = 5000
# An article is read by its headline and lede: the summary's first sentences, topped up from the body
# when the summary is short. What an article foregrounds decides its relevance and frame (a passing
# mention of the debate deep in a story about Greenland is not the debate).
HEAD_SENTENCES = 3
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
    score: float  # the debate file's score (0 when only the trained model ranks the frame)
    evidence: list[Evidence]
    probability: float | None = None  # the trained model's P(primary frame), when it ran
    lead: float = 0.0  # the part of the score found in the headline and the lede's first sentence


@dataclass
class AnalysisResult:
    relevant: bool
    relevance: float
    top_frame: str | None
    frames: list[str]  # over threshold, best first
    frame_scores: list[FrameResult]  # every frame with score > 0, best first
    actors: list[str]
    keywords: list[str]
    evidence: list[Evidence] = field(default_factory=list)  # what made the relevance decision: sentences and terms
    probability: float | None = None  # the trained model's P(relevant), when it ran
    model_terms: list[str] = field(default_factory=list)  # the article's words that pushed the model most towards relevant
    frame_mix: dict[str, float] | None = None  # the model's P(primary frame) per frame, summing to 1 (frame_mix.py); None: no model


@dataclass
class AnalyzeReport(StageReport):
    stage: ClassVar[str] = "analyze"
    debate: str = ""
    debate_hash: str = ""
    examined: int = 0  # articles needing analysis
    analysed: int = 0
    relevant: int = 0
    skipped_unchanged: int = 0
    model: str = ""  # the trained model's hash prefix when it refined the analysis; "" for the debate file alone

    @property
    def changed(self) -> int:
        return self.analysed

    def describe(self) -> str:
        return (
            f"{self.analysed} analysed ({self.relevant} relevant), {self.skipped_unchanged} unchanged; "
            f"debate {self.debate} ({self.debate_hash})" + (f", trained model {self.model}" if self.model else ", no trained model")
        )


def make_side(language: str, original: bool, title: str, summary: str, content: str, head: bool = True) -> Side:
    """One reading; `head`: the headline and lede only (relevance, frames), else the whole text (actors, keywords)."""
    sents: list[Sentence] = []
    stems: set[str] = set()
    parts: list[tuple[str, list[str]]] = [("title", [title.strip()] if title.strip() else [])]
    limit = HEAD_SENTENCES if head else 10_000
    lede = sentences(summary)[:limit]
    parts.append(("summary", lede))
    if len(lede) < limit and content and content.strip() and content.strip()[:200] != summary.strip()[:200]:
        parts.append(("content", sentences(content[:MAX_TEXT_CHARS])[: limit - len(lede)]))
    for fname, texts in parts:
        for i, text in enumerate(texts):
            toks = tokens(text, language)
            index: dict[str, list[int]] = {}
            for pos, t in enumerate(toks):
                index.setdefault(t.stem, []).append(pos)
            stems.update(index)
            sents.append(Sentence(fname, i, text, toks, index))
    return Side(language, original, sents, stems)


def sides_of(article: ArticleText, head: bool = True) -> list[Side]:
    out = [make_side(article.language, True, article.title, article.summary, article.content, head)]
    for lang, (t, s, c) in sorted(article.translations.items()):
        if lang != article.language and (t or s):
            out.append(make_side(lang, False, t, s, c or "", head))
    return out


def _longer_than_head(article: ArticleText) -> bool:
    return len(sentences(article.summary)) > HEAD_SENTENCES or bool(article.content.strip())


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


RelevanceHit = tuple[int, Pattern, float, Hits]  # (side index, pattern, points, hits)


def _relevance(debate: Debate, side: Side, masked: set[tuple[int, int]], penalty: float) -> tuple[float, list[tuple[Pattern, float, Hits]]]:
    """The side's relevance score and every match that made it, context words included (pattern,
    points, hits); `core_matches` leaves the context ones out."""
    score = context_score = 0.0
    made: list[tuple[Pattern, float, Hits]] = []
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
                made.append((p, points, hits))
                used.update((si, c) for si, cov in hits for c in cov)
    if score == 0:  # context words alone (Trump, troops, tariffs) never make an article relevant by the file alone
        return -penalty, made
    return score + context_score - penalty, made


def core_matches(debate: Debate, side: Side) -> tuple[float, list[Pattern]]:
    """The side's relevance score and the debate file's core (not context) patterns that matched it,
    exclusions applied, as the analysis reads it (`monitor debate check` compares the original's with
    the translation's)."""
    masked, penalty = _exclusions(debate, side)
    score, made = _relevance(debate, side, masked, penalty)
    # by identity: one word can be in a core list and a context list ("sinaloa"), equal as patterns
    context = {id(p) for g in debate.terms if g.context for p in g.patterns}
    return score, [p for p, _, _ in made if id(p) not in context]


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


def _add_hit(by_sentence: dict[int, tuple[float, list[str]]], side: Side, pattern: Pattern, weight: float, hits: Hits) -> None:
    """Record `hits` of `pattern` per sentence: the words that matched and the weight they carry."""
    for si, covered in hits:
        sent = side.sentences[si]
        w, terms = by_sentence.get(si, (0.0, []))
        term = " ".join(sent.toks[c].raw for c in covered) if len(covered) <= 4 else pattern.text
        if term not in terms:
            terms.append(term)
        by_sentence[si] = (w + weight * (TITLE_BOOST if sent.field == "title" else 1.0), terms)


def _evidence(sides: list[Side], side: Side, by_sentence: dict[int, tuple[float, list[str]]]) -> list[Evidence]:
    """The best sentences of `by_sentence`, each in the original language first (with its translation)."""
    evidence: list[Evidence] = []
    for si, (w, terms) in sorted(by_sentence.items(), key=lambda kv: (-kv[1][0], kv[0]))[:MAX_EVIDENCE]:
        sent = side.sentences[si]
        other_text, _ = _aligned(sides, side, sent)
        if side.original:
            evidence.append(Evidence(terms, sent.text, other_text, side.language, round(w, 3)))
        elif other_text is not None:  # matched in translation: show the original sentence first
            evidence.append(Evidence(terms, other_text, sent.text, sides[0].language, round(w, 3)))
        else:
            evidence.append(Evidence(terms, sent.text, None, side.language, round(w, 3)))
    return evidence


def _lead_sentences(side: Side) -> set[int]:
    """The headline and the first sentence after it: what an article puts first."""
    lead = {i for i, s in enumerate(side.sentences) if s.field == "title"}
    first = next((i for i, s in enumerate(side.sentences) if s.field != "title"), None)
    return lead | ({first} if first is not None else set())


def _frames(debate: Debate, sides: list[Side], masks: list[set[tuple[int, int]]]) -> list[FrameResult]:
    """Every frame with a score > 0 (the better of the readings), with evidence, best first."""
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
                _add_hit(by_sentence, side, p, p.weight, hits)
            if score > best_score:
                best_score, best_side, best_hits = score, k, by_sentence
        if best_score <= 0:
            continue
        side = sides[best_side]
        leading = _lead_sentences(side)
        lead = sum(w for si, (w, _) in best_hits.items() if si in leading)
        results.append(FrameResult(frame.id, round(best_score, 3), _evidence(sides, side, best_hits), lead=round(lead, 3)))
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


_POSSESSIVE_RE = re.compile(r"['’][sS]$")


def _party_hits(debate: Debate, toks: Sequence[Token]) -> list[tuple[int, int]]:
    """(token position, party index) of the first mention of each of the debate file's party names."""
    raw = [_POSSESSIVE_RE.sub("", t.raw) for t in toks]  # "Mexico's" names Mexico
    folded = [_POSSESSIVE_RE.sub("", t.folded) for t in toks]
    hits: list[tuple[int, int]] = []
    for k, party in enumerate(debate.parties):
        for name in party.names:
            seq, n = (raw if name.case_sensitive else folded), len(name.tokens)
            at = next((i for i in range(len(seq) - n + 1) if tuple(seq[i : i + n]) == name.tokens), None)
            if at is not None:
                hits.append((at, k))
    return hits


def party_mentions(debate: Debate, sides: list[Side]) -> tuple[str | None, set[str]]:
    """(lead party, named parties) of the original, from one scan of its sentences for the debate
    file's party names. The lead party is the one named first in the first sentence (the headline,
    else the lede's first sentence): whose move the article reports, None when it names none. The
    named parties are all it names anywhere in what is read (a boat strike is the debate when
    Mexico's navy is in it, not when only the US is)."""
    if not debate.parties or not sides or not sides[0].sentences:
        return None, set()
    hits = [_party_hits(debate, sent.toks) for sent in sides[0].sentences]
    lead = debate.parties[min(hits[0])[1]].id if hits[0] else None
    return lead, {debate.parties[k].id for found in hits for _, k in found}


def names_every_party(debate: Debate, lexicon: dict[str, float]) -> bool:
    """Whether the original names every party of the debate file (true when it declares none), read
    from the article's `lexicon_features`: context words alone (Trump, Rubio, "security") are the
    debate only in a story that names both sides."""
    return all(f"names:{p.id}" in lexicon for p in debate.parties)


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


def stem_features(sides: list[Side]) -> dict[str, str]:
    """The trained layer's word features: "lang:stem" of every content word of every reading -> the word."""
    out: dict[str, str] = {}
    for side in sides:
        for sent in side.sentences:
            for t in sent.toks:
                if len(t.folded) < 3 or t.folded.isdigit() or is_stopword(t.folded, side.language):
                    continue
                out.setdefault(f"{side.language}:{t.stem}", t.raw)
    return out


def lexicon_features(
    debate: Debate, scores: list[float], frame_scores: list[FrameResult], sides: list[Side], any_term: bool
) -> dict[str, float]:
    """The debate file's readings of an article (`scores`: the relevance score of each side, original
    first), as the trained layer's inputs. The original's score and the translation's are apart, so
    the model learns how far a match found only in a rough translation can be trusted."""
    best = max(scores) if scores else 0.0
    feats = {
        "relevance": math.log1p(max(best, 0.0)),
        "relevance_original": math.log1p(max(scores[0], 0.0)) if scores else 0.0,
        "relevance_translated": math.log1p(max(max(scores[1:]), 0.0)) if len(scores) > 1 else 0.0,
        "core": 1.0 if best > 0 else 0.0,
        "core_original": 1.0 if scores and scores[0] > 0 else 0.0,
        "over_threshold": 1.0 if best >= debate.relevance_threshold else 0.0,
        "context_only": 1.0 if best <= 0 and any_term else 0.0,
        "original_es": 1.0 if sides[0].language == "es" else 0.0,
        "translated": 1.0 if len(sides) > 1 else 0.0,
    }
    party, named_sides = party_mentions(debate, sides)
    if party:
        feats[f"party:{party}"] = 1.0
    for named in named_sides:
        feats[f"names:{named}"] = 1.0
        feats[f"names_core:{named}"] = feats["relevance_original"]  # the debate's terms in a story naming this side
    for fr in frame_scores:
        feats[f"frame:{fr.frame}"] = math.log1p(fr.score)
        feats[f"lead:{fr.frame}"] = math.log1p(fr.lead)
    return feats


def _term_evidence(sides: list[Side], terms: list[tuple[str, str]]) -> Evidence | None:
    """The sentence holding most of the model's `terms` ("lang:stem", word), shown original-first."""
    if not terms:
        return None
    best: tuple[int, int, Side, Sentence] | None = None
    for k, side in enumerate(sides):
        wanted = {key.split(":", 1)[1] for key, _ in terms if key.startswith(side.language + ":")}
        for sent in side.sentences:
            n = len(wanted & set(sent.stems))
            if n and (best is None or n > best[0] or (n == best[0] and side.original and not best[2].original)):
                best = (n, k, side, sent)
    words = [w for _, w in terms]
    if best is None:
        return Evidence(words, "", None, sides[0].language, 0.0)
    _, _, side, sent = best
    other, _ = _aligned(sides, side, sent)
    if side.original or other is None:
        return Evidence(words, sent.text, other, side.language, 0.0)
    return Evidence(words, other, sent.text, sides[0].language, 0.0)


def _lead_evidence(sides: list[Side]) -> list[Evidence]:
    """The headline, else the lede's first sentence, of the original (with its translation), no terms."""
    side = sides[0]
    if not side.sentences:
        return []
    sent = side.sentences[0]
    other, _ = _aligned(sides, side, sent)
    return [Evidence([], sent.text, other, side.language, 0.0)]


def _relevance_evidence(sides: list[Side], side_index: int, made: list[tuple[Pattern, float, Hits]]) -> list[Evidence]:
    if side_index < 0 or not made:
        return []
    side = sides[side_index]
    by_sentence: dict[int, tuple[float, list[str]]] = {}
    for pattern, points, hits in made:
        _add_hit(by_sentence, side, pattern, points / max(len(hits), 1), hits)
    return _evidence(sides, side, by_sentence)


def analyze_article(
    debate: Debate, article: ArticleText, model: Model | None = None, vector: np.ndarray | None = None
) -> AnalysisResult:
    """The analysis of one article (pure: reads nothing but its arguments).

    Without `model` (or with a model trained for another debate) the debate file decides alone:
    relevant when its score reaches the threshold; frames over their thresholds. With it, the model's
    P(relevant) decides, but only for an article in which the debate file found at least one
    non-context term (its evidence); the model also ranks the frames, so a relevant article always
    gets a top frame. `vector` is the article's embedding of the model's engine (None: none stored).
    """
    sides = sides_of(article)
    masks: list[set[tuple[int, int]]] = []
    raw, best_side, made = float("-inf"), -1, []
    scores: list[float] = []
    any_term = False
    for k, side in enumerate(sides):
        masked, penalty = _exclusions(debate, side)
        masks.append(masked)
        score, hits = _relevance(debate, side, masked, penalty)
        scores.append(score)
        any_term = any_term or bool(hits)
        if score > raw or (score == raw and hits and not made):
            raw, best_side, made = score, k, hits
    relevance = round(max(raw, 0.0) if raw != float("-inf") else 0.0, 3)
    evidence = _relevance_evidence(sides, best_side, made)
    trained = model is not None and model.applies_to(debate.id, debate.hash)
    frame_scores = _frames(debate, sides, masks) if trained or relevance >= debate.relevance_threshold else []
    thresholds = {f.id: f.threshold for f in debate.frames}
    whole = sides_of(article, head=False) if _longer_than_head(article) else sides
    actors, words = _actors(debate, whole), keywords(pivot_side(whole))
    if not trained or model is None:
        relevant = relevance >= debate.relevance_threshold
        over = [r.frame for r in frame_scores if r.score >= thresholds[r.frame]]
        return AnalysisResult(relevant, relevance, over[0] if over else None, over, frame_scores, actors, words, evidence)
    inputs = Inputs(stem_features(sides), lexicon_features(debate, scores, frame_scores, sides, any_term), vector)
    pred = predict(model, inputs)
    core_original = bool(scores) and scores[0] > 0
    core_translated = any(x > 0 for x in scores[1:])
    relevant = decide(
        pred.probability, model.threshold, core_original, core_translated, any_term and names_every_party(debate, inputs.lexicon),
        translation_min=model.translation_min, context_min=model.context_min,
        fallback=pred.fallback, fallback_threshold=model.fallback_threshold,
    )
    by_words = relevant and not (core_original or core_translated) and pred.fallback is not None and pred.fallback >= model.fallback_threshold
    terms = pred.fallback_terms if by_words else pred.terms
    model_terms = [w for _, w in terms]
    if relevant and (not evidence or by_words):
        # no core term of the debate file: the sentence with the model's words, else the headline
        ev = _term_evidence(sides, terms)
        evidence = ([ev] if ev and ev.sentence else []) + evidence or _lead_evidence(sides)
    if not relevant:
        return AnalysisResult(False, relevance, None, [], [], actors, words, evidence, pred.probability, model_terms)
    lexicon = {r.frame: r for r in frame_scores}
    probs = dict(pred.frames)
    ranking = [(f, s) for f, s in rank_frames(model, pred, {r.frame: r.score for r in frame_scores}) if f in thresholds]
    top = ranking[0][0] if ranking else None
    over = ([top] if top else []) + [f for f, s in ranking[1:] if s >= model.frame_min]
    over = over[:MAX_FRAMES]
    ranked: list[FrameResult] = []
    for fid in over + [r.frame for r in frame_scores if r.frame not in over]:
        lex = lexicon.get(fid)
        ev = lex.evidence if lex and lex.evidence else []
        if not ev:
            term_ev = _term_evidence(sides, pred.frame_terms.get(fid, []))
            ev = [term_ev] if term_ev and term_ev.sentence else []
        if not ev and fid in over:
            ev = _lead_evidence(sides)  # the model read the frame from the lede as a whole: show it
        ranked.append(FrameResult(fid, lex.score if lex else 0.0, ev, probs.get(fid)))
    return AnalysisResult(
        True, relevance, top, over, ranked, actors, words, evidence, pred.probability, model_terms, mix_of(probs, thresholds)
    )


# --- the stage --------------------------------------------------------------------------------

_STAMP_SQL = (
    "COALESCE((SELECT translated_at || ':' || engine FROM article_translations t WHERE t.article = a.id AND t.language = 'en'), '')"
    " || '|' || "
    "COALESCE((SELECT translated_at || ':' || engine FROM article_translations t WHERE t.article = a.id AND t.language = 'es'), '')"
    " || '|' || "  # a new or changed embedding re-analyses too: the trained layer reads it
    "COALESCE((SELECT group_concat(e.model || ':' || e.text_hash) FROM article_embeddings e WHERE e.article_id = a.id), '')"
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


def load_vectors(db: sqlite_utils.Database, ids: list[int], model: str) -> dict[int, np.ndarray]:
    """{article: its stored embedding of `model`} for the given articles that have one."""
    if not ids or not model:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"SELECT article_id, vector FROM article_embeddings WHERE model = ? AND article_id IN ({marks})", [model, *ids]
    ).fetchall()
    return {int(a): from_blob(v) for a, v in rows}


def analysis_hash(debate: Debate, model: Model | None) -> str:
    """What an analysis was made with, stored in analyses.debate_hash: the debate file's hash, and the
    trained model's when one refined it (switching the model on or off, or a new model, re-analyses)."""
    if model is None:
        return debate.hash
    return hashlib.sha256(f"{debate.hash}:{model.digest}".encode()).hexdigest()


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
           (article, debate_hash, content_hash, translation_hash, relevant, relevance, top_frame, actors, keywords,
            analyzed_at, evidence, probability, model_terms, frame_mix)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            article, debate_hash, content_hash, stamp, int(res.relevant), res.relevance, res.top_frame,
            json.dumps(res.actors), json.dumps(res.keywords, ensure_ascii=False), now,
            _evidence_json(res.evidence), res.probability, json.dumps(res.model_terms, ensure_ascii=False),
            json.dumps(res.frame_mix) if res.frame_mix else None,
        ],
    )
    db.execute("DELETE FROM article_frames WHERE article = ?", [article])
    over = set(res.frames)
    for position, fr in enumerate(res.frame_scores):
        db.execute(
            """INSERT INTO article_frames (article, frame, score, evidence, over_threshold, position, probability)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [article, fr.frame, fr.score, _evidence_json(fr.evidence), int(fr.frame in over), position, fr.probability],
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
    model = load_model(debate.id, debate.hash) if settings.analysis.trained else None
    stamp_hash = analysis_hash(debate, model)
    report = AnalyzeReport(debate=debate.id, debate_hash=debate.hash[:12], model=model.digest[:12] if model else "")
    ids = pending_articles(db, stamp_hash)
    report.examined = len(ids)
    total = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    report.skipped_unchanged = int(total) - len(ids)
    if not ids:
        return report
    with track(progress, "analyze", len(ids)) as advance:
        for start in range(0, len(ids), BATCH):
            batch = load_articles(db, ids[start : start + BATCH])
            vectors = load_vectors(db, [t.id for t, _, _ in batch], model.embedding_model) if model else {}
            results = [
                (text.id, h, stamp, analyze_article(debate, text, model, vectors.get(text.id))) for text, h, stamp in batch
            ]
            with write_transaction(db):
                for aid, h, stamp, res in results:
                    store_result(db, aid, stamp_hash, h, stamp, res, iso(now))
            report.analysed += len(results)
            report.relevant += sum(1 for *_, r in results if r.relevant)
            advance(len(results), f"{report.relevant} relevant")
    return report

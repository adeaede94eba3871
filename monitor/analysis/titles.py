"""Story titles: a story is titled by a real headline, not a keyword list.

`story_title(articles, language)` picks the story's most central article and returns its headline in
the reader's `language` (en | es): the original when the article is in that language, else its stored
machine translation, flagged `translated` (and `rough` when a word-for-word engine made it). A headline
the reader would see translated gives up a little centrality first (PENALTIES), so an original in the reader's language titles the story unless a translated one is clearly more
central. When the story has articles from more than one country, `other` holds the most central
headline (by the same rule) of the best covered other country, to print beside it. Where no article
(of the story, or of that side) has a headline, as in labelled corpora of ledes, the first sentence
of the most central lede stands in, clipped, with `source` "lede".

Centrality of an article is the mean cosine similarity of its embedding to the story's other
articles (all vectors of one model, L2-normalised, so it is (v . sum - 1) / (n - 1), linear in the
story's size). Articles without a vector rank below those with one. With no vectors at all it is the
keyword overlap: the mean, over the article's keywords (English pivot forms, so both languages
compare), of the share of the story's other articles that carry that keyword. Ties go to the earliest
published article, then the lowest id, so a title is stable from run to run.

Pure: dataclasses in, a dataclass out; the database reads are in monitor/analysis/stories.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

LANGUAGES = ("en", "es")
# Centrality a headline gives up when the reader would see it translated: (fluent machine
# translation, word-for-word one or none stored). An original in the reader's language wins unless a
# translated headline is clearly more central. In mean cosine (e5 vectors put one story's articles
# within ~0.03 of each other) and in keyword overlap (a share of the other articles, coarser).
PENALTIES = {"embedding": (0.02, 0.05), "keywords": (0.1, 0.2)}
LEDE_CHARS = 120  # a lede sentence standing in for a headline is clipped to this, at a word


@dataclass(frozen=True)
class TitleArticle:
    """What titling needs of one article of a story."""

    id: int
    country: str  # the outlet's country: US | MX
    language: str  # the headline's own language
    title: str  # the original headline
    published: str  # UTC ISO-8601 (compares as text)
    outlet: str = ""  # outlet display name
    url: str | None = None
    translations: Mapping[str, tuple[str, bool]] = field(default_factory=dict)  # {language: (headline, rough)}
    vector: np.ndarray | None = field(default=None, compare=False)  # L2-normalised embedding, one model per story
    terms: frozenset[str] = frozenset()  # keywords, for centrality without vectors
    lede: str = ""  # first sentence of the lede: titles a story none of whose articles has a headline
    lede_translations: Mapping[str, tuple[str, bool]] = field(default_factory=dict)  # {language: (sentence, rough)}


@dataclass
class StoryTitle:
    """A story's title in one reader language: a real headline and where it comes from."""

    headline: str  # the headline as shown, in `language` when `translated` or the original is in it
    language: str  # language of `headline`
    translated: bool  # `headline` is a machine translation of `original`
    rough: bool  # ... made by a word-for-word engine: show it marked as rough
    original: str  # the article's own headline
    original_language: str
    article: int  # articles.id
    country: str  # the article's country
    outlet: str  # outlet display name
    url: str | None
    centrality: float  # mean cosine to the other articles (or keyword overlap, see `method`)
    method: str  # how centrality was measured: embedding | keywords | single
    source: str = "headline"  # headline | lede (no article of the story has a headline: its lede's first sentence)
    other: StoryTitle | None = None  # the other country's central headline, when both covered the story


def _vector_scores(articles: Sequence[TitleArticle]) -> dict[int, float]:
    """{article id: mean cosine to the other articles with a vector}, for the articles that have one."""
    with_vec = [a for a in articles if a.vector is not None and a.vector.size]
    if not with_vec:
        return {}
    dims = Counter(int(a.vector.shape[0]) for a in with_vec if a.vector is not None)
    dim = max(dims, key=lambda d: (dims[d], d))  # one model per story: a stray dimension is ignored
    with_vec = [a for a in with_vec if a.vector is not None and a.vector.shape[0] == dim]
    if len(with_vec) == 1:
        return {with_vec[0].id: 0.0}
    matrix = np.vstack([np.asarray(a.vector, dtype=np.float32) for a in with_vec])
    total = matrix.sum(axis=0)
    self_sims = np.einsum("ij,ij->i", matrix, matrix)
    scores = (matrix @ total - self_sims) / (len(with_vec) - 1)
    return {a.id: float(s) for a, s in zip(with_vec, scores, strict=True)}


def _term_scores(articles: Sequence[TitleArticle]) -> dict[int, float]:
    """{article id: mean over its terms of the share of the other articles that have the term}."""
    if len(articles) < 2:
        return {a.id: 0.0 for a in articles}
    df = Counter(t for a in articles for t in a.terms)
    others = len(articles) - 1
    return {
        a.id: (sum(df[t] - 1 for t in a.terms) / (others * len(a.terms))) if a.terms else 0.0 for a in articles
    }


def centrality(articles: Sequence[TitleArticle]) -> tuple[dict[int, tuple[int, float, float]], str]:
    """({article id: sort score, higher is more central}, method) for the story's articles.

    The score is (has a vector, mean cosine, keyword overlap): an article with a vector outranks one
    without; keyword overlap only decides among equals."""
    vec = _vector_scores(articles)
    terms = _term_scores(articles)
    method = "single" if len(articles) < 2 else "embedding" if len(vec) > 1 else "keywords"
    scores = {a.id: (1 if a.id in vec else 0, vec.get(a.id, 0.0), terms.get(a.id, 0.0)) for a in articles}
    return scores, method


def _clip(text: str, limit: int = LEDE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _headline(a: TitleArticle, language: str, score: float, method: str, source: str = "headline") -> StoryTitle:
    original = a.title if source == "headline" else a.lede
    translations = a.translations if source == "headline" else a.lede_translations
    if a.language == language or language not in translations:
        text, translated, rough, lang = original, False, False, a.language
    else:
        text, rough = translations[language]
        translated, lang = True, language
    if source == "lede":
        text, original = _clip(text), _clip(original)
    return StoryTitle(
        headline=" ".join(text.split()),
        language=lang,
        translated=translated,
        rough=rough if translated else False,
        original=" ".join(original.split()),
        original_language=a.language,
        article=a.id,
        country=a.country,
        outlet=a.outlet,
        url=a.url,
        centrality=round(score, 4),
        method=method,
        source=source,
    )


def translation_penalty(a: TitleArticle, language: str, method: str, source: str = "headline") -> float:
    """How much centrality (`method`: embedding | keywords) a headline (or lede) gives up for not
    being an original in the reader's `language`."""
    if a.language == language:
        return 0.0
    fluent, rough = PENALTIES[method]
    translations = a.translations if source == "headline" else a.lede_translations
    if language in translations and not translations[language][1]:
        return fluent
    return rough  # a word-for-word translation, or none stored (the original would be shown)


def story_title(articles: Sequence[TitleArticle], language: str) -> StoryTitle | None:
    """The story's title in `language` (en | es), or None when no article has a headline or a lede."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    scores, method = centrality(articles)  # an article without a headline still counts as the story's

    def value(a: TitleArticle) -> float:
        has_vec, cos, overlap = scores[a.id]
        return cos if has_vec else overlap

    def pick(candidates: Sequence[TitleArticle]) -> tuple[TitleArticle, str] | None:
        """The most central headline among `candidates`; with none, the most central lede."""
        for source in ("headline", "lede"):
            usable = [a for a in candidates if (a.title if source == "headline" else a.lede).strip()]
            if usable:

                def rank(a: TitleArticle, source: str = source) -> tuple[int, float, float, str, int]:
                    has_vec = scores[a.id][0]
                    penalty = translation_penalty(a, language, "embedding" if has_vec else "keywords", source)
                    return (-has_vec, penalty - value(a), -scores[a.id][2], a.published, a.id)

                return min(usable, key=rank), source
        return None

    found = pick(articles)
    if found is None:
        return None
    best, source = found
    title = _headline(best, language, value(best), method, source)
    per_country = Counter(a.country for a in articles if a.country != best.country)
    if per_country:
        country = min(per_country, key=lambda c: (-per_country[c], c))  # the best covered other country
        side = pick([a for a in articles if a.country == country])
        if side is not None:
            title.other = _headline(side[0], language, value(side[0]), method, side[1])
    return title

"""Story titles (monitor/analysis/titles.py): the most central article's headline, in the reader's
language, the other country's central headline beside it; pure functions on hand-made articles."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.analysis.titles import PENALTIES, StoryTitle, TitleArticle, centrality, story_title


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def art(
    id: int,
    country: str = "US",
    language: str = "en",
    title: str = "",
    published: str = "2026-11-22T12:00:00+00:00",
    vector: np.ndarray | None = None,
    terms: tuple[str, ...] = (),
    translations: dict[str, tuple[str, bool]] | None = None,
) -> TitleArticle:
    return TitleArticle(
        id=id, country=country, language=language, title=title or f"headline {id}", published=published,
        outlet=f"outlet {id}", url=f"https://example.org/{id}", translations=translations or {}, vector=vector,
        terms=frozenset(terms),
    )


def test_centrality_is_the_mean_cosine_to_the_other_articles() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(9, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    arts = [art(i, vector=vectors[i]) for i in range(9)]
    scores, method = centrality(arts)
    assert method == "embedding"
    sims = vectors @ vectors.T
    for i in range(9):
        brute = (sims[i].sum() - sims[i, i]) / 8
        assert scores[i][0] == 1 and scores[i][1] == pytest.approx(float(brute), abs=1e-5)


def test_the_most_central_headline_titles_the_story() -> None:
    # three articles about one event and an outlier; the one nearest the others is the title
    arts = [
        art(1, title="Outlier about something else", vector=unit(0, 0, 1), published="2026-11-22T08:00:00+00:00"),
        art(2, title="Central headline", vector=unit(1, 0.1, 0)),
        art(3, title="Near one side", vector=unit(1, 0.5, 0)),
        art(4, title="Near the other side", vector=unit(1, -0.3, 0.1)),
    ]
    title = story_title(arts, "en")
    assert title is not None
    assert (title.headline, title.article, title.method, title.translated) == ("Central headline", 2, "embedding", False)
    assert title.other is None  # one country only
    # the result does not depend on the order the articles come in
    again = story_title(list(reversed(arts)), "en")
    assert again is not None and again.article == 2


def test_a_headline_in_the_other_language_is_shown_translated_and_marked() -> None:
    mx = art(1, "MX", "es", "Sheinbaum rechaza ataque", vector=unit(1, 0, 0),
             translations={"en": ("Sheinbaum rejects attack", True)})
    other_mx = art(2, "MX", "es", "Senado exige explicación", vector=unit(1, 0.2, 0),
                   translations={"en": ("Senate demands explanation", False)})
    title = story_title([mx, other_mx], "en")
    assert title is not None
    assert title.translated and title.language == "en" and title.original_language == "es"
    # both need translating: the fluent one gives up less than the word-for-word one
    assert title.article == 2 and title.headline == "Senate demands explanation" and not title.rough
    only_rough = story_title([mx], "en")
    assert only_rough is not None and only_rough.rough and only_rough.original == "Sheinbaum rechaza ataque"
    # for a Spanish reader the original is shown, unmarked
    es = story_title([mx], "es")
    assert es is not None and (es.headline, es.translated, es.rough) == ("Sheinbaum rechaza ataque", False, False)


def test_an_original_in_the_readers_language_wins_unless_a_translation_is_clearly_more_central() -> None:
    fluent, rough = PENALTIES["embedding"]
    centre = unit(1, 0, 0)
    near = [art(10 + i, "US", "en", f"US {i}", vector=unit(1, *d)) for i, d in enumerate([(0.05, 0), (-0.05, 0), (0, 0.05)])]
    # a Mexican headline a little more central than the US ones (but within the penalty)
    es_central = art(1, "MX", "es", "Titular central", vector=centre, translations={"en": ("Central headline", True)})
    title = story_title([es_central, *near], "en")
    assert title is not None and title.country == "US" and not title.translated
    # a Spanish reader gets the Mexican original, the US side's central headline translated beside it
    es_title = story_title([es_central, *near], "es")
    assert es_title is not None and es_title.article == 1 and not es_title.translated
    assert es_title.other is not None and es_title.other.country == "US"
    assert es_title.other.headline == es_title.other.original  # no Spanish translation stored: the original
    # far off-centre US headlines: the translated Mexican one is clearly more central and titles it
    far = [art(20 + i, "US", "en", f"Far {i}", vector=unit(1, (-1) ** i * 3.0, 0.5 * i)) for i in range(3)]
    spread = story_title([es_central, *far], "en")
    assert spread is not None and spread.article == 1 and spread.translated and spread.rough
    scores, _ = centrality([es_central, *far])
    assert scores[1][1] - max(scores[f.id][1] for f in far) > rough  # why: more central by more than the penalty
    near_scores, _ = centrality([es_central, *near])
    assert 0 < near_scores[1][1] - max(near_scores[n.id][1] for n in near) < fluent  # and here by less than it


def test_the_other_countrys_central_headline_is_beside_it() -> None:
    arts = [
        art(1, "US", "en", "US central", vector=unit(1, 0, 0)),
        art(2, "US", "en", "US edge", vector=unit(1, 0.9, 0)),
        art(3, "MX", "en", "MX edge (English outlet)", vector=unit(1, -0.9, 0.4)),
        art(4, "MX", "en", "MX central (English outlet)", vector=unit(1, 0.1, 0.1)),
    ]
    scores, _ = centrality(arts)
    assert max(scores, key=lambda i: scores[i][1]) == 4  # the MX one is the most central overall
    title = story_title(arts, "en")
    assert isinstance(title, StoryTitle) and (title.article, title.country) == (4, "MX")
    # beside it, the US press's most central headline
    assert title.other is not None and (title.other.article, title.other.country) == (1, "US")
    assert title.other.other is None


def test_without_vectors_keyword_overlap_decides_then_the_earliest() -> None:
    arts = [
        art(1, terms=("strike", "boat"), published="2026-11-22T09:00:00+00:00"),
        art(2, terms=("strike", "boat", "pacific"), published="2026-11-22T10:00:00+00:00"),
        art(3, terms=("strike", "pacific"), published="2026-11-22T11:00:00+00:00"),
        art(4, terms=("senate",), published="2026-11-22T07:00:00+00:00"),
    ]
    title = story_title(arts, "en")
    # overlap: 1 -> (2+1)/(3*2)=.5, 2 -> (2+1+1)/(3*3)=.44, 3 -> (2+1)/(3*2)=.5, 4 -> 0; 1 and 3 tie: the earliest
    assert title is not None and (title.article, title.method) == (1, "keywords")
    assert title.centrality == pytest.approx(0.5)
    no_terms = story_title([art(5, published="2026-11-22T10:00:00+00:00"), art(6, published="2026-11-22T09:00:00+00:00")], "en")
    assert no_terms is not None and no_terms.article == 6


def test_articles_with_a_vector_outrank_those_without_and_empty_headlines_never_title() -> None:
    arts = [
        art(1, terms=("a", "b"), title="No vector yet"),
        art(2, vector=unit(1, 0, 0), title="Has a vector"),
        art(3, vector=unit(1, 0.2, 0), title="   "),
    ]
    title = story_title(arts, "en")
    assert title is not None and title.article == 2
    assert story_title([art(9, title=" ")], "en") is None
    # a headline-less article still counts for the others' centrality: it pulls the title towards it
    pair = [art(1, title="A", vector=unit(1, 0.3, 0)), art(2, title="B", vector=unit(1, -0.3, 0))]
    alone = story_title(pair, "en")
    assert alone is not None and alone.article == 1  # a tie: same time, the lower id
    pulled = story_title([*pair, art(3, title="", vector=unit(1, -0.5, 0)), art(4, title="", vector=unit(1, -0.6, 0))], "en")
    assert pulled is not None and pulled.article == 2
    assert story_title([], "es") is None
    single = story_title([art(8, title="Only  one\nheadline")], "en")
    assert single is not None and (single.headline, single.method) == ("Only one headline", "single")


def test_without_any_headline_the_central_lede_sentence_stands_in() -> None:
    mx = [
        TitleArticle(id=1, country="MX", language="es", title="", published="2026-11-22T10:00:00+00:00",
                     lede="Sheinbaum rechazó la designación.", vector=unit(1, 0, 0),
                     lede_translations={"en": ("Sheinbaum rejected the designation.", True)}),
        TitleArticle(id=2, country="MX", language="es", title="", published="2026-11-22T11:00:00+00:00",
                     lede="Otra nota " + "muy larga " * 30, vector=unit(1, 0.9, 0)),
    ]
    us = [
        art(3, "US", "en", "State Department designates cartels", vector=unit(1, 0.1, 0)),
        art(4, "US", "en", " ", vector=unit(1, -0.1, 0)),
    ]
    only_ledes = story_title(mx, "en")  # a pair is equally central: the earlier
    assert only_ledes is not None and only_ledes.source == "lede"
    assert (only_ledes.article, only_ledes.headline, only_ledes.translated, only_ledes.rough) == (
        1, "Sheinbaum rejected the designation.", True, True)
    long = story_title([mx[1]], "es")
    assert long is not None and len(long.headline) <= 120 and long.headline.endswith("…")
    # a headline anywhere in the story wins; the side without one shows its central lede
    mixed = story_title([*mx, *us], "es")
    assert mixed is not None and (mixed.article, mixed.source) == (3, "headline")
    assert mixed.other is not None and (mixed.other.article, mixed.other.source) == (1, "lede")
    assert mixed.other.headline == "Sheinbaum rechazó la designación."
    assert story_title([art(5, title=" ")], "en") is None  # neither headline nor lede


def test_a_bad_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language must be one of en, es"):
        story_title([art(1)], "fr")

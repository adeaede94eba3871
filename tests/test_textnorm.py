"""The one accent/case fold (monitor.analysis.textnorm.fold) that analysis, clustering and search share."""

from __future__ import annotations

import unicodedata

import pytest

from monitor.analysis.textnorm import fold


def _reference(text: str) -> str:
    """The definition: case-fold, decompose (NFKD), drop every combining mark."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


TEXTS = [
    "",
    "Cártel de SINALOA",
    "Intervención — «soberanía» ¿qué sigue? ¡Ya! Ñandú",
    "Decomposed: Me\u0301xico, intervencio\u0301n, n\u0303andu\u0301",
    "Ligatures and width: ﬁnanciamiento ＭＥＸＩＣＯ ﬂota",
    "Greek final sigma ΟΔΟΣ ὁδός, German Straße ẞ, Turkish İstanbul",
    "Grapheme joiner (not a combining mark): co\u034fop",
    "Beyond Latin accents: ব\u09bc, Cyrillic й, Vietnamese Tiếng Việt, Hangul 한국",
]


@pytest.mark.parametrize("text", TEXTS)
def test_fold_is_the_reference_fold(text: str) -> None:
    assert fold(text) == _reference(text)


def test_fold_examples() -> None:
    assert fold("Cártel de SINALOA") == "cartel de sinaloa"
    assert fold("Ñandú") == "nandu"
    assert fold("Straße") == "strasse"
    assert fold("co\u034fop") == "co\u034fop"  # the grapheme joiner is kept, as unicodedata.combining says


@pytest.mark.parametrize("text", TEXTS)
def test_a_words_fold_is_a_substring_of_its_texts_fold(text: str) -> None:
    """Search's snippet pre-check folds the whole text once and looks for each folded query word in it."""
    folded = fold(text)
    for word in text.split():
        assert fold(word) in folded, (word, text)

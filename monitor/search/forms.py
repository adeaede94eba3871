"""Word forms for search in English and Spanish: a plain query word also matches the other forms of
its word family, so "soberanía" finds "soberana", "soberano", "soberanías", and (through its English
translation "sovereignty") "sovereignties" and "sovereign".

FTS5's unicode61 tokenizer indexes words as written (case and accents folded), with no stemming.
Rather than a second, stemmed index that every writer would have to keep in step, the query is
expanded: for each language the word may be in, its Snowball stem is computed, candidate words are
generated from the stem with that language's inflectional and common derivational endings, and a
candidate is kept only when Snowball gives it the SAME stem. So the expansion is exactly "the words
this stemmer would have merged", never a bare prefix (police -> policía, not policy).
Candidates that no article contains cost FTS5 one b-tree lookup each.

    family("soberanía", ("es",))  -> ('soberanía', 'soberana', 'soberano', 'soberanas', ...)
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from monitor.analysis.textnorm import fold

LANGUAGES = ("en", "es")
MIN_STEM_CHARS = 4  # shorter words vary only by the light plural rules (a 3-letter stem merges too much)
_STEMMERS = {"en": "english", "es": "spanish"}

# Endings added to a stem to generate candidates; Snowball then decides which belong to the family.
# Inflection (gender, number, the commonest verb forms) and a few frequent derivations.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "es": (
        "", "a", "o", "e", "as", "os", "es", "s", "ía", "ías", "ismo", "ista", "istas",
        "ción", "ciones", "ado", "ada", "ados", "adas", "ido", "ida", "idos", "idas", "ar", "er", "ir",
    ),
    "en": ("", "s", "es", "e", "ed", "ing", "er", "ers", "y", "ies", "ty", "ties", "ion", "ions", "ism", "ist", "ists"),
}
MAX_FORMS = 24  # per word and language: the family is capped (the word itself always kept)


@lru_cache(maxsize=4)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(_STEMMERS[language])


@lru_cache(maxsize=65536)
def stem(word: str, language: str) -> str:
    """The Snowball stem of a lower-cased word (accents kept: Spanish stems depend on them)."""
    return _stemmer(language).stemWord(word)


def _same_stem_words(word: str, language: str) -> list[str]:
    if language == "en" and not word.isascii():  # soberanía is not an English word
        return []
    target = stem(word, language)
    if len(target) < MIN_STEM_CHARS:
        return []
    bases = {target}
    if target[-1] in "eiy":  # polici -> policy, sovereignti -> sovereignty, strike -> striking
        bases.add(target[:-1])
    out = []
    for base in sorted(bases):
        for suffix in SUFFIXES[language]:
            candidate = base + suffix
            if len(candidate) >= MIN_STEM_CHARS and stem(candidate, language) == target:
                out.append(candidate)
    return out[:MAX_FORMS]


def _derived_base(word: str, language: str) -> str | None:
    """English nouns in -ty also find their adjective: sovereignty -> sovereign, certainty -> certain.
    Only after a consonant (not -ity: nationality is not "nationali") and on a base of 7+ letters
    (property is not "proper")."""
    if language != "en":
        return None
    for ending in ("ties", "ty"):
        if word.endswith(ending):
            base = word[: -len(ending)]
            if len(base) >= 7 and base[-1] not in "aeiouy":
                return base
    return None


_ACCENTS = ((re.compile(r"ia(s?)$"), r"ía\1"), (re.compile(r"([cs])ion$"), r"\1ión"), (re.compile(r"ias$"), "ías"))


def _spellings(word: str, language: str) -> list[str]:
    """The word, and for Spanish typed without accents its accented ending (soberania -> soberanía,
    extradicion -> extradición): Spanish stems depend on the accent."""
    out = [word]
    if language == "es" and word.isascii():
        for pattern, repl in _ACCENTS:
            accented = pattern.sub(repl, word)
            if accented != word and accented not in out:
                out.append(accented)
    return out


@lru_cache(maxsize=8192)
def family(word: str, languages: tuple[str, ...] = LANGUAGES) -> tuple[str, ...]:
    """The word first, then the other words of its family in each of `languages` (lower case,
    no duplicates once accents are folded)."""
    w = word.lower()
    if len(w) < MIN_STEM_CHARS or any(ch.isdigit() for ch in w):
        return (w,)
    found = [w]
    for language in languages:
        if language not in _STEMMERS:
            continue
        for spelling in _spellings(w, language):
            found += _same_stem_words(spelling, language)
        base = _derived_base(w, language)
        if base:
            found += [base, *_same_stem_words(base, language)]
    first: dict[str, str] = {}  # one spelling per folded form, the first found
    for f in found:
        first.setdefault(fold(f), f)
    return tuple(first.values())


__all__ = ["LANGUAGES", "SUFFIXES", "family", "stem"]

"""A check of a debate file for its author: one-word patterns whose stem also catches other words.

A one-word pattern ("aseguramiento") matches every form of the word through its Snowball stem, and
a stem can join words of different meanings: "aseguramiento" (a drug seizure) and "aseguró" (he
said) share "asegur"; "authorization" and "authorities" share "author". Nothing in the file shows
it, and the evidence the monitor prints then reads "drugs_health: [aseguró]". `stem_collisions`
lists, for each one-word pattern, the words of real text (the stored articles) that it matches but
that are not forms of it, most frequent first, so that the author can write a word beginning
("aseguramient*") where the extra words are wrong. Phrases and "~" patterns are left out: their
other words already restrict them.

`untranslated_words` lists the frequent words of the stored articles that the rough translation
engine does not know and the file's [glossary] does not translate ("fentanilo", "narcotraficantes",
"airspace" stay as written in apertium's translations): candidates for glossary entries.
`translation_only_terms` lists the core terms that matched only an article's rough translation,
its original holding none ("Senado aprueba reforma ... soberanía nacional" is found through its
translation's "sovereignty ~ mexic*": the Spanish list lacks an equivalent). With translation off,
or where the rough translation words it otherwise, such an article is missed: where it belongs to
the debate, the original-language equivalent belongs in the file.
Pure functions; `monitor debate check` reads the texts and asks the engine.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import groupby

from monitor.analysis.analyze import ArticleText, core_matches, sides_of
from monitor.analysis.debate import Debate, Pattern
from monitor.analysis.textnorm import fold, is_stopword, sentences, tokens

MAX_SHOWN = 8  # other words listed per pattern word
UNKNOWN_POOL = 3000  # the most frequent lower-case words of each language asked about
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # "didn't" and "Mexico's" are read whole (and left out)


@dataclass(frozen=True)
class PatternWord:
    where: str  # the file's section: "frame 'legality'", "relevance.terms #2", "relevance.exclude #1"
    language: str
    word: str  # folded, as the pattern writes it
    stem: str


@dataclass(frozen=True)
class Collision:
    """A one-word pattern whose stem matched other words in the texts read."""

    language: str
    word: str
    stem: str
    used_in: tuple[str, ...]  # the sections whose patterns use the word
    own: int  # occurrences of the word's own forms (those beginning like it)
    other_count: int  # occurrences of the other words
    others: tuple[tuple[str, int], ...]  # the other words the stem matched, most frequent first (MAX_SHOWN)


# lang -> stem -> Counter of the folded forms seen with that stem
WordForms = dict[str, dict[str, Counter[str]]]


def _one_word(pattern: Pattern) -> bool:
    return len(pattern.parts) == 1 and len(pattern.parts[0]) == 1 and not pattern.parts[0][0].prefix


def pattern_words(debate: Debate) -> list[PatternWord]:
    """The one-word patterns of every section of the file (not word beginnings, phrases or "~")."""
    sections: list[tuple[str, tuple[Pattern, ...]]] = []
    sections += [(f"relevance.terms #{i + 1}", g.patterns) for i, g in enumerate(debate.terms)]
    sections += [(f"relevance.exclude #{i + 1}", e.patterns) for i, e in enumerate(debate.exclusions)]
    sections += [(f"frame '{f.id}'", f.patterns) for f in debate.frames]
    return [
        PatternWord(where, p.language, fold(p.text.strip()), p.parts[0][0].value)
        for where, patterns in sections
        for p in patterns
        if _one_word(p)
    ]


def word_forms(texts: Iterable[tuple[str, str]]) -> WordForms:
    """Count the words of (language, text) pairs by stem."""
    forms: WordForms = {}
    for language, text in texts:
        by_stem = forms.setdefault(language, {})
        for tok in tokens(text or "", language):
            by_stem.setdefault(tok.stem, Counter())[tok.folded] += 1
    return forms


def is_own_form(word: str, form: str) -> bool:
    """Whether `form` is a form of `word`: it begins like the word less its last two letters
    ("cartel": "carteles"; "aseguramiento": "aseguramientos", not "aseguró")."""
    return form.startswith(word[: max(3, len(word) - 2)])


def stem_collisions(debate: Debate, forms: WordForms, min_count: int = 3) -> list[Collision]:
    """The one-word patterns whose stem matched, `min_count` times or more, words that are not their
    own forms; the most such matches first."""
    by_word: dict[tuple[str, str], list[PatternWord]] = {}
    for pw in pattern_words(debate):
        by_word.setdefault((pw.language, pw.word), []).append(pw)
    out: list[Collision] = []
    for (language, word), uses in by_word.items():
        seen = forms.get(language, {}).get(uses[0].stem, Counter())
        others = sorted(((f, n) for f, n in seen.items() if not is_own_form(word, f)), key=lambda fn: (-fn[1], fn[0]))
        if sum(n for _, n in others) < min_count:
            continue
        out.append(
            Collision(
                language=language,
                word=word,
                stem=uses[0].stem,
                used_in=tuple(dict.fromkeys(u.where for u in uses)),
                own=sum(n for f, n in seen.items() if is_own_form(word, f)),
                other_count=sum(n for _, n in others),
                others=tuple(others[:MAX_SHOWN]),
            )
        )
    return sorted(out, key=lambda c: (-c.other_count, c.language, c.word))


@dataclass(frozen=True)
class Untranslated:
    """A frequent word of the stored articles that the rough engine leaves as written."""

    language: str  # the articles' language
    word: str
    count: int  # occurrences in the texts read


@dataclass
class LowerCaseWords:
    """Per language, the words of 4 letters or more written in lower case (names are capitalised),
    stopwords left out: their counts, and a sentence where each was first seen."""

    counts: dict[str, Counter[str]]
    examples: dict[tuple[str, str], str]  # (language, word) -> a sentence holding it


def lower_case_words(texts: Iterable[tuple[str, str]]) -> LowerCaseWords:
    out = LowerCaseWords({}, {})
    for language, text in texts:
        counts = out.counts.setdefault(language, Counter())
        for sentence in sentences(text or ""):
            found = [
                w for w in _WORD.findall(sentence)
                if len(w) >= 4 and w.islower() and "'" not in w and "’" not in w and not is_stopword(fold(w), language)
            ]
            counts.update(found)
            for w in found:
                out.examples.setdefault((language, w), sentence)
    return out


# (language, [(word, a sentence holding it)]) -> the words the engine leaves as written there
UnknownWords = Callable[[str, list[tuple[str, str]]], set[str]]


def untranslated_words(
    debate: Debate, words: LowerCaseWords, unknown: UnknownWords, min_count: int = 3, top: int = 20
) -> list[Untranslated]:
    """Per language, the `top` most frequent words (at least `min_count` times) that the engine leaves
    as written (`unknown`) and the file's glossary does not already translate."""
    covered = {(direction.split("-")[0], source.casefold()) for direction, source, _, _ in debate.glossary}
    out: list[Untranslated] = []
    for language in sorted(words.counts):
        pool = [
            (w, n) for w, n in words.counts[language].most_common(UNKNOWN_POOL) if n >= min_count and (language, w) not in covered
        ]
        missing = unknown(language, [(w, words.examples[(language, w)]) for w, _ in pool])
        out += [Untranslated(language, w, n) for w, n in pool if w in missing][:top]
    return out


@dataclass(frozen=True)
class TranslationOnly:
    """A core term of the file that matched articles only through their rough translation."""

    language: str  # the articles' own language
    term: str  # the pattern as the file writes it (in the translation's language)
    term_language: str
    articles: int  # articles whose original holds no core term and whose translation matched this one
    relevant: int  # of them, those the stored analysis found relevant
    example: str  # one such article's headline (else the start of its summary)


def translation_only_terms(
    debate: Debate, articles: Iterable[tuple[ArticleText, bool]], min_count: int = 1, top: int = 20
) -> list[TranslationOnly]:
    """Per article language, the `top` core terms that matched `min_count` or more (article, relevant)
    whose original matched no core term while a translation scored through one (context words alone,
    or a term an exclusion cancels, do not count); the terms with the most relevant articles first."""
    found: dict[tuple[str, str, str], list[tuple[ArticleText, bool]]] = {}
    for article, relevant in articles:
        sides = sides_of(article)
        terms: dict[tuple[str, str, str], None] = {}
        for side in sides[1:]:
            score, patterns = core_matches(debate, side)
            if score > 0:
                terms.update(((article.language, p.text, p.language), None) for p in patterns)
        # the original is read only where a translation matched: most stored articles match nowhere
        if not terms or core_matches(debate, sides[0])[1]:
            continue
        for key in terms:
            found.setdefault(key, []).append((article, relevant))
    out = [
        TranslationOnly(
            language, term, term_language, len(hits), sum(r for _, r in hits),
            (hits[0][0].title or hits[0][0].summary or "")[:120],
        )
        for (language, term, term_language), hits in found.items()
        if len(hits) >= min_count
    ]
    out.sort(key=lambda t: (t.language, -t.relevant, -t.articles, t.term))
    return [t for _, same in groupby(out, key=lambda t: t.language) for t in list(same)[:top]]

"""A check of a debate file for its author: one-word patterns whose stem also catches other words.

A one-word pattern ("aseguramiento") matches every form of the word through its Snowball stem, and
a stem can join words of different meanings: "aseguramiento" (a drug seizure) and "aseguró" (he
said) share "asegur"; "authorization" and "authorities" share "author". Nothing in the file shows
it, and the evidence the monitor prints then reads "drugs_health: [aseguró]". `stem_collisions`
lists, for each one-word pattern, the words of real text (the stored articles) that it matches but
that are not forms of it, most frequent first, so that the author can write a word beginning
("aseguramient*") where the extra words are wrong. Phrases and "~" patterns are left out: their
other words already restrict them. Pure functions; `monitor debate check` reads the texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.analysis.debate import Debate, Pattern
from monitor.analysis.textnorm import fold, tokens

MAX_SHOWN = 8  # other words listed per pattern word


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

"""Named things and figures an article cites, read from its ORIGINAL text in either language.

What tells one event from another on a day when every article names Trump and Sheinbaum is the
rest: the people, places and organisations only that event's reports name ("Caro Quintero",
"El Paso", "CJNG"), and the figures they cite ("29 narcotraficantes", "10 mil elementos",
"10,000 troops"). Both survive without translation: names are written the same way in English and
Spanish, and figures are read into one value ("10 mil" = "10,000" = "10000").

- `names(text, language)`: capitalised words and spans, folded ("Cártel de Sinaloa" gives
  "cartel", "sinaloa" and the span "cartel de sinaloa"), acronyms ("CJNG"); sentence-initial words
  only when they are not ordinary words of the text; a headline written in Title Case gives only its
  acronyms (every word is capitalised there). The debate file's actors come from `monitor analyze`.
- `numbers(text, language)`: figures as canonical strings ("10000", "29", "2.5"); years, days of
  the month, 0 and 1 are left out (they tell no event apart).

Pure functions over strings; how much each feature weighs is the clusterer's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from monitor.analysis.concepts import NUMBER_WORDS
from monitor.analysis.textnorm import fold, is_stopword, sentences


def _words(text: str) -> list[str]:
    return text.split()


# Words capitalised for grammar or office, not names: never a name feature on their own.
GENERIC = frozenset(
    _words(
        """
    the a an this that these those in on at of for and but or with by from as to after before over under
    el la los las un una unos unas lo al del de en con por para sin sobre tras ante y o e ni que se su sus
    mr ms mrs dr sr sra don dona
    president presidente presidenta secretary secretario secretaria minister ministro ministra governor
    gobernador gobernadora senator senador senadora representative diputado diputada general leader lider
    government gobierno administration administracion department departamento office oficina
    monday tuesday wednesday thursday friday saturday sunday lunes martes miercoles jueves viernes sabado domingo
    january february march april may june july august september october november december
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre
    breaking update exclusive opinion video live watch analysis editorial
    ultima hora urgente exclusiva opinion analisis en vivo
    """
    )
)

MONTHS = frozenset(
    _words(
        """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre
    """
    )
)

CONNECTORS = frozenset(["de", "del", "la", "las", "los", "of", "the"])  # inside a name: "Cártel de Sinaloa"
MAX_SPAN = 5  # a longer span also gives its shorter runs ("Rafael Caro Quintero" -> "caro quintero")

_TOKEN_RE = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]+)*\.?|\d[\d.,]*|\S", re.UNICODE)

_MULTIPLIERS: dict[str, dict[str, float]] = {
    "en": {"thousand": 1e3, "million": 1e6, "millions": 1e6, "billion": 1e9, "billions": 1e9, "k": 1e3, "m": 1e6, "bn": 1e9},
    "es": {"mil": 1e3, "millon": 1e6, "millones": 1e6, "mdd": 1e6, "mdp": 1e6, "billon": 1e12, "billones": 1e12},
}
_NUMBER_RE = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:([.,\u00a0 ])\d{3})+|\d+(?:[.,]\d+)?)(?:\s*(%|por\s+ciento|percent))?"
    r"(?:\s+(mil\s+millones|[a-z]+))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Entities:
    """The name and figure features of one article (original text)."""

    names: frozenset[str]
    numbers: frozenset[str]


def _canonical(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _parse_digits(digits: str, separator: str | None, language: str) -> float | None:
    if separator is not None:  # thousands groups: 10,000 / 10.000 / 10 000
        return float(re.sub(r"\D", "", digits))
    if re.fullmatch(r"\d+[.,]\d+", digits):  # a decimal: 2.5 / 2,5
        return float(digits.replace(",", "."))
    if digits.isdigit():
        return float(digits)
    return None


def numbers(text: str, language: str) -> frozenset[str]:
    """Figures cited in `text`, canonical ("10 mil" and "10,000" -> "10000", "seis" -> "6")."""
    if not text:
        return frozenset()
    out: set[str] = set()
    multipliers = _MULTIPLIERS.get(language, {})
    folded = fold(text)
    for m in _NUMBER_RE.finditer(folded):
        value = _parse_digits(m.group(1), m.group(2), language)
        if value is None:
            continue
        word = " ".join((m.group(4) or "").split())
        if word == "mil millones":
            value *= 1e9
        elif word in multipliers:
            value *= multipliers[word]
        elif m.group(3) is None:
            before = folded[max(0, m.start() - 12) : m.start()].split()
            if 1900 <= value <= 2100 and value == int(value):
                continue  # a year
            if (before and before[-1].rstrip(".") in MONTHS) or word in MONTHS or _month_follows(folded, m.end(1)):
                continue  # a day of the month: "Nov. 3", "3 November", "3 de noviembre"
        if value in (0, 1):
            continue
        out.add(_canonical(value))
    words = NUMBER_WORDS.get(language, {})
    toks = folded.split()
    for i, tok in enumerate(toks):
        tok = tok.strip(".,;:()\"'«»“”")
        if tok in words:
            value = float(words[tok])
            nxt = toks[i + 1].strip(".,;:") if i + 1 < len(toks) else ""
            value *= multipliers.get(nxt, 1.0)
            out.add(_canonical(value))
    return frozenset(out)


def _month_follows(folded: str, end: int) -> bool:
    rest = folded[end : end + 20].split()
    return len(rest) >= 2 and rest[0] == "de" and rest[1].strip(".,") in MONTHS


def _title_case(words: list[str]) -> bool:
    """A headline in Title Case: most of its longer words capitalised."""
    long = [w for w in words if len(w) > 3 and w[:1].isalpha()]
    return len(long) >= 3 and sum(w[:1].isupper() for w in long) >= 0.8 * len(long)


def names(text: str, language: str, *, headline: str = "") -> frozenset[str]:
    """Capitalised words, spans and acronyms of `headline` and `text`, folded. A headline in Title
    Case gives only its acronyms; a sentence's first word counts only when the text capitalises it
    elsewhere too (else "Gunmen killed ..." would make "gunmen" a name)."""
    parts = [(headline, True), (text, False)]
    tokenised: list[list[str]] = []
    for part, is_headline in parts:
        for sentence in sentences(part or ""):
            words = _TOKEN_RE.findall(sentence)
            tokenised.append(["\x00" + w for w in words] if is_headline and _title_case(words) else words)
    inner_caps = {fold(w) for words in tokenised for i, w in enumerate(words) if i > 0 and w[:1].isupper()}
    out: set[str] = set()
    for words in tokenised:
        span: list[str] = []
        for i, token in enumerate(words):
            title_case = token.startswith("\x00")
            raw = token.lstrip("\x00")
            word = raw.rstrip(".") if len(raw) > 2 else raw
            f = fold(word)
            acronym = len(word) >= 2 and word.isupper() and word.isalpha()
            capital = word[:1].isupper() and word[:1].isalpha() and not title_case
            initial = i == 0 or words[i - 1].lstrip("\x00") in _OPENERS
            keep = acronym or (capital and (not initial or f in inner_caps))
            if keep and f not in GENERIC and f not in MONTHS and not is_stopword(f, language) and len(f) >= 2:
                out.add(f)
                span.append(f)
            elif (keep or f in CONNECTORS) and span:
                span.append(f)
            else:
                _close(span, out)
                span = []
        _close(span, out)
    return frozenset(out)


_OPENERS = frozenset(['"', "“", "«", "¿", "¡", "(", "'", "‘", ":", "—", "-", "–"])


def _close(span: list[str], out: set[str]) -> None:
    while span and span[-1] in CONNECTORS:
        span.pop()
    while span and (span[0] in CONNECTORS or span[0] in GENERIC):
        span.pop(0)
    if len(span) < 2:
        return
    out.add(" ".join(span))
    if len(span) <= MAX_SPAN:  # its runs of two or more words that begin and end with a name word
        for i in range(len(span)):
            for j in range(i + 2, len(span) + 1):
                if (i, j) != (0, len(span)) and span[i] not in CONNECTORS and span[j - 1] not in CONNECTORS:
                    out.add(" ".join(span[i:j]))


@lru_cache(maxsize=4096)  # a watcher re-reads the window's articles every run
def read(title: str, lede: str, language: str) -> Entities:
    """The names and figures of an article's original headline and lede."""
    return Entities(
        names=names(lede, language, headline=title),
        numbers=numbers(title, language) | numbers(lede, language),
    )

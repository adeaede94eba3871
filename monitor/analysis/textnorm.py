"""Text normalisation shared by analysis and clustering: accent/case folding, sentences, tokens, stems.

Stemming uses the Snowball stemmers (snowballstemmer) for English and Spanish; a word is stemmed in
its own language (lower-cased, accents kept, as Snowball expects) and the stem is then folded, so
"cárteles", "carteles" and "cártel" share one stem. Other languages fall back to folding only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_STEMMER_NAMES = {"en": "english", "es": "spanish"}
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
# A sentence ends at . ! ? … (optionally followed by quotes/brackets) before whitespace, or at a line break.
_SENTENCE_RE = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+(?=[\"'“‘«(¿¡\[]?[A-ZÁÉÍÓÚÑÜ0-9])|\n+")


# The combining accents of Latin script, after NFKD (U+034F, the grapheme joiner, is not combining).
_COMBINING_RE = re.compile("[\u0300-\u034e\u0350-\u036f]")


def fold(text: str) -> str:
    """Lower-case and strip accents: "Cártel de SINALOA" -> "cartel de sinaloa" (ñ becomes n).

    The one accent/case fold of the package (analysis, clustering, search highlighting). It folds
    character by character, so each word's fold is a substring of its whole text's fold; a regex
    handles the common Latin accents at C speed and the character loop runs only for the rest.
    """
    if text.isascii():
        return text.lower()
    folded = _COMBINING_RE.sub("", unicodedata.normalize("NFKD", text.casefold()))
    if not folded.isascii() and any(unicodedata.combining(ch) for ch in set(folded)):
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return folded


@lru_cache(maxsize=8)
def _stemmer(language: str) -> snowballstemmer.stemmer | None:
    name = _STEMMER_NAMES.get(language)
    return snowballstemmer.stemmer(name) if name else None


@lru_cache(maxsize=200_000)
def stem(word: str, language: str) -> str:
    """The folded Snowball stem of one word in `language` (en, es); folded word for other languages."""
    stemmer = _stemmer(language)
    lowered = word.casefold().replace("’", "'")
    if lowered.endswith("'s"):
        lowered = lowered[:-2]
    if stemmer is None:
        return fold(lowered)
    return fold(stemmer.stemWord(lowered))


@dataclass(frozen=True)
class Token:
    raw: str  # as written
    folded: str  # lower-case, no accents
    stem: str  # folded stem in the text's language


def tokens(text: str, language: str) -> list[Token]:
    """Word tokens of `text` (letters and digits; hyphens and punctuation split words)."""
    out = []
    for m in _WORD_RE.finditer(text):
        raw = m.group(0)
        out.append(Token(raw, fold(raw), stem(raw, language)))
    return out


def sentences(text: str) -> list[str]:
    """Split text into sentences (a simple, language-neutral rule: end punctuation before a capital)."""
    parts = [p.strip() for p in _SENTENCE_RE.split(text or "")]
    return [p for p in parts if p]


# Function words left out of keywords and story vectors.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        ["a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "s", "same", "she", "should", "so", "some", "such", "t", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "said", "says", "say", "according", "new", "one", "two", "three", "first", "last", "year", "years", "week", "weeks", "day", "days", "time", "people", "told", "like", "made", "make", "many", "much", "may", "might", "must", "per", "since", "still", "us", "via", "well", "would", "amid", "after", "who", "whose", "its", "it's", "mr", "ms", "mrs", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    ),
    "es": frozenset(
        ["a", "al", "algo", "algunas", "algunos", "ante", "antes", "como", "con", "contra", "cual", "cuando", "de", "del", "desde", "donde", "durante", "e", "el", "ella", "ellas", "ellos", "en", "entre", "era", "erais", "eran", "eras", "eres", "es", "esa", "esas", "ese", "eso", "esos", "esta", "estaba", "estaban", "estado", "estados", "estar", "estas", "este", "esto", "estos", "fue", "fueron", "fui", "ha", "habia", "habian", "han", "hasta", "hay", "la", "las", "le", "les", "lo", "los", "mas", "me", "mi", "mis", "mucho", "muchos", "muy", "nada", "ni", "no", "nos", "nosotros", "o", "os", "otra", "otras", "otro", "otros", "para", "pero", "poco", "por", "porque", "que", "quien", "quienes", "se", "sea", "ser", "si", "sido", "sin", "sobre", "son", "su", "sus", "tambien", "tanto", "te", "tiene", "tienen", "todo", "todos", "tu", "tus", "un", "una", "unas", "uno", "unos", "y", "ya", "yo", "dijo", "dice", "segun", "ano", "anos", "dia", "dias", "semana", "hoy", "ayer", "este", "esta", "lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo", "tras", "cada", "ademas", "asi", "aun", "solo", "sino", "puede", "pueden", "hace", "hacer", "dos", "tres", "primer", "primera", "luego", "mientras", "vez", "veces", "parte", "casi", "toda", "todas"]
    ),
}


def is_stopword(folded: str, language: str) -> bool:
    return folded in STOPWORDS.get(language, frozenset()) or len(folded) < 2 or (folded.isdigit() and len(folded) < 2)

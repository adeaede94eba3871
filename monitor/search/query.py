"""The search query language: parse what a user typed into a structured `Query`, and build safe
FTS5 MATCH strings from it. Pure functions, no database.

Syntax (the same in the CLI, the web page's search box and alert rules):

    cartel drones            every word must match (in the original or the translation)
    "guerra contra el narco" an exact phrase
    drones OR misiles        either word (OR in capitals; binds the words on each side)
    cartel -sinaloa          exclude articles with a word (also NOT sinaloa, -"exact phrase")
    terror*                  words starting with a prefix
    country:MX outlet:la-jornada lang:es frame:sovereignty story:42
    since:2026-11-01 until:2026-11-30 since:7d since:24h

Plain words also match their other forms in both languages: plural/singular (cartel -> carteles,
cartels) and the word family a Snowball stemmer groups (soberanía -> soberana, soberanos;
sovereignty -> sovereign; monitor.search.forms); quote a word to match it exactly. Common words ("de", "the", "con") are ignored unless quoted. Matching is
case- and accent-insensitive (méxico = Mexico = MÉXICO).

Every term reaches FTS5 as a double-quoted string (`fts_expression`), so no user input can be
read as FTS syntax; `--raw` is the explicit way to write FTS5 syntax yourself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from monitor.config.bounds import day_range_text, instant_in_range
from monitor.errors import UsageError
from monitor.search.forms import LANGUAGES, family
from monitor.store.db import iso, utcnow

MAX_QUERY_CHARS = 2000  # longer input is refused with a message, not truncated silently
MAX_TERMS = 64  # words + phrases + OR alternatives + exclusions

FILTERS = ("country", "outlet", "lang", "frame", "story", "since", "until")
_FILTER_ALIASES = {"language": "lang", "from": "since", "to": "until"}
_WORD_RE = re.compile(r"[^\W_]+")  # what FTS5 unicode61 keeps as a token: letters and digits
_FILTER_RE = re.compile(r"^([A-Za-z]+):(.*)$", re.DOTALL)
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "＂": '"'})
_RELATIVE_RE = re.compile(r"^(\d{1,4})([hdw])$")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

# Words too common to search for (in either language) unless quoted. "us" is deliberately absent.
STOPWORDS = frozenset(
    """
    a an and are as at be by for from has have in into is it its of on or over than that the their
    this to was were will with after about against amid
    al ante bajo con contra de del desde durante e el en entre es esta este hacia hasta la las lo los
    o para por que se sin sobre su sus tras u un una unas unos y ya
    """.split()  # noqa: SIM905 - a word list reads better as text
)


class QueryError(UsageError):
    """The query cannot be searched; the message says what to fix (exit 2)."""


class SearchTimeout(QueryError):
    """The search ran past its time limit and was stopped."""


@dataclass(frozen=True)
class Term:
    """One thing to look for: a word, or a phrase (several words in order), optionally a prefix."""

    text: str  # cleaned text, never contains a double quote
    phrase: bool = False  # quoted by the user: match exactly these words in order, no other forms
    prefix: bool = False  # ends with *: the last word is a prefix

    @property
    def words(self) -> list[str]:
        return _WORD_RE.findall(self.text)

    @property
    def plain(self) -> bool:
        """A single unquoted word without *: it also matches its plural/singular forms."""
        return not self.phrase and not self.prefix and len(self.words) == 1

    def display(self) -> str:
        body = f'"{self.text}"' if self.phrase or len(self.words) > 1 else self.text
        return body + ("*" if self.prefix else "")


Clause = tuple[Term, ...]  # an OR group: any of its terms matches; a plain word is a group of one


@dataclass(frozen=True)
class Query:
    """A parsed query. Clauses are ANDed; each clause is an OR of terms. Filters are ANDed with
    each other, and the values of one filter are ORed (country:US country:MX = either country)."""

    text: str = ""  # what the user typed, control characters removed
    clauses: tuple[Clause, ...] = ()
    excluded: tuple[Term, ...] = ()
    countries: tuple[str, ...] = ()  # upper case: US, MX
    outlets: tuple[str, ...] = ()  # outlet ids (slugs)
    languages: tuple[str, ...] = ()  # the article's own language: en, es
    frames: tuple[str, ...] = ()  # frame ids from the debate file
    stories: tuple[int, ...] = ()  # story ids
    since: str | None = None  # UTC ISO-8601, inclusive
    until: str | None = None  # UTC ISO-8601, exclusive
    raw: str | None = None  # an FTS5 expression given with --raw (searched as is, not translated)
    ignored: tuple[str, ...] = ()  # common words left out of the search
    notes: tuple[str, ...] = field(default=(), compare=False)  # what the parser changed or ignored

    @property
    def has_terms(self) -> bool:
        return bool(self.clauses) or bool(self.raw)

    @property
    def has_filters(self) -> bool:
        return bool(
            self.countries or self.outlets or self.languages or self.frames or self.stories or self.since or self.until
        )

    def words_text(self) -> str:
        """The searchable words, for language detection and display."""
        return " ".join(t.text for clause in self.clauses for t in clause)

    def describe(self) -> str:
        """A normalised rendering of the query (what was actually searched)."""
        parts: list[str] = []
        if self.raw:
            parts.append(f"raw:{self.raw}")
        for clause in self.clauses:
            parts.append(" OR ".join(t.display() for t in clause) if len(clause) > 1 else clause[0].display())
        parts += [f"-{t.display()}" for t in self.excluded]
        for name, values in (
            ("country", self.countries),
            ("outlet", self.outlets),
            ("lang", self.languages),
            ("frame", self.frames),
            ("story", self.stories),
        ):
            parts += [f"{name}:{v}" for v in values]
        if self.since:
            parts.append(f"since:{self.since}")
        if self.until:
            parts.append(f"until:{self.until}")
        return " ".join(parts)


# ----------------------------------------------------------------------------------------- parsing


def clean_text(text: str) -> str:
    """NFC, typographic quotes to '"', control and format characters (NUL included) to spaces."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text).strip()


def _lex(text: str) -> list[tuple[str, str, bool]]:
    """Split into (kind, text, prefix) tokens: kind is 'quoted', 'word' or 'negate'. An unbalanced quote runs
    to the end of the text. A word directly followed by a quote ends there (`outlet:"la jornada"`)."""
    tokens: list[tuple[str, str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            end = text.find('"', i + 1)
            body = text[i + 1 :] if end < 0 else text[i + 1 : end]
            i = n if end < 0 else end + 1
            prefix = False
            while i < n and text[i] == "*":
                prefix, i = True, i + 1
            tokens.append(("quoted", body, prefix))
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != '"':
            j += 1
        # a minus glued to a quote (-"exact phrase") negates the phrase
        kind = "negate" if text[i:j] in ("-", "!", "\u2212") and j < n and text[j] == '"' else "word"
        tokens.append((kind, text[i:j], False))
        i = j
    return tokens


def _split_values(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _as_list(value: str | Iterable[str] | int | Iterable[int] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int):
        return _split_values(str(value))
    out: list[str] = []
    for v in value:
        out += _split_values(str(v))
    return out


def parse_date(value: str, name: str, *, end: bool = False, now: datetime | None = None) -> str:
    """`2026-11-01`, an ISO date-time, or a relative `7d` / `24h` / `2w` -> UTC ISO-8601.
    With end=True a plain date means the end of that day (until: is inclusive of its day)."""
    v = value.strip()
    m = _RELATIVE_RE.match(v.lower())
    if m:
        amount, unit = int(m.group(1)), m.group(2)
        delta = {"h": timedelta(hours=amount), "d": timedelta(days=amount), "w": timedelta(weeks=amount)}[unit]
        return iso((now or utcnow()) - delta)
    plain_day = re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) is not None
    try:
        dt = datetime.fromisoformat(v if plain_day else v.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"{name}:{value} is not a date; write a date like {name}:2026-11-01, a time like "
            f"{name}:2026-11-01T14:00, or a span back from now like {name}:7d or {name}:24h"
        ) from None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    if not instant_in_range(dt):  # also keeps the end-of-day step below from overflowing
        raise QueryError(f"{name}:{value} is out of range: use a day {day_range_text()}")
    if end and plain_day:
        dt += timedelta(days=1)
    return iso(dt)


@dataclass
class _Filters:
    countries: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)
    stories: list[int] = field(default_factory=list)
    since: list[str] = field(default_factory=list)
    until: list[str] = field(default_factory=list)

    def add(self, name: str, value: str, now: datetime | None) -> None:
        values = _split_values(value)
        if not values:
            raise QueryError(f"filter {name}: has no value; write it without a space, e.g. {_EXAMPLES[name]}")
        for v in values:
            if name in _CODES:
                pattern, case, target, what = _CODES[name]
                code = case(v)
                if not (v.isascii() and pattern.fullmatch(code)):
                    raise QueryError(f"{name}:{v} is not {what}, e.g. {_EXAMPLES[name]}")
                getattr(self, target).append(code)
            elif name == "story":
                if not re.fullmatch(r"#?\d{1,18}", v):
                    raise QueryError(f"story:{v} is not a story id; use the number shown for the story, e.g. story:42")
                self.stories.append(int(v.lstrip("#")))
            else:  # since, until
                getattr(self, name).append(parse_date(v, name, end=name == "until", now=now))


_TWO_LETTERS = re.compile(r"[A-Za-z]{2}")
# filter -> (pattern the normalised ASCII value must match, normalisation, _Filters list, what it must be)
_CODES = {
    "country": (_TWO_LETTERS, str.upper, "countries", "a country code; use two letters"),
    "lang": (_TWO_LETTERS, str.lower, "languages", "a language code; use two letters"),
    "outlet": (_SLUG_RE, str.lower, "outlets", "an outlet id; use the id from `monitor feeds`"),
    "frame": (_SLUG_RE, str.lower, "frames", "a frame id; use an id from the debate file"),
}

_EXAMPLES = {
    "country": "country:MX",
    "outlet": "outlet:la-jornada",
    "lang": "lang:es",
    "frame": "frame:sovereignty",
    "story": "story:42",
    "since": "since:2026-11-01",
    "until": "until:2026-11-30",
}


def _unique(values: Iterable) -> tuple:
    return tuple(dict.fromkeys(values))


def _make_term(text: str, *, phrase: bool, prefix: bool) -> Term | None:
    text = text.replace('"', " ").strip()
    text = " ".join(text.split())
    if not _WORD_RE.search(text):
        return None
    return Term(text=text, phrase=phrase, prefix=prefix)


def parse_query(
    text: str | None,
    *,
    raw: bool = False,
    country: str | Iterable[str] | None = None,
    outlet: str | Iterable[str] | None = None,
    lang: str | Iterable[str] | None = None,
    frame: str | Iterable[str] | None = None,
    story: int | str | Iterable[int | str] | None = None,
    since: str | None = None,
    until: str | None = None,
    now: datetime | None = None,
    allow_empty: bool = False,
) -> Query:
    """Parse a query typed by a user (any string) into a `Query`, or raise `QueryError` saying what to fix.

    Keyword filters (the CLI's --country, --outlet ...) combine with the same filters written in the
    text. `raw=True` keeps the text as an FTS5 expression (filters still come from the keywords).
    `allow_empty=True` accepts a query with neither words nor filters (all articles, newest first).
    """
    cleaned = clean_text(text or "")
    if len(cleaned) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(cleaned):,} characters long; shorten it to at most {MAX_QUERY_CHARS:,}")
    filters = _Filters()
    for name, value in (("country", country), ("outlet", outlet), ("lang", lang), ("frame", frame), ("story", story)):
        for v in _as_list(value):
            filters.add(name, v, now)
    if since:
        filters.add("since", since, now)
    if until:
        filters.add("until", until, now)
    notes: list[str] = []

    if raw:
        if not _WORD_RE.search(cleaned):
            raise QueryError("no searchable words in the --raw query; give FTS5 syntax such as: cartel NOT sinaloa")
        return _finish(Query(text=cleaned, raw=cleaned), filters, notes)

    items: list[tuple[str, Term | None]] = []  # ("term" | "or" | "not-term", term)
    tokens = _lex(cleaned)
    negate_next = False
    i = 0
    while i < len(tokens):
        kind, body, prefix = tokens[i]
        i += 1
        if kind == "quoted":
            term = _make_term(body, phrase=True, prefix=prefix)
            if term is not None:
                items.append(("not" if negate_next else "term", term))
            negate_next = False
            continue
        if kind == "negate":
            negate_next = True
            continue
        word = body
        if word in ("OR", "|", "||"):
            items.append(("or", None))
            continue
        if word in ("AND", "&&", "&", "+"):
            continue
        if word == "NOT":
            negate_next = True
            continue
        negated = negate_next
        negate_next = False
        while word[:1] in ("-", "!", "+", "(", "*") or word[:1] == "\u2212":
            if word[0] in ("-", "!", "\u2212") and len(word) > 1:
                negated = True
            word = word[1:]
        word = word.rstrip(")")
        m = _FILTER_RE.match(word)
        if m:
            name = m.group(1).lower()
            name = _FILTER_ALIASES.get(name, name)
            if name in FILTERS:
                if negated:
                    raise QueryError(
                        f"excluding with a filter (-{name}:) is not supported; choose the values to keep, e.g. {_EXAMPLES[name]}"
                    )
                value = m.group(2)
                if not value and i < len(tokens) and tokens[i][0] == "quoted":
                    value = tokens[i][1]
                    i += 1
                filters.add(name, value, now)
                continue
            notes.append(f"'{m.group(1)}:' is not a filter, searched as words (filters: {', '.join(FILTERS)})")
            word = word.replace(":", " ")
        is_prefix = word.endswith("*")
        word = word.rstrip("*")
        term = _make_term(word, phrase=False, prefix=is_prefix)
        if term is None:
            continue
        if is_prefix and len(term.words[-1]) < 2:
            notes.append(f"'{word}*' is too short for a prefix search, searched as a word")
            term = replace(term, prefix=False)
        items.append(("not" if negated else "term", term))

    clauses, excluded = _group(items, notes)
    count = sum(len(c) for c in clauses) + len(excluded)
    if count > MAX_TERMS:
        raise QueryError(f"the query has {count} search terms; use at most {MAX_TERMS}")
    clauses, ignored = _drop_stopwords(clauses)
    query = _finish(
        Query(text=cleaned, clauses=tuple(clauses), excluded=_unique(excluded), ignored=tuple(ignored)), filters, notes
    )
    if not query.clauses and not query.has_filters and not allow_empty:
        if query.excluded:
            raise QueryError("the query only excludes words; add a word or a filter to search for, e.g. cartel -sinaloa")
        raise QueryError('no searchable words in the query; type words to find, e.g. cartel drones or "guerra contra el narco"')
    return query


def _group(items: list[tuple[str, Term | None]], notes: list[str]) -> tuple[list[Clause], list[Term]]:
    """Turn the token stream into AND-ed OR groups: `a OR b c` = (a OR b) AND c."""
    clauses: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    last_was_term = False
    stray = False
    for kind, term in items:
        if kind == "or":
            if last_was_term:
                pending_or = True
            else:
                stray = True
            last_was_term = False
            continue
        assert term is not None
        if kind == "not":
            excluded.append(term)
            if pending_or:
                stray = True
            pending_or = False
            last_was_term = False
            continue
        if pending_or and clauses:
            if term not in clauses[-1]:
                clauses[-1].append(term)
        else:
            clauses.append([term])
        pending_or = False
        last_was_term = True
    if pending_or or stray:
        notes.append("an OR without a word on each side was ignored")
    return list(dict.fromkeys(tuple(c) for c in clauses)), excluded  # repeated clauses once, in order


def _drop_stopwords(clauses: list[Clause]) -> tuple[list[Clause], list[str]]:
    """Leave out single common words (unquoted, not in an OR group) unless nothing else is left."""

    def common(c: Clause) -> bool:
        return len(c) == 1 and c[0].plain and c[0].text.lower() in STOPWORDS

    if all(common(c) for c in clauses):
        return clauses, []
    return [c for c in clauses if not common(c)], [c[0].text for c in clauses if common(c)]


def _finish(query: Query, f: _Filters, notes: list[str]) -> Query:
    since = max(f.since) if f.since else None
    until = min(f.until) if f.until else None
    if since and until and since >= until:
        raise QueryError(f"since:{since[:10]} is not before until:{until[:10]}; swap or widen the dates")
    return replace(
        query,
        countries=_unique(f.countries),
        outlets=_unique(f.outlets),
        languages=_unique(f.languages),
        frames=_unique(f.frames),
        stories=_unique(f.stories),
        since=since,
        until=until,
        notes=tuple(_unique(notes)),
    )


# ----------------------------------------------------------------------------------------- FTS5


def fts_quote(text: str) -> str:
    """A double-quoted FTS5 string: the tokenizer splits it into a phrase, nothing is syntax."""
    return '"' + text.replace('"', '""') + '"'


def word_forms(word: str) -> tuple[str, ...]:
    """The word and its likely plural/singular forms in English and Spanish (a light, documented
    stand-in for stemming, which FTS5's unicode61 tokenizer lacks): cartel -> carteles, cartels;
    strikes -> strike; naciones -> nacion; luz -> luces; policy -> policies."""
    w = word.lower()
    if len(w) < 4 or any(ch.isdigit() for ch in w):
        return (w,)
    forms = [w]
    if w.endswith("ces"):
        forms += [w[:-3] + "z", w[:-1]]
    elif w.endswith("ies"):
        forms += [w[:-3] + "y", w[:-1]]
    elif w.endswith("es"):
        forms.append(w[:-1])
        if w[-3] in "lrndjxzsh":  # Spanish plural of a consonant ending: carteles, naciones, drones
            forms.append(w[:-2])
    elif w.endswith("s") and not w.endswith("ss"):
        forms.append(w[:-1])
    else:
        forms.append(w + "s")
        if w[-1] not in "aeiouáéíóú":
            forms.append(w + "es")
        if w.endswith("z"):
            forms.append(w[:-1] + "ces")
        if w.endswith("y"):
            forms.append(w[:-1] + "ies")
    return _unique(forms)


FormsOf = Callable[[str], tuple[str, ...]]  # a plain word -> the forms to match (the word first)


def expanded_forms(word: str, languages: tuple[str, ...] = LANGUAGES) -> tuple[str, ...]:
    """Everything a plain word matches: its plural/singular forms and its word family in each language
    (monitor.search.forms: soberanía -> soberana, soberano, soberanías ...), the word first."""
    return _unique((*word_forms(word), *family(word, languages)))


def _forms_of(forms: bool | FormsOf) -> FormsOf | None:
    if forms is True:
        return expanded_forms
    return forms or None


def term_expression(term: Term, forms: bool | FormsOf = True) -> str:
    """One term as FTS5: a quoted phrase, `"stem"*` for a prefix, or an OR of a word's forms.
    `forms` is True (every generated form), False (the word as typed) or a function giving the forms."""
    if term.prefix:
        return fts_quote(" ".join(term.words)) + "*"
    forms_of = _forms_of(forms)
    if forms_of is not None and term.plain:
        variants = forms_of(term.words[0])
        if len(variants) == 1:
            return fts_quote(variants[0])
        return "(" + " OR ".join(fts_quote(v) for v in variants) + ")"
    return fts_quote(" ".join(term.words))


def clauses_expression(clauses: Iterable[Clause], forms: bool | FormsOf = True) -> str:
    """AND of the clauses, each an OR of its terms; '' when there is nothing to match."""
    parts = []
    for clause in clauses:
        exprs = list(_unique(term_expression(t, forms) for t in clause))
        if exprs:
            parts.append(exprs[0] if len(exprs) == 1 else "(" + " OR ".join(exprs) + ")")
    return " AND ".join(parts)


def any_expression(terms: Iterable[Term], forms: bool | FormsOf = True) -> str:
    """OR of the terms (for exclusions); '' when there are none."""
    exprs = list(_unique(term_expression(t, forms) for t in terms))
    return " OR ".join(exprs)


def fts_expression(query: Query, forms: bool | FormsOf = True) -> str:
    """The query's words as one safe FTS5 MATCH string (exclusions are applied separately)."""
    return query.raw if query.raw else clauses_expression(query.clauses, forms)

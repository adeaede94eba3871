"""The debate definition (feeds/debates/*.toml): load, validate, and compile its patterns.

A debate file holds bilingual relevance terms with weights and exclusions, frames with their
patterns, and actors with their names (see the comments in feeds/debates/us-mx-cartels.toml).
`load_debate(path)` returns a `Debate` or raises `DebateError` naming the file, the section and
the field at fault. Patterns are compiled here, once, for the matcher in monitor.analysis.analyze:

  "cartel"        a word (stemmed in the pattern's language; accents and case ignored)
  "war powers"    a phrase (consecutive words)
  "narco*"        a word beginning (folded prefix, not stemmed)
  "a ~ b", "a ~5 b"  parts within N words of each other in one sentence (default 10)
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.analysis.textnorm import stem, tokens
from monitor.errors import ConfigError

LANGUAGES = ("en", "es")
DEFAULT_NEAR = 10
_NEAR_RE = re.compile(r"\s~(\d*)\s")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class DebateError(ConfigError):
    """The debate file is invalid."""


@dataclass(frozen=True)
class TokenMatcher:
    value: str  # folded stem, or folded prefix
    prefix: bool  # True: any folded token starting with value


@dataclass(frozen=True)
class Pattern:
    """One compiled pattern: parts (each a phrase of token matchers) that must occur within `window` words."""

    text: str  # as written in the file
    language: str
    parts: tuple[tuple[TokenMatcher, ...], ...]
    window: int  # max distance between the parts' starts (ignored for one part)
    weight: float = 1.0


@dataclass(frozen=True)
class TermGroup:
    weight: float
    patterns: tuple[Pattern, ...]
    context: bool = False  # counts only when a word of a non-context group was found too


@dataclass(frozen=True)
class Exclusion:
    why: str
    penalty: float
    patterns: tuple[Pattern, ...]


@dataclass(frozen=True)
class Frame:
    id: str
    label_en: str
    label_es: str
    definition: str
    mfc: int  # Media Frames Corpus code 1..15
    patterns: tuple[Pattern, ...]  # both languages, each with its weight (1 or 2 for *_strong)
    threshold: float

    def label(self, language: str) -> str:
        return self.label_es if language == "es" else self.label_en


@dataclass(frozen=True)
class ActorName:
    text: str
    tokens: tuple[str, ...]  # folded tokens, or raw tokens when case_sensitive
    case_sensitive: bool  # names written in capitals (acronyms) match only in capitals


@dataclass(frozen=True)
class Actor:
    id: str
    kind: str  # person | organisation | place
    names: tuple[ActorName, ...]


@dataclass(frozen=True)
class Party:
    """One side of the debate (a country's government and press, say): the names that, said first in
    a headline, tell whose action or answer the article reports. Read only by the trained layer."""

    id: str
    names: tuple[ActorName, ...]


@dataclass(frozen=True)
class Debate:
    id: str
    name_en: str
    name_es: str
    path: Path
    hash: str  # sha256 of the file's bytes: stored with each analysis
    relevance_threshold: float
    terms: tuple[TermGroup, ...]
    exclusions: tuple[Exclusion, ...]
    frames: tuple[Frame, ...]
    actors: tuple[Actor, ...]
    parties: tuple[Party, ...] = ()
    # (direction "es-en" or "en-es", source words, their translation, words of which one must be in
    # the text for it to apply (none: always)): what the rule-based engine must translate so in this
    # debate's news (apertium's "lancha" -> "launch", "strikes" -> "huelgas")
    glossary: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

    @property
    def frame_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.frames)

    def actor_names(self) -> list[str]:
        """Every actor name, for engines that must keep names untranslated."""
        return [n.text for a in self.actors for n in a.names]


def compile_pattern(text: str, language: str, weight: float = 1.0) -> Pattern:
    """Compile one pattern string; raises ValueError with the reason when it cannot be used."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a pattern must be a non-empty text")
    pieces = _NEAR_RE.split(f" {text.strip()} ")
    # split with one group gives [part, n, part, n, part]
    part_texts = pieces[0::2]
    windows = [int(n) if n else DEFAULT_NEAR for n in pieces[1::2]]
    parts: list[tuple[TokenMatcher, ...]] = []
    for raw in part_texts:
        raw = raw.strip()
        if not raw:
            raise ValueError(f"pattern {text!r}: '~' needs words on both sides")
        matchers: list[TokenMatcher] = []
        for word in raw.split():
            is_prefix = word.endswith("*")
            word = word.rstrip("*")
            toks = tokens(word, language)
            if not toks:
                raise ValueError(f"pattern {text!r}: {word!r} has no letters or digits")
            for i, tok in enumerate(toks):
                if is_prefix and i == len(toks) - 1:
                    if len(tok.folded) < 3:
                        raise ValueError(f"pattern {text!r}: a word beginning needs at least 3 letters")
                    matchers.append(TokenMatcher(tok.folded, True))
                else:
                    matchers.append(TokenMatcher(stem(tok.raw, language), False))
        parts.append(tuple(matchers))
    if "~" in text and len(parts) < 2:
        raise ValueError(f"pattern {text!r}: write '~' with spaces around it, e.g. 'strike ~ boat'")
    return Pattern(text=text, language=language, parts=tuple(parts), window=max(windows) if windows else 0, weight=weight)


class _Ctx:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, message: str) -> DebateError:
        return DebateError(f"{self.path}: [{where}] {message}")


def _table(ctx: _Ctx, data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ctx.fail(where, f"missing table [{key}]" if value is None else f"'{key}' must be a table")
    return value


def _list_of_tables(ctx: _Ctx, data: dict[str, Any], key: str, where: str, required: bool = True) -> list[dict[str, Any]]:
    value = data.get(key)
    if value is None:
        if required:
            raise ctx.fail(where, f"missing [[{key}]] entries")
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ctx.fail(where, f"'{key}' must be written as [[{where}]] tables")
    return value


def _text(ctx: _Ctx, data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(where, f"field '{key}' is missing or not a non-empty text")
    return value.strip()


def _number(ctx: _Ctx, data: dict[str, Any], key: str, where: str, default: float | None = None, minimum: float = 0.0) -> float:
    value = data.get(key, default)
    if value is None:
        raise ctx.fail(where, f"field '{key}' is missing (a number)")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ctx.fail(where, f"field '{key}' must be a number, not {value!r}")
    if value < minimum:
        raise ctx.fail(where, f"field '{key}' must be at least {minimum}, not {value}")
    return float(value)


def _patterns(ctx: _Ctx, data: dict[str, Any], where: str, strong: bool = False, require: bool = True) -> list[Pattern]:
    out: list[Pattern] = []
    keys = [(lang, 1.0) for lang in LANGUAGES] + ([(f"{lang}_strong", 2.0) for lang in LANGUAGES] if strong else [])
    for key, weight in keys:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ctx.fail(where, f"field '{key}' must be a list of texts, e.g. {key} = [\"cartel\", \"war powers\"]")
        lang = key.split("_")[0]
        for i, text in enumerate(value):
            try:
                out.append(compile_pattern(text, lang, weight))
            except ValueError as exc:
                raise ctx.fail(where, f"{key}[{i}]: {exc}") from None
    if require and not out:
        raise ctx.fail(where, "needs at least one pattern in 'en' or 'es'")
    # "cartel" and "carteles" compile to the same stems: count such patterns once (the stronger one)
    unique: dict[tuple[str, Any, int], Pattern] = {}
    for pat in out:
        key = (pat.language, pat.parts, pat.window)
        if key not in unique or unique[key].weight < pat.weight:
            unique[key] = pat
    return list(unique.values())


def _unique_id(ctx: _Ctx, data: dict[str, Any], section: str, index: int, seen: set[str], example: str) -> tuple[str, str]:
    """The id of entry `index` of `section`, checked and added to `seen`, and the `where` naming the entry by it."""
    entry_id = _text(ctx, data, "id", f"{section} #{index + 1}")
    where = f"{section} '{entry_id}'"
    if not _ID_RE.match(entry_id):
        raise ctx.fail(where, f"id must be lower-case letters, digits and _ (e.g. '{example}')")
    if entry_id in seen:
        raise ctx.fail(where, f"this id is used by two {section.split('.')[0]}")
    seen.add(entry_id)
    return entry_id, where


def _actor_name(text: str) -> ActorName:
    letters = [c for c in text if c.isalpha()]
    case_sensitive = bool(letters) and all(c.isupper() for c in letters) and len(letters) <= 8
    toks = tokens(text, "en")
    return ActorName(
        text=text,
        tokens=tuple(t.raw if case_sensitive else t.folded for t in toks),
        case_sensitive=case_sensitive,
    )


def parse_debate(data: dict[str, Any], path: Path, digest: str) -> Debate:
    ctx = _Ctx(path)
    head = _table(ctx, data, "debate", "debate")
    debate_id = _text(ctx, head, "id", "debate")
    rel = _table(ctx, data, "relevance", "relevance")
    threshold = _number(ctx, rel, "threshold", "relevance", minimum=0.0001)
    groups: list[TermGroup] = []
    for i, g in enumerate(_list_of_tables(ctx, rel, "terms", "relevance.terms")):
        where = f"relevance.terms #{i + 1}"
        context = g.get("context", False)
        if not isinstance(context, bool):
            raise ctx.fail(where, f"field 'context' must be true or false, not {context!r}")
        groups.append(
            TermGroup(_number(ctx, g, "weight", where, minimum=0.0001), tuple(_patterns(ctx, g, where)), context)
        )
    exclusions: list[Exclusion] = []
    for i, e in enumerate(_list_of_tables(ctx, rel, "exclude", "relevance.exclude", required=False)):
        where = f"relevance.exclude #{i + 1}"
        exclusions.append(
            Exclusion(
                why=str(e.get("why", "")),
                penalty=_number(ctx, e, "penalty", where, default=0.0),
                patterns=tuple(_patterns(ctx, e, where)),
            )
        )
    frames_head = _table(ctx, data, "frames", "frames")
    default_frame_threshold = _number(ctx, frames_head, "threshold", "frames", default=1.0, minimum=0.0001)
    frames: list[Frame] = []
    seen: set[str] = set()
    for i, f in enumerate(_list_of_tables(ctx, frames_head, "frame", "frames.frame")):
        fid, where = _unique_id(ctx, f, "frames.frame", i, seen, "drugs_health")
        mfc = f.get("mfc")
        if isinstance(mfc, bool) or not isinstance(mfc, int) or not 1 <= mfc <= 15:
            raise ctx.fail(where, f"field 'mfc' must be a Media Frames Corpus code from 1 to 15, not {mfc!r}")
        frames.append(
            Frame(
                id=fid,
                label_en=_text(ctx, f, "label_en", where),
                label_es=_text(ctx, f, "label_es", where),
                definition=_text(ctx, f, "definition", where),
                mfc=mfc,
                patterns=tuple(_patterns(ctx, f, where, strong=True)),
                threshold=_number(ctx, f, "threshold", where, default=default_frame_threshold, minimum=0.0001),
            )
        )
    actors: list[Actor] = []
    seen_actors: set[str] = set()
    for i, a in enumerate(_list_of_tables(ctx, data, "actors", "actors", required=False)):
        aid, where = _unique_id(ctx, a, "actors", i, seen_actors, "garcia_harfuch")
        names = a.get("names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise ctx.fail(where, "field 'names' must be a non-empty list of texts, e.g. names = [\"Sheinbaum\"]")
        kind = a.get("kind", "organisation")
        if kind not in ("person", "organisation", "place"):
            raise ctx.fail(where, f"field 'kind' must be person, organisation or place, not {kind!r}")
        actors.append(Actor(aid, kind, tuple(_actor_name(n.strip()) for n in names)))
    by_actor = {a.id: a for a in actors}
    parties: list[Party] = []
    seen_parties: set[str] = set()
    for i, s in enumerate(_list_of_tables(ctx, data, "parties", "parties", required=False)):
        pid, where = _unique_id(ctx, s, "parties", i, seen_parties, "mexico")
        names, members = s.get("names", []), s.get("actors", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise ctx.fail(where, "field 'names' must be a list of texts, e.g. names = [\"Mexican government\"]")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ctx.fail(where, "field 'actors' must be a list of actor ids, e.g. actors = [\"sheinbaum\"]")
        unknown = [m for m in members if m not in by_actor]
        if unknown:
            raise ctx.fail(where, f"field 'actors' names no actor {unknown[0]!r} (ids are in the [[actors]] tables)")
        if not names and not members:
            raise ctx.fail(where, "a party needs 'names' or 'actors'")
        found = [_actor_name(n.strip()) for n in names] + [n for m in members for n in by_actor[m].names]
        parties.append(Party(pid, tuple(found)))
    glossary = _glossary(ctx, data)
    return Debate(
        id=debate_id,
        name_en=str(head.get("name_en", debate_id)),
        name_es=str(head.get("name_es", head.get("name_en", debate_id))),
        path=path,
        hash=digest,
        relevance_threshold=threshold,
        terms=tuple(groups),
        exclusions=tuple(exclusions),
        frames=tuple(frames),
        actors=tuple(actors),
        parties=tuple(parties),
        glossary=glossary,
    )


GLOSSARY_DIRECTIONS = ("es-en", "en-es")


def _glossary(ctx: _Ctx, data: dict[str, Any]) -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """The optional [glossary] tables: [glossary.es-en] and [glossary.en-es], with lines like
    `"lancha" = "boat"` or `"strike" = { text = "ataque", when = ["boat*", "cartel*"] }`."""
    table = data.get("glossary", {})
    if not isinstance(table, dict):
        raise ctx.fail("glossary", 'must be a table: [glossary.es-en] with lines like "lancha" = "boat"')
    unknown = sorted(set(table) - set(GLOSSARY_DIRECTIONS))
    if unknown:
        raise ctx.fail("glossary", f"unknown direction {unknown[0]!r} (known: {', '.join(GLOSSARY_DIRECTIONS)})")
    out: list[tuple[str, str, str, tuple[str, ...]]] = []
    for direction in GLOSSARY_DIRECTIONS:
        entries = table.get(direction, {})
        where = f"glossary.{direction}"
        if not isinstance(entries, dict):
            raise ctx.fail(where, 'must be a table of lines like "lancha" = "boat"')
        for source, value in entries.items():
            target, when = (value.get("text"), value.get("when")) if isinstance(value, dict) else (value, [])
            if isinstance(value, dict) and (set(value) - {"text", "when"} or not isinstance(when, list) or not when):
                raise ctx.fail(where, f"{source!r}: write {{ text = \"...\", when = [\"word\", ...] }} (when: a non-empty list)")
            if not source.strip() or not isinstance(target, str) or not target.strip():
                raise ctx.fail(where, f"{source!r} = {value!r}: both sides must be non-empty texts")
            if not all(isinstance(w, str) and w.strip(" *") for w in when):
                raise ctx.fail(where, f"{source!r}: 'when' must list words, e.g. when = [\"boat*\", \"cartel*\"]")
            out.append((direction, " ".join(source.split()), " ".join(target.split()), tuple(w.strip() for w in when)))
    return tuple(out)


_CACHE: dict[tuple[str, str], Debate] = {}


def load_debate(path: str | Path) -> Debate:
    """Read and validate a debate file; raises DebateError with the file, section and field at fault."""
    p = Path(path)
    if not p.is_file():
        raise DebateError(f"{p}: debate file not found (set --debate or MONITOR_DEBATE to an existing file)")
    raw = p.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    key = (str(p.resolve()), digest)
    if key in _CACHE:
        return _CACHE[key]
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DebateError(f"{p}: not UTF-8 text ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise DebateError(f"{p}: not valid TOML: {exc}") from None
    debate = parse_debate(data, p, digest)
    _CACHE[key] = debate
    return debate


"""The apertium engine: Debian's `apertium` + `apertium-eng-spa`, one process per batch of texts.

Word-for-word ("Morena" -> "Dark", "violaría" -> "would rape"), so its rows are marked rough and
shown to readers as a rough translation; good enough for matching and search. Each text ends with
a line holding only a full stop, taken off again (a blank line alone lets apertium move words
across items), after the forms apertium misreads are rewritten (`_prepare`). Names of the debate's
actors, cartels and parties are swapped for placeholder tokens apertium leaves alone, and put
back afterwards, so "Morena" stays "Morena". The debate file's [glossary] goes the same way, with
its translation put back in place of the words: "lancha" -> "boat" (apertium: "launch"), "El Paso"
-> "El Paso" (apertium: "The Step"), "strikes on" -> "ataques contra" (apertium: "huelgas"), with
a short general list (`GENERAL`) beneath it for every debate.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import unicodedata
from functools import lru_cache
from pathlib import Path

from monitor.analysis.debate import load_debate
from monitor.errors import ConfigError, TranslationError

MODES = {("es", "en"): "spa-eng", ("en", "es"): "eng-spa"}
BATCH_ITEMS = 200  # texts per apertium process
APERTIUM_DIRS = ("/usr/share/apertium", "/usr/local/share/apertium")  # where Debian and `make install` put modes

# Protected when the debate file does not list names (or cannot be read).
BUILTIN_NAMES = (
    "Claudia Sheinbaum", "Sheinbaum", "Andrés Manuel López Obrador", "López Obrador", "AMLO",
    "Omar García Harfuch", "García Harfuch", "Morena", "PAN", "PRI", "Sedena", "Semar",
    "Cártel de Sinaloa", "Cártel Jalisco Nueva Generación", "Cártel del Golfo", "CJNG",
    "Los Chapitos", "El Chapo", "El Mencho", "El Mayo", "Los Zetas", "La Familia Michoacana",
    "Tren de Aragua", "Sinaloa Cartel", "Jalisco New Generation Cartel", "Gulf Cartel",
    "Donald Trump", "Trump", "Pete Hegseth", "Hegseth", "Marco Rubio", "Rubio", "Ronald Johnson",
)


def protected_names(debate_path: Path | None) -> list[list[str]]:
    """Groups of names (one group per actor) from the debate file's `[[actors]]`, else built-in ones.

    Only names with an upper-case letter are kept: they are matched case-sensitively, so the
    Spanish adjective "morena" is still translated.
    """
    groups: list[list[str]] = []
    if debate_path is not None:
        try:
            actors = load_debate(debate_path).actors
        except (ConfigError, OSError):  # a missing or invalid debate file: the stages that need it say so
            actors = ()
        groups = [g for g in ([n.text for n in a.names if _is_name(n.text)] for a in actors) if g]
    return groups or [[n] for n in BUILTIN_NAMES]


Glossary = dict[str, dict[str, "str | tuple[str, tuple[str, ...]]"]]  # mode -> words -> translation [, when]
GlossaryEntry = tuple[str, "re.Pattern[str]", str, "re.Pattern[str] | None"]  # as written, pattern, translation, when


# Words apertium's general dictionaries get wrong in news whatever the debate, used with every
# glossary (a debate's own entry for the same words wins): English "on" and "over" come out as
# "encima" (on top of) in "tariffs on Mexico", "on Tuesday" and "handed over", "March" as "Marcha";
# Spanish "ante" as "in front of" where news means "in the face of" (or "before" a committee).
_DAYS = {"Monday": "lunes", "Tuesday": "martes", "Wednesday": "miércoles", "Thursday": "jueves", "Friday": "viernes",
         "Saturday": "sábado", "Sunday": "domingo"}
_MONTHS = {"January": "enero", "February": "febrero", "March": "marzo", "April": "abril", "May": "mayo", "June": "junio",
           "July": "julio", "August": "agosto", "September": "septiembre", "October": "octubre", "November": "noviembre",
           "December": "diciembre"}
GENERAL: Glossary = {
    "eng-spa": {
        **{f"on {day}": f"el {dia}" for day, dia in _DAYS.items()},
        "tariffs on": "aranceles a", "tariff on": "arancel a", "duties on": "aranceles a",
        "pressure on": "presión sobre", "war on": "guerra contra", "the war on": "la guerra contra", "crackdown on": "ofensiva contra",
        "crack down on": "actuar contra", "cracks down on": "actúa contra", "cracking down on": "actuando contra",
        "sanctions on": "sanciones contra",
        **{f"{on} {month}": f"en {mes}" for month, mes in _MONTHS.items() for on in ("in", "on")},
        "hand over": "entregar", "hands over": "entrega", "handed over": "entregó", "handing over": "entregando",
        "concerns over": "preocupación por", "control over": "control sobre", "questions over": "preguntas sobre",
        "intelligence on": "inteligencia sobre", "intel on": "información sobre", "information on": "información sobre",
        "debate over": "debate sobre", "stance on": "postura sobre", "agreement on": "acuerdo sobre",
        "progress on": "avances en", "flights over": "vuelos sobre",
    },
    "spa-eng": {
        "ante": "in the face of",  # apertium: "in front of" ("ante la amenaza", "ante las presiones")
        **{f"ante {body}": f"before {the}" for body, the in (
            ("el comité", "the committee"), ("la comisión", "the commission"), ("la asamblea", "the assembly"),
            ("el Congreso", "Congress"), ("el congreso", "Congress"), ("el Senado", "the Senate"),
            ("la Cámara", "the House"), ("el juez", "the judge"), ("la jueza", "the judge"), ("el tribunal", "the court"),
            ("la Corte", "the Court"), ("la ONU", "the UN"), ("las autoridades", "the authorities"),
            ("el mundo", "the world"), ("los medios", "the media"), ("sus electores", "its voters"),
        )},
    },
}


def glossary_of(debate_path: Path | None) -> Glossary:
    """The debate file's [glossary] by apertium mode: {"spa-eng": {"lancha": ("boat", ()), ...}, ...}
    (the second part: words of which one must be in the text for the entry to apply; none: always)."""
    if debate_path is None:
        return {}
    try:
        entries = load_debate(debate_path).glossary
    except (ConfigError, OSError):  # the stages that need the debate file say what is wrong with it
        return {}
    out: Glossary = {}
    for direction, source, target, when in entries:
        src, tgt = direction.split("-")
        out.setdefault(MODES[(src, tgt)], {})[source] = (target, when)
    return out


def _when_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Any of `words` as a whole word, in any case ("boat*": a word beginning)."""
    if not words:
        return None
    parts = [re.escape(w.rstrip("*")) + ("" if w.endswith("*") else r"(?!\w)") for w in words]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")", re.IGNORECASE)


# Spanish "10 mil" (apertium: "10 one thousand") is 10,000, "1.5 mil" 1.5 thousand ("2 mil millones"
# apertium gets right).
_SPANISH_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3}) mil(?!\w)(?! millones)")
_SPANISH_DECIMAL_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3}[.,]\d{1,2}) mil(?!\w)(?! millones)")
# Single quotation marks, English: after apertium has met one, it reads every later possessive as a
# quote ("Mexico's president" -> "México' el presidente"), and an opening straight one as the clitic
# "'s" ("'sovereign" -> "overeign"). A pair of them becomes double quotes, which it keeps apart.
_SINGLE_QUOTED = re.compile(r"(?<![\w'\u2019])['\u2018](?=[^\W\d_])(.*?)(?<=[\w.,!?\u2026])['\u2019](?!\w)")
# A typographic apostrophe inside a word ("Mexico’s"): apertium knows the possessive only as "'s".
_INNER_APOSTROPHE = re.compile(r"(?<=\w)\u2019(?=\w)")
# A plural possessive ("Mexicans' rights") apertium reads as "Mexicans's" ("los derechos de los mexicanos").
_PLURAL_POSSESSIVE = re.compile(r"(?<=s)['\u2019](?!\w)")
# Any other single quote left (not inside a word) would change how the rest of the batch reads.
_STRAY_QUOTE = re.compile(r"[\u2018\u2019]|(?<!\w)'|'(?!\w)")


# Each item ends with a line holding only a full stop, taken off again: a blank line alone does not
# stop apertium's transfer rules, which can reorder words across it ("He said no" followed by
# "Mexico's president speaks" came out "Dijo" and "el presidente de México de núm. habla").
END = "."
_END_LINE = re.compile(r"\n[ \t]*\.[ \t]*$")
# What this code rewrites before and after apertium (numbers, quotes, the end line) is part of the
# model's name: rows an older version translated are redone by `monitor translate --refresh`.
REWRITES = "rw4"


def _prepare(text: str, mode: str) -> str:
    """What apertium reads of `text`: the forms its dictionaries misread, rewritten."""
    if mode == "spa-eng":
        return _SPANISH_DECIMAL_THOUSANDS.sub(r"\1 thousand", _SPANISH_THOUSANDS.sub(r"\1,000", text))
    paired = _SINGLE_QUOTED.sub("\u201c\\1\u201d", _INNER_APOSTROPHE.sub("'", text))
    return _STRAY_QUOTE.sub("", _PLURAL_POSSESSIVE.sub("'s", paired))


# Spanish contracts "a el" and "de el" (apertium puts "el" before a glossary word it cannot see).
_CONTRACTION = re.compile(r"\b([Aa]|[Dd]e) el\b")


def _finish(text: str, mode: str) -> str:
    """The translation, with what apertium leaves undone around the glossary's words done."""
    return _CONTRACTION.sub(lambda m: m.group(1) + "l", text) if mode == "eng-spa" else text


# A sentence that begins with words apertium does not know (the placeholders of names and glossary
# words) gets its capital on the first word apertium does know: "Sheinbaum rechaza invasión militar"
# -> "Sheinbaum Refuses military invasion", "Trump order authorizes" -> "Trump El orden autoriza".
PLACEHOLDER = "Zqx"  # what every placeholder token begins with (`_placeholder`), then letters a-y
_TOKEN = PLACEHOLDER + "[a-y]+"
_PLACEHOLDER_LEAD = re.compile(rf"(?:^|(?<=[.!?:;]\s))({_TOKEN})((?:\s+{_TOKEN})*\s+)([^\W\d_][\w'-]*)")


def _sentence_case(source: str, output: str) -> str:
    """`output` (placeholders still in) with the capital apertium gave the first word after a
    sentence-initial run of placeholders taken off again, where the source's first word after a
    run that begins with the same placeholder is in lower case: "Zqxa Refuses" -> "Zqxa refuses"
    for "Zqxa rechaza", "Zqxa And Zqxb refuse" -> "Zqxa and Zqxb refuse" for "Zqxa y Zqxb rechazan";
    "Zqxa Trato de México" for "Zqxa Mexico deal" stays (the source word had a capital)."""
    lower_after = {m.group(1) for m in _PLACEHOLDER_LEAD.finditer(source) if m.group(3)[0].islower()}
    if not lower_after:
        return output

    def fix(m: re.Match[str]) -> str:
        word = m.group(3)
        if m.group(1) not in lower_after or word.startswith(PLACEHOLDER) or not (len(word) == 1 or word[1:].islower()):
            return m.group(0)
        return m.group(1) + m.group(2) + word[0].lower() + word[1:]

    return _PLACEHOLDER_LEAD.sub(fix, output)


def _entry_regex(words: str) -> str:
    """A glossary entry as a pattern: each word written in lower case in any case, the rest as written."""
    return "".join(
        f"(?i:{re.escape(part)})" if part.islower() else re.escape(part) for part in re.split(r"(\W+)", words) if part
    )


def _is_name(name: str) -> bool:
    return len(name.strip()) > 1 and any(c.isupper() for c in name)


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFC", text.casefold()).strip(" .")
    return re.sub(r"^(the|el|la|los|las) ", "", plain)


def _placeholder(i: int) -> str:
    return f"{PLACEHOLDER}{_letters(i)}"


def _letters(i: int) -> str:
    out = ""
    while True:
        out = "abcdefghijklmnopqrstuvwy"[i % 24] + out  # no digits or 'z': apertium keeps them whole
        i //= 24
        if i == 0:
            return out


class ApertiumTranslator:
    engine = "apertium"
    rough = True

    def __init__(
        self, names: list[list[str]] | None = None, timeout_s: float = 120.0, glossary: Glossary | None = None
    ):
        if not is_installed():
            raise TranslationError(
                "apertium is not installed (Debian: apt-get install apertium apertium-eng-spa)"
            )
        self.groups = names if names is not None else [[n] for n in BUILTIN_NAMES]
        self.timeout_s = timeout_s
        # mode -> words -> (translation, words of which one must be in the text; none: always)
        # (the general list below first: the debate's glossary overrides it word by word)
        merged: Glossary = {mode: {**GENERAL.get(mode, {}), **(glossary or {}).get(mode, {})} for mode in {*GENERAL, *(glossary or {})}}
        self.glossary: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
            mode: {w: (v, ()) if isinstance(v, str) else (v[0], tuple(v[1])) for w, v in entries.items()}
            for mode, entries in merged.items()
            if entries
        }
        self.model = f"apertium-eng-spa {package_version()}"
        self._patterns: dict[str, re.Pattern[str] | None] = {}
        # mode -> glossary words casefolded -> [(the words as written, their pattern, translation, condition)]
        self._lookup: dict[str, dict[str, list[GlossaryEntry]]] = {}

    @classmethod
    def for_debate(cls, debate_path: Path | None, timeout_s: float = 120.0) -> ApertiumTranslator:
        """The translator for a debate file: its actors' names kept as written, its glossary used."""
        return cls(protected_names(debate_path), timeout_s, glossary_of(debate_path))

    def protected_for(self, mode: str) -> list[str]:
        """The names apertium would get wrong in this direction, longest first.

        A name whose apertium translation is another name of the same actor ("Pentágono" ->
        "Pentagon", "Estados Unidos" -> "United States") is left to apertium; the others
        ("Morena" -> "Dark", "Cártel de Sinaloa" -> "Cartel of Sinaloa") are kept as written.
        """
        names = sorted({n for g in self.groups for n in g}, key=lambda n: (-len(n), n))
        translated = dict(zip(names, self._run(mode, names), strict=False)) if names else {}
        keep = []
        for group in self.groups:
            folded = {_fold(n) for n in group}
            for name in group:
                result = translated.get(name)
                if result is None or result == name or _fold(result) not in folded:
                    keep.append(name)
        return sorted(set(keep), key=lambda n: (-len(n), n))

    def _pattern(self, mode: str) -> re.Pattern[str] | None:
        """Names kept as written and glossary words, longest first. A glossary word written in lower
        case matches in any case ("Lancha" at the start of a headline, "Strike" in a title-case
        headline); one with a capital letter, as written ("EU", the United States, and not "eu"):
        "U.S. strike" matches "U.S. Strike" but not "u.s. strike"."""
        if mode not in self._patterns:
            glossary = self.glossary.get(mode, {})
            lookup: dict[str, list[GlossaryEntry]] = {}
            for w, (t, when) in glossary.items():
                lookup.setdefault(w.casefold(), []).append((w, re.compile(_entry_regex(w)), t, _when_pattern(when)))
            self._lookup[mode] = lookup
            alternatives = [(n, re.escape(n)) for n in self.protected_for(mode) if n not in glossary]
            alternatives += [(w, _entry_regex(w)) for w in glossary]
            alternatives.sort(key=lambda a: (-len(a[0]), a[0]))
            self._patterns[mode] = (
                re.compile(r"(?<!\w)(" + "|".join(a for _, a in alternatives) + r")(?!\w)") if alternatives else None
            )
        return self._patterns[mode]

    def _replacement(self, mode: str, words: str, text: str) -> str | None:
        """What stands in the translation for `words` found in `text`: the glossary's translation
        (capitalised where a lower-case entry was found capitalised), else the name itself; None when
        the glossary entry's `when` words are not in the text (apertium translates the words as usual)."""
        candidates = self._lookup.get(mode, {}).get(words.casefold(), [])
        entry = next((c for c in candidates if c[0] == words), None) or next((c for c in candidates if c[1].fullmatch(words)), None)
        if entry is None:
            return words
        source, _regex, target, when = entry
        if when is not None and not when.search(text):
            return None
        return target[0].upper() + target[1:] if source[0].islower() and words[0].isupper() and target[0].islower() else target

    def supports(self, source: str, target: str) -> bool:
        return (source, target) in MODES and mode_installed(MODES[(source, target)])

    def model_for(self, source: str, target: str) -> str:
        """The package, the mode, this code's rewrites and, when the debate file has a glossary for it,
        the glossary's digest (so a changed glossary is a new model: its translations are redone, not
        read from the cache)."""
        mode = MODES.get((source, target), "?")
        glossary = self.glossary.get(mode)
        if not glossary:
            return f"{self.model} {mode} {REWRITES}"
        digest = hashlib.sha256(repr(sorted(glossary.items())).encode("utf-8")).hexdigest()[:12]
        return f"{self.model} {mode} {REWRITES} glossary {digest}"

    def _protect(self, text: str, pattern: re.Pattern[str] | None, mode: str = "") -> tuple[str, dict[str, str]]:
        """`text` with names and glossary words swapped for placeholders, and placeholder -> what
        goes back in its place."""
        found: dict[str, str] = {}
        if pattern is None:
            return text, found
        by_name: dict[str, str] = {}

        def swap(m: re.Match[str]) -> str:
            name = self._replacement(mode, m.group(1), text)
            if name is None:
                return m.group(0)
            if name not in by_name:
                by_name[name] = _placeholder(len(by_name))
                found[by_name[name]] = name
            return by_name[name]

        return pattern.sub(swap, text), found

    @staticmethod
    def _restore(text: str, found: dict[str, str]) -> str:
        for token in sorted(found, key=len, reverse=True):
            text = re.sub(re.escape(token), lambda _m, value=found[token]: value, text, flags=re.IGNORECASE)  # literally
        return text

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        if (source, target) not in MODES:
            raise TranslationError(f"apertium has no {source}->{target} mode")
        mode = MODES[(source, target)]
        items = [" ".join(t.split()) for t in texts]  # one line per item; blank lines separate items
        out = [""] * len(items)
        pattern = self._pattern(mode)
        todo = [i for i, t in enumerate(items) if t]
        for start in range(0, len(todo), BATCH_ITEMS):
            chunk = todo[start : start + BATCH_ITEMS]
            protected = [self._protect(_prepare(items[i], mode), pattern, mode) for i in chunk]
            results = self._run_aligned(mode, [p[0] for p in protected])
            for i, (sent, found), result in zip(chunk, protected, results, strict=True):
                out[i] = _finish(self._restore(_sentence_case(sent, result), found), mode)
        return out

    def unknown(self, examples: list[tuple[str, str]], source: str, target: str) -> set[str]:
        """Of (word, a sentence holding it) pairs, the words apertium leaves as written: unknown to
        its source -> target dictionaries alone (`apertium` without -u marks them * or @) and
        still unknown in their sentence (a word of a known phrase, "ciento" in "por ciento", is not)."""
        if (source, target) not in MODES or not examples:
            return set()
        mode = MODES[(source, target)]
        alone = self._marked(mode, [w for w, _ in examples])
        checked = [(w, sentence) for (w, sentence), marked in zip(examples, alone, strict=True) if marked]
        in_place = self._marked(mode, [sentence for _, sentence in checked], [w for w, _ in checked])
        return {w for (w, _), marked in zip(checked, in_place, strict=True) if marked}

    def _marked(self, mode: str, texts: list[str], words: list[str] | None = None) -> list[bool]:
        """Whether apertium marks each text (or, with `words`, that word in its text) as unknown."""
        out: list[bool] = []
        for start in range(0, len(texts), BATCH_ITEMS):
            chunk = texts[start : start + BATCH_ITEMS]
            for k, result in enumerate(self._run_aligned(mode, chunk, mark_unknown=True)):
                if words is None:
                    out.append(result[:1] in ("*", "@"))
                else:
                    word = re.escape(words[start + k])
                    out.append(re.search(rf"[*@]{word}(?!\w)", result, flags=re.IGNORECASE) is not None)
        return out

    def _run_aligned(self, mode: str, items: list[str], mark_unknown: bool = False) -> list[str]:
        """One result per item: when a batch's output blocks do not line up with its items, one process per item."""
        results = self._run(mode, items, mark_unknown)
        if len(results) != len(items):  # never misalign
            results = [" ".join(self._run(mode, [t], mark_unknown)) for t in items]
        return results

    def _run(self, mode: str, items: list[str], mark_unknown: bool = False) -> list[str]:
        try:
            proc = subprocess.run(
                ["apertium", mode] if mark_unknown else ["apertium", "-u", mode],
                input="".join(f"{item}\n{END}\n\n" for item in items),
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TranslationError(f"apertium {mode} failed: {exc}") from exc
        if proc.returncode != 0:
            raise TranslationError(f"apertium {mode} failed: {proc.stderr.strip()[:300]}")
        return [" ".join(_END_LINE.sub("", block).split()) for block in re.split(r"\n\s*\n", proc.stdout.strip())]


def is_installed() -> bool:
    return shutil.which("apertium") is not None and any(mode_installed(m) for m in MODES.values())


def mode_installed(mode: str) -> bool:
    return any((Path(d) / "modes" / f"{mode}.mode").is_file() for d in APERTIUM_DIRS)


DPKG_STATUS = Path("/var/lib/dpkg/status")


def package_version() -> str:
    """apertium-eng-spa's Debian version ("unknown" off Debian): asked of dpkg once per change of its
    database, as every translator (one per comparison, per stage) names its model with it."""
    try:
        stamp = DPKG_STATUS.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _package_version(stamp)


@lru_cache(maxsize=4)
def _package_version(_stamp: int) -> str:
    try:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", "apertium-eng-spa"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return proc.stdout.strip() or "unknown"

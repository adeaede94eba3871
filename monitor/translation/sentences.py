"""Offline sentence splitting: the built-in rule splitter, and MiniSBD models loaded from local files.

Translation models work sentence by sentence, so texts are cut into paragraphs (at line breaks)
and paragraphs into sentences. The built-in splitter cuts after `.`, `!`, `?` or `…` followed by a
space and an upper-case letter, digit, opening quote or `¿`/`¡`, except after common abbreviations
("EE. UU.", "Sr.", "Dr.", single initials), so "3.30" and "EE. UU. y México" stay whole. MiniSBD is
only ever given a path to an existing `.onnx` file, never a language code, so it cannot download.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from monitor.errors import TranslationError

Splitter = Callable[[str], list[str]]

_ABBREVIATIONS = frozenset(
    {
        "ee", "uu", "sr", "sra", "srta", "dr", "dra", "lic", "ing", "gral", "gen", "gob", "pres", "no",
        "núm", "art", "etc", "mr", "mrs", "ms", "st", "jr", "sen", "rep", "gov", "lt", "col", "sgt",
        "u.s", "u.n", "vs", "p.ej", "a.m", "p.m", "dept", "inc", "corp", "co", "av", "cía",
    }
)
_BOUNDARY = re.compile(r"([.!?…]+[\"'”»)]*)(\s+)(?=[\"'“«(¿¡]?[A-ZÁÉÍÓÚÑÜ0-9])")


def split_paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs (line-separated), whitespace inside each collapsed."""
    return [" ".join(p.split()) for p in text.splitlines() if p.strip()]


def builtin_split(paragraph: str) -> list[str]:
    """Split one paragraph into sentences with the built-in rules."""
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        end = match.end(1)
        before = paragraph[start:end].rstrip(".!?…\"'”»)")
        last_word = before.rsplit(None, 1)[-1].lower() if before.split() else ""
        if match.group(1).startswith(".") and (last_word in _ABBREVIATIONS or len(last_word) == 1):
            continue
        sentences.append(paragraph[start:end].strip())
        start = match.end(2)
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def minisbd_splitter(model_file: Path) -> Splitter:
    """A splitter backed by a local MiniSBD `.onnx` model (loaded on first use).

    A file that onnxruntime or MiniSBD cannot load (truncated, not a MiniSBD model) raises
    TranslationError naming the file and what to do, not onnxruntime's own exception.
    """
    if not model_file.is_file():  # never let MiniSBD resolve a name: that path downloads
        raise FileNotFoundError(model_file)
    model_file = model_file.resolve()  # absolute: MiniSBD treats "http..." or a bare language code as a URL
    detector = None

    def split(paragraph: str) -> list[str]:
        nonlocal detector
        if detector is None:
            from minisbd import SBDetect

            try:
                detector = SBDetect(str(model_file), use_gpu=False, max_threads=1)
            except Exception as exc:  # onnxruntime's errors and MiniSBD's "No config found" are bare Exceptions
                raise TranslationError(
                    f"{model_file}: not a usable MiniSBD sentence splitter model ({str(exc).splitlines()[0][:200]}); "
                    f"reinstall it with `monitor models install --from {model_file.name}`, "
                    'or set translation.splitter = "builtin"'
                ) from exc
        return [s.strip() for s in detector.sentences(paragraph) if s.strip()] or [paragraph]

    return split


def split_text(text: str, splitter: Splitter = builtin_split) -> list[list[str]]:
    """Paragraphs of sentences; joining them back gives the text with normalised whitespace."""
    return [splitter(p) for p in split_paragraphs(text)]


def count_sentences(texts: list[str], splitter: Splitter = builtin_split) -> int:
    return sum(len(s) for t in texts for s in split_text(t, splitter))

"""The argos engine: Argos packages, tokenised by argostranslate, decoded by our own CTranslate2 calls.

argostranslate's own `translate()` sends one sentence per CTranslate2 call (its batch limit is
32 tokens). Here all sentences of a call are de-duplicated, sorted by length, cut into batches
of `translation.batch_size` and submitted asynchronously to one `ctranslate2.Translator` with
`inter_threads=workers` (two batches decode at once on two cores) and `intra_threads=1`.
`compute_type` is left at "default": the packages are int8 already, and forcing a compute type
makes the es->en package produce garbage. Every batch gets a runaway guard:
`max_decoding_length = max_decoding_ratio * longest input + 10` tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.config.settings import TranslationSettings
from monitor.errors import TranslationError
from monitor.translation import packages
from monitor.translation.sentences import Splitter, builtin_split, minisbd_splitter, split_text


@dataclass
class _Pair:
    package: packages.InstalledPackage
    splitter: Splitter
    tokenizer: Any = None  # argostranslate tokenizer, loaded on first use
    target_prefix: str = ""
    ct2: Any = None  # ctranslate2.Translator, loaded on first use


@dataclass
class ArgosStats:
    calls: int = 0  # translate() calls that reached CTranslate2
    batches: int = 0
    sentences: int = 0  # sentences decoded (after de-duplication)


def splitter_for(pkg: packages.InstalledPackage, mode: str) -> Splitter:
    """The sentence splitter for a package; never one that can download."""
    if mode not in ("auto", "minisbd", "builtin"):
        raise TranslationError(f"translation.splitter must be auto, minisbd or builtin, not {mode!r}")
    if mode == "builtin":
        return builtin_split
    if pkg.splitter is not None:
        return minisbd_splitter(pkg.splitter)
    if mode == "minisbd":
        raise TranslationError(
            f"package {pkg.code} ({pkg.from_code}->{pkg.to_code}) has no offline sentence splitter: "
            f"install the MiniSBD model with `monitor models install --from {pkg.from_code}.onnx`, "
            'or set translation.splitter = "builtin"'
        )
    return builtin_split


class ArgosTranslator:
    engine = "argos"
    rough = False

    def __init__(self, options: TranslationSettings):
        self.options = options
        chosen = packages.newest_packages()
        if not chosen:
            raise TranslationError("no Argos translation package installed; run `monitor models install`")
        self._pairs = {key: _Pair(pkg, splitter_for(pkg, options.splitter)) for key, pkg in chosen.items()}
        self.stats = ArgosStats()

    @property
    def model(self) -> str:
        return ", ".join(p.package.model_name for _, p in sorted(self._pairs.items()))

    def supports(self, source: str, target: str) -> bool:
        return (source, target) in self._pairs

    def model_for(self, source: str, target: str) -> str:
        return self._pair(source, target).package.model_name

    def _pair(self, source: str, target: str) -> _Pair:
        try:
            return self._pairs[(source, target)]
        except KeyError:
            raise TranslationError(f"no Argos package installed for {source}->{target}") from None

    def _load(self, pair: _Pair) -> _Pair:
        if pair.ct2 is None:
            packages.import_argos()
            import ctranslate2
            from argostranslate.package import Package

            try:
                argos_pkg = Package(pair.package.path)
                pair.tokenizer = argos_pkg.tokenizer
                pair.target_prefix = getattr(argos_pkg, "target_prefix", "") or ""
                pair.ct2 = ctranslate2.Translator(
                    str(pair.package.path / "model"),
                    device="cpu",
                    compute_type="default",
                    inter_threads=max(1, self.options.workers),
                    intra_threads=1,
                )
            except (OSError, RuntimeError, ValueError, AttributeError) as exc:
                raise TranslationError(f"cannot load Argos package {pair.package.path}: {exc}") from exc
            if pair.tokenizer is None:
                raise TranslationError(f"package {pair.package.code} has no sentencepiece.model or bpe.model")
        return pair

    def decoding_limit(self, longest_input: int) -> int:
        return int(self.options.max_decoding_ratio * longest_input) + 10

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        pair = self._pair(source, target)
        structure = [split_text(t, pair.splitter) for t in texts]
        unique: dict[str, int] = {}
        for paragraphs in structure:
            for sentences in paragraphs:
                for s in sentences:
                    unique.setdefault(s, len(unique))
        if not unique:
            return ["" for _ in texts]
        self._load(pair)
        sentences = list(unique)
        translated = self._translate_sentences(pair, sentences)
        out = []
        for paragraphs in structure:
            out.append("\n".join(" ".join(translated[unique[s]] for s in para) for para in paragraphs))
        return out

    def _translate_sentences(self, pair: _Pair, sentences: list[str]) -> list[str]:
        tokens = [pair.tokenizer.encode(s) for s in sentences]
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        size = max(1, self.options.batch_size)
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        pending = []
        for batch in batches:
            inputs = [tokens[i] for i in batch]
            prefix = [[pair.target_prefix] for _ in batch] if pair.target_prefix else None
            results = pair.ct2.translate_batch(
                inputs,
                target_prefix=prefix,
                beam_size=max(1, self.options.beam_size),
                max_batch_size=0,
                max_decoding_length=self.decoding_limit(max(len(t) for t in inputs)),
                min_decoding_length=1,  # a non-empty sentence never translates to nothing
                replace_unknowns=True,
                asynchronous=True,
            )
            pending.append((batch, results))
        out = [""] * len(sentences)
        for batch, results in pending:
            for index, result in zip(batch, results, strict=True):
                out[index] = self._decode(pair, result.result().hypotheses[0])
        self.stats.calls += 1
        self.stats.batches += len(batches)
        self.stats.sentences += len(sentences)
        return out

    @staticmethod
    def _decode(pair: _Pair, hypothesis: list[str]) -> str:
        value: str = pair.tokenizer.decode(hypothesis)
        if pair.target_prefix and value.startswith(pair.target_prefix):
            value = value[len(pair.target_prefix) :]
        return value.strip()


@dataclass
class ArgosAvailability:
    usable: bool
    reason: str


def availability(options: TranslationSettings, needed: tuple[tuple[str, str], ...] = packages.PAIRS) -> ArgosAvailability:
    """Whether argos can translate every needed pair offline, and if not, what to do."""
    installed = packages.newest_packages()  # the packages ArgosTranslator would load
    missing = [f"{s}->{t}" for s, t in needed if (s, t) not in installed]
    if missing:
        return ArgosAvailability(
            False,
            f"Argos package(s) {', '.join(missing)} not installed (run `monitor models install`, "
            "or `monitor models install --from FILE.argosmodel` offline)",
        )
    if options.splitter == "minisbd":
        lacking = [f"{s}.onnx" for s, t in needed if installed[(s, t)].splitter is None]
        if lacking:
            return ArgosAvailability(
                False,
                f"no offline sentence splitter {', '.join(lacking)} (run `monitor models install --from "
                f"{lacking[0]}` or set translation.splitter = \"builtin\")",
            )
    return ArgosAvailability(True, "es<->en packages installed")

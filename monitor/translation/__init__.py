"""Local translation engines behind one small interface.

`get_translator(settings)` returns a `Translator` (`.engine`, `.model`, `.rough`,
`.translate(texts, source, target)`) for `translation.engine`:
- `argos`: neural, the Argos es<->en packages (see monitor.translation.argos);
- `apertium`: rule-based, word-for-word, output marked rough;
- `none`: no engine; texts come back unchanged and the translate stage writes nothing;
- `auto` (default): argos when both es<->en packages are installed, else apertium when
  installed, else none. `choose_engine()` says which and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.settings import Settings
from monitor.errors import TranslationError
from monitor.translation.base import ENGINE_RANK, ENGINES, NoTranslator, Translator

__all__ = [
    "ENGINES",
    "ENGINE_RANK",
    "EngineChoice",
    "NoTranslator",
    "Translator",
    "choose_engine",
    "get_translator",
    "translator_for",
]


@dataclass(frozen=True)
class EngineChoice:
    engine: str  # argos | apertium | none
    reason: str  # one line: why this engine, and what to do for a better one


def choose_engine(settings: Settings, engine: str | None = None) -> EngineChoice:
    """Resolve `auto` (or check an explicit engine) without loading any model."""
    from monitor.translation import apertium, argos

    wanted = (engine or settings.translation.engine).lower()
    if wanted not in ENGINES:
        raise TranslationError(f"translation.engine must be one of {', '.join(ENGINES)}, not {wanted!r}")
    if wanted == "none":
        return EngineChoice("none", "translation disabled (translation.engine = none)")
    argos_state = argos.availability(settings.translation)
    if wanted == "argos":
        if not argos_state.usable:
            raise TranslationError(argos_state.reason)
        return EngineChoice("argos", argos_state.reason)
    if wanted == "apertium":
        if not apertium.is_installed():
            raise TranslationError("apertium is not installed (Debian: apt-get install apertium apertium-eng-spa)")
        return EngineChoice("apertium", "apertium selected (translation.engine = apertium); rough translations")
    if argos_state.usable:
        return EngineChoice("argos", "argos: " + argos_state.reason)
    if apertium.is_installed():
        return EngineChoice("apertium", f"apertium (rough translations): {argos_state.reason}")
    return EngineChoice(
        "none",
        f"no translation engine: {argos_state.reason}, or install apertium + apertium-eng-spa; "
        "articles stay in their own language",
    )


def get_translator(settings: Settings, engine: str | None = None) -> Translator:
    """The translator for `translation.engine` (or `engine`); models load on first use."""
    return translator_for(settings, choose_engine(settings, engine))


def translator_for(settings: Settings, choice: EngineChoice) -> Translator:
    """The translator for an engine `choose_engine()` already resolved and checked."""
    if choice.engine == "argos":
        from monitor.translation.argos import ArgosTranslator

        return ArgosTranslator(settings.translation)
    if choice.engine == "apertium":
        from monitor.translation.apertium import ApertiumTranslator

        return ApertiumTranslator.for_debate(settings.debate_path, settings.translation.apertium_timeout_s)
    return NoTranslator()

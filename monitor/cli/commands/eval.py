"""Command: eval (score the analysis against a labelled JSONL file)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from monitor.analysis.eval_run import SPLITS, UNDATED, EvalRun, load_labels, run_eval, select_split
from monitor.analysis.evaluate import NO_FRAME, NOT_RELEVANT, TARGETS, Scores, misses, score, score_by
from monitor.cli.console import print_json, stage_progress
from monitor.errors import UsageError


def fmt(value: float) -> str:
    return "  -  " if math.isnan(value) else f"{value:.3f}"


def with_interval(s: Scores, name: str, value: float) -> str:
    iv = s.intervals.get(name)
    return fmt(value) + (f" [{iv.low:.2f}, {iv.high:.2f}]" if iv else "")


def summary_lines(s: Scores, targets: bool = True) -> list[str]:
    """The headline figures of one Scores, with 95% intervals (and the targets)."""
    r, f = s.relevance, s.frames
    t = (lambda key: f"   target {TARGETS[key]}") if targets else (lambda key: "")
    lines = [
        f"relevance       P {with_interval(s, 'relevance_precision', r.precision)}  R {with_interval(s, 'relevance_recall', r.recall)}"
        f"  F1 {fmt(r.f1)}   (tp {r.tp} fp {r.fp} fn {r.fn} tn {r.tn}){t('relevance')}",
        f"top frame       {with_interval(s, 'top_frame', f.top_agreement)}  ({f.top_agree}/{f.items})"
        f"   any labelled frame {with_interval(s, 'any_frame', f.any_agreement)} ({f.any_agree}/{f.items}){t('top_frame')}",
        f"no frame        {f.unframed} of {f.items} relevant items ({fmt(f.unframed_share)});"
        f" {f.predicted_unframed} of {f.predicted_relevant} found relevant{t('unframed')}",
    ]
    for scope, title in (("cross", "pairs US<->MX"), ("cross_dated", " ..both dated"), ("all", "pairs, all")):
        p = s.pairs[scope]
        lines.append(
            f"{title:<15} R {with_interval(s, f'pairs_{scope}_recall', p.recall)} ({p.found}/{p.labelled})"
            f"  P {with_interval(s, f'pairs_{scope}_precision', p.precision)} ({p.right}/{p.placed};"
            f" {p.excluded} not judged: relevant item without event id){t('pairs')}"
        )
    return lines


def group_lines(title: str, groups: dict[str, Scores]) -> list[str]:
    lines = [f"by {title}:"]
    for key, s in groups.items():
        r, f = s.relevance, s.frames
        lines.append(
            f"  {key:<4} {s.items:>4} items  relevance P {with_interval(s, 'relevance_precision', r.precision)}"
            f"  R {with_interval(s, 'relevance_recall', r.recall)}   top frame {with_interval(s, 'top_frame', f.top_agreement)}"
            f" ({f.top_agree}/{f.items})"
        )
    return lines


def pct(share: float) -> str:
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def share_lines(groups: dict[str, Scores]) -> list[str]:
    """Per group (country): each frame's labelled share -> found share, largest labelled first."""
    lines = ["frame shares (labelled primary frames -> what `monitor compare` draws of the items found relevant):"]
    for key, s in groups.items():
        sh = s.shares
        frames = sorted(set(sh.labelled) | set(sh.found), key=lambda f: (-sh.labelled.get(f, 0.0), -sh.found.get(f, 0.0), f))
        parts = [f"{f} {pct(sh.labelled.get(f, 0.0))}->{pct(sh.found.get(f, 0.0))}" for f in frames]
        lines.append(f"  {key:<4} distance {fmt(sh.distance)} ({sh.found_by}):  " + ", ".join(parts))
    return lines


def confusion_lines(table: dict[str, dict[str, int]]) -> list[str]:
    cols = sorted({c for row in table.values() for c in row} - {NO_FRAME, NOT_RELEVANT})
    cols += [c for c in (NO_FRAME, NOT_RELEVANT) if any(c in row for row in table.values())]
    width = max([len(k) for k in table] + [10])
    lines = ["frame confusion (rows: labelled primary frame; columns: predicted top frame)"]
    lines.append(" " * (width + 2) + " ".join(f"{c[:14]:>14}" for c in cols))
    for label, row in table.items():
        lines.append(f"  {label:<{width}}" + " ".join(f"{row.get(c, 0) or '.':>14}" for c in cols))
    return lines


def miss_lines(run: EvalRun) -> list[str]:
    lines = ["disagreements (with the evidence the monitor showed):"]
    for m in misses(run.labels, run.predictions):
        lab, pred = m.label, m.prediction
        head = (lab.title or lab.lede or "")[:110]
        detail = f"labelled {lab.primary_frame}, got {pred.top_frame}" if m.kind == "frame" else f"score {pred.score:.2f}"
        lines.append(f"  {m.kind:<14} {lab.id} [{lab.country}/{lab.language}] {detail}: {head}")
        for ev in pred.evidence[:3]:
            lines.append(f"      {ev[:160]}")
    return lines


def scores_json(s: Scores) -> dict[str, Any]:
    return {
        "items": s.items,
        "figures": {k: None if math.isnan(v) else v for k, v in s.figures().items()},  # NaN: nothing to measure
        "intervals": {k: [v.low, v.high] for k, v in s.intervals.items()},
        "relevance": s.relevance,
        "frames": s.frames,
        "pairs": s.pairs,
        "confusion": s.confusion,
        "frame_shares": {"labelled": s.shares.labelled, "found": s.shares.found, "found_by": s.shares.found_by, "distance": None if math.isnan(s.shares.distance) else s.shares.distance},
    }


@click.command("eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--split", type=click.Choice(SPLITS), default="all", show_default=True, help="Score the dev or test split (by a hash of the event id) or all items.")
@click.option("--engine", type=click.Choice(["auto", "argos", "apertium", "none"]), help="Translation engine (default: translation.engine).")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="Keep the database in this folder; a re-run reuses its translations and embeddings (unless another model or glossary made them) and redoes analysis and clustering.")
@click.option(
    "--undated",
    type=click.Choice(UNDATED),
    default="fetched",
    show_default=True,
    help="An item without a published date is stored as a feed item without a date (fetched: first seen now), "
    "or dated by its event's earliest item (event: optimistic, it borrows the label).",
)
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True, help="Resamples of the events for the 95% intervals (0: none).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON.")
@click.option("--items", "with_items", is_flag=True, help="With --json: also each item's label and prediction.")
@click.option("--verbose", "verbose", is_flag=True, help="List every missed item, false positive and frame disagreement with its evidence.")
@click.pass_context
def eval_cmd(
    ctx: click.Context,
    files: Sequence[Path],
    split: str,
    engine: str | None,
    keep: Path | None,
    undated: str,
    bootstrap: int,
    seed: int,
    as_json: bool,
    with_items: bool,
    verbose: bool,
) -> None:
    """Score the analysis against your own labels: relevance P/R, frame agreement, confusion and
    each country's frame shares, same-story pairs, with 95% bootstrap intervals (over events).

    FILES are JSONL, one labelled article a line: id, outlet, country, language, url, published,
    title, lede, relevant, primary_frame, secondary_frames, event_id (see docs/evaluation.md). The
    items run through translate, embed, analyze and cluster in a temporary database with the current
    debate file (--debate), so editing the debate file and re-running shows what the edit changed.

    \b
    Examples:
      monitor eval labels.jsonl
      monitor eval real-events.jsonl real-other.jsonl --split dev --engine none --keep eval-db
      monitor --debate my-debate.toml eval labels.jsonl --keep eval-db --verbose
      monitor eval labels.jsonl --json --items > scores.json
    """
    labels = select_split(load_labels(files), split)
    if not labels:
        raise UsageError(f"no items of {', '.join(str(f) for f in files)} are in the {split} split")
    run = run_eval(
        labels, ctx.obj.settings, engine=engine, keep=keep, tag=split, undated=undated, progress=stage_progress(as_json)
    )
    overall = score(run.labels, run.predictions, bootstrap=bootstrap, seed=seed)
    by_country = score_by(run.labels, run.predictions, lambda lab: lab.country, bootstrap=bootstrap, seed=seed)
    by_language = score_by(run.labels, run.predictions, lambda lab: lab.language, bootstrap=bootstrap, seed=seed)
    if as_json:
        data: dict[str, Any] = {
            "files": [str(f) for f in files],
            "split": split,
            "translation_engine": run.translation_engine,
            "embedding_engine": run.embedding_engine,
            "now": run.now,
            "database": str(run.db_path) if keep else None,
            "targets": TARGETS,
            "overall": scores_json(overall),
            "by_country": {k: scores_json(v) for k, v in by_country.items()},
            "by_language": {k: scores_json(v) for k, v in by_language.items()},
        }
        if with_items:
            data["items"] = [{"label": lab, "prediction": run.predictions[lab.id]} for lab in run.labels]
        print_json(data)
        return
    click.echo(
        f"eval: {overall.items} items ({split} split of {len(files)} file(s)); translation {run.translation_engine},"
        f" embedding {run.embedding_engine}; 95% intervals over {bootstrap} resamples of events"
    )
    lines = summary_lines(overall) + group_lines("country", by_country) + group_lines("language", by_language)
    lines += share_lines(by_country) + confusion_lines(overall.confusion)
    if verbose:
        lines += miss_lines(run)
    if keep:
        lines.append(f"database kept: {run.db_path} (re-run with --keep {keep} to redo only analysis and clustering)")
    click.echo("\n".join(lines))


COMMANDS: list[click.Command] = [eval_cmd]

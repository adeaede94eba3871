"""The real labelled corpus (tests/fixtures/eval/real-*.jsonl): its size, spread, split and label agreement.

    python benchmarks/corpus_stats.py            # counts by country, language, outlet, month; events, pairs
    python benchmarks/corpus_stats.py --json     # the same, machine-readable

The dev/test split is by event, so no real-world event has articles on both sides: an item's split is
decided by a hash of its event id (of its own id when it has no event). It is a pure function of the
labels, so the split never moves when items are added. Tune only on dev; report test.

The second, blind labelling pass (`real.pass2.a.jsonl` + `real.pass2.b.jsonl`, merged: id, relevant,
primary_frame, secondary_frames) is compared with the first on all items and on the test split: raw
agreement and Cohen's kappa for relevance and for the primary frame (on the items both passes call
relevant), and the distance between the frame bars each pass would draw per country (total variation
of the primary-frame shares, as `monitor eval` reports for the monitor's). That agreement is the
ceiling any automatic labelling can be expected to reach.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.analysis.evaluate import FrameShares, split_of  # noqa: E402  (the one split, shared with `monitor eval`)
from monitor.analysis.frame_mix import frame_shares  # noqa: E402

EVAL_DIR = ROOT / "tests" / "fixtures" / "eval"
CORPUS_FILES = ("real-events.jsonl", "real-other.jsonl")
PASS2_FILES = ("real.pass2.a.jsonl", "real.pass2.b.jsonl", "real.pass2.c.jsonl", "real.pass2.d.jsonl", "real.pass2.e.jsonl", "real.pass2.jsonl")  # merged; any that exist


def load_jsonl(path: Path) -> list[dict]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path.name}:{n}: not JSON ({exc.msg})") from None
    return items


def load_corpus(eval_dir: Path = EVAL_DIR) -> list[dict]:
    items: list[dict] = []
    for name in CORPUS_FILES:
        if (eval_dir / name).exists():
            items += load_jsonl(eval_dir / name)
    return items


def cross_pairs(items: Iterable[dict]) -> int:
    """US-MX article pairs that report the same event."""
    by_event: dict[str, Counter] = {}
    for it in items:
        if it.get("event_id"):
            by_event.setdefault(it["event_id"], Counter())[it["country"]] += 1
    return sum(c["US"] * c["MX"] for c in by_event.values())


def cohen_kappa(a: list[str], b: list[str]) -> float:
    n = len(a)
    if n == 0:
        return float("nan")
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def load_pass2(eval_dir: Path = EVAL_DIR) -> list[dict]:
    """The second pass, its files merged (an id labelled in two of them is an error)."""
    merged: dict[str, dict] = {}
    for name in PASS2_FILES:
        if (eval_dir / name).exists():
            for p in load_jsonl(eval_dir / name):
                if p["id"] in merged:
                    raise SystemExit(f"{name}: id {p['id']} is already in another pass-2 file")
                merged[p["id"]] = p
    return list(merged.values())


def agreement(items: list[dict], pass2: list[dict]) -> dict:
    second = {p["id"]: p for p in pass2}
    both = [(it, second[it["id"]]) for it in items if it["id"] in second]
    rel_a = [str(bool(a["relevant"])) for a, _ in both]
    rel_b = [str(bool(b["relevant"])) for _, b in both]
    framed = [(a, b) for a, b in both if a["relevant"] and b["relevant"]]
    fa = [a["primary_frame"] or "-" for a, _ in framed]
    fb = [b["primary_frame"] or "-" for _, b in framed]
    any_match = sum(
        (b["primary_frame"] == a["primary_frame"]) or (b["primary_frame"] in (a.get("secondary_frames") or []))
        for a, b in framed
    )

    def shares(rows: Iterable[dict]) -> dict[str, float]:
        return {f: v for f, _, v in frame_shares(Counter(r["primary_frame"] for r in rows if r["relevant"] and r["primary_frame"]))}

    # each country's frame bars as each pass would draw them: how far two people's bars differ
    distance = {
        c: FrameShares(shares(a for a, _ in both if a["country"] == c), shares(b for a, b in both if a["country"] == c)).distance
        for c in sorted({a["country"] for a, _ in both})
    }
    return {
        "items_in_both_passes": len(both),
        "relevance_agreement": round(sum(x == y for x, y in zip(rel_a, rel_b, strict=True)) / max(len(both), 1), 3),
        "relevance_kappa": round(cohen_kappa(rel_a, rel_b), 3),
        "frame_items": len(framed),
        "primary_frame_agreement": round(sum(x == y for x, y in zip(fa, fb, strict=True)) / max(len(fa), 1), 3),
        "primary_frame_kappa": round(cohen_kappa(fa, fb), 3),
        "pass2_primary_in_pass1_any": round(any_match / max(len(framed), 1), 3),
        "frame_share_distance": {c: round(d, 3) for c, d in distance.items()},
    }


def stats(items: list[dict]) -> dict:
    relevant = [it for it in items if it["relevant"]]
    events = Counter(it["event_id"] for it in items if it.get("event_id"))
    both = {
        e for e in events
        if {it["country"] for it in items if it.get("event_id") == e} >= {"US", "MX"}
    }
    return {
        "items": len(items),
        "relevant": len(relevant),
        "negatives": len(items) - len(relevant),
        "by_country": dict(Counter(it["country"] for it in items)),
        "by_country_language": dict(Counter(f"{it['country']}/{it['language']}" for it in items)),
        "relevant_by_country": dict(Counter(it["country"] for it in relevant)),
        "outlets": len({it["outlet"] for it in items}),
        "by_outlet": dict(Counter(it["outlet"] for it in items).most_common()),
        "by_month": dict(sorted(Counter((it.get("published") or "unknown")[:7] for it in items).items())),
        "months": len({(it.get("published") or "")[:7] for it in items if it.get("published")}),
        "events": len(events),
        "events_in_both_countries": len(both),
        "us_mx_same_event_pairs": cross_pairs(items),
        "primary_frames": dict(Counter(it["primary_frame"] for it in relevant).most_common()),
        "with_title": sum(1 for it in items if it.get("title")),
        "split": {
            s: {
                "items": sum(1 for it in items if split_of(it) == s),
                "relevant": sum(1 for it in relevant if split_of(it) == s),
                "pairs": cross_pairs(it for it in items if split_of(it) == s),
            }
            for s in ("dev", "test")
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--dir", type=Path, default=EVAL_DIR, help="folder with the real-*.jsonl files")
    args = ap.parse_args(argv)
    items = load_corpus(args.dir)
    if not items:
        print(f"no corpus files in {args.dir}", file=sys.stderr)
        return 2
    report = stats(items)
    pass2 = load_pass2(args.dir)
    if pass2:
        report["agreement"] = agreement(items, pass2)
        report["agreement_test_split"] = agreement([it for it in items if split_of(it) == "test"], pass2)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    for key, value in report.items():
        if key.startswith("agreement"):
            continue
        if isinstance(value, dict) and len(value) > 12:
            value = dict(list(value.items())[:12]) | {"…": f"{len(value) - 12} more"}
        print(f"{key:>26}: {value}")
    if pass2:
        print("agreement of the two blind labelling passes (the ceiling for the analysis):")
        for title, key in (("all items", "agreement"), ("test split", "agreement_test_split")):
            print(agreement_line(title, report[key]))
    return 0


def agreement_line(title: str, a: dict) -> str:
    return (
        f"  {title:<11} ({a['items_in_both_passes']} items) relevance: agreement {a['relevance_agreement']:.3f},"
        f" kappa {a['relevance_kappa']:.3f}; primary frame ({a['frame_items']} items both passes call relevant):"
        f" agreement {a['primary_frame_agreement']:.3f}, kappa {a['primary_frame_kappa']:.3f};"
        f" pass-2 primary among pass-1 frames {a['pass2_primary_in_pass1_any']:.3f};"
        f" frame shares' distance {', '.join(f'{c} {d:.3f}' for c, d in a['frame_share_distance'].items())}"
    )


if __name__ == "__main__":
    raise SystemExit(main())

"""How much of a press's coverage used each frame: the one frame-share arithmetic.

Two estimates of a frame's share of some articles (a country's press over a day, a month; one side of
a story), and the rule that picks one:

- **top frames counted** ("classify and count"): each article counts wholly for its top frame;
- **frame mixes summed** (probabilistic classify and count, Bella et al. 2010, "Quantification via
  probability estimators"): each relevant article counts as a distribution over the frames, its
  *mix*, the trained model's P(primary frame = f) for every frame (analyses.frame_mix; where the
  debate file decided alone, all of it on the top frame).

Which is nearer the labelled shares depends on how many events the articles cover. Measured on the
dev split of the real corpus, out of fold, over random sets of events (300 draws each; total variation
distance from the labelled primary-frame shares, Mexican / US press):

| events | top frames counted | frame mixes summed |
|---|---|---|
| 3 | 0.29 / 0.32 | 0.36 / 0.35 |
| 10 | 0.21 / 0.21 | 0.23 / 0.22 |
| 20 | 0.16 / 0.18 | 0.16 / 0.16 |
| 40 | 0.12 / 0.14 | 0.10 / 0.11 |
| 80 | 0.10 / 0.11 | 0.05 / 0.07 |

Over few events a day's coverage leans to their own frames, and the mixes, which every model shrinks
towards the frames it saw most in training, miss that lean: counting is nearer. Over many events the
lean averages out, and counting's own fault dominates: a frame the model ranks first at P 0.4 takes
the whole article, so the largest frames are overstated and the runner-ups vanish. So the mixes are
summed when the articles fall into at least MIX_MIN_STORIES stories, and top frames are counted
otherwise (a day's bars, a story's sides). A comparison of two periods (the digest's shifts against
the previous week) estimates both by one method. Pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

DECIMALS = 4
MIX_MIN_STORIES = 20  # articles in at least this many stories: their mixes are summed, else top frames counted
MIXES = "frame mixes"
TOPS = "top frames"


def mix_of(probabilities: Mapping[str, float], frames: Iterable[str]) -> dict[str, float]:
    """The stored mix: the probabilities of `frames` (the debate's), scaled to sum to 1 and rounded,
    best first; frames that round to 0 are left out. Empty when none is positive."""
    kept = {f: max(0.0, float(probabilities.get(f, 0.0))) for f in frames}
    total = sum(kept.values())
    if total <= 0:
        return {}
    ranked = sorted(kept.items(), key=lambda fp: (-fp[1], fp[0]))
    return {f: round(p / total, DECIMALS) for f, p in ranked if round(p / total, DECIMALS) > 0}


def article_mix(top_frame: str | None, stored: str | Mapping[str, float] | None) -> dict[str, float]:
    """One article's mix: the stored one (JSON text or a mapping) when it has any, else all of it on
    its top frame, else nothing (an article without a frame does not count)."""
    mix = json.loads(stored) if isinstance(stored, str) else stored
    if isinstance(mix, Mapping) and mix:
        return {str(f): float(p) for f, p in mix.items()}
    return {top_frame: 1.0} if top_frame else {}


def mix_totals(mixes: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """{frame: total over the mixes} (each article's total is 1: the expected number of articles with
    that primary frame)."""
    totals: dict[str, float] = {}
    for mix in mixes:
        for f, p in mix.items():
            totals[f] = totals.get(f, 0.0) + p
    return totals


def frame_shares(totals: Mapping[str, float]) -> list[tuple[str, float, float]]:
    """(frame, total, share) from {frame: total} (mix totals, or plain counts of top frames): each
    frame's share of the whole (the shares sum to 1), largest first, ties by frame id.

    The comparison, the digest's story sides, the story frames, the web page and `monitor eval` all use it.
    """
    total = sum(totals.values())
    ranked = sorted(((f, n) for f, n in totals.items() if n > 0), key=lambda kv: (-kv[1], kv[0]))
    return [(f, n, n / total) for f, n in ranked]


def method_for(stories: int) -> str:
    """The estimate for articles that fall into `stories` stories: MIXES or TOPS (see above)."""
    return MIXES if stories >= MIX_MIN_STORIES else TOPS


def coverage_shares(articles: Iterable[tuple[str | None, Mapping[str, float]]], method: str) -> list[tuple[str, float, float]]:
    """[(frame, total, share)] of articles given as (top frame, mix), by `method`: MIXES sums their
    mixes (an article without one counts for its top frame), TOPS counts their top frames; by
    frame_shares. Articles without a top frame do not count."""
    framed = [(top, mix) for top, mix in articles if top]
    if method == MIXES:
        return frame_shares(mix_totals(article_mix(top, mix) for top, mix in framed))
    return frame_shares(mix_totals({top: 1.0} for top, _ in framed))

"""Frame shares from frame mixes: each article counts for the model's P of every primary frame."""

from __future__ import annotations

import json

import pytest

from monitor.analysis.frame_mix import (
    MIX_MIN_STORIES,
    MIXES,
    TOPS,
    article_mix,
    coverage_shares,
    frame_shares,
    method_for,
    mix_of,
    mix_totals,
)


def test_mix_of_keeps_the_debate_frames_scaled_to_one_best_first() -> None:
    mix = mix_of({"sovereignty": 0.3, "cooperation": 0.5, "not_a_frame": 0.2, "legality": 0.0}, ["sovereignty", "cooperation", "legality"])
    assert list(mix) == ["cooperation", "sovereignty"]  # best first; a zero left out, a frame not the debate's too
    assert mix == {"cooperation": 0.625, "sovereignty": 0.375}
    assert mix_of({"a": 1e-9, "b": 1.0}, ["a", "b"]) == {"b": 1.0}  # rounds to nothing: left out
    assert mix_of({"a": 0.0}, ["a"]) == {} and mix_of({}, ["a"]) == {}


def test_article_mix_reads_the_stored_mix_else_the_top_frame() -> None:
    assert article_mix("legality", json.dumps({"legality": 0.6, "sovereignty": 0.4})) == {"legality": 0.6, "sovereignty": 0.4}
    assert article_mix("legality", {"sovereignty": 1.0}) == {"sovereignty": 1.0}
    assert article_mix("legality", None) == {"legality": 1.0}  # the debate file decided alone
    assert article_mix("legality", "{}") == {"legality": 1.0}
    assert article_mix(None, None) == {}  # no frame: it does not count


def test_frame_shares_rank_by_total_then_frame_and_sum_to_one() -> None:
    assert frame_shares({"b": 1, "a": 1, "c": 2}) == [("c", 2, 0.5), ("a", 1, 0.25), ("b", 1, 0.25)]
    assert frame_shares({"x": 0.0, "y": 1.5}) == [("y", 1.5, 1.0)]
    assert frame_shares({}) == []


def test_a_frame_ranked_second_everywhere_keeps_its_share() -> None:
    """Counting top frames gives every article to its likeliest frame: three articles each 60% likely
    military and 40% cooperation become 100% military. The mixes keep cooperation's expected 40%."""
    mixes = [{"military_operations": 0.6, "cooperation": 0.4}] * 3
    counted = frame_shares({"military_operations": 3})
    mixed = frame_shares(mix_totals(mixes))
    assert counted == [("military_operations", 3, 1.0)]
    assert [(f, round(share, 6)) for f, _, share in mixed] == [("military_operations", 0.6), ("cooperation", 0.4)]
    assert sum(total for _, total, _ in mixed) == pytest.approx(3.0)  # each article counts once in all


def test_articles_without_a_mix_count_wholly_for_their_top_frame_beside_those_with_one() -> None:
    mixes = [article_mix("sovereignty", None), article_mix("cooperation", {"cooperation": 0.5, "sovereignty": 0.5})]
    assert dict((f, s) for f, _, s in frame_shares(mix_totals(mixes))) == {"sovereignty": 0.75, "cooperation": 0.25}


def test_few_stories_count_top_frames_many_sum_the_mixes() -> None:
    """A day's few stories lean to their own frames, which the mixes (shrunk towards the training
    frames) miss; over many stories counting overstates the largest frames (docs in frame_mix.py)."""
    articles = [("military_operations", {"military_operations": 0.6, "cooperation": 0.4})] * 3 + [(None, {})]
    assert method_for(MIX_MIN_STORIES - 1) == TOPS and method_for(MIX_MIN_STORIES) == MIXES
    assert coverage_shares(articles, TOPS) == [("military_operations", 3.0, 1.0)]
    shares = coverage_shares(articles, MIXES)
    assert [(f, round(s, 6)) for f, _, s in shares] == [("military_operations", 0.6), ("cooperation", 0.4)]
    # an article without a stored mix (the debate file decided alone) counts wholly for its top frame either way
    assert coverage_shares([("legality", {})], MIXES) == [("legality", 1.0, 1.0)]

"""Country comparison: log-odds words, frame shares with evidence, blindspots, lead/lag; CLI JSON."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlite_utils
from click.testing import CliRunner

from monitor.analysis import analyze, cluster, frame_mix
from monitor.analysis.compare import compare, log_odds
from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.days import day_bounds
from monitor.store.db import to_jsonable
from monitor.web.data import frame_shares

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the stages' present: stamps only

START, END = datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_log_odds_favours_each_side_words_symmetrically() -> None:
    us = Counter({"strike": 30, "cartel": 20, "mexico": 20, "senate": 10})
    mx = Counter({"sovereignty": 30, "cartel": 20, "mexico": 20, "attack": 10})
    scores = log_odds(us, mx)
    assert scores["strike"][1] > 1.96 and scores["sovereignty"][1] < -1.96
    assert abs(scores["cartel"][1]) < 0.5
    assert abs(scores["strike"][0] + log_odds(mx, us)["strike"][0]) < 1e-9


def test_day_bounds_in_mexico_city() -> None:
    start, end = day_bounds(datetime(2026, 11, 22).date(), "America/Mexico_City")
    assert start.astimezone(UTC).hour == 6 and (end - start).total_seconds() == 86400


def _populate(factory: Callable[..., int]) -> None:
    # shared story: MX first (hour 0), US two hours later
    factory("jornada", "Sheinbaum rechaza intervención militar de EU: la soberanía no se negocia",
            "Cooperación sí, subordinación no, dijo la presidenta sobre los ataques contra cárteles.", hours=0,
            translation=("Sheinbaum rejects US military intervention: sovereignty is not negotiable",
                         "Cooperation yes, subordination no, the president said about strikes on cartels."))
    factory("nyt", "Sheinbaum rejects US military intervention against cartels, defends sovereignty",
            "Cooperation yes, subordination no, she said after the latest strike.", hours=2,
            translation=("Sheinbaum rechaza intervención militar de EU contra cárteles, defiende soberanía",
                         "Cooperación sí, subordinación no, dijo tras el último ataque."))
    # US-only story of 3 articles: a blindspot of the Mexican press
    for i, outlet in enumerate(("nyt", "wapo", "fox")):
        factory(outlet, f"Senate war powers vote on cartel strikes set for Thursday ({i})",
                "Senators want an AUMF before more strikes on cartels; the War Powers Resolution applies.", hours=3 + i)


def test_compare_counts_frames_blindspots_and_lead(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings
) -> None:
    _populate(article_factory)
    analyze.run(news_db, settings, now=NOW)
    cluster.run(news_db, settings, now=NOW)
    result = compare(news_db, settings, START, END, translate_words=lambda words: [f"es-{w}" for w in words])
    assert set(result.countries) == {"US", "MX"}
    us, mx = result.countries["US"], result.countries["MX"]
    assert (us.articles, mx.articles, us.outlets, mx.outlets) == (4, 1, 3, 1)
    assert abs(sum(f.share for f in us.frames) - 1.0) < 0.01
    assert mx.frames[0].frame == "sovereignty" and mx.frames[0].examples
    assert mx.frames[0].examples[0].language == "es" and mx.frames[0].examples[0].sentence_translated
    assert any(f.frame == "legality" for f in us.frames)
    assert us.distinctive_words and us.distinctive_words[0].z > 0
    assert us.distinctive_words[0].word_es == "es-" + us.distinctive_words[0].word
    assert result.shared_stories == 1
    assert [(b.covered_by, b.missing, b.size) for b in result.blindspots] == [("US", "MX", 3)]
    assert [(ll.first_country, ll.lead_minutes) for ll in result.lead_lag] == [("MX", 120)]
    assert json.dumps(to_jsonable(result))  # JSON-able for the digest and the page

    higher = compare(news_db, settings.replace(analysis__blindspot_min_articles=4), START, END, translate_words=None)
    assert higher.blindspots == [] and higher.countries["US"].distinctive_words[0].word_es is None


def _expected_shares(db: sqlite_utils.Database, country_code: str, summed: bool) -> dict[str, float]:
    """A country's frame shares in the range, computed here from the stored analyses: each relevant
    article counts for its frame mix (summed) or wholly for its top frame (counted)."""
    rows = db.execute(
        "SELECT an.top_frame, an.frame_mix FROM analyses an JOIN articles a ON a.id = an.article"
        " WHERE an.relevant = 1 AND an.top_frame IS NOT NULL AND a.country = ?",
        [country_code],
    ).fetchall()
    mixes = [json.loads(mix) if summed and mix else {top: 1.0} for top, mix in rows]
    totals = {f: sum(m.get(f, 0.0) for m in mixes) for f in {f for m in mixes for f in m}}
    return {f: t / sum(totals.values()) for f, t in totals.items()}


@pytest.mark.parametrize("min_stories", [frame_mix.MIX_MIN_STORIES, 2])
def test_the_page_the_comparison_and_the_stories_agree_on_frame_shares(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings,
    monkeypatch: pytest.MonkeyPatch, min_stories: int,
) -> None:
    """One arithmetic behind every frame share shown: the web page's bars, the comparison (digest,
    `monitor compare`) and each story's per-country mix (`story_frames`). Over few stories top frames
    are counted; from MIX_MIN_STORIES stories (here lowered to 2 for the US press's two stories) the
    articles' frame mixes are summed."""
    monkeypatch.setattr(frame_mix, "MIX_MIN_STORIES", min_stories)
    _populate(article_factory)
    analyze.run(news_db, settings, now=NOW)
    cluster.run(news_db, settings, now=NOW)
    result = compare(news_db, settings, START, END, translate_words=None)
    page = frame_shares(news_db, START, END, {})
    assert {c.country for c in page} == {"US", "MX"}
    summed = {"US": min_stories <= 2, "MX": False}  # the Mexican press covered one story
    assert news_db.execute("SELECT count(*) FROM analyses WHERE relevant = 1 AND frame_mix IS NOT NULL").fetchone()[0] == 5
    for bars in page:
        c = bars.country
        assert bars.shares_by == result.countries[c].shares_by == (frame_mix.MIXES if summed[c] else frame_mix.TOPS)
        expected = _expected_shares(news_db, c, summed[c])
        assert {b.frame: round(b.share, 3) for b in bars.bars} == {f: round(v, 3) for f, v in expected.items() if round(v * 100) >= 1}
        assert {f.frame: f.share for f in result.countries[c].frames if f.share} == {
            f: round(v, 3) for f, v in expected.items() if round(v, 3)
        }
    if summed["US"]:  # the mixes keep frames no article has on top
        assert len(_expected_shares(news_db, "US", True)) > len(_expected_shares(news_db, "US", False))
    top = dict(news_db.execute("SELECT a.id, an.top_frame FROM articles a JOIN analyses an ON an.article = a.id").fetchall())
    for story, country, frame, share in news_db.execute("SELECT story, country, frame, share FROM story_frames").fetchall():
        members = [aid for (aid,) in news_db.execute(
            "SELECT sa.article FROM story_articles sa JOIN articles a ON a.id = sa.article WHERE sa.story = ? AND a.country = ?",
            [story, country],
        ).fetchall()]
        framed = [top[aid] for aid in members if top.get(aid)]
        assert share == round(framed.count(frame) / len(framed), 3)  # one story: top frames counted


def test_cli_stories_and_compare_json(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings
) -> None:
    _populate(article_factory)
    runner = CliRunner()
    base = ["--db", settings.db]
    for cmd in (["analyze", "--json"], ["cluster", "--json"]):
        res = runner.invoke(cli, base + cmd)
        assert res.exit_code == 0, res.output
    res = runner.invoke(cli, [*base, "stories", "--date", "2026-11-22", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [s["countries"] for s in data["stories"]] == [["MX", "US"], ["US"]]
    assert data["stories"][0]["articles_by_country"]["MX"][0]["title_translated"]
    res = runner.invoke(cli, [*base, "compare", "--date", "2026-11-22", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["countries"]["US"]["articles"] == 4
    text = runner.invoke(cli, [*base, "compare", "--date", "2026-11-22"])
    assert "blindspots" in text.output and "MX first" in text.output
    assert text.output.count("frame shares by top frames counted") == 2  # two stories a country: counted
    assert json.loads(res.stdout)["countries"]["US"]["shares_by"] == "top frames"
    bad = runner.invoke(cli, [*base, "stories", "--date", "22/11/2026"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output

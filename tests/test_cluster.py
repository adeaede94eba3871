"""The cluster stage: cross-language stories, incremental with stable ids, window, merges, display."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import sqlite_utils

from monitor.analysis import analyze, cluster, concepts, linkage
from monitor.analysis.stories import get_story, list_stories
from monitor.config.settings import Settings
from monitor.store.db import write_transaction

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the stages' present: stamps only

ALL = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))

BOAT_EN = (
    "US strike kills 6 on drug boat off Guerrero coast, Hegseth says",
    "The Pentagon said the vessel was operated by a cartel; Semar searches for a survivor off Acapulco.",
)
BOAT_ES = (
    "Ataque de EU contra lancha frente a Guerrero deja 6 muertos: Hegseth",
    "El Pentágono dijo que la embarcación era de un cártel; la Semar busca a un sobreviviente frente a Acapulco.",
)
TRANSFER_EN = (
    "Mexico sends 26 cartel prisoners to the US in third mass transfer",
    "García Harfuch said the transfer of 26 prisoners shows security cooperation with Washington.",
)
TRANSFER_ES = (
    "México envía a EU a 26 presos del cártel en el tercer traslado masivo",
    "García Harfuch dijo que el traslado de 26 presos muestra la cooperación en seguridad con Washington.",
)


def _run(db: sqlite_utils.Database, settings: Settings) -> cluster.ClusterReport:
    analyze.run(db, settings, now=NOW)
    return cluster.run(db, settings, now=NOW)


def _story_of(db: sqlite_utils.Database, article: int) -> int | None:
    row = db.execute("SELECT story FROM story_articles WHERE article = ?", [article]).fetchone()
    return int(row[0]) if row else None


def test_same_event_in_both_languages_is_one_story(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings
) -> None:
    b1 = article_factory("nyt", *BOAT_EN, hours=0, translation=BOAT_ES)
    b2 = article_factory("jornada", *BOAT_ES, hours=2, translation=BOAT_EN)
    t1 = article_factory("wapo", *TRANSFER_EN, hours=1, translation=TRANSFER_ES)
    t2 = article_factory("universal", *TRANSFER_ES, hours=3, translation=TRANSFER_EN)
    off = article_factory("fox", "Snowstorm closes schools across the Midwest")
    report = _run(news_db, settings)
    assert report.new_articles == 4 and report.new_stories == 2
    assert _story_of(news_db, off) is None
    assert _story_of(news_db, b1) == _story_of(news_db, b2)
    assert _story_of(news_db, t1) == _story_of(news_db, t2)
    assert _story_of(news_db, b1) != _story_of(news_db, t1)

    story = get_story(news_db, _story_of(news_db, b1) or 0)
    assert story is not None
    assert story.size_by_country == {"MX": 1, "US": 1}
    assert story.first_seen_by_country == {"MX": "2026-11-22T14:00:00+00:00", "US": "2026-11-22T12:00:00+00:00"}
    assert set(story.outlets) == {"nyt", "jornada"}
    assert story.label_en and story.label_es and story.label_en != story.label_es
    assert set(story.frames_by_country) == {"US", "MX"}
    assert abs(sum(story.frames_by_country["US"].values()) - 1.0) < 1e-6
    mx = story.articles_by_country["MX"][0]
    assert mx.title == BOAT_ES[0] and mx.title_translated == BOAT_EN[0] and mx.title_en == BOAT_EN[0]


def test_incremental_runs_keep_ids_and_join_existing_stories(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings
) -> None:
    b1 = article_factory("nyt", *BOAT_EN, hours=0, translation=BOAT_ES)
    _run(news_db, settings)
    first_story = _story_of(news_db, b1)
    before = news_db.execute("SELECT * FROM stories").fetchall()
    again = _run(news_db, settings)
    assert again.new_articles == 0 and news_db.execute("SELECT * FROM stories").fetchall() == before

    b2 = article_factory("milenio", *BOAT_ES, hours=5, translation=BOAT_EN)
    late = article_factory("jornada", *BOAT_ES, hours=24 * 6, translation=BOAT_EN)  # outside the 72 h window
    report = _run(news_db, settings)
    assert report.joined == 1 and report.new_stories == 1
    assert _story_of(news_db, b2) == first_story
    assert _story_of(news_db, late) not in (None, first_story)


def test_article_no_longer_relevant_leaves_its_story(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings
) -> None:
    b1 = article_factory("nyt", *BOAT_EN, translation=BOAT_ES)
    b2 = article_factory("jornada", *BOAT_ES, hours=1, translation=BOAT_EN)
    _run(news_db, settings)
    story = _story_of(news_db, b1)
    with write_transaction(news_db):
        news_db.execute("UPDATE articles SET title = 'Weather', summary = 'Sunny', content_hash = 'changed' WHERE id = ?", [b2])
        news_db.execute("DELETE FROM article_translations WHERE article = ?", [b2])
    report = _run(news_db, settings)
    assert report.removed == 1 and _story_of(news_db, b2) is None
    assert news_db.execute("SELECT size FROM stories WHERE id = ?", [story]).fetchone() == (1,)
    assert news_db.execute("SELECT country, articles FROM story_countries WHERE story = ?", [story]).fetchall() == [("US", 1)]
    assert news_db.execute("SELECT outlet FROM story_outlets WHERE story = ?", [story]).fetchall() == [("nyt",)]


def test_merged_stories_are_hidden_and_followed(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings
) -> None:
    b1 = article_factory("nyt", *BOAT_EN, translation=BOAT_ES)
    t1 = article_factory("wapo", *TRANSFER_EN, hours=1, translation=TRANSFER_ES)
    _run(news_db, settings)
    sb, st = _story_of(news_db, b1), _story_of(news_db, t1)
    assert sb and st and sb != st
    with write_transaction(news_db):  # what a merge writes
        news_db.execute("UPDATE story_articles SET story = ? WHERE story = ?", [sb, st])
        news_db.execute("UPDATE stories SET merged_into = ? WHERE id = ?", [sb, st])
        cluster.refresh_story(news_db, sb, "2026-11-22T20:00:00+00:00")
    ids = [v.id for v in list_stories(news_db, *ALL)]
    assert ids == [sb]
    followed = get_story(news_db, st)
    assert followed is not None and followed.id == sb and followed.size == 2


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / np.linalg.norm(v), dtype=np.float32)


def _event_vectors(seed: int, events: int, dim: int = 64) -> tuple[np.ndarray, list[np.ndarray]]:
    """A shared topic direction and one direction per event: articles about one event are
    topic + event + noise, so cosines are compressed as e5's are (different events ~0.8)."""
    rng = np.random.default_rng(seed)
    return _unit(rng.normal(size=dim)), [_unit(rng.normal(size=dim)) for _ in range(events)]


def test_fragments_of_one_event_merge_into_the_oldest() -> None:
    topic, (boat, tariff) = _event_vectors(1, 2)
    rng = np.random.default_rng(2)

    def about(event: np.ndarray) -> np.ndarray:
        return _unit(topic + 0.5 * event + 0.1 * _unit(rng.normal(size=topic.shape[0])))

    names = {"names": frozenset({"guerrero", "acapulco"}), "numbers": frozenset({"6"})}
    docs = [
        linkage.Doc(1, 0.0, about(boat), names, language="en", story=10),
        linkage.Doc(2, 60.0, about(boat), names, language="es", story=11),
        linkage.Doc(3, 120.0, about(boat), names, language="es"),
        linkage.Doc(4, 130.0, about(tariff), {"names": frozenset({"usmca"})}, language="en"),
    ]
    result = linkage.assign(docs, linkage.Weights(), 72 * 3600, join=1.0, merge=1.25)
    assert result.merges == {11: 10}
    assert result.story_of[3] in (10, 11)
    assert result.story_of[4] < 0 and result.new_stories == [result.story_of[4]]


def test_average_linkage_does_not_chain_two_threads_through_one_article() -> None:
    topic, (a, b) = _event_vectors(3, 2)
    rng = np.random.default_rng(4)

    def about(event: np.ndarray) -> np.ndarray:
        return _unit(topic + 0.5 * event + 0.15 * _unit(rng.normal(size=topic.shape[0])))

    hour = 3600.0
    docs = [linkage.Doc(i + 1, i * hour, about(a), language="en", story=10) for i in range(4)]
    docs += [linkage.Doc(i + 11, (i + 1) * hour, about(b), language="en", story=20) for i in range(4)]
    bridge = linkage.Doc(30, 6 * hour, _unit(topic + 0.5 * _unit(a + b)), language="en")
    weights = linkage.Weights()
    links = linkage.PairScorer([*docs, bridge], weights).block([8], range(8))[0]
    assert links.min() >= 1.0  # the bridge is close to every member of both threads: single link would chain them
    result = linkage.assign([*docs, bridge], weights, 72 * hour, join=1.0, merge=1.25)
    assert result.story_of[30] in (10, 20)  # it joins one thread ...
    assert result.merges == {}  # ... and the two threads stay apart: their own pairs are far
    cfg = Settings().cluster  # the same with the default thresholds (merge 1.0 since the dev split's pairs)
    assert links.min() >= cfg.merge
    result = linkage.assign([*docs, bridge], weights, cfg.window_h * hour, join=cfg.join, merge=cfg.merge)
    assert result.merges == {}


def _one_lawsuit(seed: int) -> Callable[[], np.ndarray]:
    """Vectors of reports of one long-running matter (a lawsuit heard in March, ruled on in June):
    all alike, as e5 makes them whatever the day."""
    topic, (suit,) = _event_vectors(seed, 1)
    rng = np.random.default_rng(seed + 1)
    return lambda: _unit(topic + 0.5 * suit + 0.1 * _unit(rng.normal(size=topic.shape[0])))


def test_undated_reports_do_not_merge_events_months_apart() -> None:
    # each stored story has a dated report and an undated one (its feed gave no date); a new undated
    # report is close to both stories. Their dated members are 90 days apart: two events, however
    # alike the undated reports are (they used to merge the hearing and the ruling through them)
    about, day = _one_lawsuit(7), linkage.DAY_S
    docs = [
        linkage.Doc(1, 0.0, about(), language="en", story=10),
        linkage.Doc(2, None, about(), language="es", story=10),
        linkage.Doc(3, 90 * day, about(), language="en", story=20),
        linkage.Doc(4, None, about(), language="es", story=20),
        linkage.Doc(5, None, about(), language="es"),
    ]
    weights, cfg = linkage.Weights(), Settings().cluster
    assert linkage.PairScorer(docs, weights).block([1], [3])[0, 0] >= cfg.merge  # the undated pair alone would merge them
    result = linkage.assign(docs, weights, cfg.window_h * 3600.0, join=cfg.join, merge=cfg.merge)
    assert result.story_of[5] in (10, 20)
    assert result.merges == {}


def test_a_dated_report_does_not_join_an_old_story_through_its_undated_members() -> None:
    about, day = _one_lawsuit(9), linkage.DAY_S
    docs = [
        linkage.Doc(1, 0.0, about(), language="en", story=10),
        linkage.Doc(2, None, about(), language="es", story=10),
        linkage.Doc(3, 90 * day, about(), language="en"),  # the ruling, 90 days after the hearing
    ]
    weights, cfg = linkage.Weights(), Settings().cluster
    assert linkage.PairScorer(docs, weights).block([2], [1])[0, 0] >= cfg.join  # close to the undated member
    result = linkage.assign(docs, weights, cfg.window_h * 3600.0, join=cfg.join, merge=cfg.merge)
    assert result.story_of[3] < 0 and result.new_stories == [result.story_of[3]]
    near = [linkage.Doc(1, 0.0, about(), language="en", story=10), linkage.Doc(2, None, about(), language="es", story=10),
            linkage.Doc(3, day, about(), language="en")]
    assert linkage.assign(near, weights, cfg.window_h * 3600.0, join=cfg.join, merge=cfg.merge).story_of[3] == 10  # a day later it joins


def test_stories_list_ranks_both_countries_first(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings
) -> None:
    article_factory("nyt", *TRANSFER_EN, translation=TRANSFER_ES)
    # war powers over strikes on cartels in Mexico (with no Mexico named it would be the Caribbean's: CODEBOOK.md)
    article_factory("wapo", "Senate heads for a war powers vote on cartel strikes in Mexico", "Democrats say the AUMF is needed.")
    article_factory("fox", "Senators force war powers vote over strikes on Mexican cartels", "The AUMF debate returns.", hours=1)
    article_factory("universal", *TRANSFER_ES, hours=1, translation=TRANSFER_EN)
    _run(news_db, settings)
    views = list_stories(news_db, *ALL)
    assert [v.countries for v in views] == [["MX", "US"], ["US"]]
    outlets = news_db.execute("SELECT outlet, articles FROM story_outlets WHERE story = ? ORDER BY outlet", [views[1].id]).fetchall()
    assert outlets == [("fox", 1), ("wapo", 1)]
    # Datasette-style filters over the join tables: stories both countries covered, and the mix of frames
    both = news_db.execute("SELECT story FROM story_countries GROUP BY story HAVING count(*) > 1").fetchall()
    assert both == [(views[0].id,)]
    for view in views:
        shares = news_db.execute("SELECT country, frame, share FROM story_frames WHERE story = ?", [view.id]).fetchall()
        assert {(c, f): s for c, f, s in shares} == {
            (c, f): s for c, mix in view.frames_by_country.items() for f, s in mix.items()
        }
    assert list_stories(news_db, datetime(2030, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)) == []


# Rough machine translations, as the rule-based engine (apertium) writes them: "lancha" becomes
# "launch", "strike" becomes "huelga", numbers stay digits or words. Only the originals are good text.
ROUGH_EN = (
    "U.S. strike on suspected drug vessel off Mexico kills six, Hegseth says",
    "The strike in international waters of the eastern Pacific left one survivor; the navy is searching.",
)
ROUGH_EN_AS_ES = (
    "EE.UU. huelga encima sospechado vaso de droga fuera México mata seis, Hegseth dice",
    "La huelga en aguas internacionales del oriental Pacific dejó uno superviviente; el navy busca.",
)
ROUGH_ES = (
    "Ataca EU otra narcolancha frente a Guerrero; hay 6 muertos y un sobreviviente",
    "La Semar busca al sobreviviente de la embarcación atacada en el Pacífico.",
)
ROUGH_ES_AS_EN = (
    "It attacks EU another narcolancha in front of Guerrero; there are 6 dead persons and a survivor",
    "The Semar looks for to the survivor of the craft attacked in the Pacífico.",
)


def test_concepts_and_numbers_are_shared_across_languages() -> None:
    en = concepts.concepts("US strike kills six aboard a drug boat; Navy searches for a survivor", "en")
    es = concepts.concepts("Ataque de EU contra narcolancha deja seis muertos; Semar busca a un sobreviviente", "es")
    assert {"strike", "boat", "killed", "search", "survivor"} <= set(en) & set(es)
    assert concepts.numbers("hay seis muertos y 26 reos; 25% de aranceles; 1 detenido", "es") == ["6", "26", "25"]
    assert concepts.numbers("six killed, 26 prisoners", "en") == ["6", "26"]
    assert concepts.concepts("gun shops in Arizona", "en") == ["gun_shops"]  # the phrase, not "gun"
    assert concepts.concepts("armerías de Arizona", "es") == ["gun_shops"]
    assert concepts.concepts("Ataque", "pt") == []


def test_rough_translations_still_make_one_story_without_embeddings(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings
) -> None:
    # no vectors here: the keyword vectors (original against a rough translation share few words)
    # and the language-free evidence of the originals (concepts, numbers, names, actors) carry the pair
    en = article_factory("nyt", *ROUGH_EN, hours=0, translation=ROUGH_EN_AS_ES)
    es = article_factory("jornada", *ROUGH_ES, hours=2, translation=ROUGH_ES_AS_EN)
    other = article_factory("wapo", *TRANSFER_EN, hours=1, translation=TRANSFER_ES)
    report = _run(news_db, settings)
    assert report.with_vectors == 0
    assert _story_of(news_db, en) is not None and _story_of(news_db, en) == _story_of(news_db, es)
    assert _story_of(news_db, other) != _story_of(news_db, en)


def test_articles_of_one_time_are_taken_in_url_order_not_row_order() -> None:
    # six articles published the same second (an eval corpus: every item at midnight of its day), on a
    # mix of two threads: incremental average linkage depends on the order they are taken in, which
    # must come from the articles (their URL), not from the row ids a database's history gave them
    rng = np.random.default_rng(21)
    topic = _unit(rng.normal(size=64))
    threads = [_unit(rng.normal(size=64)) for _ in range(2)]
    vectors = [
        _unit(topic + 0.5 * (threads[0] * rng.random() + threads[1] * rng.random()) + 0.15 * _unit(rng.normal(size=64)))
        for _ in range(6)
    ]

    def groups(ids: list[int], urls: list[str]) -> list[list[int]]:
        docs = [linkage.Doc(i, 0.0, v, language="en", order=u) for i, v, u in zip(ids, vectors, urls, strict=True)]
        result = linkage.assign(docs, linkage.Weights(), 72 * 3600.0, join=1.5, merge=1.0)
        root = {s: s for s in result.story_of.values()}
        for child, parent in result.merges.items():
            root[child] = parent
        by_story: dict[int, list[int]] = {}
        for k, d in enumerate(docs):
            s = result.story_of[d.article]
            while root.get(s, s) != s:
                s = root[s]
            by_story.setdefault(s, []).append(k)
        return sorted(by_story.values())

    forward, backward = list(range(1, 7)), list(range(6, 0, -1))
    urls = [f"https://example.org/{c}" for c in "abcdef"]
    assert groups(forward, [""] * 6) != groups(backward, [""] * 6)  # by row id alone the result moves ...
    assert groups(forward, urls) == groups(backward, urls)  # ... by URL it does not

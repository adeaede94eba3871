"""The stage contract: STAGES holds functions, every stage returns a StageReport named after it, and a
stage reports its progress to a callback (a list's `append` here) instead of printing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, get_type_hints

import pytest

from monitor import pipeline
from monitor.analysis import analyze
from monitor.cli.console import TerminalProgress
from monitor.config.settings import Settings
from monitor.models import ProgressEvent, StageReport, track
from monitor.store.db import iso
from monitor.translation import language

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the stages' present: stamps only

HEADLINES = [
    ("milenio", "es", "Gobierno rechaza ataques contra el cártel en territorio mexicano"),
    ("milenio", "es", "Marina abate a jefe de cártel en Sinaloa"),
    ("nyt", "en", "Pentagon weighs strikes on cartel labs in Mexico"),
]


def _articles(db: Any) -> None:
    db.conn.execute("INSERT INTO outlets (id, name, country, language) VALUES ('milenio', 'Milenio', 'MX', 'es')")
    db.conn.execute("INSERT INTO outlets (id, name, country, language) VALUES ('nyt', 'NYT', 'US', 'en')")
    for i, (outlet, lang, title) in enumerate(HEADLINES):
        country = "MX" if lang == "es" else "US"
        db.conn.execute(
            "INSERT INTO articles (outlet, country, language, outlet_language, url, title, summary, published, "
            "date_source, first_seen, content_hash) VALUES (?, ?, ?, ?, ?, ?, '', ?, 'feed', ?, ?)",
            [outlet, country, lang, lang, f"https://example.org/{i}", title, iso(NOW), iso(NOW),
             hashlib.sha256(title.encode()).hexdigest()],
        )
    db.conn.commit()


def test_stages_are_functions_returning_a_report_named_after_their_stage() -> None:
    names = [name for name, _ in pipeline.STAGES]
    assert names[:3] == ["poll", "language", "translate"] and names[-3:] == ["analyze", "cluster", "digest"]
    for name, fn in pipeline.STAGES:
        assert callable(fn) and pipeline.stage_function(name) is fn
        returns = get_type_hints(fn)["return"]
        assert issubclass(returns, StageReport) and returns.stage == name, (name, returns)
    with pytest.raises(KeyError):
        pipeline.stage_function("nope")


def test_a_stage_reports_progress_to_the_callback_and_nothing_when_it_has_no_work(db: Any, settings: Settings) -> None:
    _articles(db)
    events: list[ProgressEvent] = []
    report = language.run(db, settings, now=NOW, progress=events.append)
    assert [(e.stage, e.kind, e.done, e.total) for e in events] == [
        ("language", "start", 0, 3),
        ("language", "advance", 3, 3),
        ("language", "done", 3, 3),
    ]
    assert report.changed == 3 and report.summary()["stage"] == "language"
    assert report.summary()["by_language"] in ("en:1,es:2", "es:2,en:1")

    events.clear()
    again = language.run(db, settings, now=NOW, progress=events.append)
    assert events == [] and again.changed == 0  # nothing left to detect: no work, no events


def test_run_all_passes_one_progress_to_every_stage_and_logs_each_run(db: Any, settings: Settings) -> None:
    _articles(db)
    events: list[ProgressEvent] = []
    stages = [("language", language.run), ("analyze", analyze.run)]
    result = pipeline.run_all(db, settings, now=NOW, progress=events.append, stages=stages)
    assert result.ok and list(result.stages) == ["language", "analyze"]
    assert [(e.stage, e.total) for e in events if e.kind == "start"] == [("language", 3), ("analyze", 3)]
    assert [e.stage for e in events if e.kind == "done"] == ["language", "analyze"]
    assert result.stages["analyze"].changed == 3
    assert [r[0] for r in db.execute("SELECT stage FROM runs ORDER BY id")] == ["language", "analyze"]


def test_a_failing_block_still_closes_its_progress() -> None:
    events: list[ProgressEvent] = []
    with pytest.raises(RuntimeError), track(events.append, "cluster", 4) as advance:
        advance(1)
        raise RuntimeError("a bug")
    assert [(e.kind, e.done) for e in events] == [("start", 0), ("advance", 1), ("done", 1)]


def test_summary_is_the_scalars_with_errors_counted_only_when_there_are_some() -> None:
    from monitor.models import PollReport

    clean = PollReport(feeds_total=2, fetched=2, new_articles=3)
    assert clean.summary() == {
        "stage": "poll", "feeds_total": 2, "fetched": 2, "not_modified": 0, "unchanged": 0, "skipped": 0,
        "failed": 0, "gone": 0, "new_articles": 3, "updated_articles": 0,
    }
    failing = PollReport(feeds_total=1, failed=1, errors=[{"outlet": "a", "url": "u", "kind": "timeout", "error": "e"}])
    assert list(failing.summary())[-1] == "errors" and failing.summary()["errors"] == 1
    assert clean.changed == 3 and failing.changed == 0


def test_plain_terminal_progress_is_a_line_every_tenth_and_the_notes(capsys: pytest.CaptureFixture[str]) -> None:
    progress = TerminalProgress(tty=False)
    progress(ProgressEvent("translate", "note", note="translate: from https://user:hunter2@models.example/x"))
    with track(progress, "translate", 20) as advance:
        for _ in range(20):
            advance(1, note="3.0 sentences/s")
    lines = [line.split(" ", 1)[1] for line in capsys.readouterr().err.splitlines()]  # without the timestamp
    assert lines[0] == "translate: from https://***@models.example/x"  # no credentials in logs
    assert lines[1] == "translate: starting (20 items)"
    assert lines[2:] == [f"translate: {n}/20 3.0 sentences/s" for n in range(2, 21, 2)]

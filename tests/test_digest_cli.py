"""`monitor digest` files and storage, and the pipeline's digest stage: atomic files, stored once,
re-runs change nothing, Spanish via --lang, bad input is a clear error."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from monitor import digest as digest_pkg
from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.pipeline import STAGES
from monitor.store.db import open_db

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # 12:00 in Mexico City: no test depends on the hour


def _run(db: Path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(db), "digest", *args])


def test_out_file_is_written_and_the_digest_stored_once(tmp_path: Path, digest_db: Path) -> None:
    out = tmp_path / "d.html"
    first = _run(digest_db, "--date", "2026-11-22", "--format", "html", "--out", str(out))
    assert first.exit_code == 0, first.output
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Sheinbaum" in html
    assert not list(tmp_path.glob(".d.html.*"))  # no temp file left behind
    db = open_db(digest_db)
    row = db.execute("SELECT updated_at, content_hash, stories, articles FROM digests").fetchall()
    assert len(row) == 1 and row[0][2:] == (3, 12)

    again = _run(digest_db, "--date", "2026-11-22", "--format", "html", "--out", str(out))
    assert again.exit_code == 0
    assert out.read_text(encoding="utf-8") == html  # the stored rendering, byte for byte
    assert db.execute("SELECT updated_at, content_hash, stories, articles FROM digests").fetchall() == row


def test_spanish_and_json_to_stdout(digest_db: Path) -> None:
    es = _run(digest_db, "--date", "2026-11-22", "--lang", "es")
    assert es.exit_code == 0 and "Historias principales" in es.output
    data = json.loads(_run(digest_db, "--date", "2026-11-22", "--format", "json").output)
    assert data["day"] == "2026-11-22" and data["total_articles"] == 12 and len(data["stories"]) == 3


def test_bad_input_is_a_clear_error(tmp_path: Path, digest_db: Path) -> None:
    bad_date = _run(digest_db, "--date", "22/11/2026")
    assert bad_date.exit_code == 2 and "expected YYYY-MM-DD" in bad_date.output
    no_one = _run(digest_db, "--date", "2026-11-22", "--send")
    assert no_one.exit_code == 2 and "no recipients" in no_one.output
    into_dir = _run(digest_db, "--date", "2026-11-22", "--out", str(tmp_path))
    assert into_dir.exit_code == 2


def test_pipeline_stage_writes_todays_files_in_digests_beside_the_database(tmp_path: Path, digest_db: Path) -> None:
    assert STAGES[-1] == ("digest", digest_pkg.run)
    settings = Settings(db=str(digest_db))
    db = open_db(digest_db)
    report = digest_pkg.run(db, settings, now=NOW)
    names = sorted(Path(f).name for f in report.files)
    assert names == sorted(f"digest-{report.day}.{ext}" for ext in ("html", "txt", "md"))
    assert all(Path(f).parent == digest_db.parent / "digests" for f in report.files)
    assert report.sends == []  # sending is off by default
    stamp = [Path(f).stat().st_mtime_ns for f in report.files]
    second = digest_pkg.run(db, settings, now=NOW)
    assert not second.stored and [Path(f).stat().st_mtime_ns for f in second.files] == stamp


def test_demo_day_digest_from_the_whole_pipeline(demo_db_copy: Path, demo_db_settings: Settings, tmp_path: Path) -> None:
    """The pipeline's own database (bundled demo feeds): a full, two-sided digest in both languages."""
    settings = demo_db_settings.replace(db=str(demo_db_copy))
    db = open_db(demo_db_copy)
    report = digest_pkg.make_digest(db, settings, digest_pkg.parse_day("2026-11-22", settings.digest.timezone), now=NOW, out_dir=tmp_path)
    assert report.stories > 0 and report.articles > 0
    d = digest_pkg.build_digest(db, settings, digest_pkg.parse_day("2026-11-22", settings.digest.timezone))
    assert not d.empty and any(s.both for s in d.stories)
    assert all(n.articles > 0 for n in d.numbers if n.country in ("US", "MX"))
    assert any(h.translated for s in d.stories for side in s.sides for h in side.headlines)
    for lang in ("en", "es"):
        text = digest_pkg.render(digest_pkg.build_digest(db, settings, digest_pkg.parse_day("2026-11-22", settings.digest.timezone), lang=lang), "html")
        assert "<script" not in text

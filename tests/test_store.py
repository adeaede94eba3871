"""The database: refusing foreign files, migrations in transactions, a second writer process."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from monitor.config import paths
from monitor.errors import DatabaseBusy, NotOurDatabase
from monitor.store import db as store
from monitor.store.db import open_db, write_transaction


def test_text_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    f = tmp_path / "notes.db"
    f.write_text("my notes, not a database\n")
    before = f.read_bytes()
    with pytest.raises(NotOurDatabase, match="not a SQLite database"):
        open_db(f)
    assert f.read_bytes() == before


def test_other_applications_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    f = tmp_path / "other.db"
    conn = sqlite3.connect(f)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('Ana')")
    conn.commit()
    conn.close()
    before = f.read_bytes()
    with pytest.raises(NotOurDatabase, match="another application"):
        open_db(f)
    assert f.read_bytes() == before


def test_new_database_is_migrated_and_reopening_is_a_no_op(tmp_path: Path) -> None:
    db = open_db(tmp_path / "m.db")
    version = store.schema_version(db)
    assert version == max(n for n, _, _ in store.migrations())
    db.close()
    db = open_db(tmp_path / "m.db")
    assert store.migrate_db(db) == []
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_failed_migration_leaves_previous_version_and_rerun_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mig = tmp_path / "migrations"
    mig.mkdir()
    shutil.copy(paths.migrations_dir() / "001_core.sql", mig)
    (mig / "002_extra.sql").write_text("CREATE TABLE extra (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")
    monkeypatch.setattr(paths, "migrations_dir", lambda: mig)
    with pytest.raises(Exception, match="no_such_table"):
        open_db(tmp_path / "m.db")
    conn = sqlite3.connect(tmp_path / "m.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'extra'").fetchone()[0] == 0
    conn.close()
    (mig / "002_extra.sql").write_text("CREATE TABLE extra (x INTEGER);\n")
    db = open_db(tmp_path / "m.db")
    assert store.schema_version(db) == 2 and "extra" in db.table_names()
    db.close()


PROBE = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        print("free")
    except sqlite3.OperationalError as exc:
        print("locked" if "locked" in str(exc) else exc)
    """
)

HOLD_LOCK = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO runs (stage, started_at) VALUES ('holder', 'now')")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
    """
)


def _hold(db_path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db_path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_writer_waits_for_another_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_BUSY_TIMEOUT_S", "20")
    db = open_db(tmp_path / "m.db")
    holder = _hold(tmp_path / "m.db", 1.0)
    with write_transaction(db):
        db.execute("INSERT INTO runs (stage, started_at) VALUES ('waiter', 'later')")
    holder.wait(timeout=30)
    assert [r[0] for r in db.execute("SELECT stage FROM runs ORDER BY id")] == ["holder", "waiter"]
    db.close()


def test_lock_held_too_long_gives_busy_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_db(tmp_path / "m.db")
    db.close()
    monkeypatch.setenv("MONITOR_BUSY_TIMEOUT_S", "0.5")
    db = open_db(tmp_path / "m.db")
    holder = _hold(tmp_path / "m.db", 3.0)
    started = time.monotonic()
    with pytest.raises(DatabaseBusy, match="another monitor process"), write_transaction(db):
        db.execute("INSERT INTO runs (stage, started_at) VALUES ('waiter', 'later')")
    assert time.monotonic() - started < 3.0
    holder.wait(timeout=30)
    assert [r[0] for r in db.execute("SELECT stage FROM runs")] == ["holder"]
    db.close()


def test_a_second_connection_in_one_process_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    """Opening the database again while a connection holds it must not release that connection's locks
    (POSIX drops all of a process's locks on a file when any descriptor of it is closed)."""
    path = tmp_path / "m.db"
    first = open_db(path)
    first.execute("INSERT INTO runs (stage, started_at) VALUES ('first', 'now')")
    first.conn.commit()
    with write_transaction(first):
        first.execute("INSERT INTO runs (stage, started_at) VALUES ('writing', 'now')")
        second = open_db(path)  # same process, same file, while `first` holds the write lock
        probe = subprocess.run(  # another process must still find the database locked
            [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=30
        )
        assert probe.stdout.strip() == "locked", probe.stdout + probe.stderr
    assert path.with_name("m.db-wal").exists()
    second.close()
    first.close()

"""The database: opening it safely, migrating it, and writing in short IMMEDIATE transactions.

Every stage goes through `open_db()`. Writers use `write_transaction(db)`, which takes the write
lock up front (`BEGIN IMMEDIATE`) so a read-then-write transaction can never fail half-way with
SQLITE_BUSY_SNAPSHOT; the busy timeout lets a second monitor process wait its turn. SQLite errors
that a user can act on are turned into `StorageError` subclasses with a message that says what to do.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.config import paths
from monitor.errors import DatabaseBusy, DiskFull, NewerDatabase, NoDatabase, NotOurDatabase, StorageError

APPLICATION_ID = 0x4D584E57  # "MXNW": refuse other applications' SQLite files
BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another process's transaction


def busy_timeout() -> float:
    """Seconds to wait for the write lock (MONITOR_BUSY_TIMEOUT_S overrides the default)."""
    import os

    try:
        return float(os.environ.get("MONITOR_BUSY_TIMEOUT_S", BUSY_TIMEOUT_S))
    except ValueError:
        return BUSY_TIMEOUT_S
_MIGRATION_RE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """UTC ISO-8601 with seconds precision, the only time format stored."""
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def translate_error(exc: sqlite3.Error, path: str | Path | None = None) -> StorageError:
    """Map an sqlite3 error to the StorageError a user can act on."""
    msg = str(exc)
    where = f"{path}: " if path else ""
    if "database is locked" in msg or "database is busy" in msg:
        return DatabaseBusy(
            f"{where}database is busy (another monitor process?) and stayed locked for "
            f"{busy_timeout():.0f}s; nothing was written, try again"
        )
    if "disk is full" in msg or "database or disk is full" in msg:
        return DiskFull(f"{where}database or disk is full; this transaction was rolled back, free space and re-run")
    if "file is not a database" in msg:
        return NotOurDatabase(f"{where}not a SQLite database; point --db / MONITOR_DB at a monitor database")
    if "readonly" in msg or "read-only" in msg:
        return StorageError(f"{where}database is read-only: {msg}")
    if "unable to open" in msg:
        return StorageError(f"{where}cannot open the database file ({msg}); check the directory exists and is writable")
    return StorageError(f"{where}{msg}")


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        uri = f"file:{path}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout(), check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), timeout=busy_timeout(), check_same_thread=False)
    return conn


def _check_application(conn: sqlite3.Connection, path: Path) -> bool:
    """True for a new empty database, False for ours; raises for anything else."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise translate_error(exc, path) from exc
    if app_id == APPLICATION_ID:
        return False
    if app_id == 0 and tables == 0:
        return True
    raise NotOurDatabase(
        f"{path}: this SQLite file belongs to another application (application_id {app_id}); "
        "it was left untouched. Use --db / MONITOR_DB to choose a monitor database."
    )


def no_database(path: Path) -> NoDatabase:
    """The error for a command that reads a database which does not exist (nothing is created)."""
    return NoDatabase(f"no database at {path} (run `monitor run` first or pass --db)")


def latest_version() -> int:
    """The schema version this monitor migrates to: its highest-numbered migration."""
    return max((number for number, _, _ in migrations()), default=0)


def _check_version(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database whose schema is newer than ours before anything reads or writes it."""
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise translate_error(exc, path) from exc
    ours = latest_version()
    if found > ours:
        conn.close()
        raise NewerDatabase(
            f"{path}: database schema version {found} is newer than this monitor's ({ours}); "
            "it was left untouched: upgrade the monitor, or use --db / MONITOR_DB to choose another database"
        )


def open_db(path: str | Path | None = None, readonly: bool = False, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating and migrating if needed) the monitor database at `path`."""
    p = Path(path) if path else paths.default_db_path()
    if readonly:
        if not p.exists():
            raise no_database(p)
        conn = _connect(p, readonly=True)
        _check_application(conn, p)
        _check_version(conn, p)
        db = sqlite_utils.Database(conn)
        return db
    if p.exists() and p.is_dir():
        raise StorageError(f"{p}: is a directory; --db must name a file")
    p.parent.mkdir(parents=True, exist_ok=True)
    # No open()/close() of the file here: on POSIX, closing any descriptor of a file drops every
    # lock this process holds on it, which would break the WAL locking of a connection already
    # open in this process. SQLite's own first read tells a foreign file apart instead.
    conn = _connect(p, readonly=False)
    try:
        is_new = _check_application(conn, p)
        _check_version(conn, p)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error as exc:
        conn.close()
        raise translate_error(exc, p) from exc
    except (NotOurDatabase, NewerDatabase):
        conn.close()
        raise
    db = sqlite_utils.Database(conn)
    if migrate:
        migrate_db(db, first_time=is_new)
    return db


def migrations() -> list[tuple[int, str, Path]]:
    found = []
    for f in sorted(paths.migrations_dir().glob("*.sql")):
        m = _MIGRATION_RE.match(f.name)
        if m:
            found.append((int(m.group(1)), f.stem, f))
    return found


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate_db(db: sqlite_utils.Database, first_time: bool = False) -> list[str]:
    """Apply every migration newer than the database's user_version, each in its own transaction."""
    applied: list[str] = []
    current = schema_version(db)
    pending = [m for m in migrations() if m[0] > current]
    for number, name, file in pending:
        sql = file.read_text(encoding="utf-8")
        with write_transaction(db):
            if schema_version(db) >= number:  # another process migrated while we waited
                continue
            if first_time and number == pending[0][0]:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            # executescript would COMMIT our transaction; run statement by statement instead
            for statement in _split_sql(sql):
                db.execute(statement)
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
            )
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [number, name, iso(utcnow())],
            )
            db.execute(f"PRAGMA user_version = {number}")
        applied.append(name)
    return applied


def _split_sql(sql: str) -> list[str]:
    """Split a migration into complete statements (triggers contain inner semicolons)."""
    statements: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("--")):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on any exception; sqlite errors become StorageError."""
    conn = db.conn
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise translate_error(exc) from exc
    try:
        yield db
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise translate_error(exc) from exc
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise translate_error(exc) from exc


def has_table(db: sqlite_utils.Database, name: str) -> bool:
    """Whether table `name` exists. `open_db()` creates every table, so only a reader that opened
    read-only (no migration) of a database from an older monitor needs to ask (the web pages do)."""
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]).fetchone() is not None


def has_column(db: sqlite_utils.Database, table: str, column: str) -> bool:
    """Whether `table` has `column` (for the same read-only readers of older databases as has_table)."""
    return any(r[1] == column for r in db.execute("SELECT * FROM pragma_table_info(?)", [table]).fetchall())


def to_jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {k: to_jsonable(v) for k, v in asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, datetime):
        return iso(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def record_run(db: sqlite_utils.Database, stage: str, started: datetime, report: Any) -> None:
    """Log a stage run in `runs` (its own short transaction)."""
    with write_transaction(db):
        db.execute(
            "INSERT INTO runs (stage, started_at, finished_at, report) VALUES (?, ?, ?, ?)",
            [stage, iso(started), iso(utcnow()), json.dumps(to_jsonable(report), ensure_ascii=False)],
        )

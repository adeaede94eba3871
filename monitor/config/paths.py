"""Where the monitor's files live: bundled data (read-only) and user data (written).

Bundled: in a checkout the registry and migrations are the top-level `feeds/` and `db/` folders;
an installed wheel carries the same files as `monitor/defaults/` and `monitor/migrations/`.

User data (the database, translation models, digest files) never goes inside the source tree or
the installed package: it lives in the user's data folder, the same for an editable install and
a wheel. That folder is `MONITOR_DATA_DIR` if set, else `platformdirs.user_data_path`
("us-mx-monitor"): `$XDG_DATA_HOME/us-mx-monitor` (default `~/.local/share/us-mx-monitor`) on
Linux, `~/Library/Application Support/us-mx-monitor` on macOS, `%LOCALAPPDATA%\\us-mx-monitor`
on Windows. `--db` / `MONITOR_DB` / `db =` choose another database; `[digest] out_dir` another
digest folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "us-mx-monitor"
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # monitor/, from monitor/config/paths.py
_CHECKOUT = PACKAGE_DIR.parent


def is_checkout() -> bool:
    """True when running from a source checkout (editable install or plain clone).

    Decides only where the BUNDLED files (feeds/, migrations) are read from, never where user
    data is written."""
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "feeds").is_dir()


def feeds_dir() -> Path:
    """The folder holding the default `outlets.toml` and `debates/`."""
    return _CHECKOUT / "feeds" if is_checkout() else PACKAGE_DIR / "defaults"


def migrations_dir() -> Path:
    """The folder holding the numbered `NNN_name.sql` migrations."""
    return _CHECKOUT / "db" if is_checkout() else PACKAGE_DIR / "migrations"


def data_home() -> Path:
    """The user's data folder for the monitor: `MONITOR_DATA_DIR`, else the platform's user data dir."""
    override = os.environ.get("MONITOR_DATA_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_db_path() -> Path:
    """The database used when neither `--db`, `MONITOR_DB` nor the config file name one."""
    return data_home() / "monitor.db"


def models_dir() -> Path:
    """Translation models (Argos packages, sentence splitter models)."""
    return data_home() / "argos"


def digests_dir(db_path: Path) -> Path:
    """Where `monitor run` / `monitor digest --send` write digest files by default: beside the database."""
    return db_path.parent / "digests"


def legacy_checkout_db() -> Path | None:
    """An archive left by an older monitor at `db/monitor.db` of this checkout, if there is one.

    Older versions kept the default database inside the checkout; it is never moved automatically
    (the user decides), but commands point at it so nobody thinks their archive is gone."""
    old = _CHECKOUT / "db" / "monitor.db"
    return old if is_checkout() and old.is_file() else None


def legacy_db_hint(db_path: Path) -> str | None:
    """One line for a user whose archive is still in the checkout while the default database is used."""
    old = legacy_checkout_db()
    if old is None or db_path != default_db_path() or db_path.exists():
        return None
    return (
        f"note: an older monitor kept its database in this checkout at {old}; the default database is now "
        f"{db_path}: move the file there (with its -wal/-shm files) or pass --db {old}"
    )

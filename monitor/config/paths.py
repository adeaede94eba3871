"""Where the monitor's bundled data lives, in a checkout and in an installed package.

In a checkout the registry and migrations are the top-level `feeds/` and `db/` folders; an
installed wheel carries the same files as `monitor/defaults/` and `monitor/migrations/`.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # monitor/, from monitor/config/paths.py
_CHECKOUT = PACKAGE_DIR.parent


def is_checkout() -> bool:
    """True when running from a source checkout (editable install or plain clone)."""
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "feeds").is_dir()


def feeds_dir() -> Path:
    """The folder holding the default `outlets.toml` and `debates/`."""
    return _CHECKOUT / "feeds" if is_checkout() else PACKAGE_DIR / "defaults"


def migrations_dir() -> Path:
    """The folder holding the numbered `NNN_name.sql` migrations."""
    return _CHECKOUT / "db" if is_checkout() else PACKAGE_DIR / "migrations"


def default_db_path() -> Path:
    """`db/monitor.db` in a checkout; the user's data dir when installed."""
    if is_checkout():
        return _CHECKOUT / "db" / "monitor.db"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "us-mx-monitor" / "monitor.db"


def data_home() -> Path:
    """Where models and other large local data live (argos packages, splitter models)."""
    override = os.environ.get("MONITOR_DATA_DIR")
    if override:
        return Path(override)
    if is_checkout():
        return _CHECKOUT / "db" / "data"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "us-mx-monitor"

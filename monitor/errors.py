"""The monitor's exception tree. Messages say what happened and what to do.

The CLI prints one line for a `MonitorError` and exits 2 (bad input or configuration) or 1
(an operation failed); a traceback only with `--verbose`.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the monitor reports to a user."""

    exit_code = 1


class ConfigError(MonitorError):
    """A configuration file, registry or debate file is invalid."""

    exit_code = 2


class RegistryError(ConfigError):
    """The outlet registry (feeds/outlets.toml) is invalid."""


class UsageError(MonitorError):
    """A command was given input it cannot use."""

    exit_code = 2


class StorageError(MonitorError):
    """The database cannot be used."""


class DatabaseBusy(StorageError):
    """Another process held the write lock for longer than the busy timeout."""


class DiskFull(StorageError):
    """SQLite reported a full disk; the transaction was rolled back."""


class NotOurDatabase(StorageError):
    """The file is not a SQLite database, or belongs to another application."""


class NewerDatabase(StorageError):
    """The database was written by a newer monitor (its schema version is above ours); left untouched."""

    exit_code = 2


class NoDatabase(StorageError):
    """A command that only reads was pointed at a database that does not exist."""

    exit_code = 2


class FeedError(MonitorError):
    """A feed could not be fetched or parsed. Recorded on the feed; the run continues."""

    kind = "error"


class BlockedAddress(FeedError):
    kind = "blocked"


class FetchTimeout(FeedError):
    kind = "timeout"


class ResponseTooLarge(FeedError):
    kind = "too_large"


class RedirectLoop(FeedError):
    kind = "redirects"


class HttpStatusError(FeedError):
    kind = "http"

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class NotAFeed(FeedError):
    kind = "not_a_feed"


class TranslationError(MonitorError):
    """A translation engine or model cannot be used."""


class DigestSendError(MonitorError):
    """The digest was built and stored, but sending it to one or more recipients failed (retried next run)."""

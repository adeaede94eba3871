"""Making the day's digest: build the model, render every format, store it, write files, send.

`make_digest()` is what `monitor digest` and the pipeline's last stage (`run`) call. Re-running it on
unchanged input re-uses the stored rendering (so files and the database stay byte-identical) and
sends nothing to recipients already served. A failed send never loses the digest: it is stored and
its files are written before sending, and the failure is recorded and retried on the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import sqlite_utils

from monitor.config.settings import Settings
from monitor.days import parse_day
from monitor.digest.files import write_atomic
from monitor.digest.model import Digest, build_digest
from monitor.digest.render import EXTENSIONS, FORMATS, render
from monitor.digest.send import SendResult, send_digest
from monitor.digest.storage import content_hash, load_digest, save_digest
from monitor.errors import ConfigError, DigestSendError, UsageError
from monitor.models import Progress, StageReport, note

FILE_FORMATS = ("html", "text", "markdown")  # what `monitor run` and --send write next to the database


@dataclass
class DigestReport(StageReport):
    stage: ClassVar[str] = "digest"
    day: str
    lang: str
    subject: str
    stories: int
    articles: int
    stored: bool  # the digest's content changed and was stored
    files: list[str] = field(default_factory=list)  # files written (or already up to date)
    sends: list[SendResult] = field(default_factory=list)

    @property
    def failed(self) -> list[SendResult]:
        return [s for s in self.sends if s.status == "failed"]

    @property
    def changed(self) -> int:
        """1 when the digest's content changed, plus one per message sent."""
        return int(self.stored) + sum(s.status == "sent" for s in self.sends)

    def describe(self) -> str:
        return f"{self.day}: {self.stories} stories, {self.articles} articles -> {', '.join(self.files) or 'no files'}"


@dataclass
class Produced:
    digest: Digest
    hash: str
    rendered: dict[str, str]  # format -> text
    stored: bool


def produce(db: sqlite_utils.Database, settings: Settings, day: date, *, now: datetime, lang: str | None = None) -> Produced:
    """The digest of `day`, rendered in every format and stored (unchanged content: the stored rendering)."""
    digest = build_digest(db, settings, day, lang=lang, now=now)
    digest_hash = content_hash(digest)
    stored = load_digest(db, digest.day, digest.lang)
    if stored and stored.content_hash == digest_hash:
        rendered = {"text": stored.text, "markdown": stored.markdown, "html": stored.html, "json": stored.model}
        return Produced(digest, digest_hash, rendered, False)
    rendered = {fmt: render(digest, fmt) for fmt in FORMATS}
    changed = save_digest(db, digest, digest_hash, rendered, now)
    return Produced(digest, digest_hash, rendered, changed)


def default_out_dir(settings: Settings) -> Path:
    """[digest] out_dir, else `digests/` beside the database (created when the first file is written)."""
    return settings.digest_dir


def file_name(day: str, lang: str, fmt: str) -> str:
    """digest-2026-11-22.html; other languages than English carry their code: digest-2026-11-22.es.html."""
    suffix = "" if lang == "en" else f".{lang}"
    return f"digest-{day}{suffix}.{EXTENSIONS[fmt]}"


def write_files(produced: Produced, out_dir: Path, formats: tuple[str, ...] = FILE_FORMATS) -> list[str]:
    paths = []
    for fmt in formats:
        path = out_dir / file_name(produced.digest.day, produced.digest.lang, fmt)
        write_atomic(path, produced.rendered[fmt])
        paths.append(str(path))
    return paths


def make_digest(
    db: sqlite_utils.Database,
    settings: Settings,
    day: date,
    *,
    now: datetime,
    lang: str | None = None,
    out_dir: Path | None = None,
    send: bool = False,
    recipients: list[str] | None = None,
    resend: bool = False,
) -> DigestReport:
    """Build, store, write files to `out_dir` (if given) and send (if asked). Raises DigestSendError
    after everything else is done when any recipient failed."""
    produced = produce(db, settings, day, now=now, lang=lang)
    return deliver(db, settings, produced, now=now, out_dir=out_dir, send=send, recipients=recipients, resend=resend)


def deliver(
    db: sqlite_utils.Database,
    settings: Settings,
    produced: Produced,
    *,
    now: datetime,
    out_dir: Path | None = None,
    send: bool = False,
    recipients: list[str] | None = None,
    resend: bool = False,
) -> DigestReport:
    """Write the files of an already produced digest to `out_dir` (if given) and send it (if asked)."""
    d = produced.digest
    report = DigestReport(d.day, d.lang, d.subject, d.total_stories, d.total_articles, produced.stored)
    if out_dir is not None:
        report.files = write_files(produced, out_dir)
    if send:
        to = list(recipients if recipients is not None else settings.digest.recipients)
        if not to:
            raise UsageError("no recipients: set [digest] recipients in the config or pass --to ADDRESS")
        report.sends = send_digest(
            db, settings, d, produced.hash, produced.rendered["text"], produced.rendered["html"], to, now=now, resend=resend
        )
    return report


def raise_for_failures(report: DigestReport) -> None:
    if report.failed:
        first = report.failed[0]
        who = ", ".join(s.recipient for s in report.failed)
        raise DigestSendError(
            f"digest {report.day} not sent to {who}: {first.error}; it is stored"
            + (f" and written to {report.files[0]}" if report.files else "")
            + ", and the next `monitor digest --send` or `monitor run` retries"
        )


def raise_for_unfinished(report: DigestReport) -> None:
    """For the pipeline stage: a send another process still holds is not done yet. Saying so makes
    the watcher (and cron's next `monitor run`) come back: by then it went out (and is skipped), or
    that process died and its expired claim is taken over, so no recipient is left out."""
    busy = [s for s in report.sends if s.status == "in_progress"]
    if busy:
        raise DigestSendError(
            f"digest {report.day} ({report.lang}) is being sent to {', '.join(s.recipient for s in busy)} by another "
            "process; the next run checks it went out and takes over if that process died"
        )


def send_day(settings: Settings, now: datetime) -> date:
    """The day the pipeline sends: yesterday (default: the complete day, for the morning digest) or today."""
    today = parse_day(None, settings.digest.timezone, now=now)
    choice = settings.digest.send_day
    if choice not in ("yesterday", "today"):
        raise ConfigError(f"[digest] send_day must be 'yesterday' or 'today', got {choice!r}")
    return today - timedelta(days=1) if choice == "yesterday" else today


def run(
    db: sqlite_utils.Database, settings: Settings, *, now: datetime, progress: Progress | None = None
) -> DigestReport:
    """Pipeline stage: today's digest (settings.digest.timezone) written as files to `digests/` beside
    the database (or to [digest] out_dir); when [digest] send is true and recipients are set, the digest of
    [digest] send_day (default yesterday, the complete day) is written and sent, once per recipient
    and language across processes; a failed or interrupted send raises DigestSendError after the
    rest is done and is retried by the next run."""
    out_dir = default_out_dir(settings)
    day = parse_day(None, settings.digest.timezone, now=now)
    produced = produce(db, settings, day, now=now)
    report = deliver(db, settings, produced, now=now, out_dir=out_dir)
    sent: DigestReport | None = None
    if settings.digest.send and settings.digest.recipients:
        send_on = send_day(settings, now)
        # send_day = today: the digest just built is the one to send; build it again only for another day
        to_send = produced if send_on == day else produce(db, settings, send_on, now=now)
        sent = deliver(db, settings, to_send, now=now, out_dir=out_dir, send=True)
        report.sends = sent.sends
    note(progress, "digest", f"digest {report.describe()}")
    for s in report.sends:
        note(progress, "digest", f"digest {sent.day if sent else report.day}: {s.recipient}: {s.status}" + (f" ({s.error})" if s.error else ""))
    raise_for_failures(sent or report)
    if sent is not None:
        raise_for_unfinished(sent)
    return report

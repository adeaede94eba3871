"""Commands: digest (build, render, store, write and send the daily digest)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.digest import FORMATS, parse_day
from monitor.digest.files import write_atomic
from monitor.digest.stage import default_out_dir, deliver, produce, raise_for_failures
from monitor.store.db import open_db, to_jsonable, utcnow


@click.command("digest")
@click.option("--date", "day", metavar="D", help="Day (YYYY-MM-DD, 'today', 'yesterday') in [digest] timezone. Default: today.")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Format printed or written with --out."
)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE (atomically) instead of printing.")
@click.option("--send", is_flag=True, help="E-mail it (text + HTML) to [digest] recipients or --to; also writes the files to [digest] out_dir.")
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Recipient (repeatable); replaces [digest] recipients. Implies --send.")
@click.option("--resend", is_flag=True, help="Send again to recipients who already received this day's digest.")
@click.option("--lang", type=click.Choice(["en", "es"]), help="Language of the surrounding text (default: [digest] lang).")
@click.option("--json", "as_json", is_flag=True, help="With --send or --out: print a JSON report (files, sends) instead of text.")
@click.pass_obj
def digest_command(
    app: object,
    day: str | None,
    fmt: str,
    out: Path | None,
    send: bool,
    to: tuple[str, ...],
    resend: bool,
    lang: str | None,
    as_json: bool,
) -> None:
    """Build the daily digest: the day's stories with US and Mexican coverage side by side, how each
    press framed the debate, the words each side used, blindspots, who covered first, feed health.

    The digest is stored in the database; each (day, language, recipient) is e-mailed once, also
    when several processes send at the same time (a failed send is recorded, reported with a
    non-zero exit, and retried on the next run; a send cut short by a crash is retried once its
    claim expired, so a crash at the wrong moment can repeat one mail, never lose it).

    \b
    Examples:
      monitor digest                               # today's digest as text
      monitor digest --date 2026-11-22 --format html --out digest.html
      monitor digest --lang es --format markdown   # Spanish surrounding text
      monitor digest --date yesterday --send       # e-mail [digest] recipients
      monitor digest --send --to editor@example.org --resend
    """
    settings = app.settings  # type: ignore[attr-defined]
    now = utcnow()  # the command's one reading of the clock
    target_day = parse_day(day, settings.digest.timezone, now=now)
    send = send or bool(to)
    db = open_db(settings.db_path)
    try:
        produced = produce(db, settings, target_day, now=now, lang=lang)
        if not send:
            text = produced.rendered[fmt]
            if out is None:
                sys.stdout.write(text)
                return
            write_atomic(out, text)
            if as_json:
                from monitor.cli.console import print_json

                print_json({"day": produced.digest.day, "lang": produced.digest.lang, "file": str(out)})
            else:
                click.echo(f"digest {produced.digest.day}: {produced.digest.subject} -> {out}", err=True)
            return
        if out is not None:  # before sending: a failed send never costs the file
            write_atomic(out, produced.rendered[fmt])
        report = deliver(
            db,
            settings,
            produced,
            now=now,
            out_dir=default_out_dir(settings),
            send=True,
            recipients=list(to) if to else None,
            resend=resend,
        )
        if out is not None:
            report.files.append(str(out))
        if as_json:
            from monitor.cli.console import print_json

            print_json(to_jsonable(report))
        else:
            click.echo(f"digest {report.day}: {report.subject}")
            for path in report.files:
                click.echo(f"  wrote {path}")
            for s in report.sends:
                if s.status == "sent":
                    click.echo(f"  sent to {s.recipient} ({s.message_id})")
                elif s.status == "skipped":
                    click.echo(f"  {s.recipient}: already sent at {s.sent_at}, use --resend to send again")
                elif s.status == "in_progress":
                    click.echo(f"  {s.recipient}: {s.error}; left to that process")
                else:
                    click.echo(f"  FAILED {s.recipient}: {s.error}", err=True)
        raise_for_failures(report)
    finally:
        db.close()


COMMANDS: list[click.Command] = [digest_command]

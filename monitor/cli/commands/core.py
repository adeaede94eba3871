"""Commands: poll, run, status, config."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from monitor.cli.console import is_tty, print_json, stage_progress
from monitor.config import paths
from monitor.config import settings as settings_mod
from monitor.ingest.urls import redact, redact_text
from monitor.models import PollReport, StageReport
from monitor.store.db import iso, open_db, utcnow


def _app(ctx: click.Context) -> Any:
    return ctx.obj


def summarize(name: str, report: StageReport) -> str:
    """One line for a stage's report (every stage report says it itself)."""
    return report.describe()


def legacy_hint(settings: settings_mod.Settings) -> None:
    """Point at a database an older monitor left inside the checkout (never moved automatically)."""
    hint = paths.legacy_db_hint(settings.db_path)
    if hint:
        click.echo(hint, err=True)


def echo_locations(locations: dict[str, str], prefix: str = "") -> None:
    """`database: PATH`, `models: PATH`, `digests: PATH`, one per line."""
    for name, where in locations.items():
        click.echo(f"{prefix}{name + ':':<10} {where}")


def offline_hint(report: PollReport) -> str | None:
    """A hint when every feed failed to connect: most likely this machine has no network."""
    reached = report.fetched + report.not_modified + report.unchanged + report.gone
    network = [e for e in report.errors if "resolve" in e["error"] or "connect" in e["error"].lower()]
    if report.failed and not reached and len(network) == report.failed:
        return (
            "no feed could be reached (name resolution or connection failed for every feed): "
            "is this machine offline? `monitor demo` runs everything on bundled sample feeds"
        )
    return None


@click.command()
@click.option("--force", is_flag=True, help="Ignore next-check times and poll every active feed now.")
@click.option("--outlet", "outlets", multiple=True, metavar="ID", help="Only this outlet (repeatable).")
@click.option("--allow-private", is_flag=True, help="Allow loopback/private addresses (tests, demo).")
@click.option("--json", "as_json", is_flag=True, help="Print the poll report as JSON.")
@click.pass_context
def poll(ctx: click.Context, force: bool, outlets: tuple[str, ...], allow_private: bool, as_json: bool) -> None:
    """Fetch the feeds that are due and store new and updated articles.

    Conditional GET, polite per-host spacing, Retry-After and error backoff; a failing feed never
    stops the others.

    \b
    Examples:
      monitor poll
      monitor poll --outlet la-jornada --outlet nyt --force
      monitor poll --json | jq .new_articles
    """
    settings = _app(ctx).settings
    if allow_private:
        settings = settings.replace(poll__allow_private=True)
    from monitor import pipeline  # the stages are slow to import: only for the commands that run them

    report = pipeline.run_named(
        settings, "poll", now=utcnow(), progress=stage_progress(as_json), force=force, outlets=list(outlets) or None
    )
    if as_json:
        print_json(report)
    else:
        click.echo(report.describe())
        for err in report.errors[:20]:
            click.echo(f"  failed: {err['outlet']} {redact(err['url'])}: {redact_text(err['error'])}", err=True)
        if len(report.errors) > 20:
            click.echo(f"  ... and {len(report.errors) - 20} more (see `monitor status`)", err=True)
        hint = offline_hint(report)
        if hint:
            click.echo(hint, err=True)


@click.command()
@click.option("--allow-private", is_flag=True, help="Allow loopback/private feed addresses (tests, demo).")
@click.option("--json", "as_json", is_flag=True, help="Print every stage's report as JSON.")
@click.pass_context
def run(ctx: click.Context, allow_private: bool, as_json: bool) -> None:
    """Run the whole pipeline once: poll, language, translate, analyse, cluster, digest.

    Each stage works on what the previous stages stored; a failing stage is reported and the
    others still run. Exit code 1 if any stage failed.

    \b
    Examples:
      monitor run
      monitor --db /srv/monitor/monitor.db run --json
    """
    from monitor import pipeline
    settings = _app(ctx).settings
    if allow_private:
        settings = settings.replace(poll__allow_private=True)
    legacy_hint(settings)
    db = open_db(settings.db_path)

    def on_stage(name: str, report: Any, error: str | None) -> None:
        if as_json:
            return
        if error:
            click.echo(f"{name}: FAILED: {error}", err=True)
        else:
            click.echo(f"{name}: {summarize(name, report)}")
            hint = offline_hint(report) if isinstance(report, PollReport) else None
            if hint:
                click.echo(hint, err=True)

    try:
        result = pipeline.run_all(db, settings, now=utcnow(), progress=stage_progress(as_json), on_stage=on_stage)
    finally:
        db.close()
    if as_json:
        print_json({"stages": result.stages, "failed": result.failed, "ok": result.ok})
    if not result.ok:
        raise SystemExit(1)


def status_data(db: Any, settings: settings_mod.Settings) -> dict[str, Any]:
    path = settings.db_path
    size = sum(p.stat().st_size for p in [path, path.with_name(path.name + "-wal")] if p.exists())
    by_country = {r["country"]: r["n"] for r in db.query("SELECT country, count(*) n FROM articles GROUP BY country")}
    by_day = list(
        db.query(
            "SELECT substr(published, 1, 10) AS day, country, count(*) AS articles FROM articles "
            "GROUP BY day, country ORDER BY day DESC, country LIMIT 28"
        )
    )
    failing = list(
        db.query(
            "SELECT f.id, f.outlet, f.url, f.status, f.consecutive_failures, f.last_status, f.last_error, "
            "f.last_success_at, f.next_check_at, f.moved_to, f.moved_count FROM feeds f "
            "WHERE f.status IN ('failing', 'gone', 'duplicate') OR f.consecutive_failures > 0 OR f.moved_count >= ? "
            "ORDER BY f.consecutive_failures DESC",
            [settings.poll.permanent_redirect_after],
        )
    )
    for r in failing:  # shown and logged: a feed's credentials (user:password@, ?token=) stay in the database
        r["url"], r["moved_to"], r["last_error"] = redact(r["url"]), redact(r["moved_to"]), redact_text(r["last_error"])
    feeds = {r["status"]: r["n"] for r in db.query("SELECT status, count(*) n FROM feeds GROUP BY status")}
    hosts = list(
        db.query("SELECT host, retry_after_until, reason FROM hosts WHERE retry_after_until > ?", [iso(utcnow())])
    )
    last_runs = list(db.query("SELECT stage, max(finished_at) AS finished_at FROM runs GROUP BY stage ORDER BY stage"))
    return {
        "database": str(path),
        "locations": settings_mod.data_locations(settings),
        "size_bytes": size,
        "articles": sum(by_country.values()),
        "articles_by_country": by_country,
        "articles_by_day": by_day,
        "feeds_by_status": feeds,
        "problem_feeds": failing,
        "rate_limited_hosts": hosts,
        "last_runs": last_runs,
    }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print status as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Database size, where the data lives, article counts by country and day, failing feeds.

    The database, translation models and digest files live in the user's data folder
    (MONITOR_DATA_DIR, else e.g. ~/.local/share/us-mx-monitor) unless --db / [digest] out_dir say.

    \b
    Examples:
      monitor status
      monitor status --json | jq '.problem_feeds[] | .url'
    """
    settings = _app(ctx).settings
    db = open_db(settings.db_path)
    try:
        data = status_data(db, settings)
    finally:
        db.close()
    if as_json:
        print_json(data)
        return
    console = Console(highlight=False) if is_tty() else None
    click.echo(f"database: {data['database']} ({data['size_bytes'] / 1e6:.1f} MB)")
    echo_locations({k: v for k, v in data["locations"].items() if k != "database"})
    click.echo(
        f"articles: {data['articles']} ("
        + ", ".join(f"{c} {n}" for c, n in sorted(data["articles_by_country"].items()))
        + ")"
    )
    click.echo("feeds: " + ", ".join(f"{n} {s}" for s, n in sorted(data["feeds_by_status"].items())))
    if data["articles_by_day"]:
        table = Table("day", "country", "articles", title="Articles by day (published, UTC)")
        for r in data["articles_by_day"]:
            table.add_row(r["day"], r["country"], str(r["articles"]))
        (console or Console(highlight=False, force_terminal=False, width=100)).print(table)
    for r in data["problem_feeds"]:
        moved = f" moved to {r['moved_to']} (update the registry)" if r["moved_to"] else ""
        click.echo(
            f"{r['status']}: {r['outlet']} {r['url']} failures={r['consecutive_failures']} "
            f"last_error={r['last_error'] or '-'}{moved}"
        )
    for h in data["rate_limited_hosts"]:
        click.echo(f"rate limited: {h['host']} until {h['retry_after_until']} ({h['reason']})")
    for r in data["last_runs"]:
        click.echo(f"last {r['stage']}: {r['finished_at']}")


@click.command("config")
@click.option("--show", is_flag=True, default=True, help="Print the effective settings (default).")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
def config_cmd(ctx: click.Context, show: bool, as_json: bool) -> None:
    """Print the effective configuration (defaults, then --config file, then MONITOR_* variables).

    Starts with where the database, translation models and digest files are.

    \b
    Examples:
      monitor config --show
      MONITOR_POLL_CONCURRENCY=4 monitor config --json
    """
    settings = _app(ctx).settings
    data = settings_mod.as_dict(settings)
    locations = settings_mod.data_locations(settings)
    legacy_hint(settings)
    if as_json:
        print_json({**data, "locations": locations})
        return
    click.echo("# where your data lives")
    echo_locations(locations, prefix="#   ")
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"[{key}]")
            for k, v in value.items():
                click.echo(f"{k} = {json.dumps(v, ensure_ascii=False)}")
        else:
            click.echo(f"{key} = {json.dumps(value, ensure_ascii=False)}")


COMMANDS: list[click.Command] = [poll, run, status, config_cmd]

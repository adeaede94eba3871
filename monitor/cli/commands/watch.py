"""Commands: `monitor watch`, `monitor serve`, `monitor alerts list|test`."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import click

from monitor.cli.console import log, print_json
from monitor.errors import UsageError
from monitor.store.db import open_db, to_jsonable, utcnow
from monitor.watch import alerts as alerts_mod


@click.command("watch")
@click.option("--tick", "tick_s", type=float, help="Seconds between two looks for due feeds (default [watch] tick_s, 60).")
@click.option("--max-cycles", type=click.IntRange(min=1), help="Stop after this many cycles (default: run until stopped).")
@click.pass_obj
def watch_cmd(app: Any, tick_s: float | None, max_cycles: int | None) -> None:
    """Run the newsroom watcher: poll due feeds, analyse what arrives, raise alerts, send the daily digest.

    Logs one `key=value` line per event on stderr (grep `event=alert`, `event=feed_error` ...).
    Stops cleanly on Ctrl-C or SIGTERM after the current step; a second signal interrupts the
    step (its transaction is rolled back). Rerunning resumes where it stopped.

    \b
    Examples:
      monitor watch
      monitor --config newsroom.toml watch --tick 30
      monitor watch --max-cycles 1      # one cycle, e.g. from cron
    """
    from monitor.watch.loop import run_watch

    if tick_s is not None and tick_s < 0:
        raise UsageError("--tick must be 0 or more seconds")
    run_watch(app.settings, max_cycles=max_cycles, tick_s=tick_s)


@click.command("serve")
@click.option("--host", help="Address to bind (default [serve] host, 127.0.0.1: this machine only).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default [serve] port, 8000; 0 picks a free one).")
@click.pass_obj
def serve_cmd(app: Any, host: str | None, port: int | None) -> None:
    """Serve the newsroom page: today's stories side by side, frames, latest articles, search, feed health.

    Reads the database read-only; run `monitor watch` beside it to keep it fresh. Binds to
    loopback unless told otherwise; put a reverse proxy with authentication in front of it before
    exposing it to a network.

    \b
    Examples:
      monitor serve                      # http://127.0.0.1:8000/
      monitor serve --port 8080
      monitor serve --host 0.0.0.0       # the newsroom LAN (warns)
    """
    import uvicorn

    from monitor.web.app import create_app, is_loopback

    settings = app.settings
    host = host or settings.serve.host
    port = settings.serve.port if port is None else port
    if not settings.db_path.exists():
        raise UsageError(f"{settings.db_path}: no database yet; run `monitor run` or `monitor watch` first")
    open_db(settings.db_path).close()  # migrate once (the app itself only reads)
    if not is_loopback(host):
        log(f"warning: serving on {host}, reachable from other machines; the page has no login of its own")
    log(f"serving {settings.db_path} on http://{host}:{port}/ (Ctrl-C to stop)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", server_header=False)


@click.group("alerts")
def alerts_group() -> None:
    """Alert rules ([[alerts]] in the config): list them, or test one on recent articles.

    \b
    Examples:
      monitor --config newsroom.toml alerts list
      monitor --config newsroom.toml alerts test strikes-on-mexico --hours 48
    """


@alerts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def alerts_list(app: Any, as_json: bool) -> None:
    """Show the configured alert rules, their sinks and how often each has fired.

    \b
    Example:
      monitor --config newsroom.toml alerts list
    """
    rules = alerts_mod.load_rules(app.settings)
    counts: dict[str, tuple[int, str | None]] = {}
    if app.settings.db_path.exists():
        db = open_db(app.settings.db_path)
        try:
            for name, n, last in db.execute("SELECT rule, count(*), max(fired_at) FROM alerts_fired GROUP BY rule"):
                counts[name] = (int(n), last)
        finally:
            db.close()
    rows = [
        {
            "name": r.name,
            "kind": r.kind,
            "rule": r.describe(),
            "sinks": list(r.sinks),
            "fired": counts.get(r.name, (0, None))[0],
            "last_fired": counts.get(r.name, (0, None))[1],
        }
        for r in rules
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No alert rules. Add [[alerts]] tables to your config (see docs/watch.md, Alerts).")
        return
    for row in rows:
        last = f", last {row['last_fired']}" if row["last_fired"] else ""
        click.echo(f"{row['name']}  [{row['kind']}] {row['rule']}  -> {', '.join(row['sinks'])}  (fired {row['fired']}{last})")


@alerts_group.command("test")
@click.argument("rule")
@click.option("--hours", type=click.IntRange(min=1, max=24 * 366 * 50), default=None, help="Look back this many hours (default [watch] alert_lookback_h).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def alerts_test(app: Any, rule: str, hours: int | None, as_json: bool) -> None:
    """Show what RULE would match now, without sending anything or recording it.

    \b
    Examples:
      monitor alerts test drone-strikes
      monitor alerts test breaking --hours 72 --json
    """
    settings = app.settings
    found = alerts_mod.find_rule(alerts_mod.load_rules(settings), rule)
    if not settings.db_path.exists():
        raise UsageError(f"{settings.db_path}: no database yet; run `monitor run` first")
    db = open_db(settings.db_path)
    try:
        since = utcnow() - timedelta(hours=hours or settings.watch.alert_lookback_h)
        matches = alerts_mod.find_matches(db, settings, found, since)
    finally:
        db.close()
    if as_json:
        print_json({"rule": found.name, "since": since, "matches": [to_jsonable(m) for m in matches]})
        return
    click.echo(f"{found.name}: {found.describe()}")
    click.echo(f"{len(matches)} match(es) since {since:%Y-%m-%d %H:%M} UTC" + (":" if matches else ""))
    for m in matches:
        mark = "already fired" if m.already_fired else "would fire   "
        text = html.unescape(m.message["text"]).split("\n")[0]
        click.echo(f"  {mark}  {m.subject_kind} {m.subject_id}  {text}  ({m.reason})")


COMMANDS: list[click.Command] = [watch_cmd, serve_cmd, alerts_group]

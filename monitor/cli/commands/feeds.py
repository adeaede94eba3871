"""Commands: feeds list | validate | check | reset."""

from __future__ import annotations

import asyncio
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from monitor.cli.console import is_tty, print_json, progress
from monitor.errors import FeedError
from monitor.ingest.fetch import Fetcher
from monitor.ingest.parse import parse_feed
from monitor.ingest.registry import load_registry, sync_registry
from monitor.ingest.urls import redact, redact_text
from monitor.models import Registry
from monitor.store.db import open_db, utcnow, write_transaction


@click.group()
def feeds() -> None:
    """Inspect and check the outlet registry (feeds/outlets.toml or --feeds).

    \b
    Examples:
      monitor feeds list
      monitor feeds validate my-outlets.toml
      monitor feeds check --outlet la-jornada
    """


def _health(db_path: Any) -> dict[str, dict[str, Any]]:
    if not db_path.exists():
        return {}
    db = open_db(db_path, readonly=True)
    try:
        if "feeds" not in db.table_names():
            return {}
        return {r["url"]: r for r in db.query("SELECT * FROM feeds")}
    finally:
        db.close()


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print outlets, feeds and health as JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List outlets with country, language, feeds and each feed's health.

    \b
    Example:
      monitor feeds list --json | jq '.[] | select(.country == "MX") | .id'
    """
    settings = ctx.obj.settings
    registry = load_registry(settings.feeds_path)
    health = _health(settings.db_path)
    rows = []
    for o in registry.outlets:
        feeds_out = []
        for f in o.feeds:
            h = health.get(f.url, {})
            feeds_out.append(
                {
                    "url": redact(f.url),  # credentials never shown; the registry and database keep them
                    "section": f.section,
                    "status": h.get("status", "never polled"),
                    "last_status": h.get("last_status"),
                    "last_success_at": h.get("last_success_at"),
                    "consecutive_failures": h.get("consecutive_failures", 0),
                    "last_error": redact_text(h.get("last_error")),
                    "next_check_at": h.get("next_check_at"),
                }
            )
        rows.append(
            {"id": o.id, "name": o.name, "country": o.country, "language": o.language, "feeds": feeds_out}
        )
    if as_json:
        print_json(rows)
        return
    table = Table("outlet", "country", "lang", "section", "status", "last success", "url", title=registry.source)
    for r in rows:
        for i, f in enumerate(r["feeds"]):
            table.add_row(
                r["id"] if i == 0 else "",
                r["country"] if i == 0 else "",
                r["language"] if i == 0 else "",
                f["section"],
                f["status"] + (f" ({f['consecutive_failures']} failures)" if f["consecutive_failures"] else ""),
                (f["last_success_at"] or "-")[:16],
                f["url"],
            )
    Console(highlight=False, width=None if is_tty() else 200).print(table)


@feeds.command("validate")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def validate_cmd(ctx: click.Context, path: str | None, as_json: bool) -> None:
    """Check a registry file; errors name the file, the outlet and the field (exit 2).

    \b
    Examples:
      monitor feeds validate
      monitor feeds validate ~/my-outlets.toml
    """
    registry = load_registry(path or ctx.obj.settings.feeds_path)
    counts = _counts(registry)
    if as_json:
        print_json({"file": registry.source, "valid": True, **counts})
    else:
        click.echo(
            f"{registry.source}: valid: {counts['outlets']} outlets, {counts['feeds']} feeds ("
            + ", ".join(f"{c} {n}" for c, n in counts["by_country"].items())
            + ")"
        )


def _counts(registry: Registry) -> dict[str, Any]:
    by_country: dict[str, int] = {}
    for o in registry.outlets:
        by_country[o.country] = by_country.get(o.country, 0) + 1
    return {
        "outlets": len(registry.outlets),
        "feeds": sum(len(o.feeds) for o in registry.outlets),
        "by_country": dict(sorted(by_country.items())),
    }


async def _check_all(settings: Any, targets: list[tuple[str, str, str]], advance: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    async with Fetcher(settings.poll) as fetcher:

        async def one(outlet_id: str, url: str, tz: str) -> None:
            row: dict[str, Any] = {"outlet": outlet_id, "url": url}
            try:
                res = await fetcher.fetch(url)
                parsed = await asyncio.to_thread(
                    parse_feed, res.body or b"", res.headers, res.final_url, timezone=tz, now=utcnow()
                )
                dates = [e.published for e in parsed.entries if e.published]
                row.update(
                    status=res.status,
                    ok=True,
                    items=len(parsed.entries),
                    newest=max(dates) if dates else None,
                    warnings=list(parsed.warnings),
                    final_url=res.final_url,
                )
            except FeedError as exc:
                row.update(ok=False, error=str(exc), kind=exc.kind, status=getattr(exc, "status", None))
            results.append(row)
            advance(1, outlet_id)

        await asyncio.gather(*(one(*t) for t in targets))
    return [_shown(r) for r in sorted(results, key=lambda r: (r["outlet"], r["url"]))]


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A check result as printed: URLs and error messages without credentials."""
    out = dict(row)
    for key in ("url", "final_url"):
        if out.get(key):
            out[key] = redact(out[key])
    if out.get("error"):
        out["error"] = redact_text(out["error"])
    if "warnings" in out:
        out["warnings"] = [redact_text(w) for w in out["warnings"]]
    return out


@feeds.command("check")
@click.option("--outlet", "outlets", multiple=True, metavar="ID", help="Only this outlet (repeatable).")
@click.option("--allow-private", is_flag=True, help="Allow loopback/private addresses.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.pass_context
def check_cmd(ctx: click.Context, outlets: tuple[str, ...], allow_private: bool, as_json: bool) -> None:
    """Fetch each feed once now and report status, items and newest date (stores nothing).

    \b
    Examples:
      monitor feeds check
      monitor feeds check --outlet milenio --json
    """
    settings = ctx.obj.settings
    if allow_private:
        settings = settings.replace(poll__allow_private=True)
    registry = load_registry(settings.feeds_path)
    targets = [
        (o.id, f.url, o.timezone) for o in registry.outlets for f in o.feeds if not outlets or o.id in outlets
    ]
    with progress("checking feeds", total=len(targets), quiet=as_json) as advance:
        results = asyncio.run(_check_all(settings, targets, advance))
    if as_json:
        print_json(results)
    else:
        for r in results:
            if r["ok"]:
                click.echo(f"ok    {r['outlet']:<22} {r['items']:>4} items  newest {r['newest'] or '-'}  {r['url']}")
            else:
                click.echo(f"FAIL  {r['outlet']:<22} {r['kind']}: {r['error']}  {r['url']}")
    if any(not r["ok"] for r in results):
        raise SystemExit(1)


@feeds.command("reset")
@click.argument("outlet_ids", nargs=-1)
@click.pass_context
def reset_cmd(ctx: click.Context, outlet_ids: tuple[str, ...]) -> None:
    """Make gone or failing feeds active again and due now (all feeds, or those of some outlets).

    \b
    Examples:
      monitor feeds reset la-jornada
      monitor feeds reset
    """
    settings = ctx.obj.settings
    db = open_db(settings.db_path)
    try:
        sync_registry(db, load_registry(settings.feeds_path))
        where = "status IN ('gone', 'failing', 'duplicate') OR consecutive_failures > 0"
        params: list[Any] = []
        if outlet_ids:
            where = f"({where}) AND outlet IN ({','.join('?' for _ in outlet_ids)})"
            params = list(outlet_ids)
        with write_transaction(db):
            cur = db.execute(
                f"UPDATE feeds SET status = 'active', consecutive_failures = 0, next_check_at = NULL WHERE {where}",
                params,
            )
        click.echo(f"{cur.rowcount} feed(s) reset")
    finally:
        db.close()


COMMANDS: list[click.Command] = [feeds]

"""The `monitor` command: a thin adapter that parses options, calls a stage and renders its report.

Each command lives in `monitor/cli/commands/<name>.py`; this module builds the group, the shared
options (--config, --db, --feeds, --debate, --verbose) and the error handling: a `MonitorError`
prints one line and exits 2 (bad input) or 1 (failure); the traceback only with --verbose.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

import click

from monitor.config import settings as settings_mod
from monitor.errors import MonitorError
from monitor.store.db import no_database, translate_error

# Commands that only read the database: pointed at a missing one (a mistyped --db) they stop with
# one line instead of creating its folders and an empty database.
READ_ONLY_COMMANDS = frozenset({"status", "search", "similar", "show", "stories", "compare", "export", "serve"})


class AppContext:
    """What every command gets: the effective settings, and whether to be verbose."""

    def __init__(self, settings: settings_mod.Settings, verbose: bool):
        self.settings = settings
        self.verbose = verbose


class MonitorGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            self._fail(ctx, exc, exc.exit_code)
        except sqlite3.Error as exc:
            self._fail(ctx, translate_error(exc), 1)
        except KeyboardInterrupt:
            click.echo("interrupted; everything committed so far is kept, re-run to continue", err=True)
            sys.exit(130)

    @staticmethod
    def _fail(ctx: click.Context, exc: BaseException, code: int) -> None:
        verbose = bool(ctx.obj and getattr(ctx.obj, "verbose", False))
        if verbose:
            import traceback

            traceback.print_exception(exc)
        click.echo(f"error: {exc}", err=True)
        sys.exit(code)


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="us-mx-news-monitor")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML config file (or MONITOR_CONFIG).")
@click.option("--db", "db_path", help="SQLite database file (or MONITOR_DB). Default: monitor.db in your data folder (see `monitor config`).")
@click.option("--feeds", "feeds_path", help="Outlet registry TOML replacing the bundled one (or MONITOR_FEEDS).")
@click.option("--debate", "debate_path", help="Debate definition TOML (or MONITOR_DEBATE).")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and debug detail.")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    db_path: str | None,
    feeds_path: str | None,
    debate_path: str | None,
    verbose: bool,
) -> None:
    """Bilingual (English/Spanish) monitor of the US–Mexico debate on military action against cartels.

    Polls US and Mexican outlets, translates locally, finds the articles about the debate,
    clusters them into stories and compares how each country's press frames them.

    \b
    Examples:
      monitor run                 # the whole pipeline once, ending with today's digest
      monitor poll --outlet la-jornada
      monitor demo                # everything on bundled sample feeds, no network needed
    """
    ctx.ensure_object(dict)
    verbose_flag = verbose
    try:
        s = settings_mod.load(config_path)
    except MonitorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if db_path:
        s = s.replace(db=db_path)
    if feeds_path:
        s = s.replace(feeds=feeds_path)
    if debate_path:
        s = s.replace(debate=debate_path)
    ctx.obj = AppContext(s, verbose_flag)


def _needs_database(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a read-only command's callback: a missing database is a UsageError (after option parsing,
    so `--help` still works), before the command could open, and so create, it."""

    @functools.wraps(callback)
    def checked(*args: Any, **kwargs: Any) -> Any:
        app = click.get_current_context().find_object(AppContext)
        if app is not None and not app.settings.db_path.exists():
            raise no_database(app.settings.db_path)
        return callback(*args, **kwargs)

    return checked


def _register() -> None:
    """Add every command module's COMMANDS to the group, in pipeline order."""
    from monitor.cli.commands import (
        analysis,
        core,
        debate,
        demo,
        digest,
        embed,
        eval,
        export,
        feeds,
        search,
        translate,
        watch,
    )

    for module in (core, feeds, export, translate, embed, analysis, debate, eval, digest, search, watch, demo):
        for command in module.COMMANDS:
            if command.name in READ_ONLY_COMMANDS and command.callback is not None:
                command.callback = _needs_database(command.callback)
            cli.add_command(command)


_register()


def main() -> None:  # pragma: no cover - console entry
    cli(prog_name="monitor")

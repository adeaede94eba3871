"""Commands: translate, models list, models install."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from monitor.cli.console import print_json, progress, stage_progress
from monitor.errors import MonitorError
from monitor.store.db import utcnow
from monitor.translation import ENGINES, apertium, argos, choose_engine, packages


@click.command()
@click.option("--limit", type=click.IntRange(min=0), help="Translate at most N articles this run.")
@click.option("--engine", type=click.Choice(ENGINES), help="Override translation.engine for this run.")
@click.option("--refresh", is_flag=True, help="Also redo rows made by a worse engine or an older model.")
@click.option("--allow-private", is_flag=True, help="Allow a loopback/private model index, as for feeds (tests).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def translate(
    ctx: click.Context, limit: int | None, engine: str | None, refresh: bool, allow_private: bool, as_json: bool
) -> None:
    """Translate new and changed articles (title, summary, start of content) into the other language.

    Detects languages first (for articles not yet checked). Uses the cache, so a re-run on
    unchanged data translates nothing; an interrupted run keeps its finished batches. A language
    pair without an installed model is first downloaded from the Argos package index
    ([translation] auto_install, index_url); offline, the run goes on with apertium or untranslated.

    \b
    Examples:
      monitor translate
      monitor translate --limit 50 --engine apertium
      monitor translate --refresh          # after installing the Argos models
      monitor translate --json | jq .sentences_per_s
    """
    from monitor.pipeline import run_named  # the stages are slow to import: only when one runs

    settings = ctx.obj.settings
    if allow_private:
        settings = settings.replace(poll__allow_private=True)
    now = utcnow()
    progress = stage_progress(as_json)
    run_named(settings, "language", now=now, progress=progress)
    report = run_named(settings, "translate", now=now, progress=progress, limit=limit, engine=engine, refresh=refresh)
    if as_json:
        print_json(report)
    else:
        click.echo(report.describe())


def models_state(settings: Any) -> dict[str, Any]:
    """Installed packages, splitter status and engine availability (no model is loaded)."""
    try:
        choice = choose_engine(settings, "auto")
        auto = {"engine": choice.engine, "reason": choice.reason}
    except MonitorError as exc:
        auto = {"engine": "none", "reason": str(exc)}
    argos_state = argos.availability(settings.translation)
    return {
        "packages_dir": str(packages.packages_dir()),
        "packages": [
            {
                "code": p.code,
                "from": p.from_code,
                "to": p.to_code,
                "version": p.version,
                "path": str(p.path),
                "splitter": p.splitter_status,
            }
            for p in packages.installed_packages()
        ],
        "engines": {
            "argos": {"available": argos_state.usable, "detail": argos_state.reason},
            "apertium": {
                "available": apertium.is_installed(),
                "detail": (
                    f"apertium-eng-spa {apertium.package_version()} (rough translations)"
                    if apertium.is_installed()
                    else "not installed (Debian: apt-get install apertium apertium-eng-spa)"
                ),
            },
            "none": {"available": True, "detail": "originals only"},
        },
        "configured": settings.translation.engine,
        "splitter": settings.translation.splitter,
        "auto": auto,
    }


@click.group()
def models() -> None:
    """Translation models: what is installed, and installing the Argos es<->en packages.

    \b
    Examples:
      monitor models list
      monitor models install --from translate-es_en-1_9.argosmodel --from translate-en_es-1_0.argosmodel
    """


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def models_list(ctx: click.Context, as_json: bool) -> None:
    """Installed Argos packages, their sentence splitters, and which engines are usable.

    \b
    Examples:
      monitor models list
      monitor models list --json | jq .auto.engine
    """
    state = models_state(ctx.obj.settings)
    if as_json:
        print_json(state)
        return
    click.echo(f"packages in {state['packages_dir']}:")
    if not state["packages"]:
        click.echo("  (none)")
    for p in state["packages"]:
        click.echo(f"  {p['code']} {p['version']}  {p['from']}->{p['to']}  splitter: {p['splitter']}")
    click.echo("engines:")
    for name, e in state["engines"].items():
        click.echo(f"  {name:<9} {'yes' if e['available'] else 'no ':<4} {e['detail']}")
    click.echo(f"translation.engine = {state['configured']}; auto picks: {state['auto']['engine']}")


@models.command("install")
@click.option(
    "--from",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A local .argosmodel package or MiniSBD <lang>.onnx splitter (repeatable). Works offline.",
)
@click.option("--allow-private", is_flag=True, help="Allow a loopback/private model index, as for feeds (tests).")
@click.option("--json", "as_json", is_flag=True, help="Print what was installed as JSON.")
@click.pass_context
def models_install(ctx: click.Context, files: tuple[Path, ...], allow_private: bool, as_json: bool) -> None:
    """Install the es->en and en->es models.

    Without --from, downloads the newest es->en and en->es packages from the package index at
    [translation] index_url (the Argos index), as `monitor translate` does on a first run: the
    feeds' SSRF guard, [translation] max_package_mb, the index's checksum when it gives one, an
    atomic install. Sentences are then split by the built-in rules; a MiniSBD model can be added
    with --from <lang>.onnx. Offline, copy the .argosmodel files over and use --from.

    \b
    Examples:
      monitor models install
      monitor models install --from translate-es_en-1_9.argosmodel --from es.onnx
    """
    installed: list[str] = []
    if files:
        for file in files:  # validate all before installing any
            if file.suffix != packages.SPLITTER_SUFFIX:
                packages.check_argosmodel(file)
        with progress("install", len(files), quiet=as_json) as advance:
            for file in files:
                installed.append(packages.install_file(file))
                advance(1, note=file.name)
    else:
        from monitor.translation import index

        settings = ctx.obj.settings
        if allow_private:
            settings = settings.replace(poll__allow_private=True)
        installed = index.install_pairs(settings, packages.PAIRS, stage_progress(as_json))
    if as_json:
        print_json({"installed": installed})
    else:
        for line in installed:
            click.echo(f"installed {line}")


COMMANDS: list[click.Command] = [translate, models]

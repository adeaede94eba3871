"""The docs: generated parts are current (`cog --check`), every command and option is documented,
links resolve, and the README keeps its two commands and sends everything else to docs/."""

from __future__ import annotations

import dataclasses
import re
import shutil
import typing
from pathlib import Path

import click
import pytest
from cogapp import Cog

from monitor.cli.main import cli
from monitor.config import settings as settings_mod

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

QUICK_START = """```sh
# 1. set up and run the whole pipeline once (polls the real feeds: needs the internet)
python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/monitor run

# 2. set up (Debian packages, a venv with the test extras) and run the tests (no internet needed)
bash .ci/setup && .venv/bin/python -m pytest
```"""

SENDING_ONCE = (
    "Every digest e-mail (per day, language and recipient) and every alert delivery (per rule, article or "
    "story, and sink) is first claimed in the database in a short BEGIN IMMEDIATE transaction recording which "
    "process holds it and until when; only then is it sent, and the outcome recorded. Any number of "
    "`monitor digest --send`, `monitor run` or `monitor watch` processes on one database send each once. A "
    "process killed mid-send leaves a claim that expires (set by the SMTP/webhook timeout) and the next run "
    "sends it. The guarantee is at-least-once: a crash after the mail server accepted the message (end of SMTP "
    "DATA) but before 'sent' is committed makes the next run send it again (with the same Message-ID, which many "
    "mail systems de-duplicate); no SMTP client can make that step atomic. `monitor watch` retries a failed "
    "digest until it has gone out."
)


def cog_check(files: list[Path]) -> tuple[int, str]:
    """`cog --check FILES`, in this process: (status, what it printed)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = Cog().main(["cog", "--check", *map(str, files)])
    return status, out.getvalue()


def doc_files() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def flat(text: str) -> str:
    return " ".join(text.split())


# --- generated parts are current -------------------------------------------------------------


def test_generated_docs_are_current() -> None:
    """A command's --help, a settings option or an API docstring changed without `cog -r docs/*.md`."""
    status, output = cog_check(doc_files())
    assert status == 0, f"docs are stale: run `cog -r docs/*.md`\n{output}"


def test_the_check_fails_when_a_generated_part_is_stale(tmp_path: Path) -> None:
    """The check is real: a copy of the docs with one generated line edited fails it."""
    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy)
    commands = copy / "commands.md"
    text = commands.read_text(encoding="utf-8")
    assert "Usage: monitor poll [OPTIONS]" in text
    commands.write_text(text.replace("Usage: monitor poll [OPTIONS]", "Usage: monitor poll [OLD OPTIONS]"), encoding="utf-8")
    config = copy / "configuration.md"
    config.write_text(re.sub(r"\| `retention_days` \|.*\n", "", config.read_text(encoding="utf-8")), encoding="utf-8")
    for stale in (commands, config):
        status, output = cog_check([stale])
        assert status != 0, output
    assert cog_check([copy / "api.md"])[0] == 0  # the untouched copy still passes


# --- everything is documented ----------------------------------------------------------------


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group)
    paths = [prefix]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
        elif command is not None:
            paths.append((*prefix, name))
    return paths


def test_every_command_and_subcommand_has_its_help_in_commands_md() -> None:
    text = (DOCS / "commands.md").read_text(encoding="utf-8")
    paths = _command_paths(cli)
    assert ("feeds", "validate") in paths and ("models", "install") in paths
    for path in paths:
        name = " ".join(["monitor", *path])
        assert f"### `{name}`" in text, f"{name} has no section in docs/commands.md"
        assert f"Usage: {name} " in text, f"{name}'s --help is not in docs/commands.md"


def test_every_option_has_a_row_in_configuration_md() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    hints = typing.get_type_hints(settings_mod.Settings)
    for section in settings_mod.SECTIONS:
        heading = text.index(f"### `[{section}]`")
        table = text[heading:].split("\n### ", 1)[0]
        for f in dataclasses.fields(hints[section]):
            row = next((line for line in table.splitlines() if line.startswith(f"| `{f.name}` |")), None)
            assert row is not None, f"[{section}] {f.name} is missing from docs/configuration.md"
            assert f"`MONITOR_{section.upper()}_{f.name.upper()}`" in row
    retention = next(line for line in text.splitlines() if line.startswith("| `retention_days` |"))
    assert "`90`" in retention and "≥ 0" in retention and "≤ 36500" in retention


def test_operations_md_states_the_guarantees_an_operator_relies_on() -> None:
    text = flat((DOCS / "operations.md").read_text(encoding="utf-8"))
    assert flat(SENDING_ONCE) in text
    for fact in (
        '[watch] digest_time = "off"',
        "digest_retry",
        "stage_failed",
        "report_<name>",
        "[poll] retention_days",
        "(default **90**",
        "https://***@example.com/rss?token=***&page=2",
        "exits with status **2**",
        "systemctl enable --now monitor-watch",
    ):
        assert fact in text, fact


def test_development_md_names_the_test_switches() -> None:
    text = (DOCS / "development.md").read_text(encoding="utf-8")
    assert "MONITOR_REFRESH_SCREENSHOTS=1" in text and "MONITOR_SHARED" in text
    assert "cog -r docs/*.md" in text


def test_every_benchmark_has_a_row_with_its_figure_in_benchmarks_md() -> None:
    """The measured figures live in docs/benchmarks.md, one table row per script, never in the README."""
    text = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `benchmarks/([a-z_]+\.py)` \|(.*)$", text, re.M)}
    scripts = {p.name for p in (ROOT / "benchmarks").glob("*.py")}
    assert scripts <= set(rows), sorted(scripts - set(rows))
    assert not re.search(r"\d\.\d+×", README.read_text(encoding="utf-8"))  # no measured ratio in the README


# --- the README ---------------------------------------------------------------------------------


def test_readme_keeps_the_two_quick_start_commands_exactly() -> None:
    text = README.read_text(encoding="utf-8")
    assert QUICK_START in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash .ci/setup && .venv/bin/python -m pytest" in ci  # the README's test command is CI's


def test_readme_is_a_newcomers_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode()) < 6000, "the README grew: put reference material in docs/"
    for needed in ("## What needs a network", "## Licence", "AGPL-3.0-or-later", "tests/screenshots/"):
        assert needed in text
    linked = set(re.findall(r"\]\((docs/[a-z]+\.md)", text))
    assert {"docs/commands.md", "docs/configuration.md", "docs/operations.md", "docs/api.md"} <= linked


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file, plus its explicit <a id=...>."""
    text = path.read_text(encoding="utf-8")
    text_no_code = re.sub(r"```.*?```", "", text, flags=re.S)
    anchors = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#{1,6} (.+)$", text_no_code, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", [README, *doc_files()], ids=lambda p: p.name)
def test_relative_links_and_images_resolve(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        assert resolved.exists(), f"{page.name}: broken link {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name}: no anchor #{anchor} in {resolved.name}"

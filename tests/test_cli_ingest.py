"""The ingest commands as a user runs them: help with examples, JSON output, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from tests.feedserver import FeedServer
from tests.test_poll import item, rss


def walk(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from walk(command, (*prefix, name))


@pytest.mark.parametrize(("path", "command"), list(walk(cli)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_with_an_example(path: tuple[str, ...], command: click.Command) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`monitor {' '.join(path)} --help` shows no example"


def test_python_dash_m_monitor_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "monitor", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "monitor run" in out.stdout


@pytest.fixture
def loaded(feed_server: FeedServer, make_registry: Callable[..., Path], tmp_path: Path) -> tuple[list[str], FeedServer]:
    feed_server.route("/mx.xml", rss([item(1, title="Sheinbaum rechaza intervención"), item(2)]))
    feed_server.route("/us.xml", rss([item(3, title="Pentagon weighs strikes", link="https://us.example/3",
                                          guid="us-3")]))
    registry = make_registry(
        [
            {"id": "jornada", "country": "MX", "language": "es", "feeds": [(feed_server.url("/mx.xml"), "pol")]},
            {"id": "times", "country": "US", "language": "en", "feeds": [(feed_server.url("/us.xml"), "world")]},
        ]
    )
    base = ["--db", str(tmp_path / "cli.db"), "--feeds", str(registry)]
    result = CliRunner().invoke(cli, [*base, "poll", "--allow-private", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["new_articles"] == 3 and report["fetched"] == 2 and report["failed"] == 0
    return base, feed_server


def test_export_jsonl_and_csv_keep_stable_field_names(loaded: tuple[list[str], FeedServer], tmp_path: Path) -> None:
    base, _ = loaded
    result = CliRunner().invoke(cli, [*base, "export", "--country", "MX"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    for key in ("id", "outlet", "country", "language", "url", "title", "summary", "published", "first_seen"):
        assert key in rows[0]
    assert {r["outlet"] for r in rows} == {"jornada"} and rows[0]["published"].endswith("+00:00")
    out = tmp_path / "a.csv"
    result = CliRunner().invoke(cli, [*base, "export", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0
    with out.open(encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 3 and "Sheinbaum rechaza intervención" in {r["title"] for r in table}
    assert not (tmp_path / "a.csv.part").exists()
    bad = CliRunner().invoke(cli, [*base, "export", "--since", "yesterday"])
    assert bad.exit_code == 2 and "--since must be a date" in bad.output


def test_status_and_feeds_list_report_health(loaded: tuple[list[str], FeedServer]) -> None:
    base, _ = loaded
    status = json.loads(CliRunner().invoke(cli, [*base, "status", "--json"]).stdout)
    assert status["articles_by_country"] == {"MX": 2, "US": 1}
    listing = json.loads(CliRunner().invoke(cli, [*base, "feeds", "list", "--json"]).stdout)
    assert {o["id"]: o["feeds"][0]["status"] for o in listing} == {"jornada": "active", "times": "active"}
    plain = CliRunner().invoke(cli, [*base, "status"])
    assert plain.exit_code == 0 and "MX 2" in plain.output


def test_feeds_check_reports_items_and_failures(loaded: tuple[list[str], FeedServer], make_registry: Callable[..., Path]) -> None:
    base, server = loaded
    result = CliRunner().invoke(cli, [*base, "feeds", "check", "--allow-private", "--json"])
    assert result.exit_code == 0, result.output
    checked = {r["outlet"]: r for r in json.loads(result.stdout)}
    assert checked["jornada"]["items"] == 2 and checked["times"]["ok"]
    broken = make_registry([{"id": "dead", "feeds": [(server.url("/500"), "")]}])
    result = CliRunner().invoke(cli, [*base[:2], "--feeds", str(broken), "feeds", "check", "--allow-private"])
    assert result.exit_code == 1 and "FAIL" in result.output


def test_feeds_validate_names_file_outlet_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[outlets]]\nid = "x"\nname = "X"\ncountry = "Mexico"\nlanguage = "es"\n'
                   'feeds = [ { url = "https://x.example/rss" } ]\n')
    result = CliRunner().invoke(cli, ["feeds", "validate", str(bad)])
    assert result.exit_code == 2
    assert str(bad) in result.output and "outlet 'x'" in result.output and "country" in result.output
    ok = CliRunner().invoke(cli, ["feeds", "validate"])
    assert ok.exit_code == 0 and "valid" in ok.output


def test_poll_with_unknown_outlet_is_one_line_exit_2(loaded: tuple[list[str], FeedServer]) -> None:
    base, _ = loaded
    result = CliRunner().invoke(cli, [*base, "poll", "--outlet", "nope"])
    assert result.exit_code == 2 and result.output.strip().startswith("error: unknown outlet")
    assert "Traceback" not in result.output


def test_db_pointing_at_a_text_file_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    result = CliRunner().invoke(cli, ["--db", str(f), "status"])
    assert result.exit_code == 1 and "not a SQLite database" in result.output and f.read_text() == "hello"


def test_monitor_run_is_the_whole_pipeline_once(loaded: tuple[list[str], FeedServer], tmp_path: Path) -> None:
    """The quick start's main command: every stage runs, in order, on what the previous one stored."""
    base, _ = loaded
    result = CliRunner().invoke(cli, [*base, "run", "--allow-private", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["failed"] == {}
    from monitor.pipeline import STAGES

    assert list(report["stages"]) == [name for name, _ in STAGES]
    assert report["stages"]["poll"]["skipped"] == 2  # polled by the fixture moments ago: not due yet
    assert list((tmp_path / "digests").glob("digest-*.html"))  # today's digest: digests/ beside the database


def test_offline_hint_only_when_every_feed_failed_to_connect() -> None:
    from monitor.cli.commands.core import offline_hint
    from monitor.models import PollReport

    dns = {"outlet": "a", "url": "https://a.example/", "kind": "error",
           "error": "cannot resolve host 'a.example': [Errno -2] Name or service not known"}
    offline = PollReport(feeds_total=2, failed=2, errors=[dns, {**dns, "outlet": "b"}])
    assert offline_hint(offline) and "monitor demo" in offline_hint(offline)
    partly = PollReport(feeds_total=2, failed=1, fetched=1, errors=[dns])
    assert offline_hint(partly) is None
    http = PollReport(feeds_total=1, failed=1, errors=[{**dns, "error": "HTTP 500 from https://a.example/"}])
    assert offline_hint(http) is None

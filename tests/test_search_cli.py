"""`monitor search` and `monitor show` through click's runner and as a real subprocess."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from tests.fixtures_search import search_db_path  # noqa: F401 - fixture
from tests.test_query import HOSTILE, _random_query


@pytest.fixture
def run(search_db_path: Path):  # noqa: F811
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, ["--db", str(search_db_path), *args], env={"MONITOR_TRANSLATION_ENGINE": "none"})

    return invoke


def _no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "OperationalError" not in result.output and "sqlite3" not in result.output


def test_search_plain_output_lists_both_languages(run) -> None:
    result = run("search", "cartel")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "#2" in out and "Pentagon weighs military strikes" in out and "= [es] El Pentágono" in out
    assert "#1" in out and "Sheinbaum rechaza" in out and "= [en] Sheinbaum rejects" in out
    assert "[cartels]" in out  # highlighted match, plain markers when piped
    assert "frame: military" in out and "story 7" in out
    assert "4 of 4 matching articles (by relevance" in result.stderr


def test_unquoted_words_with_minus_and_filters_work_as_arguments(run) -> None:
    result = run("search", "cartel", "-sinaloa", "country:MX")
    assert result.exit_code == 0, result.output
    found = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("#")}
    assert found == {"#1", "#8"}


def test_json_has_every_field_and_the_query_metadata(run) -> None:
    result = run("search", "fentanilo", "--json", "--sort", "date")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [h["id"] for h in data["hits"]] == [2, 3]
    assert data["sort"] == "date" and data["total_estimate"] == 2
    hit = data["hits"][1]
    for key in (
        "id", "outlet", "outlet_name", "country", "language", "url", "title", "summary", "published", "first_seen",
        "title_translated", "summary_translated", "translation_engine", "translation_rough", "top_frame", "frames",
        "story", "relevant", "relevance", "snippet", "snippet_text", "score", "matched_in",
    ):
        assert key in hit
    assert hit["translation_rough"] is True and hit["snippet_text"].startswith("Las muertes por [fentanilo]")


def test_options_match_field_filters(run) -> None:
    a = json.loads(run("search", "cartel", "country:US", "--json").stdout)
    b = json.loads(run("search", "cartel", "--country", "US", "--json").stdout)
    assert [h["id"] for h in a["hits"]] == [h["id"] for h in b["hits"]] == [2]
    c = json.loads(run("search", "--frame", "military", "--story", "7", "--json").stdout)
    assert {h["id"] for h in c["hits"]} == {1, 2}
    d = json.loads(run("search", "cartel", "--since", "2026-11-20", "--until", "2026-11-20", "--json").stdout)
    assert [h["id"] for h in d["hits"]] == [1]


def test_limit(run) -> None:
    data = json.loads(run("search", "cartel", "--limit", "2", "--json").stdout)
    assert len(data["hits"]) == 2 and data["total_estimate"] == 4


def test_raw(run) -> None:
    ok = run("search", "--raw", "drones NOT record", "--json")
    assert ok.exit_code == 0 and {h["id"] for h in json.loads(ok.stdout)["hits"]} == {1, 2}
    bad = run("search", "--raw", 'cartel"')
    assert bad.exit_code == 2
    assert bad.stderr.strip().startswith("error: invalid FTS5 query") and "try without --raw" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_errors_are_one_line_and_json_stays_valid(run) -> None:
    result = run("search", "cartel", "since:yesterday")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "since:2026-11-01" in result.stderr
    result = run("search", "since:yesterday", "--json")
    assert result.exit_code == 2
    assert "since:" in json.loads(result.stdout)["error"]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_exit_0_or_2_with_one_line(run, query: str) -> None:
    for extra in ((), ("--json",)):
        result = run("search", *extra, "--", query)
        _no_traceback(result)
        assert result.exit_code in (0, 2), (query, result.output)
        if result.exit_code == 2:
            assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
        if extra:
            json.loads(result.stdout)


def test_random_queries_never_crash_the_cli(run) -> None:
    rng = random.Random(23)
    for _ in range(60):
        query = _random_query(rng)
        for extra in (("--json",), ("--raw", "--json")):
            result = run("search", *extra, "--", query)
            _no_traceback(result)
            assert result.exit_code in (0, 2), (query, result.output)
            json.loads(result.stdout)


def test_show_article(run) -> None:
    result = run("show", "1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Sheinbaum rechaza ataques" in out and "--- Translation [en] by argos" in out
    assert "frame sovereignty (score 2.00)" in out and "evidence for sovereignty" in out
    assert "--- Story 7" in out and "#2" in out and "Pentagon weighs" in out


def test_show_rough_translation_is_marked(run) -> None:
    assert "ROUGH" in run("show", "3").stdout


def test_show_json_and_missing_article(run) -> None:
    data = json.loads(run("show", "2", "--json").stdout)
    assert data["id"] == 2 and data["story"]["id"] == 7 and data["frames"][0]["frame"] == "military"
    missing = run("show", "999")
    assert missing.exit_code == 2 and "no article #999" in missing.stderr


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = CliRunner().invoke(cli, ["--db", str(missing), "search", "cartel"])
    assert result.exit_code == 2 and f"no database at {missing}" in result.stderr
    assert not missing.exists()


def test_subprocess_with_real_apertium_finds_the_other_language(search_db_path: Path) -> None:  # noqa: F811
    env = {**os.environ, "MONITOR_TRANSLATION_ENGINE": "apertium"}

    def search(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "monitor", "--db", str(search_db_path), "search", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    proc = search("war", "strategy", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [h["id"] for h in data["hits"]] == [5]
    assert "es" in data["translated_query"]
    proc = search("--", '"\x01', "NEAR(")
    assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr
    assert "no articles match" in proc.stderr if proc.returncode == 0 else proc.stderr.startswith("error: ")

"""Without ../shared, the tests that read it fail with one clear message; none is skipped, and the
tests that do not need it still pass. A real pytest run in a subprocess, pointed at a missing folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_missing_shared_data_fails_clearly(tmp_path: Path) -> None:
    env = dict(os.environ, MONITOR_SHARED=str(tmp_path / "no-shared-here"), COLUMNS="400")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rfs",
            "-p",
            "no:cacheprovider",
            "tests/test_real_feeds_parse.py",
            "tests/test_langdetect.py",
            "tests/test_feedparser_cases.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "skipped" not in out.lower(), out
    failures = [line for line in out.splitlines() if line.startswith("FAILED ")]
    assert {line.split("::")[0] for line in failures} == {
        "FAILED tests/test_real_feeds_parse.py",
        "FAILED tests/test_langdetect.py",
        "FAILED tests/test_feedparser_cases.py",
    }, out
    assert all("shared test data missing" in line for line in failures), out
    assert " passed" in out.splitlines()[-1], out  # the language tests that need no shared data still ran

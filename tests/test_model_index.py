"""A first run that translates: Argos packages fetched from a package index and installed.

A real loopback HTTP server (tests/feedserver.py) serves an index JSON and the tiny REAL
`.argosmodel` packages of tests/fixtures_argos.py; `monitor translate` and `monitor models install`
download them through the feed fetcher (SSRF guard, size limit, checksum, atomic install).
Nothing here reaches the internet: every test also runs under the `no_network` guard.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.errors import TranslationError
from monitor.models import ProgressEvent
from monitor.store.db import open_db
from monitor.translation import index, packages
from tests.feedserver import FeedServer
from tests.fixtures_argos import add_articles

SPANISH = [("Sheinbaum rechaza cualquier intervención militar", "La presidenta habló en Palacio Nacional.")]
ENGLISH = [("Pentagon weighs strikes on cartel targets", "Officials said plans were drawn up.")]
PAIRS = [("es", "en"), ("en", "es")]


@dataclass
class ModelIndex:
    server: FeedServer
    files: dict[str, Path]

    @property
    def url(self) -> str:
        return self.server.url("/index.json")

    def package_path(self, pair: str) -> str:
        return f"/packages/{self.files[pair].name}"

    def publish(self, links: dict[str, str] | None = None, sha256: dict[str, str] | None = None) -> None:
        """The index: es->en and en->es (links and checksums overridable), an older es->en and an
        unrelated pair the monitor must ignore."""
        entries: list[dict[str, Any]] = [
            {"from_code": "es", "to_code": "en", "package_version": "0.5", "links": [self.server.url("/old")]},
            {"from_code": "fr", "to_code": "en", "package_version": "1.0", "links": [self.server.url("/fr")]},
        ]
        for pair in ("es-en", "en-es"):
            source, target = pair.split("-")
            entries.append(
                {
                    "package_version": "1.0",
                    "argos_version": "1.9.0",
                    "from_code": source,
                    "to_code": target,
                    "type": "translate",
                    "code": f"translate-{source}_{target}",
                    "links": [(links or {}).get(pair) or self.server.url(self.package_path(pair))],
                    "sha256": (sha256 or {}).get(pair) or hashlib.sha256(self.files[pair].read_bytes()).hexdigest(),
                }
            )
        self.server.route("/index.json", json.dumps(entries).encode(), headers={"Content-Type": "application/json"})

    def downloads(self) -> int:
        return sum(self.server.count(self.package_path(p)) for p in ("es-en", "en-es"))


@pytest.fixture
def model_index(argos_model_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelIndex]:
    """The index on 127.0.0.1, with auto-install on and pointed at it (through the environment, as
    a user would set it); private addresses are allowed only where a test says so."""
    index._failed_at.clear()  # a failure remembered by an earlier test must not skip this one
    with FeedServer() as server:
        served = ModelIndex(server, argos_model_files)
        for pair in ("es-en", "en-es"):
            server.route(served.package_path(pair), argos_model_files[pair].read_bytes(), headers={"Content-Type": "application/zip"})
        served.publish()
        monkeypatch.setenv("MONITOR_TRANSLATION_AUTO_INSTALL", "1")
        monkeypatch.setenv("MONITOR_TRANSLATION_INDEX_URL", served.url)
        monkeypatch.setenv("PATH", "/nonexistent-bin")  # no apertium: without models the run stays untranslated
        yield served
    index._failed_at.clear()


def translate(db_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", str(db_path), "translate", *args])
    return result.exit_code, result.output


def engines(db_path: Path) -> list[str]:
    check = open_db(db_path)
    try:
        return [r[0] for r in check.execute("SELECT engine FROM article_translations ORDER BY id")]
    finally:
        check.close()


def leftovers() -> list[str]:
    home = packages.argos_home()
    return sorted(p.name for p in home.iterdir() if p.name.startswith((".download-", ".installing-"))) if home.is_dir() else []


@pytest.fixture
def articles(db: Any, db_path: Path) -> Path:
    add_articles(db, SPANISH, ENGLISH)
    db.close()
    return db_path


def test_first_translate_installs_from_the_index_and_the_second_downloads_nothing(
    model_index: ModelIndex, articles: Path, no_network: list[str]
) -> None:
    code, out = translate(articles, "--allow-private")
    assert code == 0, out
    assert "downloading from " + model_index.url in out
    assert "installed translate-es_en-1_0" in out and "installed translate-en_es-1_0" in out
    assert {(p.from_code, p.to_code, p.version) for p in packages.installed_packages()} == {("es", "en", "1.0"), ("en", "es", "1.0")}
    assert engines(articles) == ["argos", "argos"]  # and then it translated, in the same run
    assert model_index.downloads() == 2 and model_index.server.count("/old") == 0 and model_index.server.count("/fr") == 0
    assert leftovers() == []

    requests = len(model_index.server.requests)
    more = open_db(articles)
    add_articles(more, [("La Marina detuvo a un operador", "")], [])
    more.close()
    code, out = translate(articles, "--allow-private")
    assert code == 0, out
    assert len(model_index.server.requests) == requests  # neither the index nor a package again
    assert "downloading" not in out and engines(articles) == ["argos"] * 3
    assert no_network == []


def test_models_install_without_from_uses_the_index(model_index: ModelIndex, settings: Settings, no_network: list[str]) -> None:
    result = CliRunner().invoke(cli, ["models", "install", "--allow-private", "--json"])
    assert result.exit_code == 0, result.output
    installed = json.loads(result.stdout)["installed"]
    assert [line.split(" ")[0] for line in installed] == ["translate-es_en-1_0", "translate-en_es-1_0"]
    state = json.loads(CliRunner().invoke(cli, ["models", "list", "--json"]).stdout)
    assert state["auto"]["engine"] == "argos"
    assert model_index.downloads() == 2 and no_network == []


def test_progress_is_reported_in_bytes_of_the_download(model_index: ModelIndex, settings: Settings) -> None:
    events: list[ProgressEvent] = []
    s = settings.replace(translation__index_url=model_index.url)
    index.install_pairs(s, [("es", "en")], events.append)
    size_kb = (model_index.files["es-en"].stat().st_size + 1023) // 1024
    stage = "download translate-es_en-1_0 (kB)"
    assert next(e.kind for e in events if e.stage == stage) == "start" and events[-1].kind == "done"
    advances = [e for e in events if e.kind == "advance"]
    assert advances and advances[-1].done == size_kb and all(e.total == size_kb for e in advances)
    assert "MB" in advances[-1].note


def one_line_and_nothing_installed(code: int, out: str, db_path: Path, *expected: str) -> None:
    assert code == 0, out  # the run goes on
    lines = [ln for ln in out.splitlines() if "models not installed" in ln]
    assert len(lines) == 1, out
    for text in expected:
        assert text in lines[0], lines[0]
    assert "Traceback" not in out
    assert packages.installed_packages() == [] and leftovers() == []
    assert engines(db_path) == []  # no apertium here: untranslated, and the stage still reported
    assert "no translation engine" in out


def test_bad_checksum_installs_nothing_and_the_run_continues(model_index: ModelIndex, articles: Path, no_network: list[str]) -> None:
    model_index.publish(sha256={"es-en": "0" * 64})  # en->es comes first and is fine
    code, out = translate(articles, "--allow-private")
    one_line_and_nothing_installed(code, out, articles, "checksum mismatch", "translate-es_en-1_0")
    assert model_index.downloads() == 2  # both downloaded, but with one bad package none is installed
    assert no_network == []


def test_oversized_packages_are_refused(model_index: ModelIndex, articles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_TRANSLATION_MAX_PACKAGE_MB", "1")
    model_index.server.route("/big.argosmodel", b"\0" * (2 * 1024 * 1024))  # declares 2 MB
    model_index.publish(links={"es-en": model_index.server.url("/big.argosmodel")})
    code, out = translate(articles, "--allow-private")
    one_line_and_nothing_installed(code, out, articles, "over translation.max_package_mb")

    # no length declared, the body never ends: stopped at the limit all the same
    index._failed_at.clear()
    model_index.publish(links={"en-es": model_index.server.url("/huge-chunked")})
    code, out = translate(articles, "--allow-private")
    one_line_and_nothing_installed(code, out, articles, "more than translation.max_package_mb")
    assert model_index.server.bytes_sent.get("/huge-chunked", 0) >= 1024 * 1024


def test_the_index_on_a_private_address_needs_allow_private(model_index: ModelIndex, articles: Path, no_network: list[str]) -> None:
    code, out = translate(articles)  # the same rule as feeds: loopback is private
    one_line_and_nothing_installed(code, out, articles, "blocked: private address 127.0.0.1", "--allow-private")
    assert model_index.server.requests == []  # refused before connecting
    assert no_network == []


def test_package_links_to_private_addresses_are_blocked_on_every_hop(
    model_index: ModelIndex, settings: Settings, feed_server_factory: Callable[..., FeedServer], no_network: list[str]
) -> None:
    """The index is trusted (its address explicitly allowed); the links it gives are not: a link to
    another private address, directly or through a redirect, is refused before any connection."""
    inside = feed_server_factory("127.0.0.2")
    inside.route("/translate-es_en.argosmodel", model_index.files["es-en"].read_bytes())
    target = inside.url("/translate-es_en.argosmodel")
    strict = settings.replace(poll__allow_private=False, translation__index_url=model_index.url)
    trusted = frozenset({"127.0.0.1"})
    for link in (target, model_index.server.url(f"/redirect-to?target={target}")):
        model_index.publish(links={"es-en": link})
        with pytest.raises(TranslationError, match=r"blocked: private address 127\.0\.0\.2"):
            index.install_pairs(strict, PAIRS, allowed_addresses=trusted)
        assert inside.requests == [] and packages.installed_packages() == [] and leftovers() == []
    model_index.publish()
    assert len(index.install_pairs(strict, PAIRS, allowed_addresses=trusted)) == 2  # the good links pass the same guard
    assert no_network == []


def test_dead_index_server_is_one_line(model_index: ModelIndex, articles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = FeedServer()
    url = dead.url("/index.json")
    dead.close()
    monkeypatch.setenv("MONITOR_TRANSLATION_INDEX_URL", url)
    code, out = translate(articles, "--allow-private")
    one_line_and_nothing_installed(code, out, articles, "cannot fetch translation models", "--from")
    # an offline process does not try again on every run (the watcher runs the stage each tick)
    code, out = translate(articles, "--allow-private")
    assert code == 0 and "downloading" not in out and "models not installed" not in out


def test_models_install_failing_is_one_error_line(model_index: ModelIndex, settings: Settings) -> None:
    model_index.publish(sha256={"es-en": "f" * 64})
    result = CliRunner().invoke(cli, ["models", "install", "--allow-private"])
    assert result.exit_code == 1 and "checksum mismatch" in result.output and "Traceback" not in result.output
    assert packages.installed_packages() == [] and leftovers() == []


def test_auto_install_off_or_another_engine_downloads_nothing(model_index: ModelIndex, articles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _ = translate(articles, "--allow-private", "--engine", "none")
    assert code == 0 and model_index.server.requests == []
    monkeypatch.setenv("MONITOR_TRANSLATION_AUTO_INSTALL", "0")
    code, _ = translate(articles, "--allow-private")
    assert code == 0 and model_index.server.requests == [] and packages.installed_packages() == []


def test_a_killed_download_leaves_no_package_and_the_next_install_cleans_up(
    model_index: ModelIndex, settings: Settings, tmp_path: Path
) -> None:
    model_index.publish(links={"es-en": model_index.server.url("/trickle")})  # 1 MB declared, a byte every 0.5 s
    log = tmp_path / "install.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "models", "install", "--allow-private"],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        # until the first bytes arrived (the bar starts with them); generous, not a timed assertion
        for _ in range(1200):
            if "download translate-es_en-1_0 (kB): starting" in log.read_text() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, log.read_text()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert packages.installed_packages() == []
    assert [name.split("-")[1] for name in leftovers()] == ["translate"]  # the partial file, outside packages/

    model_index.publish()
    assert len(index.install_pairs(settings.replace(translation__index_url=model_index.url), PAIRS)) == 2
    assert leftovers() == [] and len(packages.installed_packages()) == 2


def test_index_documents_are_checked() -> None:
    good = json.dumps([{"from_code": "es", "to_code": "en", "package_version": "1.9", "links": ["https://x/a"], "checksum": "sha256:" + "a" * 64}])
    (entry,) = index.parse_index(good.encode(), "u")
    assert entry.sha256 == "a" * 64 and entry.name == "translate-es_en-1_9"
    for bad, message in [(b"<html>", "not JSON"), (b'{"a": 1}', "not a list"), (json.dumps([{"from_code": "es", "to_code": "en", "links": [], "sha256": "md5:abc"}]).encode(), "unusable checksum")]:
        with pytest.raises(TranslationError, match=message):
            index.parse_index(bad, "u")
    newer = index.parse_index(json.dumps([{"from_code": "es", "to_code": "en", "package_version": v, "links": ["https://x"]} for v in ("1.9", "1.10", "1.2")]).encode(), "u")
    picked = index.pick(newer, "es", "en")
    assert picked is not None and picked.version == "1.10" and index.pick(newer, "en", "es") is None


def test_the_index_url_must_be_http() -> None:
    from monitor.config import settings as settings_mod
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError, match="must be an http"):
        settings_mod.load(env={"MONITOR_TRANSLATION_INDEX_URL": "file:///etc/passwd"})
    assert settings_mod.load(env={}).translation.index_url.startswith("https://")

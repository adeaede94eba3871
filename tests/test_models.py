"""`monitor models list|install`: offline installs of local files, clear errors, no half-written package."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.translation import packages
from tests.fixtures_argos import build_minisbd_model


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_list_without_models_says_what_to_do(settings: Settings) -> None:
    code, out = invoke("models", "list", "--json")
    assert code == 0
    state = json.loads(out)
    assert state["packages"] == [] and state["engines"]["argos"]["available"] is False
    assert "monitor models install" in state["engines"]["argos"]["detail"]


def test_install_from_files_then_list(argos_model_files: dict[str, Path], settings: Settings, tmp_path: Path, no_network: list[str]) -> None:
    code, out = invoke("models", "install", "--from", str(argos_model_files["es-en"]), "--from", str(argos_model_files["en-es"]))
    assert code == 0, out
    assert "installed translate-es_en-1_0" in out
    state = json.loads(invoke("models", "list", "--json")[1])
    assert {(p["from"], p["to"]) for p in state["packages"]} == {("es", "en"), ("en", "es")}
    assert state["engines"]["argos"]["available"] and state["auto"]["engine"] == "argos"
    assert all("built-in" in p["splitter"] for p in state["packages"])
    # a MiniSBD model installed next to the packages is picked up for that source language
    onnx = tmp_path / "es.onnx"
    onnx.write_bytes(b"not an onnx model")
    code, out = invoke("models", "install", "--from", str(onnx))
    assert code == 2 and "not a loadable ONNX" in out  # refused before it could replace anything
    onnx.write_bytes(build_minisbd_model("es"))
    assert invoke("models", "install", "--from", str(onnx))[0] == 0
    state = json.loads(invoke("models", "list", "--json")[1])
    splitters = {p["from"]: p["splitter"] for p in state["packages"]}
    assert splitters["es"] == "MiniSBD es.onnx (installed)" and "built-in" in splitters["en"]
    text = invoke("models", "list")[1]
    assert "translate-es_en 1.0" in text and "auto picks: argos" in text
    assert no_network == []


def test_bad_files_are_refused_and_nothing_is_installed(argos_model_files: dict[str, Path], settings: Settings, tmp_path: Path) -> None:
    not_zip = tmp_path / "broken.argosmodel"
    not_zip.write_text("hello")
    no_meta = tmp_path / "nometa.argosmodel"
    with zipfile.ZipFile(no_meta, "w") as zf:
        zf.writestr("pkg/model/model.bin", b"x")
    for bad, message in [(not_zip, "not an Argos model"), (no_meta, "metadata.json missing"), (tmp_path / "missing.argosmodel", "no such file")]:
        # a good file first: with one bad file in the list, nothing at all is installed
        code, out = invoke("models", "install", "--from", str(argos_model_files["es-en"]), "--from", str(bad))
        assert code == 2 and message in out and "Traceback" not in out
        assert packages.installed_packages() == []


def test_online_install_offline_is_one_clear_error(settings: Settings, no_network: list[str]) -> None:
    code, out = invoke("models", "install")
    assert code == 1
    assert "error:" in out and "--from" in out and "Traceback" not in out
    assert packages.installed_packages() == []
    assert no_network  # it tried (and the guard refused): this is the one command allowed to

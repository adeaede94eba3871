"""Argos model packages on disk: where they live, which are installed, installing them.

Everything lives under `monitor.config.paths.models_dir()` (`argos/` in the user's data folder):
`packages/<name>/` (one folder per installed `.argosmodel`), `minisbd/<lang>.onnx` (sentence
splitter models), and the `xdg/` data/config/cache dirs argostranslate creates at import time.
`import_argos()` points argostranslate there BEFORE its first import (it reads its settings from
the environment only then), and restores the environment afterwards.

Offline safety: listing and loading never touch the network; a folder without `metadata.json`
is skipped (argostranslate's own lookup raises for every package then). Nothing here downloads:
`monitor.translation.index` fetches packages from the index and installs them with `install_file()`
(argostranslate's own network functions are never called).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from monitor.config import paths
from monitor.errors import TranslationError, UsageError

SPLITTER_SUFFIX = ".onnx"


def argos_home() -> Path:
    return paths.models_dir()


def packages_dir() -> Path:
    return argos_home() / "packages"


def splitter_dir() -> Path:
    return argos_home() / "minisbd"


def _argos_env() -> dict[str, str]:
    home = argos_home()
    return {
        "ARGOS_PACKAGES_DIR": str(packages_dir()),
        "XDG_DATA_HOME": str(home / "xdg" / "data"),
        "XDG_CONFIG_HOME": str(home / "xdg" / "config"),
        "XDG_CACHE_HOME": str(home / "xdg" / "cache"),
        "ARGOS_INTRA_THREADS": "1",
        "ARGOS_DEVICE_TYPE": "cpu",
    }


def import_argos() -> ModuleType:
    """`argostranslate.package`, imported with its dirs under the monitor's data dir."""
    import sys

    if "argostranslate.settings" not in sys.modules:
        saved = {k: os.environ.get(k) for k in _argos_env()}
        os.environ.update(_argos_env())
        try:
            import argostranslate.package  # noqa: F401  (reads the environment now)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    import argostranslate.package as package

    return package


@dataclass(frozen=True)
class InstalledPackage:
    """One installed translation package, as read from its metadata.json (no argostranslate needed)."""

    path: Path
    code: str
    from_code: str
    to_code: str
    version: str
    splitter: Path | None  # an offline MiniSBD model for from_code, if any

    @property
    def model_name(self) -> str:
        return f"{self.code} {self.version}"

    @property
    def splitter_status(self) -> str:
        if self.splitter is None:
            return "built-in rules (no MiniSBD model)"
        where = "in package" if self.path in self.splitter.parents else "installed"
        return f"MiniSBD {self.splitter.name} ({where})"


def find_splitter_model(package_path: Path, lang: str) -> Path | None:
    """The package's own `minisbd/*.onnx`, else `minisbd/<lang>.onnx` in the data dir."""
    bundled = package_path / "minisbd"
    if bundled.is_dir():
        models = sorted(f for f in bundled.iterdir() if f.suffix == SPLITTER_SUFFIX and f.is_file())
        if models:
            return models[0]
    seeded = splitter_dir() / f"{lang}{SPLITTER_SUFFIX}"
    return seeded if seeded.is_file() else None


def _read_metadata(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("from_code") or not data.get("to_code"):
        return None
    if data.get("type", "translate") != "translate":
        return None
    return data


def installed_packages() -> list[InstalledPackage]:
    """Installed translation packages; folders that are not valid packages are ignored."""
    root = packages_dir()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        meta = _read_metadata(folder)
        if meta is None or not (folder / "model").is_dir():
            continue
        from_code, to_code = str(meta["from_code"]), str(meta["to_code"])
        found.append(
            InstalledPackage(
                path=folder,
                code=str(meta.get("code") or f"translate-{from_code}_{to_code}"),
                from_code=from_code,
                to_code=to_code,
                version=str(meta.get("package_version", "0")),
                splitter=find_splitter_model(folder, from_code),
            )
        )
    return found


def newest_packages() -> dict[tuple[str, str], InstalledPackage]:
    """The newest installed package per (from_code, to_code): the one the argos engine loads."""
    chosen: dict[tuple[str, str], InstalledPackage] = {}
    for pkg in installed_packages():
        key = (pkg.from_code, pkg.to_code)
        if key not in chosen or version_key(pkg.version) > version_key(chosen[key].version):
            chosen[key] = pkg
    return chosen


def version_key(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.replace("_", ".").split("."):
        parts.append(int(piece) if piece.isdigit() else 0)
    return tuple(parts)


def check_argosmodel(file: Path) -> str:
    """Validate a .argosmodel zip; return its single top-level folder name."""
    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    if not zipfile.is_zipfile(file):
        raise UsageError(f"{file}: not an Argos model (a .argosmodel is a zip archive)")
    with zipfile.ZipFile(file) as zf:
        names = [n for n in zf.namelist() if n.strip("/")]
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) != 1 or any(n.startswith("/") or ".." in Path(n).parts for n in names):
            raise UsageError(f"{file}: a .argosmodel must hold exactly one top-level folder")
        top = tops.pop()
        if f"{top}/metadata.json" not in names:
            raise UsageError(f"{file}: {top}/metadata.json missing; not an Argos translation package")
        meta = json.loads(zf.read(f"{top}/metadata.json"))
        if not isinstance(meta, dict) or not meta.get("from_code") or not meta.get("to_code"):
            raise UsageError(f"{file}: metadata.json has no from_code/to_code")
        if not any(n.startswith(f"{top}/model/") for n in names):
            raise UsageError(f"{file}: {top}/model/ missing; not an Argos translation package")
    return top


def _check_onnx(file: Path) -> None:
    """Refuse a splitter model onnxruntime cannot load, before it replaces a working one."""
    try:
        import onnxruntime

        onnxruntime.InferenceSession(str(file.resolve()), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for every kind of bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{file}: not a loadable ONNX sentence-splitter model ({first}); nothing was changed") from exc


def install_file(file: Path) -> str:
    """Install one local file: a `.argosmodel` package or a MiniSBD `<lang>.onnx` splitter model.

    Extracts into a temporary folder next to the packages and renames it into place, so a failed
    or interrupted install leaves no half-written package behind. Returns a one-line description.
    """
    file = Path(file)
    if file.suffix == SPLITTER_SUFFIX:
        if not file.is_file():
            raise UsageError(f"{file}: no such file")
        _check_onnx(file)
        splitter_dir().mkdir(parents=True, exist_ok=True)
        target = splitter_dir() / file.name
        tmp = target.with_suffix(".onnx.part")
        shutil.copyfile(file, tmp)
        tmp.replace(target)
        return f"sentence splitter {file.stem} -> {target}"
    top = check_argosmodel(file)
    root = packages_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=root.parent))
    try:
        with zipfile.ZipFile(file) as zf:
            zf.extractall(staging)
        target = root / top
        if target.exists():
            shutil.rmtree(target)
        (staging / top).replace(target)
    except (OSError, zipfile.BadZipFile) as exc:
        raise TranslationError(f"{file}: could not install ({exc}); nothing was changed") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    meta = _read_metadata(target) or {}
    return f"{top} ({meta.get('from_code')}->{meta.get('to_code')} {meta.get('package_version', '?')}) -> {target}"


PAIRS = (("es", "en"), ("en", "es"))  # what the argos engine needs; downloads: monitor.translation.index

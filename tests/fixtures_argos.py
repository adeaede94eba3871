"""Tiny but real Argos packages for tests (and the benchmark's Transformer-base-shaped model).

`build_argos_package()` makes a `.argosmodel` offline: a SentencePiece model trained on a few KB
of built-in es/en news sentences, a random-weight CTranslate2 Transformer built through
ctranslate2's model-spec API and saved by CTranslate2's own converter machinery (validate,
int8 quantisation, save), `metadata.json`, zipped with one top-level folder. Output is
deterministic gibberish: tests assert plumbing, not quality.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

NEWS = [
    "Sheinbaum rechaza cualquier intervención militar de Estados Unidos contra los cárteles.",
    "Expertos advierten que un ataque unilateral violaría el derecho internacional.",
    "Legisladores de Morena proponen reformar la Constitución para prohibir tropas extranjeras.",
    "El embajador aseguró que la cooperación en seguridad con México nunca había sido tan estrecha.",
    "Un dron de vigilancia fue avistado sobre la sierra de Chihuahua, según pobladores.",
    "La Marina detuvo a un operador del Cártel de Sinaloa en Culiacán.",
    "El gobierno anunció aranceles y nuevas medidas contra el tráfico de fentanilo.",
    "The Pentagon has drawn up plans for possible strikes on cartel targets inside Mexico.",
    "Mexico's president warned that any unilateral US military action would violate sovereignty.",
    "The White House threatened new tariffs unless Mexico does more to stop the flow of drugs.",
    "Human rights groups fear that designating cartels as terrorists will expose migrants.",
    "A joint task force dismantled a money laundering network that moved cartel cash.",
    "Officials said the extradition of cartel leaders would continue this year.",
    "Senators debated a resolution on the use of military force against drug cartels.",
]

PRESETS = {
    # layers (enc, dec), d_model, heads, ffn, vocab (None: the SentencePiece vocabulary)
    "tiny": ((2, 2), 64, 4, 128, None),
    "base": ((6, 6), 512, 8, 2048, 50_000),
}


def _sentencepiece(vocab_size: int = 400) -> tuple[bytes, list[str]]:
    import sentencepiece as spm

    buf = io.BytesIO()
    corpus = NEWS * 4 + [s.lower() for s in NEWS] + [s.upper() for s in NEWS]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=buf,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        minloglevel=2,
    )
    model = buf.getvalue()
    proc = spm.SentencePieceProcessor(model_proto=model)
    return model, [proc.id_to_piece(i) for i in range(proc.get_piece_size())]


def _fill(spec: object, rng: np.random.Generator, d: int, ffn: int, vocab: int, eos_bias: float) -> None:
    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)

    def norm(ln: object) -> None:
        ln.gamma = np.ones(d, np.float32)  # type: ignore[attr-defined]
        ln.beta = np.zeros(d, np.float32)  # type: ignore[attr-defined]

    enc, dec = spec.encoder, spec.decoder  # type: ignore[attr-defined]
    embeddings = w(vocab, d)
    enc.embeddings[0].weight = embeddings
    dec.embeddings.weight = embeddings
    for layer in enc.layer:
        norm(layer.self_attention.layer_norm)
        layer.self_attention.linear[0].weight = w(3 * d, d)
        layer.self_attention.linear[1].weight = w(d, d)
        norm(layer.ffn.layer_norm)
        layer.ffn.linear_0.weight = w(ffn, d)
        layer.ffn.linear_1.weight = w(d, ffn)
    for layer in dec.layer:
        norm(layer.self_attention.layer_norm)
        layer.self_attention.linear[0].weight = w(3 * d, d)
        layer.self_attention.linear[1].weight = w(d, d)
        norm(layer.attention.layer_norm)
        layer.attention.linear[0].weight = w(d, d)
        layer.attention.linear[1].weight = w(2 * d, d)
        layer.attention.linear[2].weight = w(d, d)
        norm(layer.ffn.layer_norm)
        layer.ffn.linear_0.weight = w(ffn, d)
        layer.ffn.linear_1.weight = w(d, ffn)
    norm(enc.layer_norm)
    norm(dec.layer_norm)
    dec.projection.weight = embeddings
    bias = np.zeros(vocab, np.float32)
    bias[2] = eos_bias  # </s>: a random model stops after a few tokens (or never, if negative)
    dec.projection.bias = bias


def build_ct2_model(out_dir: Path, vocab: list[str], preset: str = "tiny", eos_bias: float = 3.0, seed: int = 7) -> Path:
    """A random-weight CTranslate2 Transformer saved (int8) into out_dir."""
    from ctranslate2.converters.converter import Converter
    from ctranslate2.specs import TransformerSpec

    layers, d, heads, ffn, size = PRESETS[preset]
    words = list(vocab) + [f"▁w{i}" for i in range(max(0, (size or 0) - len(vocab)))]
    spec = TransformerSpec.from_config(layers, heads, pre_norm=True)
    _fill(spec, np.random.default_rng(seed), d, ffn, len(words), eos_bias)
    spec.register_source_vocabulary(words)
    spec.register_target_vocabulary(words)

    class _SpecConverter(Converter):
        def _load(self) -> TransformerSpec:
            return spec

    _SpecConverter().convert(str(out_dir), quantization="int8", force=True)
    return out_dir


def build_argos_package(
    dest: Path, source: str, target: str, preset: str = "tiny", eos_bias: float = 4.0, version: str = "1.0"
) -> Path:
    """Write `translate-<source>_<target>-<version>.argosmodel` into dest and return its path."""
    name = f"translate-{source}_{target}-{version.replace('.', '_')}"
    work = dest / f"build-{name}"
    sp_model, vocab = _sentencepiece()
    build_ct2_model(work / "model", vocab, preset=preset, eos_bias=eos_bias, seed=zlib.crc32(f'{source}-{target}'.encode()) % 1000)
    metadata = {
        "package_version": version,
        "argos_version": "1.9.0",
        "from_code": source,
        "from_name": {"es": "Spanish", "en": "English"}.get(source, source),
        "to_code": target,
        "to_name": {"es": "Spanish", "en": "English"}.get(target, target),
        "type": "translate",
        "code": f"translate-{source}_{target}",
        "links": [],
    }
    out = dest / f"{name}.argosmodel"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}/metadata.json", json.dumps(metadata))
        zf.writestr(f"{name}/README.md", f"Test package {source}->{target}: random weights, gibberish output.\n")
        zf.writestr(f"{name}/sentencepiece.model", sp_model)
        for f in sorted((work / "model").iterdir()):
            zf.write(f, f"{name}/model/{f.name}")
    return out


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail (and record) any connection or name lookup that is not loopback."""
    import socket

    attempts: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def loopback(host: object) -> bool:
        return str(host) in {"localhost", "127.0.0.1", "::1", "None", ""} or str(host).startswith("127.")

    def guarded_connect(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not loopback(host):
            attempts.append(f"connect {host}")
            raise OSError(f"test guard: network connect to {host} refused")
        return real_connect(self, address)  # type: ignore[arg-type]

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if not loopback(host):
            attempts.append(f"resolve {host}")
            raise OSError(f"test guard: name lookup of {host} refused")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    return attempts


@pytest.fixture
def argos_installed(argos_model_files: dict[str, Path], settings: object) -> object:
    """Both tiny packages installed with `monitor models install --from` into this test's data dir."""
    from click.testing import CliRunner

    from monitor.cli import cli

    result = CliRunner().invoke(
        cli,
        ["models", "install", "--from", str(argos_model_files["es-en"]), "--from", str(argos_model_files["en-es"])],
    )
    assert result.exit_code == 0, result.output
    return settings


@pytest.fixture(scope="session")
def argos_model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny es->en and en->es `.argosmodel` files, built once per session."""
    dest = tmp_path_factory.mktemp("argosmodels")
    return {
        "es-en": build_argos_package(dest, "es", "en"),
        "en-es": build_argos_package(dest, "en", "es"),
    }

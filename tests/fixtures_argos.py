"""Tiny but real Argos packages for tests (and the benchmark's Transformer-base-shaped model).

`build_argos_package()` makes a `.argosmodel` offline: a SentencePiece model trained on a few KB
of built-in es/en news sentences, a random-weight CTranslate2 Transformer built through
ctranslate2's model-spec API and saved by CTranslate2's own converter machinery (validate,
int8 quantisation, save), `metadata.json`, optionally an offline MiniSBD sentence splitter
(`minisbd/<source>.onnx`, see `build_minisbd_model()`), zipped with one top-level folder. Output is
deterministic gibberish: tests assert plumbing, not quality.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.store.db import iso, utcnow

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


# --- a rule-based MiniSBD splitter model, ONNX protobuf written by hand (no `onnx` package) -------
# MiniSBD (argostranslate's sentence splitter) runs a character model through onnxruntime: inputs
# `units` int64 [N, T] (character ids from the model's own vocabulary) and `features` float32
# [N, T, F], output logits [N, T, 5] over the labels 0 inside a token, 1 end of token, 2 end of
# sentence (3/4: multi-word-token variants, never predicted here). The model's `config`, `vocab`,
# `lexicon` and `lang_code` live in the ONNX metadata. This one marks `.`, `!` or `?` followed by a
# space or the end of the paragraph as the end of a sentence and a character before a space as the
# end of a token: "3.30" stays whole, "EE. UU." is cut (a real model would know better), and so is
# "¡Votó en contra! fin", which the built-in rules keep whole (lower-case after the mark).

SBD_UNITS = ["<PAD>", "<UNK>", " ", ".", "!", "?"]  # <PAD> must be id 0; everything else is <UNK>
SBD_END_MARKS = frozenset(".!?")
_FLOAT, _INT64 = 1, 7  # onnx TensorProto.DataType


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _pb_bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _pb_tensor(name: str, array: np.ndarray) -> bytes:  # TensorProto: dims, data_type, name, raw_data
    data = np.ascontiguousarray(array)
    dtype = _FLOAT if data.dtype == np.float32 else _INT64
    return b"".join(_pb_int(1, d) for d in data.shape) + _pb_int(2, dtype) + _pb_bytes(8, name) + _pb_bytes(9, data.tobytes())


def _pb_value_info(name: str, elem_type: int, dims: list[int | str]) -> bytes:  # ValueInfoProto
    shape = b"".join(_pb_bytes(1, _pb_bytes(2, d) if isinstance(d, str) else _pb_int(1, d)) for d in dims)
    return _pb_bytes(1, name) + _pb_bytes(2, _pb_bytes(1, _pb_int(1, elem_type) + _pb_bytes(2, shape)))


def _pb_node(op: str, inputs: list[str], output: str) -> bytes:  # NodeProto: input, output, name, op_type
    return b"".join(_pb_bytes(1, i) for i in inputs) + _pb_bytes(2, output) + _pb_bytes(3, output) + _pb_bytes(4, op)


def build_minisbd_model(lang: str) -> bytes:
    """A MiniSBD-format `<lang>.onnx` (~1.3 KB) that onnxruntime and `minisbd.SBDetect` load offline."""
    punct = np.array([u in SBD_END_MARKS for u in SBD_UNITS], np.float32)
    separator = np.array([u in {" ", "<PAD>"} for u in SBD_UNITS], np.float32)
    initializers = [
        _pb_tensor("punct_table", punct),
        _pb_tensor("separator_table", separator),
        _pb_tensor("starts", np.array([1], np.int64)),
        _pb_tensor("ends", np.array([2**62], np.int64)),
        _pb_tensor("time_axis", np.array([1], np.int64)),
        _pb_tensor("pad_end", np.array([0, 0, 0, 1], np.int64)),  # one step after the last character
        _pb_tensor("one", np.array(1.0, np.float32)),  # ... which counts as a separator (the end)
        _pb_tensor("label_axis", np.array([2], np.int64)),
        _pb_tensor("base", np.array([0.5, 0, 0, -1, -1], np.float32)),  # label 0 unless marked
        _pb_tensor("token_end_weights", np.array([0, 1, 0, 0, 0], np.float32)),
        _pb_tensor("sentence_end_weights", np.array([0, 0, 2, 0, 0], np.float32)),
    ]
    nodes = [
        _pb_node("Gather", ["punct_table", "units"], "is_mark"),
        _pb_node("Gather", ["separator_table", "units"], "is_separator"),
        _pb_node("Slice", ["is_separator", "starts", "ends", "time_axis"], "separator_after"),
        _pb_node("Pad", ["separator_after", "pad_end", "one"], "token_end"),  # the next one is a separator
        _pb_node("Mul", ["is_mark", "token_end"], "sentence_end"),
        _pb_node("Unsqueeze", ["token_end", "label_axis"], "token_end_3d"),
        _pb_node("Unsqueeze", ["sentence_end", "label_axis"], "sentence_end_3d"),
        _pb_node("Mul", ["token_end_3d", "token_end_weights"], "token_logits"),
        _pb_node("Mul", ["sentence_end_3d", "sentence_end_weights"], "sentence_logits"),
        _pb_node("Add", ["token_logits", "sentence_logits"], "marked"),
        _pb_node("Add", ["marked", "base"], "logits"),
    ]
    graph = (
        b"".join(_pb_bytes(1, n) for n in nodes)
        + _pb_bytes(2, f"rule-sbd-{lang}")
        + b"".join(_pb_bytes(5, t) for t in initializers)
        + _pb_bytes(11, _pb_value_info("units", _INT64, ["N", "T"]))
        + _pb_bytes(11, _pb_value_info("features", _FLOAT, ["N", "T", "F"]))  # required by MiniSBD, unused
        + _pb_bytes(12, _pb_value_info("logits", _FLOAT, ["N", "T", 5]))
    )
    config = {"feat_funcs": ["space_before"], "max_seqlen": 1000, "batch_size": 16, "use_dictionary": False,
              "num_dict_feat": 0, "skip_newline": False, "no_ssplit": False}
    vocab = {"lang": lang, "idx": 0, "cutoff": 0, "lower": False,
             "_unit2id": {u: i for i, u in enumerate(SBD_UNITS)}, "_id2unit": SBD_UNITS}
    metadata = {"config": json.dumps(config), "vocab": json.dumps(vocab), "lexicon": "null", "lang_code": lang}
    return (
        _pb_int(1, 7)  # ir_version
        + _pb_bytes(2, "us-mx-monitor tests")  # producer_name
        + _pb_bytes(7, graph)
        + _pb_bytes(8, _pb_bytes(1, "") + _pb_int(2, 13))  # opset_import: default domain, opset 13
        + b"".join(_pb_bytes(14, _pb_bytes(1, k) + _pb_bytes(2, v)) for k, v in metadata.items())
    )


def rule_sentences(paragraph: str) -> list[str]:
    """What the rule model above decides, computed independently in Python (for assertions)."""
    out, start = [], 0
    for i, char in enumerate(paragraph):
        if char in SBD_END_MARKS and (i + 1 == len(paragraph) or paragraph[i + 1] == " "):
            out.append(paragraph[start : i + 1].strip())
            start = i + 1
    tail = paragraph[start:].strip()
    return [s for s in [*out, tail] if s]


def build_argos_package(
    dest: Path,
    source: str,
    target: str,
    preset: str = "tiny",
    eos_bias: float = 4.0,
    version: str = "1.0",
    splitter: bool = False,
) -> Path:
    """Write `translate-<source>_<target>-<version>.argosmodel` into dest and return its path.

    With `splitter`, the package carries `minisbd/<source>.onnx` (see `build_minisbd_model()`).
    """
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
        if splitter:
            zf.writestr(f"{name}/minisbd/{source}.onnx", build_minisbd_model(source))
    return out


# --- articles for translation tests -------------------------------------------------------------

_urls = itertools.count(1)


def add_outlets(db: Any) -> None:
    """A Spanish-language Mexican outlet `milenio` and an English-language US outlet `nyt`."""
    db.conn.execute("INSERT OR IGNORE INTO outlets (id, name, country, language) VALUES ('milenio', 'Milenio', 'MX', 'es')")
    db.conn.execute("INSERT OR IGNORE INTO outlets (id, name, country, language) VALUES ('nyt', 'NYT', 'US', 'en')")
    db.conn.commit()


def add_article(db: Any, outlet: str, title: str, summary: str, content: str | None = None) -> int:
    """One article of `milenio` (es) or `nyt` (en) with a unique URL; returns its id."""
    add_outlets(db)
    lang, country = ("es", "MX") if outlet == "milenio" else ("en", "US")
    now = iso(utcnow())
    cur = db.conn.execute(
        "INSERT INTO articles (outlet, country, language, outlet_language, url, title, summary, content_text, "
        "published, date_source, first_seen, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'feed', ?, ?)",
        [outlet, country, lang, lang, f"https://example.org/{outlet}/{next(_urls)}", title, summary, content, now, now,
         hashlib.sha256(f"{title}{summary}{content}".encode()).hexdigest()],
    )
    db.conn.commit()
    return int(cur.lastrowid)


def add_articles(db: Any, spanish: list[tuple[str, str]], english: list[tuple[str, str]]) -> list[int]:
    """(title, summary) pairs as `milenio` then `nyt` articles; their ids in that order."""
    return [add_article(db, "milenio", t, s) for t, s in spanish] + [add_article(db, "nyt", t, s) for t, s in english]


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

    from monitor.cli.main import cli

    result = CliRunner().invoke(
        cli,
        ["models", "install", "--from", str(argos_model_files["es-en"]), "--from", str(argos_model_files["en-es"])],
    )
    assert result.exit_code == 0, result.output
    return settings


@pytest.fixture(scope="session")
def argos_splitter_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Built once per session: tiny es->en and en->es packages that carry their MiniSBD splitter
    (`minisbd/<source>.onnx`), and the splitter models alone ("es.onnx", "en.onnx") as a user
    would copy them for `monitor models install --from es.onnx`."""
    dest = tmp_path_factory.mktemp("argosmodels-sbd")
    files = {
        "es-en": build_argos_package(dest, "es", "en", splitter=True),
        "en-es": build_argos_package(dest, "en", "es", splitter=True),
    }
    for lang in ("es", "en"):
        files[f"{lang}.onnx"] = dest / f"{lang}.onnx"
        files[f"{lang}.onnx"].write_bytes(build_minisbd_model(lang))
    return files


@pytest.fixture(scope="session")
def argos_model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny es->en and en->es `.argosmodel` files without a sentence splitter, built once per session."""
    dest = tmp_path_factory.mktemp("argosmodels")
    return {
        "es-en": build_argos_package(dest, "es", "en"),
        "en-es": build_argos_package(dest, "en", "es"),
    }

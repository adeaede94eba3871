"""Translation throughput: the pipeline against raw CTranslate2 on the same model, and apertium.

Builds a random-weight Transformer-base-shaped model (6+6 layers, d_model 512, 8 heads, FFN 2048,
50,000 vocabulary, int8: the shape of the real Argos es<->en packages) as an Argos package,
installs it into a temporary data dir and measures:

1. raw `translate_batch`: the same tokenised sentences, batches of translation.batch_size sorted by
   length, inter_threads=2 x intra_threads=1, the same max_decoding_length per batch;
2. the pipeline: `monitor.translation.translate.run` over a fresh database holding one article per sentence
   (language detection excluded), including SQLite, the cache, splitting and tokenisation;
3. apertium: one batch of Spanish headlines through the apertium engine;
4. a re-run of the stage on unchanged data: it must make no engine call.

Random weights never emit </s> (output bias -20), so every batch decodes to its cap
(max_decoding_ratio * longest input + 10 tokens): the absolute numbers are an upper bound on decoding
work; the ratio pipeline / raw is what matters (target >= 0.85).

Run: .venv/bin/python benchmarks/translate.py   (about 2 minutes on 2 shared cores)
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORK = Path(tempfile.mkdtemp(prefix="bench-translate-"))
os.environ["MONITOR_DATA_DIR"] = str(WORK / "data")

from monitor.config.settings import Settings  # noqa: E402
from monitor.store.db import iso, open_db, utcnow  # noqa: E402
from monitor.translation import get_translator, packages  # noqa: E402
from monitor.translation import translate as stage  # noqa: E402
from monitor.translation.apertium import ApertiumTranslator, is_installed  # noqa: E402
from monitor.translation.argos import ArgosTranslator  # noqa: E402
from tests.fixtures_argos import NEWS, build_argos_package  # noqa: E402

PASSES = 2
SPANISH = [s for s in NEWS if not s.startswith(("The", "Mexico", "A ", "Human", "Officials", "Senators"))]
SENTENCES = [f"{SPANISH[i % len(SPANISH)][:-1]} ({i})." for i in range(64)]


def fresh_db(n: int) -> tuple[object, Settings]:
    path = WORK / f"bench-{n}.db"
    db = open_db(path)
    db.conn.execute("INSERT INTO outlets (id, name, country, language) VALUES ('mx', 'MX', 'MX', 'es')")
    now = iso(utcnow())
    for i, s in enumerate(SENTENCES):
        db.conn.execute(
            "INSERT INTO articles (outlet, country, language, outlet_language, url, title, summary, published, "
            "date_source, first_seen, content_hash) VALUES ('mx', 'MX', 'es', 'es', ?, ?, '', ?, 'feed', ?, ?)",
            [f"https://example.org/{i}", s, now, now, hashlib.sha256(s.encode()).hexdigest()],
        )
    db.conn.commit()
    return db, Settings(db=str(path))


def raw_pass(translator: ArgosTranslator) -> float:
    pair = translator._load(translator._pairs[("es", "en")])
    tokens = [pair.tokenizer.encode(s) for s in SENTENCES]
    order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
    size = translator.options.batch_size
    started = time.perf_counter()
    pending = []
    for i in range(0, len(order), size):
        batch = [tokens[j] for j in order[i : i + size]]
        pending.append(
            pair.ct2.translate_batch(
                batch,
                beam_size=translator.options.beam_size,
                max_decoding_length=translator.decoding_limit(max(len(t) for t in batch)),
                min_decoding_length=1,
                replace_unknowns=True,
                asynchronous=True,
            )
        )
    for results in pending:
        for r in results:
            r.result()
    return len(SENTENCES) / (time.perf_counter() - started)


def main() -> None:
    t0 = time.perf_counter()
    for source, target in (("es", "en"), ("en", "es")):
        packages.install_file(build_argos_package(WORK, source, target, preset="base", eos_bias=-20.0))
    print(f"built and installed two base-shaped packages in {time.perf_counter() - t0:.1f}s")
    # cap = longest input + 10 tokens (ratio 1.0, not the default 3.0): random weights always decode
    # to the cap, and a real model's outputs are about as long as its inputs
    settings = Settings().replace(translation__max_decoding_ratio=1.0)
    translator = ArgosTranslator(settings.translation)
    print(
        f"settings: batch_size={settings.translation.batch_size} workers(inter_threads)={settings.translation.workers} "
        f"intra_threads=1 beam={settings.translation.beam_size} compute_type=default (int8 weights); "
        "decoding length capped (random weights never stop)"
    )
    raw_pass(translator)  # warm-up
    raw = [raw_pass(translator) for _ in range(PASSES)]
    pipeline = []
    for n in range(PASSES):
        db, s = fresh_db(n)
        s = s.replace(translation__max_decoding_ratio=1.0)
        started = time.perf_counter()
        report = stage.run(db, s, now=utcnow(), translator=translator)  # type: ignore[arg-type]
        pipeline.append(report.sentences / (time.perf_counter() - started))
        if n == PASSES - 1:
            calls_before = translator.stats.calls
            again = stage.run(db, s, now=utcnow(), translator=translator)  # type: ignore[arg-type]
            rerun_calls = translator.stats.calls - calls_before
            print(f"re-run on unchanged data: {again.translated} rows, {rerun_calls} engine calls")
        db.close()  # type: ignore[attr-defined]
    raw_m, pipe_m = statistics.median(raw), statistics.median(pipeline)
    print(f"raw translate_batch: {raw_m:.1f} sentences/s (median of {PASSES}: {', '.join(f'{x:.1f}' for x in raw)})")
    print(f"pipeline (stage.run): {pipe_m:.1f} sentences/s (median of {PASSES}: {', '.join(f'{x:.1f}' for x in pipeline)})")
    print(f"pipeline / raw = {pipe_m / raw_m:.2f} (target >= 0.85)")

    if is_installed():
        ap = get_translator(settings, "apertium")
        assert isinstance(ap, ApertiumTranslator)
        ap.translate(["calentamiento"], "es", "en")  # name-protection probe, once per direction
        items = [f"{SPANISH[i % len(SPANISH)]}" for i in range(400)]
        started = time.perf_counter()
        ap.translate(items, "es", "en")
        elapsed = time.perf_counter() - started
        print(f"apertium spa-eng: {len(items)} headlines in {elapsed:.2f}s = {len(items) / elapsed:.0f}/s (2 processes of 200)")
    else:
        print("apertium: not installed, skipped")
    print(f"total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()

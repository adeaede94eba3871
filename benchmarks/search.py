"""Search latency on a generated bilingual database against raw FTS5 MATCH for the same terms.

    .venv/bin/python benchmarks/search.py                 # 1,000,000 articles (a few minutes to build)
    .venv/bin/python benchmarks/search.py --articles 200000 --repeat 9

Builds (in a temp dir) N synthetic articles, half Spanish and half English originals, each with a
word-for-word translation into the other language, through the project's own migrations and FTS
triggers. Then, for a set of queries of different selectivity, it times:

  raw-orig   SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rank LIMIT 20
  raw-both   the same on articles_fts and on article_translations_fts (the minimum work a
             cross-language search needs: both indexes)
  search     monitor.search.search(..., translate=False, forms=False): the same terms, merged,
             ranked with recency, each article once, with details and highlighted snippets
  search+forms  the default: plain words also match their plural/singular forms (more terms)

and prints the median and p95 in ms and the ratios search / raw-both (target <= 1.3x) and
search / raw-orig. Query translation (apertium, one subprocess per new query, then cached) is
timed separately, since raw MATCH has no equivalent.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.query import fts_quote, parse_query
from monitor.search import search
from monitor.settings import Settings
from monitor.store import open_db, write_transaction

# (es, en) pairs, most frequent first: word-for-word "translations" for the synthetic corpus
PAIRS = [
    ("gobierno", "government"), ("méxico", "mexico"), ("estados", "states"), ("unidos", "united"),
    ("seguridad", "security"), ("cártel", "cartel"), ("cárteles", "cartels"), ("presidenta", "president"),
    ("frontera", "border"), ("ataque", "attack"), ("ataques", "strikes"), ("militar", "military"),
    ("drones", "drones"), ("fentanilo", "fentanyl"), ("aranceles", "tariffs"), ("soberanía", "sovereignty"),
    ("sinaloa", "sinaloa"), ("sheinbaum", "sheinbaum"), ("trump", "trump"), ("washington", "washington"),
    ("congreso", "congress"), ("acuerdo", "agreement"), ("migración", "migration"), ("armas", "weapons"),
    ("extradición", "extradition"), ("terrorismo", "terrorism"), ("narcotráfico", "trafficking"),
    ("violencia", "violence"), ("economía", "economy"), ("comercio", "trade"), ("reunión", "meeting"),
    ("secretario", "secretary"), ("defensa", "defense"), ("guardia", "guard"), ("nacional", "national"),
    ("policía", "police"), ("detenidos", "arrested"), ("operativo", "operation"), ("jalisco", "jalisco"),
    ("chihuahua", "chihuahua"), ("tijuana", "tijuana"), ("embajada", "embassy"), ("cooperación", "cooperation"),
    ("sanciones", "sanctions"), ("tesoro", "treasury"), ("laboratorio", "laboratory"), ("precursores", "precursors"),
    ("china", "china"), ("elecciones", "elections"), ("reforma", "reform"), ("judicial", "judicial"),
    ("senado", "senate"), ("votación", "vote"), ("empresas", "companies"), ("inversión", "investment"),
    ("muertes", "deaths"), ("sobredosis", "overdose"), ("salud", "health"), ("crisis", "crisis"),
    ("fuerzas", "forces"), ("especiales", "special"), ("pentágono", "pentagon"), ("designación", "designation"),
    ("organizaciones", "organizations"), ("terroristas", "terrorist"), ("tráfico", "smuggling"),
]
FUNCTION = {"es": ["de", "la", "el", "en", "y", "contra", "por", "con"], "en": ["of", "the", "in", "and", "against", "by", "with", "on"]}


def _names(n: int, rng: random.Random) -> list[str]:
    syll = ["ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ra", "se", "ti", "vo", "za", "qui", "rro", "lle", "ña"]
    return list(dict.fromkeys("".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(n)))


def build(path: Path, n: int, seed: int = 7) -> float:
    """Create the database with n articles (and n translations); returns seconds taken."""
    rng = random.Random(seed)
    started = time.perf_counter()
    names = _names(6000, rng)
    vocab = [*PAIRS, *((nm, nm) for nm in names)]
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(vocab))]  # Zipf-like: a few very common words
    cum = list(__import__("itertools").accumulate(weights))
    db = open_db(path)
    db.execute("PRAGMA synchronous=OFF")
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO outlets (id, name, country, language) VALUES (?, ?, ?, ?)",
            [("la-jornada", "La Jornada", "MX", "es"), ("el-universal", "El Universal", "MX", "es"),
             ("nyt", "The New York Times", "US", "en"), ("wapo", "The Washington Post", "US", "en")],
        )
    # bulk load: no per-row FTS triggers, one FTS 'rebuild' per index at the end (same index as the triggers give)
    db.execute("DROP TRIGGER articles_fts_ai")
    db.execute("DROP TRIGGER article_translations_fts_ai")
    batch = 50_000
    base = 1_700_000_000
    for start in range(0, n, batch):
        arts, trs = [], []
        for i in range(start, min(n, start + batch)):
            lang = "es" if i % 2 else "en"
            other = "en" if lang == "es" else "es"
            idx = 0 if lang == "es" else 1
            title_w = rng.choices(vocab, cum_weights=cum, k=rng.randint(6, 10))
            summ_w = rng.choices(vocab, cum_weights=cum, k=rng.randint(10, 16))
            fn = FUNCTION[lang][i % 8]
            fo = FUNCTION[other][i % 8]
            title = " ".join(w[idx] for w in title_w[:3]) + f" {fn} " + " ".join(w[idx] for w in title_w[3:])
            summary = " ".join(w[idx] for w in summ_w)
            t_title = " ".join(w[1 - idx] for w in title_w[:3]) + f" {fo} " + " ".join(w[1 - idx] for w in title_w[3:])
            t_summary = " ".join(w[1 - idx] for w in summ_w)
            outlet = ("la-jornada", "el-universal")[i % 4 // 2] if lang == "es" else ("nyt", "wapo")[i % 4 // 2]
            country = "MX" if lang == "es" else "US"
            ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + i * 31))
            arts.append((i + 1, outlet, country, lang, lang, title.capitalize(), summary, ts, ts, str(i)))
            trs.append((i + 1, other, t_title.capitalize(), t_summary, ts))
        with write_transaction(db):
            db.conn.executemany(
                """INSERT INTO articles (id, outlet, country, language, outlet_language, title, summary, published,
                   date_source, first_seen, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'feed', ?, ?)""",
                arts,
            )
            db.conn.executemany(
                """INSERT INTO article_translations (article, language, title, summary, engine, model, rough, source_hash,
                   translated_at) VALUES (?, ?, ?, ?, 'apertium', 'bench', 1, 'x', ?)""",
                trs,
            )
        print(f"  built {min(n, start + batch):,}/{n:,} articles ({time.perf_counter() - started:.0f}s)", flush=True)
    t = time.perf_counter()
    with write_transaction(db):
        db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
        db.execute("INSERT INTO article_translations_fts(article_translations_fts) VALUES ('rebuild')")
    print(f"  FTS indexes built ({time.perf_counter() - t:.0f}s)", flush=True)
    db.execute("PRAGMA optimize")
    db.close()
    return time.perf_counter() - started


def _article_count(path: Path) -> int:
    db = open_db(path, readonly=True)
    try:
        return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])
    finally:
        db.close()


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm-up (page cache, statement cache)
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


QUERIES = [
    "sovereignty",  # common-ish, one word
    "fentanilo aranceles",  # two words
    "cártel sinaloa drones",  # three words, accents
    '"fuerzas especiales"',  # phrase
    "extradición",  # mid-frequency
    "bavoza",  # a rare name (may be absent: then ~0 work)
    "sheinbaum trump",
    "terrorismo OR terrorism",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=11)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument(
        "--db",
        type=Path,
        help="keep the generated database at this path and reuse it on later runs (built if missing; "
        "a file built with another --articles is refused)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        if args.db and path.exists():
            have = _article_count(path)
            if have != args.articles:
                sys.exit(f"{path} holds {have:,} articles, not {args.articles:,}: pass --articles {have} or another --db")
            print(f"reusing {path} ({have:,} articles + translations)", flush=True)
        else:
            print(f"building {args.articles:,} articles + {args.articles:,} translations in {path} ...", flush=True)
            partial = path.with_name(path.name + ".building")  # an interrupted build never looks reusable
            partial.unlink(missing_ok=True)
            secs = build(partial, args.articles)
            partial.replace(path)
            print(f"built in {secs:.0f}s ({path.stat().st_size / 1e6:.0f} MB)")
        db = open_db(path, readonly=True)
        settings = Settings(db=str(path)).replace(translation__engine="none")
        rows: list[tuple[str, float, float, float, float, float, float, float, float, int]] = []
        all_ratio_both, all_ratio_orig, all_ratio_forms = [], [], []
        for text in QUERIES:
            q = parse_query(text)
            # raw FTS5 over the same terms, quoted the same way, without plural/singular forms
            terms = " OR ".join(fts_quote(t.text) for t in q.clauses[0]) if len(q.clauses) == 1 else " ".join(
                fts_quote(c[0].text) for c in q.clauses
            )

            def raw_orig(terms: str = terms) -> list:
                return db.execute(
                    "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rank LIMIT ?", [terms, args.limit]
                ).fetchall()

            def raw_both(terms: str = terms) -> list:
                a = db.execute(
                    "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rank LIMIT ?", [terms, args.limit]
                ).fetchall()
                b = db.execute(
                    "SELECT rowid FROM article_translations_fts WHERE article_translations_fts MATCH ? ORDER BY rank LIMIT ?",
                    [terms, args.limit],
                ).fetchall()
                return a + b

            def ours(q=q) -> object:
                return search(db, settings, q, limit=args.limit, translate=False, forms=False, time_limit_ms=0)

            def ours_forms(q=q) -> object:
                return search(db, settings, q, limit=args.limit, translate=False, forms=True, time_limit_ms=0)

            t_orig = timed(raw_orig, args.repeat)
            t_both = timed(raw_both, args.repeat)
            t_ours = timed(ours, args.repeat)
            t_forms = timed(ours_forms, args.repeat)
            hits = len(ours().hits)  # type: ignore[attr-defined]
            m_orig, m_both, m_ours, m_forms = (statistics.median(t) for t in (t_orig, t_both, t_ours, t_forms))
            all_ratio_both.append(m_ours / m_both)
            all_ratio_orig.append(m_ours / m_orig)
            all_ratio_forms.append(m_forms / m_both)
            rows.append((text, m_orig, p95(t_orig), m_both, p95(t_both), m_ours, p95(t_ours), m_forms, p95(t_forms), hits))
        print()
        print(f"{'query':28} {'raw-orig med/p95':>18} {'raw-both med/p95':>18} {'search med/p95':>18} {'+forms med/p95':>18}  ratio  hits")
        for text, mo, po, mb, pb, ms, ps, mf, pf, hits in rows:
            print(f"{text[:28]:28} {mo:8.1f}/{po:8.1f} {mb:8.1f}/{pb:8.1f} {ms:8.1f}/{ps:8.1f} {mf:8.1f}/{pf:8.1f}  {ms / mb:4.2f}x {hits:5d}")
        print()
        print(f"articles: {args.articles:,} (+ {args.articles:,} translations); limit {args.limit}; {args.repeat} runs per query")
        print(f"search / raw-both (same terms, both indexes): median ratio {statistics.median(all_ratio_both):.2f}x "
              f"(worst {max(all_ratio_both):.2f}x) — target <= 1.3x")
        print(f"search / raw-orig (originals only):           median ratio {statistics.median(all_ratio_orig):.2f}x")
        print(f"search+forms / raw-both:                      median ratio {statistics.median(all_ratio_forms):.2f}x")
        try:
            ap_settings = settings.replace(translation__engine="apertium")
            q = parse_query("soberanía fronteriza")
            t = time.perf_counter()
            search(db, ap_settings, q, limit=args.limit, forms=False, time_limit_ms=0)
            cold = (time.perf_counter() - t) * 1000.0
            t = time.perf_counter()
            search(db, ap_settings, q, limit=args.limit, forms=False, time_limit_ms=0)
            warm = (time.perf_counter() - t) * 1000.0
            print(f"with query translation (apertium): first query {cold:.0f} ms, same query again (cached) {warm:.0f} ms")
        except Exception as exc:  # the benchmark still reports the rest
            print(f"query translation not measured: {exc}")
        db.close()


if __name__ == "__main__":
    main()

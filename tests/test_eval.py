"""`monitor eval`: the scoring (monitor/analysis/evaluate.py) on hand-built label/prediction sets whose
answers are worked out here by hand, and the command end to end on a slice of the real corpus."""

from __future__ import annotations

import json
import shutil
from itertools import combinations
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.analysis.eval_run import item_dates, load_labels
from monitor.analysis.evaluate import NO_FRAME, NOT_RELEVANT, Label, Prediction, score, split_of
from monitor.analysis.frame_mix import MIX_MIN_STORIES, MIXES, TOPS
from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.errors import UsageError
from monitor.store.db import open_db

CORPUS = Path(__file__).resolve().parent / "fixtures" / "eval" / "real-events.jsonl"


def lab(id: str, relevant: bool = True, event: str | None = None, country: str = "US", frame: str | None = None,
        secondary: tuple[str, ...] = ()) -> Label:
    return Label(id, country, "en" if country == "US" else "es", relevant, frame if relevant else None, secondary, event)


def pred(id: str, relevant: bool = True, top: str | None = None, story: int | None = None) -> Prediction:
    return Prediction(id, relevant, top_frame=top, frames=(top,) if top else (), story=story)


# --- relevance and frames -----------------------------------------------------------------------


def test_relevance_counts_precision_recall_f1() -> None:
    labels = [lab("a"), lab("b"), lab("c"), lab("d", False), lab("e", False)]
    preds = {p.id: p for p in [pred("a"), pred("b"), pred("c", False), pred("d"), pred("e", False)]}
    r = score(labels, preds, bootstrap=0).relevance
    assert (r.tp, r.fp, r.fn, r.tn) == (2, 1, 1, 1)
    assert r.precision == pytest.approx(2 / 3) and r.recall == pytest.approx(2 / 3) and r.f1 == pytest.approx(2 / 3)


def test_frames_are_scored_on_items_labelled_and_found_relevant() -> None:
    labels = [
        lab("a", frame="sovereignty", secondary=("cooperation",)),  # got cooperation: only "any" agrees
        lab("b", frame="military_operations"),  # agrees
        lab("c", frame="sovereignty"),  # found relevant, no frame
        lab("d", frame="cooperation"),  # missed: not in the frame figures, in the table as not relevant
        lab("e", False),  # a false positive with a frame: not in the agreement figures
    ]
    preds = {p.id: p for p in [
        pred("a", top="cooperation"), pred("b", top="military_operations"), pred("c"), pred("d", False),
        pred("e", top="sovereignty"),
    ]}
    s = score(labels, preds, bootstrap=0)
    f = s.frames
    assert (f.items, f.top_agree, f.any_agree, f.unframed) == (3, 1, 2, 1)
    assert f.top_agreement == pytest.approx(1 / 3) and f.any_agreement == pytest.approx(2 / 3)
    assert (f.predicted_relevant, f.predicted_unframed) == (4, 1)
    assert s.confusion == {
        "cooperation": {NOT_RELEVANT: 1},
        "military_operations": {"military_operations": 1},
        "sovereignty": {"cooperation": 1, NO_FRAME: 1},
    }


def test_frame_shares_are_what_the_comparison_draws_from_labels_and_from_what_was_found() -> None:
    labels = [
        lab("a", frame="sovereignty"), lab("b", frame="sovereignty"), lab("c", frame="military_operations"),
        lab("d", frame="cooperation"),  # missed: in the labelled bars, not in the found ones
        lab("e", False),  # a false positive: in the found bars, as the digest would count it
    ]
    preds = {p.id: p for p in [
        pred("a", top="sovereignty"), pred("b", top="military_operations"), pred("c", top="military_operations"),
        pred("d", False), pred("e", top="sovereignty"),
    ]}
    sh = score(labels, preds, bootstrap=0).shares
    assert sh.labelled == pytest.approx({"sovereignty": 0.5, "military_operations": 0.25, "cooperation": 0.25})
    assert sh.found == pytest.approx({"sovereignty": 0.5, "military_operations": 0.5})
    assert sh.distance == pytest.approx(0.25)  # a quarter of the bars would have to move
    same = {p.id: p for p in [pred(x.id, top=x.primary_frame) for x in labels[:4]] + [pred("e", False)]}
    assert score(labels, same, bootstrap=0).shares.distance == 0.0


def test_every_label_needs_a_prediction() -> None:
    with pytest.raises(ValueError, match="no prediction"):
        score([lab("a")], {}, bootstrap=0)


# --- same-story pairs ---------------------------------------------------------------------------


def _pair_case() -> tuple[list[Label], dict[str, Prediction]]:
    """Event e1: u1 (US), m1, m2 (MX); event e2: u2 (US), m3 (MX); x relevant without an event (US);
    n labelled irrelevant (MX). Stories: {u1, m1, u2}, {m2, x}, {m3, n}."""
    labels = [
        lab("u1", event="e1"), lab("m1", event="e1", country="MX"), lab("m2", event="e1", country="MX"),
        lab("u2", event="e2"), lab("m3", event="e2", country="MX"), lab("x"), lab("n", False, country="MX"),
    ]
    stories = {"u1": 1, "m1": 1, "u2": 1, "m2": 2, "x": 2, "m3": 3, "n": 3}
    return labels, {k: pred(k, story=v) for k, v in stories.items()}


def test_pair_recall_precision_and_exclusions_by_hand() -> None:
    labels, preds = _pair_case()
    s = score(labels, preds, bootstrap=0)
    # labelled pairs: u1-m1, u1-m2, m1-m2 (e1), u2-m3 (e2); placed together: u1-m1 only
    # placed pairs: u1-m1 right, u1-u2 and m1-u2 wrong (two events), m3-n wrong (n irrelevant),
    # m2-x not judged (x has no event id)
    everything = s.pairs["all"]
    assert (everything.labelled, everything.found, everything.placed, everything.right, everything.excluded) == (4, 1, 4, 1, 1)
    assert everything.recall == pytest.approx(1 / 4) and everything.precision == pytest.approx(1 / 4)
    # cross-country: labelled u1-m1, u1-m2, u2-m3; placed u1-m1 (right), m1-u2 (wrong), m2-x (not judged)
    cross = s.pairs["cross"]
    assert (cross.labelled, cross.found, cross.placed, cross.right, cross.excluded) == (3, 1, 2, 1, 1)
    assert cross.recall == pytest.approx(1 / 3) and cross.precision == pytest.approx(1 / 2)


def test_no_story_at_all_is_zero_recall_and_no_precision() -> None:
    labels, preds = _pair_case()
    s = score(labels, {k: pred(k) for k in preds}, bootstrap=0)
    assert s.pairs["all"].recall == 0 and s.pairs["all"].placed == 0


# --- the bootstrap ------------------------------------------------------------------------------


def _synthetic(n_events: int) -> tuple[list[Label], dict[str, Prediction]]:
    """n_events events of three items (two MX, one US) plus one negative each; the monitor misses every
    fifth item, frames two of three right, and puts the first two items of an event in one story."""
    labels, preds = [], {}
    for e in range(n_events):
        for k, country in enumerate(("US", "MX", "MX")):
            i = f"e{e}-{k}"
            labels.append(lab(i, event=f"ev{e}", country=country, frame="sovereignty"))
            found = (3 * e + k) % 5 != 0
            preds[i] = pred(i, found, top=("sovereignty" if (e + k) % 3 else "cooperation") if found else None,
                            story=e if found and k < 2 else None)
        labels.append(lab(f"n{e}", False))
        preds[f"n{e}"] = pred(f"n{e}", e % 7 == 0)
    return labels, preds


def test_bootstrap_is_deterministic_and_brackets_the_point_value() -> None:
    labels, preds = _synthetic(30)
    first, again = score(labels, preds, bootstrap=300, seed=7), score(labels, preds, bootstrap=300, seed=7)
    assert first.intervals == again.intervals
    figures = first.figures()
    assert set(first.intervals) == {k for k, v in figures.items() if v == v}  # every figure that exists (not NaN)
    for name, iv in first.intervals.items():
        assert iv.low <= figures[name] <= iv.high, name
    assert first.intervals["relevance_recall"].low < first.intervals["relevance_recall"].high  # not degenerate
    other = score(labels, preds, bootstrap=300, seed=8)
    assert other.intervals != first.intervals


def test_bootstrap_resamples_events_not_items() -> None:
    # one event: every resample draws it whole, so its pair recall (1 of 3 pairs) cannot vary;
    # resampling single items would have drawn pairs in and out
    labels = [lab("a", event="e"), lab("b", event="e", country="MX"), lab("c", event="e", country="MX")]
    preds = {"a": pred("a", story=1), "b": pred("b", story=1), "c": pred("c")}
    iv = score(labels, preds, bootstrap=200).intervals["pairs_all_recall"]
    assert iv.low == iv.high == pytest.approx(1 / 3)


def test_split_keeps_an_event_on_one_side_and_is_the_corpus_split() -> None:
    import benchmarks.corpus_stats as corpus_stats

    assert corpus_stats.split_of is split_of
    items = load_labels([CORPUS])
    by_event: dict[str, set[str]] = {}
    for it in items:
        if it.event_id:
            by_event.setdefault(it.event_id, set()).add(split_of(it))
    assert all(len(sides) == 1 for sides in by_event.values())
    raw = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [split_of(r) for r in raw] == [split_of(it) for it in items]  # dicts and Labels agree
    assert {"dev", "test"} == {split_of(it) for it in items}


def test_the_ceiling_compares_the_two_passes_frame_bars_per_country() -> None:
    from benchmarks.corpus_stats import agreement

    first = [
        {"id": "a", "country": "US", "relevant": True, "primary_frame": "sovereignty"},
        {"id": "b", "country": "US", "relevant": True, "primary_frame": "cooperation"},
        {"id": "c", "country": "MX", "relevant": True, "primary_frame": "sovereignty"},
        {"id": "d", "country": "MX", "relevant": False, "primary_frame": None},
    ]
    second = [dict(r) for r in first]
    assert agreement(first, second)["frame_share_distance"] == {"MX": 0.0, "US": 0.0}
    second[1] = {**second[1], "primary_frame": "sovereignty"}  # the US bars: half and half, then all one frame
    second[3] = {**second[3], "relevant": True, "primary_frame": "legality"}
    assert agreement(first, second)["frame_share_distance"] == {"MX": 0.5, "US": 0.5}


def test_undated_items_are_undated_unless_asked_to_borrow_their_events_date(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    rows = [
        {"id": "a", "country": "US", "language": "en", "relevant": True, "lede": "x", "event_id": "e", "published": "2025-03-04"},
        {"id": "b", "country": "MX", "language": "es", "relevant": True, "lede": "y", "event_id": "e", "published": None},
        {"id": "c", "country": "MX", "language": "es", "relevant": True, "lede": "y", "event_id": "2025-01-02-raid"},
        {"id": "d", "country": "MX", "language": "es", "relevant": False, "lede": "z"},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    labels = load_labels([f])
    borrowed = {k: v.date().isoformat() for k, v in item_dates(labels, "event").items() if v}
    assert borrowed == {"a": "2025-03-04", "b": "2025-03-04", "c": "2025-01-02", "d": "2025-03-04"}
    # by default nothing is borrowed from the labels: an undated item is stored as first seen at the run's now
    assert {k: v and v.date().isoformat() for k, v in item_dates(labels).items()} == {
        "a": "2025-03-04", "b": None, "c": None, "d": None,
    }


# --- the command --------------------------------------------------------------------------------


@pytest.fixture
def slice_file(tmp_path: Path) -> Path:
    """The first 30 items of the real corpus (several US and MX items of shared events)."""
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()][:30]
    path = tmp_path / "slice.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _invoke(*args: str):
    # embeddings off: the analysis and the clusterer read the text, and the test stays fast
    return CliRunner().invoke(cli, ["eval", *args], env={"MONITOR_EMBEDDING_ENGINE": "none"})


def test_eval_end_to_end_on_a_real_slice(slice_file: Path, tmp_path: Path) -> None:
    keep = tmp_path / "kept"
    result = _invoke(str(slice_file), "--engine", "none", "--keep", str(keep), "--json", "--items", "--bootstrap", "100")
    assert result.exit_code == 0, result.output
    assert "NaN" not in result.stdout  # strict JSON: a figure with nothing to measure is null
    data = json.loads(result.stdout)
    raw = [json.loads(line) for line in slice_file.read_text(encoding="utf-8").splitlines()]
    overall = data["overall"]
    assert data["translation_engine"] == "none" and overall["items"] == len(raw) == 30
    rel = overall["relevance"]
    assert rel["tp"] + rel["fn"] == sum(r["relevant"] for r in raw)
    assert rel["fp"] + rel["tn"] == sum(not r["relevant"] for r in raw)
    # the labelled pairs are the file's same-event pairs of relevant items
    evented = [r for r in raw if r["relevant"] and r["event_id"]]
    same = [(a, b) for a, b in combinations(evented, 2) if a["event_id"] == b["event_id"]]
    assert overall["pairs"]["all"]["labelled"] == len(same)
    assert overall["pairs"]["cross"]["labelled"] == sum(a["country"] != b["country"] for a, b in same)
    # the figures agree with the per-item predictions
    items = {it["label"]["id"]: it for it in data["items"]}
    assert set(items) == {r["id"] for r in raw}
    found = [it for it in items.values() if it["prediction"]["relevant"]]
    assert len(found) == rel["tp"] + rel["fp"] > 0
    assert all(it["prediction"]["story"] is None for it in items.values() if not it["prediction"]["relevant"])
    assert all(it["prediction"]["evidence"] for it in found if it["prediction"]["top_frame"])
    assert set(data["by_country"]) == {r["country"] for r in raw}
    for country, scores in data["by_country"].items():  # each country's frame bars, from the items found relevant
        mine = [it["prediction"] for it in found if it["label"]["country"] == country and it["prediction"]["top_frame"]]
        stories = len({p["story"] for p in mine if p["story"] is not None})
        summed = stories >= MIX_MIN_STORIES  # over many stories their frame mixes are summed, else top frames counted
        assert scores["frame_shares"]["found_by"] == (MIXES if summed else TOPS)
        assert mine and all(len(p["frame_mix"]) > 1 and sum(p["frame_mix"].values()) == pytest.approx(1.0, abs=1e-3) for p in mine)
        mixes = [p["frame_mix"] if summed else {p["top_frame"]: 1.0} for p in mine]
        totals = {f: sum(m.get(f, 0.0) for m in mixes) for f in {f for m in mixes for f in m}}
        assert scores["frame_shares"]["found"] == pytest.approx({f: t / sum(totals.values()) for f, t in totals.items()})
    assert (keep / "eval-none-fetched-all.db").is_file()

    # a re-run on the kept database redoes analysis and clustering and gives the same figures
    again = _invoke(str(slice_file), "--engine", "none", "--keep", str(keep), "--json", "--bootstrap", "100")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["overall"] == overall

    # the text report, on the test split of the same file (its own database beside the first)
    text = _invoke(str(slice_file), "--engine", "none", "--keep", str(keep), "--split", "test", "--bootstrap", "0", "--verbose")
    assert text.exit_code == 0, text.output
    n_test = sum(split_of(r) == "test" for r in raw)
    assert f"eval: {n_test} items (test split" in text.stdout
    for heading in ("relevance ", "top frame ", "pairs US<->MX", "by country:", "frame shares", "frame confusion", "disagreements"):
        assert heading in text.stdout
    assert (keep / "eval-none-fetched-test.db").is_file()

    # a smaller file on the kept database: the items it no longer has leave the database
    fewer = tmp_path / "fewer.jsonl"
    fewer.write_text("\n".join(slice_file.read_text(encoding="utf-8").splitlines()[:10]), encoding="utf-8")
    small = _invoke(str(fewer), "--engine", "none", "--keep", str(keep), "--json", "--bootstrap", "0")
    assert small.exit_code == 0, small.output
    assert json.loads(small.stdout)["overall"]["items"] == 10
    db = open_db(keep / "eval-none-fetched-all.db")
    try:
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 10
        assert db.execute("SELECT count(*) FROM analyses").fetchone()[0] == 10
    finally:
        db.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "a", "country": "US", "language": "en", "relevant": true, "lede": "x"}\n{oops\n', ":2: not JSON"),
        ('{"id": "a", "country": "US", "language": "en", "relevant": "yes", "lede": "x"}\n', ":1: 'relevant' must be true or false"),
        ('{"id": "a", "language": "en", "relevant": true, "lede": "x"}\n', ":1: 'country' is missing"),
        ('{"id": "a", "country": "US", "language": "en", "relevant": true, "title": null, "lede": ""}\n', ":1: the item has neither"),
        ('{"id": "a", "country": "US", "language": "en", "relevant": true, "lede": "x", "published": "May 5"}\n', ":1: 'published' must be"),
        ('{"id": "a", "country": "US", "language": "en", "relevant": true, "lede": "x"}\n' * 2, ":2: id 'a' already used"),
        ('[1, 2]\n', ":1: each line must be a JSON object"),
    ],
)
def test_bad_jsonl_is_one_line_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    result = _invoke(str(bad))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and f"bad.jsonl{message}" in result.stderr
    assert "Traceback" not in result.output
    with pytest.raises(UsageError):
        load_labels([bad])


def test_an_empty_split_is_one_line_and_exit_2(tmp_path: Path) -> None:
    row = {"id": "a", "country": "US", "language": "en", "relevant": True, "lede": "x", "event_id": "e"}
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(row), encoding="utf-8")
    empty = "dev" if split_of(load_labels([path])[0]) == "test" else "test"
    result = _invoke(str(path), "--split", empty)
    assert result.exit_code == 2 and f"in the {empty} split" in result.stderr
    assert result.stderr.strip().count("\n") == 0


@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium not installed (.ci/run installs it)")
def test_a_kept_database_is_translated_again_when_the_glossary_changes(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    row = {"id": "a", "country": "MX", "language": "es", "relevant": True, "title": "Atacan una lancha", "lede": "Una lancha en el Pacífico."}
    items.write_text(json.dumps(row) + "\n", encoding="utf-8")
    keep = tmp_path / "kept"
    bundled = Settings().debate_path.read_text(encoding="utf-8")
    speedboat = tmp_path / "speedboat.toml"
    speedboat.write_text(bundled.replace('"lancha" = "boat"', '"lancha" = "speedboat"'), encoding="utf-8")

    def title(debate: Path) -> str:
        result = CliRunner().invoke(
            cli, ["--debate", str(debate), "eval", str(items), "--engine", "apertium", "--keep", str(keep), "--bootstrap", "0"],
            env={"MONITOR_EMBEDDING_ENGINE": "none"},
        )
        assert result.exit_code == 0, result.output
        db = open_db(keep / "eval-apertium-fetched-all.db")
        try:
            return str(db.execute("SELECT title FROM article_translations").fetchone()[0])
        finally:
            db.close()

    assert "boat" in title(Settings().debate_path) and "speedboat" not in title(Settings().debate_path)
    assert "speedboat" in title(speedboat)  # the same kept database, the edited glossary: translated again

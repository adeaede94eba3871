"""The trained layer: the shipped model file, the decision rule, evidence, and the debate file alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlite_utils

from monitor.analysis import analyze, classifier, train
from monitor.analysis.analyze import ArticleText, analyze_article
from monitor.analysis.debate import load_debate
from monitor.analysis.evaluate import split_of
from monitor.config.settings import Settings

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def debate():
    return load_debate(Settings().debate_path)


@pytest.fixture(scope="module")
def model(debate):
    m = classifier.load_model(debate.id, debate.hash)
    assert m is not None, "the shipped model does not match the debate file: run python -m monitor.analysis.train"
    return m


def test_shipped_model_is_small_json_trained_on_the_current_dev_split_only(debate, model) -> None:
    path = classifier.model_path(debate.id)
    assert path.stat().st_size < 300_000
    data = json.loads(path.read_text(encoding="utf-8"))
    items = train.load_items()
    assert items and all(split_of({"id": it.id, "event_id": it.group if it.group != it.id else None}) == "dev" for it in items)
    # the recorded training set is exactly today's dev items: no test item, and no stale model
    import hashlib

    assert data["trained_on"]["split"] == "dev"
    assert data["trained_on"]["items_sha256"] == hashlib.sha256("\n".join(sorted(it.id for it in items)).encode()).hexdigest()
    assert model.debate_sha256 == debate.hash
    assert set(model.frame_classes) <= set(debate.frame_ids)


def test_decision_needs_a_debate_term_and_more_when_found_only_in_translation() -> None:
    assert classifier.decide(0.5, 0.4, core_original=True, core_translated=False, any_term=True)
    assert not classifier.decide(0.3, 0.4, core_original=True, core_translated=False, any_term=True)
    assert not classifier.decide(0.45, 0.4, core_original=False, core_translated=True, any_term=True)
    assert classifier.decide(0.7, 0.4, core_original=False, core_translated=True, any_term=True)
    assert not classifier.decide(1.0, 0.4, core_original=False, core_translated=False, any_term=False)


def test_word_model_decides_only_without_a_core_term_and_floors_come_from_the_file() -> None:
    # no core term: the word model's P over its floor makes the article relevant, even with no term at all
    assert classifier.decide(0.0, 0.4, False, False, False, fallback=0.95, fallback_threshold=0.9)
    assert not classifier.decide(0.0, 0.4, False, False, False, fallback=0.85, fallback_threshold=0.9)
    # a core term found only in translation is not rescued by the word model (rough translations mislead)
    assert not classifier.decide(0.45, 0.4, False, True, True, fallback=0.99, fallback_threshold=0.9)
    # the floors are the model file's
    assert classifier.decide(0.55, 0.4, False, False, True, context_min=0.5)
    assert not classifier.decide(0.55, 0.4, False, False, True, context_min=0.6)


def test_floor_choice_ignores_a_recall_edge_within_the_noise() -> None:
    """The lowest context floor buys a few more relevant rows (within the noise of an out-of-fold
    recall) but forces a higher threshold on every core-term article: the next floor is chosen."""
    rng = np.random.default_rng(53)
    n = 1000
    core = rng.random(n) < 0.85  # a core term in the original; the rest have context words only
    gold = np.where(core, rng.random(n) < 0.85, rng.random(n) < 0.5)
    probs = np.where(gold, rng.beta(5, 1.5, n), rng.beta(1.2, 6, n))
    kinds = (core, core, ~core)
    none = np.zeros(n)
    scored = {}
    for cf in train.FLOORS:
        floor = np.where(core, 0.0, np.where(~core, cf, 2.0))
        t = train.choose_threshold(np.where(probs >= floor, probs, 0.0), gold)
        pred = train.decisions(probs, t, kinds, (0.8, cf), none, 2.0)
        scored[cf] = ((pred & gold).sum() / gold.sum(), t)
    most = max(scored, key=lambda cf: scored[cf][0])
    assert most == 0.3 and scored[0.3][1] > scored[0.4][1] + 0.05  # the case: best recall by a hair, higher threshold
    assert scored[0.3][0] - scored[0.4][0] < train.RECALL_NOISE
    (tf, cf), threshold = train.choose_floors(probs, gold, kinds, none, 2.0)
    assert (cf, threshold) == (0.4, scored[0.4][1])
    assert tf == max(train.FLOORS)  # no translation-only rows here: the highest floor costs nothing


def test_shipped_model_states_its_cross_validated_floors_and_word_model(model) -> None:
    assert model.fallback_coef is not None and model.fallback_coef.shape == (model.features.width,)
    assert not model.fallback_coef[: len(model.features.lexicon)].any()  # it never reads the debate file
    assert 0.5 <= model.fallback_threshold <= 1.0 and 0.0 < model.context_min < 1.0 and 0.0 < model.translation_min < 1.0


def test_relevant_by_the_word_model_alone_always_shows_evidence(debate, model) -> None:
    from dataclasses import replace

    eager = replace(model, fallback_threshold=0.0)  # the word model alone lets every article without a core term through
    art = ArticleText(1, "en", "Navy ships gather near the coast", "Officials described the deployment as routine.", "")
    res = analyze_article(debate, art, eager)
    assert res.relevant and res.relevance == 0.0
    assert res.evidence and all(e.sentence for e in res.evidence)
    assert res.top_frame is not None
    assert not analyze_article(debate, art, model).relevant  # at the shipped floor it is not


def test_mexican_report_of_intervention_is_relevant_with_evidence_and_a_frame(debate, model) -> None:
    art = ArticleText(
        1, "es", "",
        "La presidenta Claudia Sheinbaum respondió a los reportes de que Trump planea intervenir en el territorio "
        "mexicano, y dijo que eso no va a suceder.", "",
    )
    res = analyze_article(debate, art, model)
    assert res.relevant and res.probability is not None and res.probability >= model.threshold
    assert res.top_frame in debate.frame_ids and res.frames[0] == res.top_frame
    assert res.evidence and any("interven" in t.lower() for e in res.evidence for t in e.terms)
    top = res.frame_scores[0]
    assert top.frame == res.top_frame and top.probability is not None and top.evidence
    # its frame mix: the model's P of every frame of the file, summing to 1, the frames' own P in proportion
    assert res.frame_mix and set(res.frame_mix) <= set(debate.frame_ids) and len(res.frame_mix) > 2
    assert sum(res.frame_mix.values()) == pytest.approx(1.0, abs=1e-3)
    listed = {f.frame: f.probability for f in res.frame_scores if f.probability is not None}
    assert listed  # the model's classes are the file's frames: its P are the mix
    assert all(res.frame_mix.get(f, 0.0) == pytest.approx(p, abs=1e-3) for f, p in listed.items())


def test_off_topic_world_news_with_rough_translation_is_not_relevant(debate, model) -> None:
    title = "Trump Announces Tariffs on European Allies for Sending Troops to Greenland"
    summary = "The President said the tariffs would stay until a deal is reached for the purchase of Greenland."
    tr = ("Trump Anuncia Aranceles en Aliados europeos para Enviar Tropas a Groenlandia",
          "El Presidente dijo que los aranceles se quedarían hasta que un trato está logrado para la compra de Groenlandia.")
    for trans in ({}, {"es": (*tr, "")}):
        res = analyze_article(debate, ArticleText(1, "en", title, summary, "", trans), model)
        assert not res.relevant and res.top_frame is None and res.frame_scores == []


def test_every_relevant_article_gets_a_frame_even_with_no_frame_words(debate, model) -> None:
    res = analyze_article(
        debate,
        ArticleText(1, "en", "", "Mexico sends 26 more cartel prisoners to the United States in a mass transfer.", ""),
        model,
    )
    assert res.relevant and res.top_frame is not None
    assert all(f.evidence and f.evidence[0].sentence for f in res.frame_scores if f.frame in res.frames)


def test_another_debate_or_an_edited_file_runs_on_the_debate_file_alone(debate, model, tmp_path: Path) -> None:
    text = Settings().debate_path.read_text(encoding="utf-8")
    other = tmp_path / "other.toml"
    other.write_text(text.replace('id = "us-mx-cartels"', 'id = "other-debate"', 1), encoding="utf-8")
    edited = tmp_path / "edited.toml"
    edited.write_text(text + "\n# a comment\n", encoding="utf-8")
    art = ArticleText(1, "en", "Pentagon weighs drone strikes on cartels in Mexico", "", "")
    for path in (other, edited):
        d = load_debate(path)
        assert classifier.load_model(d.id, d.hash) is None
        res = analyze_article(d, art, model)  # a model for another file is not used
        assert res.relevant and res.probability is None and res.evidence


def test_model_file_is_byte_stable_for_the_same_inputs(debate) -> None:
    items = [
        train.Item(f"x{i}", f"g{i % 4}", "en" if i % 2 else "es", "", lede, rel, frame)
        for i, (lede, rel, frame) in enumerate(
            [
                ("US strikes on cartel labs in Mexico are being planned by the Pentagon.", True, "military_operations"),
                ("Sheinbaum dijo que la soberanía de México no se negocia ante Trump.", True, "sovereignty"),
                ("Rubio and Sheinbaum sign a security cooperation agreement against cartels.", True, "cooperation"),
                ("Siete homicidios en Culiacán este domingo.", False, None),
                ("The Senate votes on war powers over Venezuela.", False, None),
                ("El cártel de Sinaloa, designado organización terrorista por EU.", True, "security_terrorism"),
            ]
        )
    ]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(items), 8)).astype(np.float32)
    protos = (np.round(rng.normal(size=(4, 8)), 5), ("sovereignty", "sovereignty", "cooperation", "military_operations"))
    outs = []
    for _ in range(2):
        payload, _ = train.build(debate, items, {}, vectors, "test-embedder", protos)
        outs.append(classifier.model_json(payload))
    assert outs[0] == outs[1]
    parsed = classifier.parse_model(outs[0].encode("utf-8"))
    assert parsed.features.dim == 8 and parsed.applies_to(debate.id, debate.hash)
    assert parsed.features.proto_names == ("sovereignty", "cooperation", "military_operations")
    assert np.array_equal(parsed.features.prototypes, protos[0])


def test_stage_stores_evidence_and_the_switch_turns_the_model_off(
    news_db: sqlite_utils.Database, article_factory: Callable[..., int], settings: Settings
) -> None:
    a = article_factory("jornada", "EU ataca otra narcolancha frente a Guerrero; seis muertos", "Hegseth confirmó el ataque.")
    report = analyze.run(news_db, settings, now=NOW)
    assert report.model
    relevant, prob, evidence, mix = news_db.execute(
        "SELECT relevant, probability, evidence, frame_mix FROM analyses WHERE article = ?", [a]
    ).fetchone()
    assert relevant == 1 and prob is not None and sum(json.loads(mix).values()) == pytest.approx(1.0, abs=1e-3)
    ev = json.loads(evidence)
    assert ev and ev[0]["terms"] and ev[0]["sentence"]
    off = analyze.run(news_db, settings.replace(analysis__trained=False), now=NOW)
    assert off.analysed == 1 and off.model == ""  # switching the model re-analyses
    relevant, prob, evidence, mix = news_db.execute(
        "SELECT relevant, probability, evidence, frame_mix FROM analyses WHERE article = ?", [a]
    ).fetchone()
    assert relevant == 1 and prob is None and json.loads(evidence) and mix is None  # the file alone: its top frame counts


def test_frame_prototype_columns_say_which_frame_an_embedding_is_nearest() -> None:
    protos = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.8, 0.6]])
    feats = classifier.Featurizer(
        ("relevance",), ("en:strike",), 3, np.zeros(3), 1.0,
        prototypes=protos, proto_frames=("military", "sovereignty", "sovereignty"), proto_scale=10.0,
    )
    assert feats.proto_names == ("military", "sovereignty") and feats.width == 1 + 1 + 3 + 2
    near_military = feats.row(classifier.Inputs({}, {}, np.array([0.9, 0.1, 0.0])))
    # per frame its nearest text's cosine (sovereignty: max(0.1, 0.08)), less the mean over frames, x 10
    assert np.allclose(near_military[-2:], [4.0, -4.0])
    near_second_text = feats.row(classifier.Inputs({}, {}, np.array([0.0, 0.0, 1.0])))
    assert np.allclose(near_second_text[-2:], [-3.0, 3.0])
    assert not feats.row(classifier.Inputs({}, {}, None))[-2:].any()  # no vector: no prototype reading


def test_shipped_prototypes_are_the_debate_files_frames_without_the_language_axis(debate, model) -> None:
    from monitor.embedding.language_axis import axis_for

    f = model.features
    assert f.proto_frames == tuple(fid for fid, _ in train.prototype_texts(debate))
    assert set(f.proto_names) == set(debate.frame_ids) and f.proto_scale == train.PROTO_SCALE
    assert f.prototypes.shape == (len(f.proto_frames), f.dim)
    assert np.allclose(np.linalg.norm(f.prototypes, axis=1), 1.0, atol=1e-4)
    axis = axis_for(model.embedding_model, f.dim)
    assert axis is not None and np.abs(f.prototypes @ axis).max() < 1e-4
    # the relevance model and the word model do not read them; the frame model does
    cols = np.arange(f.embedding_end, f.width)
    assert not model.relevance_coef[cols].any() and model.fallback_coef is not None and not model.fallback_coef[cols].any()
    assert np.abs(model.frame_coef[:, cols]).max() > 0


def test_a_model_file_with_prototypes_of_the_wrong_size_is_refused(model) -> None:
    data = json.loads(classifier.model_path("us-mx-cartels").read_text(encoding="utf-8"))
    data["features"]["prototypes"]["vectors"] = [row[:-1] for row in data["features"]["prototypes"]["vectors"]]
    with pytest.raises(classifier.ModelError, match="prototypes do not match"):
        classifier.parse_model(json.dumps(data).encode("utf-8"))

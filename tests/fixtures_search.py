"""A small bilingual search database: real SQLite, real FTS5, rows inserted by hand so each
operator and filter has a known answer. Originals in Spanish and English, stored translations,
analyses, frames with evidence and one story."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.store.db import open_db, write_transaction

OUTLETS = [
    ("la-jornada", "La Jornada", "MX", "es"),
    ("el-universal", "El Universal", "MX", "es"),
    ("nyt", "The New York Times", "US", "en"),
    ("wapo", "The Washington Post", "US", "en"),
]

# id, outlet, language, title, summary, published, translation (title, summary) or None, rough
ARTICLES = [
    (1, "la-jornada", "es", "Sheinbaum rechaza ataques con drones contra cárteles en México",
     "La presidenta dijo que la soberanía nacional no se negocia.", "2026-11-20T14:00:00+00:00",
     ("Sheinbaum rejects drone strikes against cartels in Mexico", "The president said national sovereignty is not negotiable."), 0),
    (2, "nyt", "en", "Pentagon weighs military strikes on Mexican cartels",
     "Officials discuss drones and special forces against fentanyl traffickers.", "2026-11-21T09:30:00+00:00",
     ("El Pentágono evalúa ataques militares contra cárteles mexicanos", "Funcionarios discuten drones y fuerzas especiales contra traficantes de fentanilo."), 0),
    (3, "wapo", "en", "Fentanyl deaths fall in Ohio",
     "Health officials credit treatment programs.", "2026-11-19T12:00:00+00:00",
     ("Las muertes por fentanilo caen en Ohio", "Funcionarios de salud atribuyen el descenso a programas de tratamiento."), 1),
    (4, "el-universal", "es", "Reunión de seguridad entre México y Estados Unidos",
     "Los gobiernos acordaron cooperación contra el tráfico de armas.", "2026-11-18T16:45:00+00:00",
     ("Security meeting between Mexico and the United States", "The governments agreed on cooperation against arms trafficking."), 0),
    (5, "la-jornada", "es", "El cártel de Sinaloa y la guerra contra el narco",
     "Análisis de la estrategia de seguridad del gobierno.", "2026-11-17T08:00:00+00:00", None, 0),
    (6, "nyt", "en", "MEXICO tariffs debate heats up in Congress",
     "Lawmakers argue over border policy.", "2026-10-02T10:00:00+00:00",
     ("El debate sobre aranceles a MÉXICO se intensifica en el Congreso", "Legisladores discuten la política fronteriza."), 0),
    (7, "wapo", "en", "Drone makers report record sales",
     "Consumer drones sold well this holiday season.", "2026-11-22T07:00:00+00:00",
     ("Fabricantes de drones reportan ventas récord", "Los drones de consumo se vendieron bien esta temporada."), 0),
    (8, "el-universal", "es", "Terrorismo y narcoterrorismo: el debate en Washington",
     "Designar a los cárteles como organizaciones terroristas divide a Washington.", "2026-11-21T20:00:00+00:00",
     ("Terrorism and narcoterrorism: the debate in Washington", "Designating cartels as terrorist organizations divides Washington."), 0),
    (9, "wapo", "en", "Border agents seize arms shipment",
     "The shipment was headed south to Sonora.", "2026-11-16T18:00:00+00:00", None, 0),
    (10, "el-universal", "es", "<script>alert('x')</script> Zacatecas & <b>policía</b>",
     "Un titular hostil: el texto <img src=x onerror=alert(1)> debe mostrarse como texto.", "2026-11-15T10:00:00+00:00",
     ("<script>alert('x')</script> Zacatecas & <b>police</b>", "A hostile headline: the text must be shown as text."), 0),
]

# article, relevant, relevance, top_frame, frames
ANALYSES = [
    (1, 1, 4.5, "sovereignty", ["sovereignty", "military"]),
    (2, 1, 5.0, "military", ["military", "security"]),
    (4, 1, 2.0, "cooperation", ["cooperation"]),
    (5, 1, 1.5, "security", ["security"]),
    (8, 1, 3.0, "terrorism", ["terrorism"]),
    (3, 0, 0.2, None, []),
    (7, 0, 0.0, None, []),
]


def build_search_db(path: Path, with_analysis: bool = True) -> Path:
    """Create and fill the fixture database at `path`; returns the path."""
    db = open_db(path)
    with write_transaction(db):
        for oid, name, country, lang in OUTLETS:
            db.execute("INSERT INTO outlets (id, name, country, language) VALUES (?, ?, ?, ?)", [oid, name, country, lang])
        for aid, outlet, lang, title, summary, published, tr, rough in ARTICLES:
            country = next(o[2] for o in OUTLETS if o[0] == outlet)
            db.execute(
                """INSERT INTO articles (id, outlet, country, language, outlet_language, url, title, summary, published,
                   date_source, first_seen, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'feed', ?, ?)""",
                [aid, outlet, country, lang, lang, f"https://{outlet}.example/{aid}", title, summary, published, published, f"h{aid}"],
            )
            if tr:
                target = "en" if lang == "es" else "es"
                db.execute(
                    """INSERT INTO article_translations (article, language, title, summary, engine, model, rough,
                       source_language, source_hash, translated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [aid, target, tr[0], tr[1], "apertium" if rough else "argos", "test 1.0", rough, lang, f"s{aid}", published],
                )
        if with_analysis:
            for article, relevant, relevance, top, frames in ANALYSES:
                db.execute(
                    """INSERT INTO analyses (article, debate_hash, content_hash, relevant, relevance, top_frame,
                       analyzed_at) VALUES (?, 'd', ?, ?, ?, ?, '2026-11-22T00:00:00+00:00')""",
                    [article, f"h{article}", relevant, relevance, top],
                )
                for rank, frame in enumerate(frames):
                    evidence = [{"terms": [frame], "sentence": f"evidence for {frame}", "sentence_translated": None, "language": "en"}]
                    db.execute(
                        "INSERT INTO article_frames (article, frame, score, evidence, over_threshold, position)"
                        " VALUES (?, ?, ?, ?, 1, ?)",
                        [article, frame, 2.0 - rank * 0.5, json.dumps(evidence), rank],
                    )
            db.execute(
                """INSERT INTO stories (id, label_en, label_es, first_seen, last_seen, size, updated_at)
                   VALUES (7, 'cartels strikes drones', 'cárteles ataques drones', '2026-11-20T14:00:00+00:00',
                   '2026-11-21T09:30:00+00:00', 2, '2026-11-22T00:00:00+00:00')"""
            )
            db.execute(
                """INSERT INTO stories (id, label_en, label_es, size, merged_into, updated_at)
                   VALUES (3, 'old', 'viejo', 0, 7, '2026-11-22T00:00:00+00:00')"""
            )
            for article in (1, 2):
                db.execute(
                    "INSERT INTO story_articles (story, article, joined_at) VALUES (7, ?, '2026-11-22T00:00:00+00:00')",
                    [article],
                )
    db.close()
    return path


@pytest.fixture(scope="session")
def search_db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture database (session-wide; tests only read it)."""
    return build_search_db(tmp_path_factory.mktemp("search") / "search.db")

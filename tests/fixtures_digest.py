"""A fixed database for the digest tests, built from tests/fixtures/digest/day.json.

The pipeline's own database (the `demo_db` fixture) changes whenever a stage improves; golden files
need rows that never move, so this builds the tables the digest reads (outlets, feeds, articles,
translations, analyses, frames with evidence, stories) directly and deterministically.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from monitor.store.db import open_db, write_transaction

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "digest" / "day.json"
FETCHED_AT = "2026-11-22T23:30:00+00:00"


def _sha(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def load_fixture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def build_digest_db(path: Path, data: dict[str, Any] | None = None) -> Path:
    """Create the database at `path` from the fixture data (or `data`, same shape)."""
    data = data or load_fixture()
    db = open_db(path)
    outlets = {o[0]: {"name": o[1], "country": o[2], "language": o[3]} for o in data["outlets"]}
    with write_transaction(db):
        for oid, o in outlets.items():
            db.execute(
                "INSERT INTO outlets (id, name, country, language, homepage, timezone) VALUES (?, ?, ?, ?, ?, ?)",
                [oid, o["name"], o["country"], o["language"], f"https://{oid}.example/", None],
            )
        main_feed: dict[str, int] = {}
        for i, f in enumerate(data["feeds"], start=1):
            db.execute(
                "INSERT INTO feeds (id, outlet, url, section, status, consecutive_failures, last_error, "
                "last_fetched_at, last_success_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    i, f["outlet"], f["url"], f.get("section"), f.get("status", "active"),
                    f.get("consecutive_failures", 0), f.get("last_error"), FETCHED_AT,
                    None if f.get("status") in ("failing", "gone") else FETCHED_AT,
                ],
            )
            if f.get("status", "active") == "active" and not f.get("quiet"):
                main_feed.setdefault(f["outlet"], i)
        # a failing feed still has its old articles: attach them to the outlet's first feed
        for i, f in enumerate(data["feeds"], start=1):
            main_feed.setdefault(f["outlet"], i)

        engines = data["translation_engines"]
        by_story: dict[int, list[dict[str, Any]]] = {}
        for aid, a in enumerate(data["articles"], start=1):
            o = outlets[a["outlet"]]
            lang, other = o["language"], "es" if o["language"] == "en" else "en"
            url = a.get("url", f"https://{a['outlet']}.example/2026/11/{aid}")
            content_hash = _sha(a["title"], a["summary"])
            db.execute(
                "INSERT INTO articles (id, outlet, feed, country, language, outlet_language, url, link, guid, "
                "title, summary, published, date_source, first_seen, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'feed', ?, ?)",
                [
                    aid, a["outlet"], main_feed[a["outlet"]], o["country"], lang, lang, url, url, url,
                    a["title"], a["summary"], a["published"], a["published"], content_hash,
                ],
            )
            engine, model = engines[str(a.get("rough", 0))]
            if engine == "argos":
                model = model.replace("es_en", f"{lang}_{other}")
            translated_summary = " ".join(ev[2] for ev in a["frames"].values())
            db.execute(
                "INSERT INTO article_translations (article, language, title, summary, engine, model, rough, "
                "source_language, source_hash, translated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [aid, other, a["translation"], translated_summary, engine, model, a.get("rough", 0), lang,
                 content_hash, a["published"]],
            )
            ranked = sorted(a["frames"].items(), key=lambda kv: -kv[1][0])
            db.execute(
                "INSERT INTO analyses (article, debate_hash, content_hash, relevant, relevance, top_frame, "
                "actors, keywords, analyzed_at) VALUES (?, 'fixture', ?, 1, ?, ?, '[]', '[]', ?)",
                [aid, content_hash, 2.0 + ranked[0][1][0], a["frame"], a["published"]],
            )
            for position, (frame, (score, sentence, translated)) in enumerate(ranked):
                evidence = [{"terms": [], "sentence": sentence, "sentence_translated": translated, "language": lang}]
                db.execute(
                    "INSERT INTO article_frames (article, frame, score, evidence, over_threshold, position)"
                    " VALUES (?, ?, ?, ?, 1, ?)",
                    [aid, frame, score, json.dumps(evidence, ensure_ascii=False), position],
                )
            by_story.setdefault(a["story"], []).append({**a, "id": aid, "country": o["country"]})

        for s in data["stories"]:
            arts = sorted(by_story.get(s["id"], []), key=lambda a: a["published"])
            first_by: dict[str, str] = {}
            frames: dict[str, dict[str, float]] = {}
            for a in arts:
                first_by.setdefault(a["country"], a["published"])
                frames.setdefault(a["country"], {})
                frames[a["country"]][a["frame"]] = frames[a["country"]].get(a["frame"], 0) + 1
            for c, counts in frames.items():
                total = sum(counts.values())
                frames[c] = {f: round(n / total, 4) for f, n in counts.items()}
            db.execute(
                "INSERT INTO stories (id, label_en, label_es, first_seen, last_seen, size, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [s["id"], s["label_en"], s["label_es"], arts[0]["published"], arts[-1]["published"], len(arts), FETCHED_AT],
            )
            for c, first in first_by.items():
                n = sum(1 for a in arts if a["country"] == c)
                db.execute("INSERT INTO story_countries (story, country, first_seen, articles) VALUES (?, ?, ?, ?)", [s["id"], c, first, n])
            for c, shares in frames.items():
                for f, share in shares.items():
                    db.execute("INSERT INTO story_frames (story, country, frame, share) VALUES (?, ?, ?, ?)", [s["id"], c, f, share])
            for a in arts:
                db.execute(
                    "INSERT INTO story_articles (story, article, joined_at) VALUES (?, ?, ?)",
                    [s["id"], a["id"], a["published"]],
                )
    db.close()
    return path


@pytest.fixture(scope="session")
def digest_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_digest_db(tmp_path_factory.mktemp("digest-db") / "fixture.db")


@pytest.fixture
def digest_db(tmp_path: Path, digest_db_template: Path) -> Path:
    """A private copy of the fixed digest database (tests write digests and sends into it)."""
    target = tmp_path / "digest.db"
    shutil.copyfile(digest_db_template, target)
    return target


# --- a real SMTP server on loopback (aiosmtpd) ---------------------------------------------------


class RecordingHandler:
    """Keeps every envelope; `fail_next` answers that many DATA commands with 451."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.fail_next = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server():
    """(handler, port) of an aiosmtpd server on 127.0.0.1, stopped after the test."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def silent_smtp_port():
    """A port that accepts TCP connections and never says a word (a hung SMTP server)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()

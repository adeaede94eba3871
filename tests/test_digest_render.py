"""The digest model and its renderers on the fixed database: golden files per format and language,
both languages complete, empty and thin days, and hostile feed text that must never reach a digest.

Regenerate the golden files after an intended change with `MONITOR_UPDATE_GOLDEN=1 pytest tests/test_digest_render.py`
(the autouse env fixture clears MONITOR_* for the code under test, so the flag is read at import).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from monitor.config.settings import Settings
from monitor.digest import build_digest, i18n, render
from monitor.store.db import open_db
from tests.fixtures_digest import build_digest_db, load_fixture

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "digest"
UPDATE = os.environ.get("MONITOR_UPDATE_GOLDEN") == "1"
DAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EXT = {"text": "txt", "markdown": "md", "html": "html", "json": "json"}


def normalise(text: str) -> str:
    """Dynamic parts (generation time) replaced by a placeholder."""
    text = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "<GENERATED>", text)
    return re.sub(r'"generated_at": "[^"]+"', '"generated_at": "<GENERATED>"', text)


def _digest(db_path: Path, lang: str = "en", day: date = DAY):
    db = open_db(db_path)
    try:
        return build_digest(db, Settings(db=str(db_path)), day, lang=lang, now=NOW)
    finally:
        db.close()


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_golden_files(digest_db: Path, fmt: str, lang: str) -> None:
    rendered = normalise(render(_digest(digest_db, lang), fmt))
    golden = GOLDEN / f"golden.{lang}.{EXT[fmt]}"
    if UPDATE or not golden.exists():
        golden.write_text(rendered, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{golden.name} did not exist and was written; review it and re-run")
    assert rendered == golden.read_text(encoding="utf-8")


def test_model_content(digest_db: Path) -> None:
    d = _digest(digest_db)
    assert (d.day, d.timezone, d.start, d.end) == (
        "2026-11-22", "America/Mexico_City", "2026-11-22T06:00:00+00:00", "2026-11-23T06:00:00+00:00"
    )
    assert {n.country: n.articles for n in d.numbers} == {"US": 5, "MX": 7}
    assert d.countries == ["US", "MX"]
    assert not d.empty and not d.thin
    assert d.subject.startswith("US–MX cartel debate — 2026-11-22: 3 stories, 12 articles")
    top = d.stories[0]
    assert top.both and [s.country for s in top.sides] == ["US", "MX"]
    mx = top.sides[1]
    assert mx.headlines[0].title == "Sheinbaum rechaza ataque de EU en Sinaloa: «México no es colonia»"
    assert mx.headlines[0].translated == 'Sheinbaum rejects US attack in Sinaloa: "Mexico is not a colony"'
    assert mx.frames[0].frame == "sovereignty" and mx.evidence is not None
    assert mx.evidence.sentence == "La presidenta afirmó que la soberanía nacional no se negocia."
    rough = [h for s in top.sides for h in s.headlines if h.rough]
    assert {h.title for h in rough} == {"What we know about the strike in Culiacán", "Senado exige explicación por violación a la soberanía"}
    assert [b.story for b in d.blindspots] == [3] and d.blindspots[0].covered_by == "MX"
    assert {x.story: x.first_country for x in d.lead_lag} == {1: "MX", 2: "US"}
    assert [p.outlet for p in d.footer.failing] == ["Reuters"]
    assert [p.url for p in d.footer.gone] == ["https://feeds.washingtonpost.example/old"]
    assert [p.url for p in d.footer.quiet] == ["https://www.milenio.example/rss/policia"]
    assert {(u.engine, u.rough) for u in d.footer.engines} == {("argos", False), ("apertium", True)}


def test_spanish_is_complete() -> None:
    assert set(i18n.MESSAGES["en"]) == set(i18n.MESSAGES["es"])
    assert set(i18n.COUNTRIES["en"]) == set(i18n.COUNTRIES["es"])
    for key, text in i18n.MESSAGES["es"].items():  # same placeholders, so neither language can fail to format
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", i18n.MESSAGES["en"][key])), key


def test_spanish_digest_has_no_english_labels(digest_db: Path) -> None:
    d = _digest(digest_db, "es")
    text = render(d, "text") + render(d, "html") + render(d, "markdown")
    # every English label longer than a word, as it would appear if a Spanish template forgot one
    english = [v.split("{")[0].strip() for k, v in i18n.MESSAGES["en"].items() if k not in ("minutes", "hours")]
    leaked = [e for e in english if len(e) > 6 and e in text]
    assert leaked == []
    assert "Historias principales" in text and "Puntos ciegos" in text and "domingo, 22 de noviembre de 2026" in text


def test_empty_day_says_so_plainly(digest_db: Path) -> None:
    d = _digest(digest_db, day=date(2026, 10, 1))
    assert d.empty and d.stories == [] and d.total_articles == 0
    for fmt in ("text", "markdown", "html"):
        out = render(d, fmt)
        assert "No article about the debate was published on Thursday, 1 October 2026" in out
        assert "Top stories" not in out and "Blindspots" not in out and "How each press framed" not in out
    assert "Los medios monitoreados no publicaron ningún artículo" in render(_digest(digest_db, "es", date(2026, 10, 1)), "text")


def test_thin_day_is_flagged(tmp_path: Path) -> None:
    data = load_fixture()
    data["articles"] = [a for a in data["articles"] if a["story"] == 2]  # 3 articles that day
    data["stories"] = [s for s in data["stories"] if s["id"] == 2]
    d = _digest(build_digest_db(tmp_path / "thin.db", data))
    assert d.thin and d.total_articles == 3
    assert "A thin day: only 3 relevant articles." in render(d, "text")


# --- hostile feed text ----------------------------------------------------------------------------

HOSTILE_TITLE = '<script>alert(1)</script><img src=x onerror=alert(1)> Ataque <b>Hola</b> & “México”'


def _hostile_db(tmp_path: Path) -> Path:
    data = load_fixture()
    data["outlets"].append(["evil", 'Evil <b onmouseover="alert(1)">Outlet</b>', "US", "en"])
    data["feeds"].append({"outlet": "evil", "url": "https://evil.example/feed"})
    data["stories"][0]["label_en"] = '<script>document.location="https://evil.example"</script> strike'
    data["articles"].insert(0, {
        "story": 1, "outlet": "evil", "published": "2026-11-22T14:00:00+00:00", "url": "javascript:alert(1)",
        "title": HOSTILE_TITLE,
        "summary": '<a href="javascript:alert(1)">click</a>',
        "translation": '"><iframe src=x></iframe><svg onload=alert(1)>',
        "rough": 0, "frame": "military_operations",
        "frames": {"military_operations": [9.0, '<svg><a xlink:href="javascript:alert(1)">x</a></svg> strike', "[x](javascript:alert(1)) <form action=https://evil.example>"]},
    })
    return build_digest_db(tmp_path / "hostile.db", data)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_hostile_feed_text_never_reaches_a_digest(tmp_path: Path, lang: str) -> None:
    d = _digest(_hostile_db(tmp_path), lang)
    html = render(d, "html")
    parsed = _Collector()
    parsed.feed(html)
    tags = {t for t, _ in parsed.tags}
    assert not tags & {"script", "img", "svg", "iframe", "form", "object", "embed", "b", "style", "link", "base"}
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        if tag == "a":
            assert re.match(r"https?://", attrs.get("href") or ""), attrs
            assert attrs.get("rel") == "noopener noreferrer"
    visible = "".join(parsed.text)
    assert HOSTILE_TITLE in visible  # shown as text, escaped, not interpreted
    md = render(d, "markdown")
    assert not re.search(r"(?<!\\)<(script|img|svg|iframe|form|b)\b", md)  # feed markup is escaped
    assert "\\<script\\>alert\\(1\\)\\</script\\>" in md
    targets = re.findall(r"(?<!\\)\]\(([^)]*)\)", md)
    assert targets and all(re.match(r"https?://", t) for t in targets), targets
    text = render(d, "text")
    assert all(re.match(r"https?://", u) for u in re.findall(r" · (\S+)$", text, re.M))
    urls: list[object] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "url":
                    urls.append(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(render(d, "json")))
    assert None in urls  # the javascript: link was dropped ...
    assert all(u is None or re.match(r"https?://", str(u)) for u in urls)  # ... and nothing but http(s) kept


def test_the_previous_week_is_estimated_as_today_is(digest_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shifts compare today's frame shares with the previous 7 days': both must be estimated by
    one method (frame_mix.py), or a shift would show the change of method, not of coverage. Today has
    2 US and 3 Mexican stories, the previous week one story a country: with the mix threshold lowered
    to today's stories, the week is summed from its frame mixes too, not counted, country by country."""
    from monitor.analysis import frame_mix

    db = open_db(digest_db)
    with db.conn:
        db.execute(
            "UPDATE analyses SET frame_mix = ? WHERE article IN (SELECT id FROM articles WHERE published < '2026-11-22')",
            [json.dumps({"sovereignty": 0.6, "military_operations": 0.4})],
        )
    db.close()
    monkeypatch.setattr(frame_mix, "MIX_MIN_STORIES", 2)
    summed = {r.frame: r.previous for r in _digest(digest_db).frames}
    assert summed["sovereignty"] == pytest.approx({"US": 0.6, "MX": 0.6})  # every article of the week 0.6 sovereignty
    assert summed["military_operations"] == pytest.approx({"US": 0.4, "MX": 0.4})
    monkeypatch.setattr(frame_mix, "MIX_MIN_STORIES", 3)  # today's 2 US stories under it, the 3 Mexican ones not
    per_country = {r.frame: r.previous for r in _digest(digest_db).frames}
    # the week's top frames: US cooperation, security (no sovereignty); MX cooperation x2, legality, sovereignty
    assert per_country["sovereignty"] == pytest.approx({"US": 0.0, "MX": 0.6})
    monkeypatch.setattr(frame_mix, "MIX_MIN_STORIES", 4)  # both under it: the week is counted as today is
    counted = {r.frame: r.previous for r in _digest(digest_db).frames}
    assert counted["sovereignty"] == pytest.approx({"US": 0.0, "MX": 0.25})
    assert counted["military_operations"] == pytest.approx({"US": 0.0, "MX": 0.0})

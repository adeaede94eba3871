"""The outlet registries (bundled and demo), the demo feed files, the evaluation labels, and the
registry loader's error messages on bad input."""

from __future__ import annotations

import tomllib
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config import paths
from monitor.errors import RegistryError
from monitor.ingest.parse import parse_feed
from monitor.ingest.registry import load_registry
from monitor.models import Registry
from tests.conftest import FIXTURES, REAL_FEEDS

DEMO_DIR = paths.PACKAGE_DIR / "demo" / "feeds"
LABELS = FIXTURES / "eval" / "labels.toml"
FRAMES = {
    "sovereignty",
    "security_terrorism",
    "military_operations",
    "legality",
    "drugs_health",
    "cooperation",
    "economy_trade",
    "migration_border",
    "human_cost",
    "corruption",
    "geopolitics",
    "arms_trafficking",
}
DEMO_NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # just after the demo weekend


# --------------------------------------------------------------------------- bundled registry


@pytest.fixture(scope="module")
def bundled() -> Registry:
    return load_registry(paths.feeds_dir() / "outlets.toml")


def test_bundled_registry_covers_both_countries(bundled: Registry) -> None:
    by_country = Counter(o.country for o in bundled.outlets)
    assert by_country["US"] >= 15
    assert by_country["MX"] >= 15
    assert set(by_country) == {"US", "MX"}
    assert bundled.languages == ("en", "es")


def test_bundled_registry_ids_and_urls_are_unique(bundled: Registry) -> None:
    ids = [o.id for o in bundled.outlets]
    assert len(ids) == len(set(ids))
    urls = [f.url for o in bundled.outlets for f in o.feeds]
    assert len(urls) == len(set(urls))
    for o in bundled.outlets:
        assert 1 <= len(o.feeds) <= 3, f"{o.id}: a few feeds per outlet at most"
        assert o.homepage.startswith("https://"), o.id
        for f in o.feeds:
            parts = urlsplit(f.url)
            assert parts.scheme in ("http", "https") and parts.hostname, f.url
            assert parts.hostname not in ("127.0.0.1", "localhost"), (
                f"{o.id}: placeholder URL in the real registry"
            )
            assert f.section, f"{o.id}: every feed names its section"


def test_mexico_news_daily_is_a_mexican_outlet_in_english(bundled: Registry) -> None:
    mnd = bundled.by_id("mexico-news-daily")
    assert mnd is not None
    assert (mnd.country, mnd.language) == ("MX", "en")
    spanish_mx = [o for o in bundled.outlets if o.country == "MX" and o.language == "es"]
    assert len(spanish_mx) >= 15


def test_bundled_registry_timezones(bundled: Registry) -> None:
    zones = {o.id: o.timezone for o in bundled.outlets}
    assert zones["la-jornada"] == "America/Mexico_City"  # the country default
    assert zones["nyt"] == "America/New_York"
    assert zones["zeta-tijuana"] == "America/Tijuana"  # set explicitly


# --------------------------------------------------------------------------- demo registry and feeds


@pytest.fixture(scope="module")
def demo() -> Registry:
    return load_registry(DEMO_DIR / "outlets.toml")


def _demo_file(url: str) -> Path:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}/" == "http://127.0.0.1:0/", url
    name = parts.path.lstrip("/")
    assert "/" not in name, f"demo feed files are flat (package data): {url}"
    return DEMO_DIR / name


def test_demo_registry_has_both_countries(demo: Registry) -> None:
    by_country = Counter(o.country for o in demo.outlets)
    assert by_country["US"] >= 6
    assert by_country["MX"] >= 6
    langs = Counter((o.country, o.language) for o in demo.outlets)
    assert langs[("MX", "es")] >= 6
    assert langs[("MX", "en")] >= 1  # Mexico News Daily
    assert langs[("US", "en")] >= 6


def test_every_demo_feed_exists_and_parses(demo: Registry) -> None:
    total = 0
    for outlet in demo.outlets:
        for feed in outlet.feeds:
            path = _demo_file(feed.url)
            assert path.is_file(), f"{outlet.id}: missing {path.name}"
            parsed = feedparser.parse(path.read_bytes())
            assert parsed.bozo == 0, f"{path.name}: {parsed.get('bozo_exception')}"
            assert len(parsed.entries) >= 10, path.name
            assert parsed.feed.get("language", "").lower().startswith(outlet.language), path.name
            for e in parsed.entries:
                assert e.get("id") and e.get("title") and e.get("summary"), (path.name, e.get("title"))
                assert urlsplit(e.link).scheme == "https", e.link
            total += len(parsed.entries)
    assert total >= 120
    referenced = {_demo_file(f.url).name for o in demo.outlets for f in o.feeds}
    on_disk = {p.name for p in DEMO_DIR.glob("*.xml")}
    assert on_disk == referenced, "every demo XML file is a feed of the demo registry"


def test_demo_items_parse_through_the_pipeline_parser(demo: Registry) -> None:
    """Every item, Spanish-dated ones included, gets a UTC date inside the demo weekend."""
    spanish_dated = 0
    for outlet in demo.outlets:
        for feed in outlet.feeds:
            body = _demo_file(feed.url).read_bytes()
            spanish_dated += b"<pubDate>dom, " in body or b"<pubDate>s\xc3\xa1b, " in body
            parsed = parse_feed(body, {}, feed.url, timezone=outlet.timezone, now=DEMO_NOW)
            guids = [e.guid for e in parsed.entries]
            assert len(guids) == len(set(guids)), feed.url
            for e in parsed.entries:
                assert e.date_flag is None, (feed.url, e.title, e.date_flag)
                assert e.published is not None and "2026-11-19" <= e.published[:10] <= "2026-11-23", (
                    e.published
                )
    assert spanish_dated >= 1, "at least one demo feed exercises Spanish day/month names"


def test_demo_bulk_is_on_the_demo_day(demo: Registry) -> None:
    """Most items fall on 22 Nov 2026 in Mexico City time (the digest's default day)."""
    from zoneinfo import ZoneInfo

    days: Counter[str] = Counter()
    for outlet in demo.outlets:
        for feed in outlet.feeds:
            parsed = parse_feed(
                _demo_file(feed.url).read_bytes(), {}, feed.url, timezone=outlet.timezone, now=DEMO_NOW
            )
            for e in parsed.entries:
                assert e.published
                local = datetime.fromisoformat(e.published.replace("Z", "+00:00")).astimezone(
                    ZoneInfo("America/Mexico_City")
                )
                days[local.date().isoformat()] += 1
    assert days.most_common(1)[0][0] == "2026-11-22"
    assert days["2026-11-22"] > sum(days.values()) / 2


# --------------------------------------------------------------------------- evaluation labels


@pytest.fixture(scope="module")
def labels() -> dict[str, dict]:
    return tomllib.loads(LABELS.read_text(encoding="utf-8"))["items"]


def _country_of(demo: Registry, file: str) -> str:
    name = file.removeprefix("demo_feeds/")
    return next(o.country for o in demo.outlets for f in o.feeds if _demo_file(f.url).name == name)


def test_labels_are_well_formed(labels: dict[str, dict]) -> None:
    for key, lab in labels.items():
        assert set(lab) <= {"file", "relevant", "top_frame", "event", "note"}, key
        assert isinstance(lab["relevant"], bool), key
        if lab["relevant"]:
            assert lab["top_frame"] in FRAMES, (key, lab["top_frame"])
        else:
            assert lab["top_frame"] == "" and lab["event"] == "", key
        assert lab["file"].startswith(("demo_feeds/", "real-feeds/")), key


def test_every_demo_item_is_labelled(demo: Registry, labels: dict[str, dict]) -> None:
    demo_keys = {k: v["file"] for k, v in labels.items() if v["file"].startswith("demo_feeds/")}
    seen: dict[str, str] = {}
    for outlet in demo.outlets:
        for feed in outlet.feeds:
            path = _demo_file(feed.url)
            for e in feedparser.parse(path.read_bytes()).entries:
                seen[e.id] = f"demo_feeds/{path.name}"
    assert seen == demo_keys
    langs = Counter(o.language for o in demo.outlets for _ in o.feeds)
    assert langs["en"] and langs["es"]


def test_demo_labels_make_a_useful_benchmark(demo: Registry, labels: dict[str, dict]) -> None:
    demo_labels = [v for v in labels.values() if v["file"].startswith("demo_feeds/")]
    relevant = sum(v["relevant"] for v in demo_labels)
    off_topic = len(demo_labels) - relevant
    assert 0.2 <= off_topic / len(demo_labels) <= 0.4, "about 30% off-topic items"
    assert len({v["top_frame"] for v in demo_labels if v["relevant"]}) == len(FRAMES), "every frame occurs"
    coverage: dict[str, Counter[str]] = defaultdict(Counter)
    for v in demo_labels:
        if v["event"]:
            coverage[v["event"]][_country_of(demo, v["file"])] += 1
    both = [e for e, c in coverage.items() if c["US"] >= 2 and c["MX"] >= 2]
    assert len(both) >= 5, "several events covered by several outlets of each country"
    one_sided = [e for e, c in coverage.items() if len(c) == 1 and sum(c.values()) >= 2]
    assert any(coverage[e]["US"] for e in one_sided) and any(coverage[e]["MX"] for e in one_sided), (
        "blindspots"
    )


def test_demo_labels_cover_both_languages(demo: Registry, labels: dict[str, dict]) -> None:
    lang_of_file = {f"demo_feeds/{_demo_file(f.url).name}": o.language for o in demo.outlets for f in o.feeds}
    langs = Counter(lang_of_file[v["file"]] for v in labels.values() if v["file"] in lang_of_file)
    assert langs["en"] >= 30 and langs["es"] >= 30
    assert sum(langs.values()) >= 60


def test_real_feed_labels_point_at_real_items(labels: dict[str, dict]) -> None:
    real = {k: v for k, v in labels.items() if v["file"].startswith("real-feeds/")}
    assert sum(v["relevant"] for v in real.values()) >= 4
    assert sum(not v["relevant"] for v in real.values()) >= 12
    if not REAL_FEEDS.is_dir():
        pytest.skip("shared real-feeds folder not available")
    by_file: dict[str, set[str]] = {}
    for key, lab in real.items():
        name = lab["file"].removeprefix("real-feeds/")
        if name not in by_file:
            entries = feedparser.parse((REAL_FEEDS / name).read_bytes()).entries
            by_file[name] = {e.get("id") or e.get("link") for e in entries}
        assert key in by_file[name], (name, key)


# --------------------------------------------------------------------------- errors on bad input

GOOD_OUTLET = """
[[outlets]]
id = "la-jornada"
name = "La Jornada"
country = "MX"
language = "es"
feeds = [ { url = "https://www.jornada.com.mx/rss/politica.xml", section = "politica" } ]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "outlets.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "outlet", "words"),
    [
        (('country = "MX"', 'country = "Mexico"'), "'la-jornada'", ["'country'", "'Mexico'"]),
        (('language = "es"', 'language = "spanish"'), "'la-jornada'", ["'language'"]),
        (("feeds = [", "# feeds = ["), "'la-jornada'", ["'feeds'"]),
        (("https://www.jornada", "ftp://www.jornada"), "'la-jornada' feed #1", ["'url'", "ftp://"]),
        (('section = "politica"', 'section = "politica", lang = "es"'), "'la-jornada' feed #1", ["lang"]),
        (
            ('name = "La Jornada"', 'name = "La Jornada"\nhomepge = "x"'),
            "'la-jornada'",
            ["unknown", "homepge"],
        ),
        (('id = "la-jornada"', 'id = "La Jornada"'), "'La Jornada'", ["'id'", "slug"]),
        (
            ('name = "La Jornada"', 'name = "La Jornada"\ntimezone = "Mexico/Nowhere"'),
            "'la-jornada'",
            ["'timezone'"],
        ),
        (('name = "La Jornada"', 'name = ""'), "'la-jornada'", ["'name'", "required"]),
    ],
)
def test_bad_field_names_file_outlet_and_field(
    tmp_path: Path, change: tuple[str, str], outlet: str, words: list[str]
) -> None:
    assert change[0] in GOOD_OUTLET
    path = _write(tmp_path, GOOD_OUTLET.replace(change[0], change[1], 1))
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert str(path) in message
    assert f"outlet {outlet}" in message
    for word in words:
        assert word in message, message


_HOME = 'name = "La Jornada"'
_FEED = "https://www.jornada.com.mx/rss/politica.xml"


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        ((_HOME, _HOME + '\nhomepage = "javascript:alert(document.cookie)"'), "'la-jornada'", ["'homepage'", "http(s)"]),
        ((_HOME, _HOME + '\nhomepage = "data:text/html,<script>x</script>"'), "'la-jornada'", ["'homepage'"]),
        ((_HOME, _HOME + '\nhomepage = "file:///etc/passwd"'), "'la-jornada'", ["'homepage'"]),
        ((_HOME, _HOME + '\nhomepage = "www.jornada.com.mx"'), "'la-jornada'", ["'homepage'"]),
        ((_HOME, _HOME + '\nhomepage = "https://www.jornada .com.mx/"'), "'la-jornada'", ["'homepage'", "space"]),
        ((_FEED, "javascript:alert(1)//rss.xml"), "'la-jornada' feed #1", ["'url'", "http(s)"]),
        ((_FEED, "data:application/rss+xml,<rss/>"), "'la-jornada' feed #1", ["'url'"]),
        ((_FEED, "file:///etc/passwd"), "'la-jornada' feed #1", ["'url'"]),
        ((_FEED, "https://www.jornada.com.mx/rss/poli tica.xml"), "'la-jornada' feed #1", ["'url'", "a space"]),
        ((_FEED, "https://www.jornada.com.mx/rss/\\u0000x.xml"), "'la-jornada' feed #1", ["'url'", "U+0000"]),
        ((_FEED, "https://www.jornada.com.mx/rss/\\tx.xml"), "'la-jornada' feed #1", ["'url'", "U+0009"]),
        ((_FEED, "https://www.jornada.com.mx/rss/\\u00a0x.xml"), "'la-jornada' feed #1", ["'url'", "U+00A0"]),
        ((_FEED, "https://www.jornada.com.mx/rss/\\u202ex.xml"), "'la-jornada' feed #1", ["'url'", "U+202E"]),
    ],
)
def test_registry_refuses_non_http_and_unsafe_urls(
    tmp_path: Path, change: tuple[str, str], where: str, words: list[str]
) -> None:
    """homepage and feed URLs are shown as links and fetched: only plain http(s), nothing hidden in them."""
    assert change[0] in GOOD_OUTLET
    path = _write(tmp_path, GOOD_OUTLET.replace(change[0], change[1], 1))
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert message.startswith(f"{path}: outlet {where}: "), message
    assert "\n" not in message and "\x00" not in message
    for word in words:
        assert word in message, message


def test_registry_error_does_not_echo_credentials(tmp_path: Path) -> None:
    bad = "https://bob:hunter2@www.jornada.com.mx/rss/poli tica.xml?token=s3cret"
    path = _write(tmp_path, GOOD_OUTLET.replace(_FEED, bad))
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert "'url'" in message and "***@www.jornada.com.mx" in message
    assert "hunter2" not in message and "s3cret" not in message


def test_registry_keeps_http_homepage_and_credentialed_feed_urls(tmp_path: Path) -> None:
    """Credentials in a feed URL are allowed (a private feed needs them); they are only hidden when shown."""
    url = "https://bob:hunter2@www.jornada.com.mx/rss/politica.xml?token=s3cret"
    text = GOOD_OUTLET.replace(_HOME, _HOME + '\nhomepage = "https://www.jornada.com.mx/"').replace(_FEED, url)
    registry = load_registry(_write(tmp_path, text))
    assert registry.outlets[0].homepage == "https://www.jornada.com.mx/"
    assert registry.outlets[0].feeds[0].url == url


def test_cli_reports_an_unsafe_homepage_in_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_OUTLET.replace(_HOME, _HOME + '\nhomepage = "javascript:alert(1)"'))
    result = CliRunner().invoke(cli, ["feeds", "validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"error: {path}: outlet 'la-jornada': field 'homepage' must be an absolute http(s) URL, got 'javascript:alert(1)'"
    ]


def test_good_outlet_loads(tmp_path: Path) -> None:
    registry = load_registry(_write(tmp_path, GOOD_OUTLET))
    assert [o.id for o in registry.outlets] == ["la-jornada"]
    assert registry.outlets[0].timezone == "America/Mexico_City"


def test_duplicate_id_names_the_outlet(tmp_path: Path) -> None:
    second = GOOD_OUTLET.replace("rss/politica.xml", "rss/mundo.xml")
    path = _write(tmp_path, GOOD_OUTLET + second)
    with pytest.raises(
        RegistryError, match=r"outlet 'la-jornada': field 'id' is used by another outlet"
    ) as info:
        load_registry(path)
    assert str(path) in str(info.value)


def test_duplicate_feed_url_names_both_outlets(tmp_path: Path) -> None:
    second = GOOD_OUTLET.replace('id = "la-jornada"', 'id = "jornada-copy"')
    with pytest.raises(
        RegistryError,
        match=r"outlet 'jornada-copy' feed #1: field 'url' is already a feed of outlet 'la-jornada'",
    ):
        load_registry(_write(tmp_path, GOOD_OUTLET + second))


def test_missing_id_names_the_outlet_position(tmp_path: Path) -> None:
    text = GOOD_OUTLET + GOOD_OUTLET.replace('id = "la-jornada"\n', "").replace("politica.xml", "mundo.xml")
    with pytest.raises(RegistryError, match=r"outlet #2: field 'id' is required"):
        load_registry(_write(tmp_path, text))


def test_bad_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_OUTLET.replace('name = "La Jornada"', 'name = "La Jornada'))
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert str(path) in message and "not valid TOML" in message and "line 4" in message


def test_no_outlets_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"expected one or more \[\[outlets\]\]"):
        load_registry(_write(tmp_path, "# nothing here\n"))
    with pytest.raises(RegistryError, match="registry file not found"):
        load_registry(tmp_path / "absent.toml")


def test_cli_reports_a_bad_registry_in_one_line(tmp_path: Path) -> None:
    """A user's broken registry gives `error: <file>: outlet ...: field ...` and exit 2, no traceback."""
    path = _write(tmp_path, GOOD_OUTLET.replace('country = "MX"', 'country = "mx"'))
    result = CliRunner().invoke(cli, ["feeds", "validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"error: {path}: outlet 'la-jornada': field 'country' must be an ISO 3166-1 alpha-2 code like 'MX', got 'mx'"
    ]
    assert "Traceback" not in result.output


def test_cli_validates_the_bundled_registry() -> None:
    result = CliRunner().invoke(cli, ["feeds", "validate"])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "US" in result.output and "MX" in result.output

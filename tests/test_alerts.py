"""Alert rules: validation, matching on a database built by the whole pipeline, the once-per-subject
ledger, and delivery to a real loopback webhook receiver and a real aiosmtpd server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.errors import ConfigError
from monitor.store.db import open_db, parse_iso, utcnow
from monitor.watch import alerts
from tests.fixtures_alerts import SmtpServer, WebhookReceiver

NOW = datetime(2026, 3, 9, 6, 59, 30, tzinfo=UTC)  # any fixed instant: an alert e-mail is dated by the caller's clock

LOOKBACK_H = 24 * 365  # the demo articles were first seen minutes ago; keep everything in range


def _settings(base: Settings, db_path: Path, rules: list[dict[str, Any]], **changes: Any) -> Settings:
    defaults: dict[str, Any] = {
        "watch__alert_lookback_h": LOOKBACK_H,
        "watch__alert_retry_s": 1.0,
        "watch__webhook_timeout_s": 5.0,
    }
    return base.replace(db=str(db_path), alerts=rules, **{**defaults, **changes})


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"terms": "cartel"}, "'name' is required"),
        ({"name": "x y", "terms": "cartel"}, "'name' may use"),
        ({"name": "a"}, "'terms' is required"),
        ({"name": "a", "terms": "cartel", "sinks": ["sms"]}, "'sinks' must be some of"),
        ({"name": "a", "terms": "cartel", "sinks": ["webhook"]}, "needs 'webhook'"),
        ({"name": "a", "terms": "cartel", "sinks": ["webhook"], "webhook": "ftp://x"}, "needs 'webhook'"),
        ({"name": "a", "terms": "cartel", "sinks": ["email"]}, "needs recipients"),
        ({"name": "a", "terms": "cartel", "sinks": ["email"], "email": ["not an address"]}, "invalid address"),
        ({"name": "a", "terms": "cartel", "countries": ["mexico"]}, "two-letter codes"),
        ({"name": "a", "terms": "cartel", "colour": "red"}, "unknown field(s) colour"),
        ({"name": "a", "terms": "OR OR -"}, "'terms':"),
        ({"name": "a", "kind": "breaking", "min_articles": 0}, "'min_articles' must be a whole number"),
        ({"name": "a", "kind": "sudden"}, "'kind' must be one of"),
        ("cartel", "must be a table"),
    ],
)
def test_invalid_rules_give_one_clear_error(settings: Settings, rule: Any, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        alerts.load_rules(settings.replace(alerts=[rule]))
    assert message in str(exc.value)
    assert str(exc.value).startswith("[[alerts]] alert ")


def test_duplicate_names_and_defaults(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="same name"):
        alerts.load_rules(settings.replace(alerts=[{"name": "a", "terms": "x"}, {"name": "a", "terms": "y"}]))
    [rule] = alerts.load_rules(
        settings.replace(digest__recipients=["desk@example.org"], alerts=[{"name": "b", "min_articles": 4, "sinks": ["log", "email"]}])
    )
    assert rule.kind == "breaking" and rule.email == ("desk@example.org",) and rule.within_min == 60 and rule.second_country


def test_config_file_rules_reach_the_cli(tmp_path: Path, settings: Settings) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'db = "{settings.db_path.name}"\n'
        '[[alerts]]\nname = "strikes"\nterms = \'"drone strike" OR ataque\'\ncountries = ["MX"]\n\n'
        '[[alerts]]\nname = "fast"\nkind = "breaking"\nmin_articles = 5\nwithin_min = 30\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "alerts", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["kind"], r["sinks"]) for r in rows] == [("strikes", "terms", ["log"]), ("fast", "breaking", ["log"])]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[alerts]]\nname = "x"\nsinks = ["webhook"]\nterms = "a"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(bad), "alerts", "list"])
    assert result.exit_code == 2 and "error: [[alerts]] alert 'x': the webhook sink needs" in result.output
    result = CliRunner().invoke(cli, ["--config", str(config), "alerts", "test", "nope"])
    assert result.exit_code == 2 and "no alert rule named 'nope'" in result.output


# --- matching and the ledger -----------------------------------------------------------------


def test_burst_window() -> None:
    t0 = datetime(2026, 11, 22, 12, 0)
    times = [t0, t0 + timedelta(minutes=50), t0 + timedelta(minutes=55), t0 + timedelta(minutes=58), t0 + timedelta(hours=5)]
    assert alerts.burst(times, 3, 10) == (times[1], times[3])
    assert alerts.burst(times, 4, 10) is None
    assert alerts.burst(times, 4, 60) == (times[0], times[3])


def _mx_sheinbaum_ids(db_path: Path) -> set[int]:
    db = open_db(db_path)
    try:
        rows = db.execute(
            "SELECT a.id FROM articles a LEFT JOIN article_translations t ON t.article = a.id "
            "WHERE a.country = 'MX' AND (a.title LIKE '%Sheinbaum%' OR a.summary LIKE '%Sheinbaum%' "
            "OR t.title LIKE '%Sheinbaum%' OR t.summary LIKE '%Sheinbaum%')"
        ).fetchall()
        return {int(r[0]) for r in rows}
    finally:
        db.close()


def test_term_rule_fires_once_per_article_to_webhook_email_and_log(
    demo_db_copy: Path, demo_db_settings: Settings, webhook_receiver: WebhookReceiver, alert_smtp: SmtpServer
) -> None:
    rule = {
        "name": "sheinbaum-mx",
        "terms": "Sheinbaum",
        "countries": ["MX"],
        "sinks": ["log", "webhook", "email"],
        "webhook": webhook_receiver.url,
        "email": ["desk@example.org"],
    }
    s = _settings(demo_db_settings, demo_db_copy, [rule], smtp__host=alert_smtp.host, smtp__port=alert_smtp.port)
    logged: list[tuple[str, dict[str, Any]]] = []

    def emit(event: str, **fields: Any) -> None:
        logged.append((event, fields))

    db = open_db(demo_db_copy)
    try:
        rules = alerts.load_rules(s)
        fired = alerts.evaluate(db, s, rules, utcnow(), emit=emit)
        expected = _mx_sheinbaum_ids(demo_db_copy)
        assert expected, "the demo data should mention Sheinbaum in Mexican outlets"
        assert {m.subject_id for m in fired} <= expected and len(fired) >= 2
        assert alerts.evaluate(db, s, rules, utcnow(), emit=emit) == []  # the ledger: nothing fires twice

        # delivered by a clock three days ahead of the machine's: the e-mails carry that clock's date
        later = (utcnow() + timedelta(days=3)).replace(microsecond=0)  # a Date header has whole seconds
        report = alerts.deliver_due(db, s, later, emit=emit)
        assert report.sent == 3 * len(fired) and report.retried == 0
        assert alerts.deliver_due(db, s, later, emit=emit).sent == 0
    finally:
        db.close()

    posted = sorted(p["article"] for p in webhook_receiver.posts)
    assert posted == sorted(m.subject_id for m in fired)  # exactly once each
    for post in webhook_receiver.posts:
        assert post["text"].startswith("[sheinbaum-mx] MX · ") and post["country"] == "MX"
    assert len(alert_smtp.messages) == len(fired)
    assert all(env == ("monitor@localhost", ["desk@example.org"]) for env in alert_smtp.envelopes)
    dates = [parsedate_to_datetime(str(m["Date"])) for m in alert_smtp.messages]
    assert all(later <= d <= later + timedelta(minutes=5) for d in dates), dates
    subjects = [str(m["Subject"]) for m in alert_smtp.messages]
    assert all(sub.strip().startswith("[sheinbaum-mx] MX ") and "\n" not in sub for sub in subjects)
    assert sum(1 for e, _ in logged if e == "alert") == len(fired)
    assert sum(1 for e, _ in logged if e == "alert_fired") == len(fired)


def test_breaking_rule_fires_once_per_story(demo_db_copy: Path, demo_db_settings: Settings) -> None:
    s = _settings(demo_db_settings, demo_db_copy, [{"name": "breaking", "min_articles": 3, "within_min": 120}])
    db = open_db(demo_db_copy)
    try:
        [rule] = alerts.load_rules(s)
        matches = alerts.find_matches(db, s, rule, utcnow() - timedelta(hours=LOOKBACK_H))
        assert matches and all(m.subject_kind == "story" for m in matches)
        shared = [m for m in matches if "picked up by" in m.reason]
        assert shared, [m.reason for m in matches]
        # every reason is true of the story's articles
        for m in matches:
            rows = db.execute(
                "SELECT a.country, a.published FROM story_articles sa JOIN articles a ON a.id = sa.article WHERE sa.story = ?",
                [m.subject_id],
            ).fetchall()
            if "picked up by" in m.reason:
                assert len({r[0] for r in rows}) >= 2
            if "gained" in m.reason:
                times = sorted(parse_iso(r[1]) for r in rows)
                assert alerts.burst(times, 3, 120) is not None
        fired = alerts.evaluate(db, s, [rule], utcnow())
        assert {m.subject_id for m in fired} == {m.subject_id for m in matches}
        assert alerts.evaluate(db, s, [rule], utcnow()) == []
        n = db.execute("SELECT count(*) FROM alerts_fired WHERE rule = 'breaking'").fetchone()[0]
        assert n == len(matches)
    finally:
        db.close()


def test_failed_webhook_is_retried_with_backoff_then_given_up(
    demo_db_copy: Path, demo_db_settings: Settings, webhook_receiver: WebhookReceiver
) -> None:
    rule = {"name": "one", "terms": "Sheinbaum", "countries": ["MX"], "sinks": ["webhook"], "webhook": webhook_receiver.url}
    s = _settings(demo_db_settings, demo_db_copy, [rule], watch__alert_max_attempts=3, watch__alert_retry_s=10.0)
    db = open_db(demo_db_copy)
    try:
        fired = alerts.evaluate(db, s, alerts.load_rules(s), utcnow())
        n = len(fired)
        webhook_receiver.fail_next = 10**6  # the receiver is down
        t0 = utcnow()
        first = alerts.deliver_due(db, s, now=t0)
        assert first.retried == n and first.sent == 0
        assert alerts.deliver_due(db, s, now=t0 + timedelta(seconds=5)).retried == 0  # backoff: not yet
        rows = db.execute("SELECT attempts, next_attempt_at, last_error FROM alert_deliveries").fetchall()
        assert all(r[0] == 1 and "HTTP 500" in r[2] for r in rows)
        assert all(parse_iso(r[1]) >= t0 + timedelta(seconds=9) for r in rows)
        second = alerts.deliver_due(db, s, now=t0 + timedelta(seconds=60))
        assert second.retried == n
        assert all(parse_iso(r[0]) >= t0 + timedelta(seconds=19) for r in db.execute("SELECT next_attempt_at FROM alert_deliveries"))
        # the receiver is back for one alert only; the others give up on their third attempt
        webhook_receiver.fail_next = n - 1
        third = alerts.deliver_due(db, s, now=t0 + timedelta(hours=1))
        assert third.sent == 1 and third.gave_up == n - 1
        statuses = sorted(r[0] for r in db.execute("SELECT status FROM alert_deliveries"))
        assert statuses == sorted(["sent"] + ["failed"] * (n - 1))
        assert alerts.deliver_due(db, s, now=t0 + timedelta(days=1)).sent == 0
    finally:
        db.close()
    assert len(webhook_receiver.posts) == 1 and webhook_receiver.attempts == 3 * n


def test_messages_escape_slack_markup(settings: Settings) -> None:
    [rule] = alerts.load_rules(settings.replace(alerts=[{"name": "x", "terms": "cartel"}]))
    row = {"id": 7, "outlet": "o", "outlet_name": "Outlet", "country": "MX", "title": "<script>x</script> & <@here>",
           "title_translated": None, "url": "https://example.org/a", "published": "2026-11-22T10:00:00+00:00"}
    msg = alerts.article_message(settings, rule, row, "why")
    assert "<" not in msg["text"] and "&lt;script&gt;x&lt;/script&gt; &amp; &lt;@here&gt;" in msg["text"]
    email = alerts.email_message(settings, ["a@example.org"], msg, NOW)
    assert "<script>x</script>" in email.get_content() and "\n" not in email["Subject"]


def test_email_body_is_the_title_as_written_even_when_it_looks_escaped(settings: Settings) -> None:
    """The Slack escaping is undone exactly once: a title that itself holds entities reads as written."""
    [rule] = alerts.load_rules(settings.replace(alerts=[{"name": "x", "terms": "cartel"}]))
    title = "AT&amp;T &lt;b&gt; &copy R&D <tag> &#39;q&#39;"
    row = {"id": 7, "outlet": "o", "outlet_name": "Outlet", "country": "MX", "title": title,
           "title_translated": None, "url": "https://example.org/a", "published": "2026-11-22T10:00:00+00:00"}
    email = alerts.email_message(settings, ["a@example.org"], alerts.article_message(settings, rule, row, "why"), NOW)
    assert f"Outlet: {title}\n" in email.get_content()


def test_alerts_test_command_shows_matches_without_recording(demo_db_copy: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'db = "{demo_db_copy}"\n[watch]\nalert_lookback_h = {LOOKBACK_H}\n[translation]\nengine = "none"\n'
        '[[alerts]]\nname = "sheinbaum"\nterms = "Sheinbaum"\ncountries = ["MX"]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "alerts", "test", "sheinbaum", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    ids = {m["subject_id"] for m in data["matches"]}
    assert ids and ids <= _mx_sheinbaum_ids(demo_db_copy)
    assert not any(m["already_fired"] for m in data["matches"])
    db = open_db(demo_db_copy)
    try:
        assert db.execute("SELECT count(*) FROM alerts_fired").fetchone()[0] == 0
    finally:
        db.close()
    text = CliRunner().invoke(cli, ["--config", str(config), "alerts", "test", "sheinbaum"])
    assert text.exit_code == 0 and "would fire" in text.output


def test_control_characters_never_reach_a_message_or_subject(settings: Settings) -> None:
    [rule] = alerts.load_rules(settings.replace(alerts=[{"name": "x", "terms": "cartel"}]))
    title = "Línea\u2028uno\x00\x1b[31m\r\nBcc: evil@example.org\ufeff" + "x" * 400
    row = {"id": 7, "outlet": "o", "outlet_name": "Outlet", "country": "MX", "title": title,
           "title_translated": "Line\x85two", "url": None, "published": "2026-11-22T10:00:00+00:00"}
    msg = alerts.article_message(settings, rule, row, "why")
    assert msg["title"].startswith("Línea uno [31m Bcc: evil@example.org x")
    assert len(msg["title"]) == 300 and msg["title"].endswith("…")
    assert msg["title_translated"] == "Line two"
    assert not any(c in msg["text"] for c in "\x00\x1b\r\u2028\ufeff\x85")
    subject = alerts.email_message(settings, ["a@example.org"], msg, NOW)["Subject"]
    assert "Bcc" in subject and not any(c in subject for c in "\x00\x1b\r\n\u2028\ufeff")

"""Alerts: watch-list rules from the config, matching, the once-per-subject ledger, and the sinks.

Rules are `[[alerts]]` tables in the config file (see docs/watch.md, "Alerts"). Two kinds:

- **terms** (default): `terms` in either language, with the same syntax as `monitor search`
  (words, "phrases", OR, -exclusion, prefix*, field filters), optionally limited to `countries`
  and `frames`. It matches articles first seen within `settings.watch.alert_lookback_h`.
- **breaking**: a story that gains `min_articles` articles within `within_min` minutes (by their
  publication times), or (`second_country`, on by default) is picked up by a second country's press.

`evaluate(db, settings, rules, now)` finds the matches and records each new one in the ledger
(`alerts_fired`, unique per rule and article or story) together with one pending delivery per sink,
in one transaction: an alert fires once per (rule, subject), whatever happens later.
`deliver_due(db, settings, now, emit)` then sends the pending deliveries whose time has come; a
failed sink is retried with exponential backoff (`watch.alert_retry_s`, doubling, capped at
`watch.alert_retry_max_s`) until `watch.alert_max_attempts`, and the network is never touched
inside a database transaction. Each delivery is claimed (status `sending`, claimant, expiry) in
its own `BEGIN IMMEDIATE` before its sink is touched, so any number of watchers on one database
deliver each (rule, subject, sink) once; a claim left by a killed watcher expires and is retried
(at-least-once; the window and why it cannot be closed are in monitor/digest/claims.py). The
watcher runs deliveries in a background thread (`AlertDispatcher`) that survives any exception,
so a slow or failing sink never blocks polling.

Sinks: `log` (one line in the watcher's log), `webhook` (JSON POST with a Slack-compatible `text`
field to the rule's `webhook` URL) and `email` (to the rule's `email` addresses, default the digest
recipients, through the `[smtp]` settings the digest uses).
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import smtplib
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlite_utils

from monitor.analysis.analyze import frames_json_sql
from monitor.analysis.stories import get_story
from monitor.analysis.titles import StoryTitle
from monitor.config.settings import Settings
from monitor.digest.claims import Clock, claim_ttl, claimant
from monitor.errors import ConfigError, MonitorError
from monitor.mail import check_address, connect, describe, one_line
from monitor.store.db import BUSY_TIMEOUT_S, iso, parse_iso, utcnow, write_transaction

SINKS = ("log", "webhook", "email")
KINDS = ("terms", "breaking")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_COMMON_KEYS = {"name", "kind", "sinks", "webhook", "email", "countries"}
LINE_LIMIT = 300  # characters of a title, label or headline in an alert
_TERM_KEYS = _COMMON_KEYS | {"terms", "frames"}
_BREAKING_KEYS = _COMMON_KEYS | {"min_articles", "within_min", "second_country"}
SEARCH_LIMIT = 1000  # most matches of one rule looked at per evaluation (newest first)

Emit = Callable[..., None]  # emit(event, **fields): one structured log line
NowFn = Callable[[], datetime]  # the dispatcher's clock, read once per round


@dataclass(frozen=True)
class Rule:
    """One validated alert rule."""

    name: str  # unique, shown in every alert
    kind: str  # terms | breaking
    sinks: tuple[str, ...]  # log | webhook | email
    terms: str = ""  # search syntax (terms rules)
    countries: tuple[str, ...] = ()  # only articles/stories of these countries; empty: all
    frames: tuple[str, ...] = ()  # only articles with one of these frames; empty: all
    webhook: str = ""  # URL the webhook sink POSTs to
    email: tuple[str, ...] = ()  # recipients of the email sink
    min_articles: int = 3  # breaking: articles gained ...
    within_min: int = 60  # breaking: ... within this many minutes
    second_country: bool = True  # breaking: also fire when a second country's press picks the story up

    def describe(self) -> str:
        if self.kind == "breaking":
            text = f"story gains {self.min_articles} articles within {self.within_min} min"
            if self.second_country:
                text += ", or is picked up by a second country's press"
        else:
            text = f"terms: {self.terms}"
            if self.frames:
                text += f" · frames: {', '.join(self.frames)}"
        if self.countries:
            text += f" · countries: {', '.join(self.countries)}"
        return text


@dataclass
class Match:
    """A rule matching one article or story (not yet, or already, in the ledger)."""

    rule: str
    subject_kind: str  # article | story
    subject_id: int
    reason: str
    message: dict[str, Any]  # what the sinks send; always has "text"
    already_fired: bool = False


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)


# --- rules ------------------------------------------------------------------------------------


def _fail(index: int, name: str, message: str) -> ConfigError:
    where = f"alert {name!r}" if name else f"alert #{index}"
    return ConfigError(f"[[alerts]] {where}: {message}")


def _str_list(value: Any, index: int, name: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(index, name, f"'{key}' must be a list of strings, e.g. {key} = [\"...\"]")
    return tuple(v.strip() for v in value)


def _positive_int(value: Any, index: int, name: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(index, name, f"'{key}' must be a whole number of at least 1, got {value!r}")
    return value


def parse_rule(data: Any, index: int, settings: Settings) -> Rule:
    """Validate one [[alerts]] table; a ConfigError names the rule, the field and what to write."""
    if not isinstance(data, dict):
        raise _fail(index, "", "must be a table ([[alerts]] with name = ..., terms = ...)")
    raw_name = data.get("name")
    name = raw_name.strip() if isinstance(raw_name, str) else ""
    if not name:
        raise _fail(index, "", "'name' is required (a short label such as \"drone-strikes\")")
    if not _NAME.match(name):
        raise _fail(index, name, "'name' may use letters, digits, '-', '_' and '.' only (at most 63)")
    kind = data.get("kind", "breaking" if "min_articles" in data or "within_min" in data else "terms")
    if kind not in KINDS:
        raise _fail(index, name, f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    known = _TERM_KEYS if kind == "terms" else _BREAKING_KEYS
    unknown = sorted(set(data) - known)
    if unknown:
        raise _fail(index, name, f"unknown field(s) {', '.join(unknown)} for a {kind} rule (known: {', '.join(sorted(known))})")
    sinks = _str_list(data.get("sinks", ["log"]), index, name, "sinks")
    bad = [s for s in sinks if s not in SINKS]
    if bad or not sinks:
        raise _fail(index, name, f"'sinks' must be some of {', '.join(SINKS)}, got {', '.join(bad) or 'nothing'}")
    webhook = data.get("webhook", "")
    if not isinstance(webhook, str):
        raise _fail(index, name, "'webhook' must be a URL string")
    webhook = webhook.strip()
    if "webhook" in sinks:
        parts = urlsplit(webhook)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _fail(index, name, "the webhook sink needs 'webhook' = an http(s) URL, e.g. a Slack incoming-webhook URL")
    email = _str_list(data.get("email", []), index, name, "email") if "email" in data else tuple(settings.digest.recipients)
    if "email" in sinks:
        if not email:
            raise _fail(index, name, "the email sink needs recipients: set 'email' = [\"desk@example.org\"] or [digest] recipients")
        for address in email:
            try:
                check_address(address, "address")
            except MonitorError as exc:
                raise _fail(index, name, f"'email' has an invalid address: {exc}") from None
    countries = _str_list(data.get("countries", []), index, name, "countries") if "countries" in data else ()
    for c in countries:
        if not _COUNTRY.match(c):
            raise _fail(index, name, f"'countries' takes two-letter codes such as \"US\" or \"MX\", got {c!r}")
    common: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "sinks": tuple(dict.fromkeys(sinks)),
        "countries": countries,
        "webhook": webhook,
        "email": email,
    }
    if kind == "terms":
        terms = data.get("terms", "")
        if not isinstance(terms, str) or not terms.strip():
            raise _fail(index, name, "'terms' is required: words in either language, with the `monitor search` syntax")
        frames = _str_list(data.get("frames", []), index, name, "frames") if "frames" in data else ()
        try:
            from monitor.search.query import parse_query

            parse_query(terms, country=list(countries) or None, frame=list(frames) or None)
        except MonitorError as exc:
            raise _fail(index, name, f"'terms': {exc}") from None
        return Rule(**common, terms=terms.strip(), frames=frames)
    second = data.get("second_country", True)
    if not isinstance(second, bool):
        raise _fail(index, name, f"'second_country' must be true or false, got {second!r}")
    return Rule(
        **common,
        min_articles=_positive_int(data.get("min_articles", 3), index, name, "min_articles"),
        within_min=_positive_int(data.get("within_min", 60), index, name, "within_min"),
        second_country=second,
    )


def load_rules(settings: Settings) -> list[Rule]:
    """Every [[alerts]] rule of the settings, validated; names must be unique."""
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, data in enumerate(settings.alerts, 1):
        rule = parse_rule(data, i, settings)
        if rule.name in seen:
            raise _fail(i, rule.name, "another rule has the same name; names must be unique")
        seen.add(rule.name)
        rules.append(rule)
    return rules


def find_rule(rules: Iterable[Rule], name: str) -> Rule:
    rules = list(rules)
    for rule in rules:
        if rule.name == name:
            return rule
    known = ", ".join(r.name for r in rules) or "none configured"
    from monitor.errors import UsageError

    raise UsageError(f"no alert rule named {name!r} (rules: {known}); see `monitor alerts list`")


# --- messages ----------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's `text` field treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _article_link(settings: Settings, article_id: int, url: str | None) -> str:
    if settings.serve.public_url:
        return f"{settings.serve.public_url.rstrip('/')}/article/{article_id}"
    return url or ""


def _story_link(settings: Settings, story_id: int) -> str:
    return f"{settings.serve.public_url.rstrip('/')}/story/{story_id}" if settings.serve.public_url else ""


def article_message(settings: Settings, rule: Rule, row: dict[str, Any], reason: str) -> dict[str, Any]:
    title = one_line(str(row["title"]), LINE_LIMIT)
    translated = one_line(str(row["title_translated"]), LINE_LIMIT) if row.get("title_translated") else ""
    link = _article_link(settings, row["id"], row.get("url"))
    lines = [f"[{rule.name}] {row['country']} · {row['outlet_name']}: {title}"]
    if translated:
        lines.append(f"({translated})")
    if link:
        lines.append(link)
    return {
        "text": slack_escape("\n".join(lines)),
        "rule": rule.name,
        "kind": "article",
        "article": row["id"],
        "title": title,
        "title_translated": translated or None,
        "country": row["country"],
        "outlet": row["outlet"],
        "published": row["published"],
        "url": row.get("url"),
        "link": link or None,
        "reason": reason,
    }


def _title_line(title: StoryTitle) -> str:
    """A story title for an alert: the headline, its source, and a mark when it is a machine translation."""
    mark = f" ({'rough ' if title.rough else ''}machine translation)" if title.translated else ""
    return one_line(f"{title.headline}{mark} — {title.country} · {title.outlet}", LINE_LIMIT)


def story_message(settings: Settings, rule: Rule, story: dict[str, Any], reason: str) -> dict[str, Any]:
    """A breaking-story alert. `story["title"]` is its English StoryTitle (analysis/titles.py) or None,
    when the story's keywords (label_en) stand in."""
    title: StoryTitle | None = story.get("title")
    label = one_line(str(story["label_en"] or story["label_es"] or f"story {story['id']}"), LINE_LIMIT)
    link = _story_link(settings, story["id"])
    lines = [f"[{rule.name}] Story #{story['id']}: {reason}"]
    if title:
        lines.append(f"{title.country}: {_title_line(title)}")
        if title.other:
            lines.append(f"{title.other.country}: {_title_line(title.other)}")
    else:
        lines[0] = f"[{rule.name}] Story #{story['id']} “{label}”: {reason}"
        if story.get("headline"):
            lines.append(one_line(str(story["headline"]), LINE_LIMIT))
    if link:
        lines.append(link)
    return {
        "text": slack_escape("\n".join(lines)),
        "rule": rule.name,
        "kind": "story",
        "story": story["id"],
        "title": one_line(title.headline, LINE_LIMIT) if title else None,  # English: the story's central headline
        "title_translated": bool(title and title.translated),  # a machine translation of title_original
        "title_rough": bool(title and title.rough),  # ... by a word-for-word engine
        "title_original": one_line(title.original, LINE_LIMIT) if title else None,
        "title_article": title.article if title else None,
        "title_country": title.country if title else None,
        "title_other": one_line(title.other.headline, LINE_LIMIT) if title and title.other else None,
        "title_other_country": title.other.country if title and title.other else None,
        "label_en": story["label_en"],
        "label_es": story["label_es"],
        "countries": story["countries"],
        "size": story["size"],
        "link": link or None,
        "reason": reason,
    }


# --- matching ----------------------------------------------------------------------------------




def _hit_id(hit: Any) -> int:
    for attr in ("id", "article", "article_id"):
        value = getattr(hit, attr, None)
        if isinstance(value, int):
            return value
    raise TypeError(f"search hit without an article id: {hit!r}")


def _article_rows(db: sqlite_utils.Database, ids: list[int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        sql = f"""
            SELECT a.id, a.outlet, COALESCE(o.name, a.outlet) AS outlet_name, a.country, a.language, a.url,
                   a.title, a.published, a.first_seen, {frames_json_sql('a.id')}, an.top_frame,
                   (SELECT t.title FROM article_translations t WHERE t.article = a.id AND t.language != a.language
                    ORDER BY t.language LIMIT 1)
            FROM articles a LEFT JOIN outlets o ON o.id = a.outlet LEFT JOIN analyses an ON an.article = a.id
            WHERE a.id IN ({marks})"""
        for r in db.execute(sql, chunk).fetchall():
            frames = set(json.loads(r[9] or "[]"))
            if r[10]:
                frames.add(r[10])
            out.append(
                {
                    "id": int(r[0]),
                    "outlet": r[1],
                    "outlet_name": r[2],
                    "country": r[3],
                    "language": r[4],
                    "url": r[5],
                    "title": r[6],
                    "published": r[7],
                    "first_seen": r[8],
                    "frames": frames,
                    "title_translated": r[11],
                }
            )
    return out


def match_terms(db: sqlite_utils.Database, settings: Settings, rule: Rule, since: datetime) -> list[Match]:
    """Articles first seen since `since` that the rule's terms, countries and frames match (newest first)."""
    from monitor.search.engine import search
    from monitor.search.query import parse_query

    query = parse_query(rule.terms, country=list(rule.countries) or None, frame=list(rule.frames) or None)
    result = search(db, settings, query, limit=SEARCH_LIMIT, sort="date")
    ids = [_hit_id(h) for h in result.hits]
    since_iso = iso(since)
    matches: list[Match] = []
    for row in _article_rows(db, ids):
        if row["first_seen"] < since_iso:
            continue
        if rule.countries and row["country"] not in rule.countries:
            continue
        reason = f"matched {rule.terms!r}"
        if rule.frames and row["frames"] & set(rule.frames):
            reason += f" with frame {', '.join(sorted(row['frames'] & set(rule.frames)))}"
        matches.append(Match(rule.name, "article", row["id"], reason, article_message(settings, rule, row, reason)))
    matches.sort(key=lambda m: (m.message["published"], m.subject_id), reverse=True)
    return matches


def burst(times: list[datetime], n: int, minutes: int) -> tuple[datetime, datetime] | None:
    """The latest window of at most `minutes` holding at least `n` of the (sorted) times, or None."""
    width = timedelta(minutes=minutes)
    found: tuple[datetime, datetime] | None = None
    j = 0
    for i in range(len(times)):
        while times[i] - times[j] > width:
            j += 1
        if i - j + 1 >= n:
            found = (times[j], times[i])
    return found


def match_breaking(db: sqlite_utils.Database, settings: Settings, rule: Rule, since: datetime) -> list[Match]:
    """Stories that grew fast, or reached a second country's press, within the lookback."""
    since_iso = iso(since)
    window = timedelta(minutes=rule.within_min)
    rows = db.execute(
        """SELECT s.id, s.label_en, s.label_es, a.country, a.published, a.title
           FROM stories s JOIN story_articles sa ON sa.story = s.id JOIN articles a ON a.id = sa.article
           WHERE s.merged_into IS NULL AND s.id IN (
               SELECT sa2.story FROM story_articles sa2 JOIN articles a2 ON a2.id = sa2.article
               WHERE a2.published >= ?)
           ORDER BY s.id, a.published""",
        [since_iso],
    ).fetchall()
    by_story: dict[int, list[tuple[Any, ...]]] = {}
    for r in rows:
        by_story.setdefault(int(r[0]), []).append(r)
    matches: list[Match] = []
    for sid, arts in by_story.items():
        if rule.countries:
            arts = [a for a in arts if a[3] in rule.countries]
            if not arts:
                continue
        times = [parse_iso(a[4]) for a in arts]
        first_by_country: dict[str, datetime] = {}
        for a, t in zip(arts, times, strict=True):
            first_by_country.setdefault(a[3], t)
        reasons: list[str] = []
        recent = [t for t in times if t >= since - window]
        window_found = burst(recent, rule.min_articles, rule.within_min)
        if window_found and window_found[1] >= since:
            count = sum(1 for t in recent if window_found[0] <= t <= window_found[1])
            reasons.append(f"gained {count} articles within {rule.within_min} min")
        if rule.second_country and len(first_by_country) >= 2:
            ordered = sorted(first_by_country.items(), key=lambda kv: kv[1])
            second_country, second_time = ordered[1]
            if second_time >= since:
                reasons.append(f"picked up by {second_country} press after {ordered[0][0]}")
        if not reasons:
            continue
        counts: dict[str, int] = {}
        for a in arts:
            counts[a[3]] = counts.get(a[3], 0) + 1
        view = get_story(db, sid)
        story = {
            "id": sid,
            "title": view.title_en if view else None,
            "label_en": arts[0][1] or "",
            "label_es": arts[0][2] or "",
            "countries": sorted(counts),
            "size": len(arts),
            "headline": arts[-1][5],
        }
        reason = "; ".join(reasons) + " (" + ", ".join(f"{c} {n}" for c, n in sorted(counts.items())) + ")"
        matches.append(Match(rule.name, "story", sid, reason, story_message(settings, rule, story, reason)))
    return matches


def find_matches(db: sqlite_utils.Database, settings: Settings, rule: Rule, since: datetime) -> list[Match]:
    matches = match_terms(db, settings, rule, since) if rule.kind == "terms" else match_breaking(db, settings, rule, since)
    if matches:
        fired = {
            int(r[0])
            for r in db.execute(
                "SELECT subject_id FROM alerts_fired WHERE rule = ? AND subject_kind = ?",
                [rule.name, matches[0].subject_kind],
            ).fetchall()
        }
        for m in matches:
            m.already_fired = m.subject_id in fired
    return matches


# --- the ledger --------------------------------------------------------------------------------


def record(db: sqlite_utils.Database, rule: Rule, matches: list[Match], now: datetime) -> list[Match]:
    """Record the matches not fired yet, each with one pending delivery per sink; returns those new."""
    fresh: list[Match] = []
    with write_transaction(db):
        for m in matches:
            cur = db.execute(
                "INSERT OR IGNORE INTO alerts_fired (rule, subject_kind, subject_id, fired_at, reason, message) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [m.rule, m.subject_kind, m.subject_id, iso(now), m.reason, json.dumps(m.message, ensure_ascii=False)],
            )
            if cur.rowcount != 1:
                continue
            alert_id = cur.lastrowid
            for sink in rule.sinks:
                target = rule.webhook if sink == "webhook" else ",".join(rule.email) if sink == "email" else ""
                db.execute(
                    "INSERT INTO alert_deliveries (alert, sink, target, next_attempt_at) VALUES (?, ?, ?, ?)",
                    [alert_id, sink, target, iso(now)],
                )
            fresh.append(m)
    return fresh


def evaluate(
    db: sqlite_utils.Database, settings: Settings, rules: list[Rule], now: datetime, emit: Emit | None = None
) -> list[Match]:
    """Match every rule and record what is new; a rule that fails is logged and the others still run."""
    since = now - timedelta(hours=settings.watch.alert_lookback_h)
    fired: list[Match] = []
    for rule in rules:
        try:
            fresh = record(db, rule, find_matches(db, settings, rule, since), now)
        except MonitorError as exc:
            if emit:
                emit("alert_rule_failed", rule=rule.name, error=str(exc))
            continue
        for m in fresh:
            if emit:
                emit("alert_fired", rule=m.rule, subject=f"{m.subject_kind}:{m.subject_id}", reason=m.reason)
        fired.extend(fresh)
    return fired


# --- sinks -------------------------------------------------------------------------------------


class SinkError(Exception):
    """A sink could not deliver; the delivery is retried later."""


def send_webhook(settings: Settings, url: str, message: dict[str, Any]) -> None:
    try:
        response = httpx.post(url, json=message, timeout=settings.watch.webhook_timeout_s, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise SinkError(f"webhook {urlsplit(url).netloc}: {type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise SinkError(f"webhook {urlsplit(url).netloc}: HTTP {response.status_code}")


def _subject(message: dict[str, Any]) -> str:
    if message.get("kind") == "story":
        label = message.get("title") or message.get("label_en") or message.get("label_es") or f"story {message.get('story')}"
        text = f"[{message['rule']}] Breaking: {label}"
    else:
        text = f"[{message['rule']}] {message.get('country', '')} {message.get('title', '')}"
    return one_line(text, 200)  # no newline can reach a header


def email_message(settings: Settings, recipients: list[str], message: dict[str, Any], now: datetime) -> EmailMessage:
    """The alert as an e-mail, dated `now` (the delivery's clock, never the wall clock: time is an input)."""
    msg = EmailMessage()
    msg["Subject"] = _subject(message)
    msg["From"] = settings.digest.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain="us-mx-monitor")
    body = (
        html.unescape(message["text"])  # the Slack escaping undone: e-mail is plain text
        + f"\n\nWhy: {message.get('reason', '')}\n"
        + "\n-- \nSent by `monitor watch`; edit [[alerts]] in your monitor config to change this alert.\n"
    )
    msg.set_content(body)
    return msg


def send_email(settings: Settings, recipients: list[str], message: dict[str, Any], now: datetime) -> None:
    """Send one alert by email through the digest's SMTP connection ([smtp] settings, same TLS and login)."""
    msg = email_message(settings, recipients, message, now)
    try:
        client = connect(settings)
        try:
            client.send_message(msg)
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                client.quit()
    except (OSError, smtplib.SMTPException) as exc:
        raise SinkError(f"email: {describe(exc, settings)}") from None
    except ConfigError as exc:
        raise SinkError(f"email: {exc}") from None


def _deliver(settings: Settings, sink: str, target: str, message: dict[str, Any], emit: Emit | None, now: datetime) -> None:
    if sink == "log":
        if emit:
            emit("alert", rule=message.get("rule"), text=message.get("text", "").replace("\n", " | "))
    elif sink == "webhook":
        send_webhook(settings, target, message)
    elif sink == "email":
        send_email(settings, [a for a in target.split(",") if a], message, now)
    else:
        raise SinkError(f"unknown sink {sink!r}")


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Delay before attempt `attempts + 1`: retry_s, doubling, capped at retry_max_s."""
    delay = settings.watch.alert_retry_s * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(delay, settings.watch.alert_retry_max_s))


@dataclass
class _Due:
    alert: int
    sink: str
    target: str
    message: dict[str, Any]
    attempts: int  # including the one just claimed


def _candidates(db: sqlite_utils.Database, now: datetime) -> list[tuple[int, str]]:
    """Deliveries due now: pending ones whose backoff is over, and claims that expired (a killed watcher's)."""
    when = iso(now)
    rows = db.execute(
        """SELECT alert, sink FROM alert_deliveries
           WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND claim_until <= ?)
           ORDER BY next_attempt_at, alert LIMIT 200""",
        [when, when],
    ).fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]


def claim_delivery(
    db: sqlite_utils.Database, settings: Settings, alert_id: int, sink: str, owner: str, now: datetime
) -> _Due | None:
    """Claim one delivery for `owner` inside BEGIN IMMEDIATE; None when it is not (or no longer) due.

    A claim expired after the last allowed attempt is given up instead of tried again."""
    with write_transaction(db):
        row = db.execute(
            """SELECT d.status, d.next_attempt_at, d.claim_until, d.attempts, d.target, d.claimed_by, f.message
               FROM alert_deliveries d JOIN alerts_fired f ON f.id = d.alert WHERE d.alert = ? AND d.sink = ?""",
            [alert_id, sink],
        ).fetchone()
        if row is None:
            return None
        status, next_at, claim_until, attempts, target, claimed_by, message = row
        expired = status == "sending" and claim_until is not None and parse_iso(claim_until) <= now
        if not (expired or (status == "pending" and parse_iso(next_at) <= now)):
            return None
        if expired and int(attempts) >= settings.watch.alert_max_attempts:
            db.execute(
                "UPDATE alert_deliveries SET status = 'failed', claimed_by = NULL, claim_until = NULL, last_error = ? "
                "WHERE alert = ? AND sink = ?",
                [f"attempt {attempts} by {claimed_by} never finished (process killed?); given up", alert_id, sink],
            )
            return None
        ttl = claim_ttl(max(settings.watch.webhook_timeout_s, settings.smtp.timeout_s))
        db.execute(
            "UPDATE alert_deliveries SET status = 'sending', attempts = attempts + 1, claimed_by = ?, claim_until = ? "
            "WHERE alert = ? AND sink = ?",
            [owner, iso(now + ttl), alert_id, sink],
        )
    return _Due(alert_id, sink, str(target or ""), json.loads(message), int(attempts) + 1)


def _finish(db: sqlite_utils.Database, due: _Due, owner: str, sql: str, values: list[Any]) -> None:
    """Record an outcome while the claim is still `owner`'s (after an expiry another process owns it)."""
    with write_transaction(db):
        db.execute(
            f"UPDATE alert_deliveries SET {sql}, claimed_by = NULL, claim_until = NULL "
            "WHERE alert = ? AND sink = ? AND status = 'sending' AND claimed_by = ?",
            [*values, due.alert, due.sink, owner],
        )


def deliver_due(
    db: sqlite_utils.Database,
    settings: Settings,
    now: datetime,
    emit: Emit | None = None,
    stop: threading.Event | None = None,
    owner: str | None = None,
) -> DeliveryReport:
    """Send every pending delivery whose time has come; failures are rescheduled with backoff.

    Each (alert, sink) is claimed in its own IMMEDIATE transaction before the sink is touched, so
    any number of watchers on one database deliver it once; a claim whose process was killed expires
    and the delivery is tried again (at-least-once, see monitor/digest/claims.py). Any exception of
    a sink counts as a failed attempt of that delivery only.
    """
    owner = owner or claimant()
    clock = Clock(now)
    report = DeliveryReport()
    for alert_id, sink in _candidates(db, now):
        if stop is not None and stop.is_set():
            break
        due = claim_delivery(db, settings, alert_id, sink, owner, clock())
        if due is None:
            continue  # another process has it, or it is no longer due
        try:
            _deliver(settings, sink, due.target, due.message, emit, clock())
        except Exception as exc:  # any sink failure is this delivery's, never the loop's
            error = str(exc) if isinstance(exc, SinkError) else f"{sink}: {type(exc).__name__}: {exc}"
            _failed(db, settings, due, owner, error, clock(), report, emit)
            continue
        _finish(db, due, owner, "attempts = ?, status = 'sent', sent_at = ?, last_error = NULL", [due.attempts, iso(clock())])
        report.sent += 1
        if emit and sink != "log":
            emit("alert_sent", rule=due.message.get("rule"), sink=sink, attempt=due.attempts)
    return report


def _failed(
    db: sqlite_utils.Database, settings: Settings, due: _Due, owner: str, error: str, when: datetime,
    report: DeliveryReport, emit: Emit | None,
) -> None:
    """Reschedule a failed attempt with backoff (counted from its end), or give up after the last one."""
    give_up = due.attempts >= settings.watch.alert_max_attempts
    delay = backoff(settings, due.attempts)
    _finish(
        db, due, owner, "attempts = ?, last_error = ?, status = ?, next_attempt_at = ?",
        [due.attempts, error, "failed" if give_up else "pending", iso(when + delay)],
    )
    report.errors.append(error)
    if give_up:
        report.gave_up += 1
    else:
        report.retried += 1
    if emit:
        emit(
            "alert_gave_up" if give_up else "alert_retry",
            rule=due.message.get("rule"),
            sink=due.sink,
            attempt=due.attempts,
            retry_in_s=None if give_up else int(delay.total_seconds()),
            error=error,
        )


def next_due(db: sqlite_utils.Database) -> datetime | None:
    row = db.execute("SELECT min(next_attempt_at) FROM alert_deliveries WHERE status = 'pending'").fetchone()
    return parse_iso(row[0]) if row and row[0] else None


def second_connection(path: Path) -> sqlite_utils.Database:
    """Another connection to a database this process has already opened (and migrated) with open_db.

    Deliberately not `open_db()`: its file-header check opens and closes the database file, and on
    POSIX closing any descriptor of a file drops every lock this process holds on it, including
    the SHARED lock of the connection already open; another process could then take itself for
    the last connection and remove the WAL under us.
    """
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys=ON")
    return sqlite_utils.Database(conn)


class AlertDispatcher:
    """Delivers alerts in a background thread with its own database connection.

    `wake()` after recording new alerts; `stop()` finishes the delivery in progress (bounded by
    the sink timeouts) and joins. Pending deliveries stay in the database for the next run.
    The thread survives any exception (a locked or broken database, a bug): it is logged as
    `alert_dispatch_failed`, the connection is reopened and the loop goes on after `idle_s`.
    `clock` is read once per round, like the watcher's tick.
    """

    def __init__(
        self, settings: Settings, db_path: Path, emit: Emit | None = None, idle_s: float = 30.0, clock: NowFn = utcnow
    ):
        self.settings = settings
        self.db_path = db_path
        self.emit = emit
        self.idle_s = idle_s
        self.clock = clock
        self.owner = claimant()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-dispatcher", daemon=True)
        self.report = DeliveryReport()
        self.failures = 0  # rounds that ended in an exception (logged, then retried)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _round(self, db: sqlite_utils.Database) -> float:
        """Deliver what is due; seconds until the next delivery is due (at most idle_s)."""
        now = self.clock()
        r = deliver_due(db, self.settings, now, emit=self.emit, stop=self._stop, owner=self.owner)
        self.report.sent += r.sent
        self.report.retried += r.retried
        self.report.gave_up += r.gave_up
        upcoming = next_due(db)
        if upcoming is None:
            return self.idle_s
        return max(0.05, min(self.idle_s, (upcoming - self.clock()).total_seconds()))

    def _run(self) -> None:
        db: sqlite_utils.Database | None = None
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    db = db or second_connection(self.db_path)
                    wait = self._round(db)
                except Exception as exc:  # the thread must outlive any failure, or alerts pile up unsent
                    self.failures += 1
                    if self.emit:
                        self.emit("alert_dispatch_failed", error=f"{type(exc).__name__}: {exc}")
                    with contextlib.suppress(Exception):
                        if db is not None:
                            db.close()
                    db = None
                    wait = self.idle_s
                self._wake.wait(wait)
        finally:
            if db is not None:
                db.close()

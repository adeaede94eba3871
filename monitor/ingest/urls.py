"""Entry links: keep only http(s), and a canonical form for identity and cross-feed deduplication.

`safe_link()` decides whether a feed's link may be shown to a reader at all (http and https only;
`javascript:`, `data:`, `file:` and relative leftovers are dropped with a reason). `canonical_url()`
gives the form two feeds of one outlet agree on: scheme and host lowercased, default port, userinfo
and fragment removed, empty path as `/`, and well-known tracking parameters (utm_*, fbclid, gclid ...)
removed while every other parameter keeps its order and its original encoding. `redact()` hides
credentials (userinfo and token-like parameters) in a URL before it is shown or logged; `redact_text()`
does the same for every URL inside a message.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})
MAX_URL_CHARS = 4096  # longer "links" are payloads, not article addresses

# Query parameters that identify a campaign, click or subscriber, never the article (compared
# lowercased). Sources: miniflux urlcleaner, ClearURLs, and what US/Mexican outlets append to RSS links.
# fmt: off
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "igshid", "igsh", "li_fat_id", "epik", "scid", "srsltid",
        "mc_cid", "mc_eid", "mkt_tok", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp", "hsctatracking",
        "_ga", "_gl", "_openstat", "vero_id", "vero_conv", "oly_anon_id", "oly_enc_id", "rb_clickid",
        "s_cid", "s_kwcid", "wt.mc_id", "wt.mc_ev", "wt.tsrc", "wt.z_src",
        "ocid", "cmpid", "cmp", "smid", "smtyp", "taid", "ncid", "itid", "sr_share", "xtor", "ito",
        "rss_id", "dicbo", "oborigurl", "__twitter_impression", "ref_src", "ref_url", "ssm", "emc",
        "at_medium", "at_campaign", "at_campaign_type", "at_format", "at_link_id", "at_link_origin",
        "at_link_type", "at_ptr_name", "at_bbc_team", "at_custom1", "at_custom2", "at_custom3",
        "at_custom4", "id_externo_rsoc", "int_campaign", "int_medium", "int_source",
        "traffic_source", "maca", "icid", "soc_src", "soc_trk", "wpisrc", "wpmm",
    }
)
# fmt: on
# Parameter name prefixes that are tracking families (utm_source, pk_campaign, mtm_kwd, hsa_cam ...).
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "piwik_", "hsa_", "matomo_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]")  # browsers drop ASCII whitespace/controls inside URLs


def is_tracking_param(name: str) -> bool:
    """True for a query parameter name that only tracks the reader (compared case-insensitively)."""
    key = unquote_plus(name).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _split(raw: str) -> SplitResult | None:
    cleaned = _INVISIBLE.sub("", raw.strip())
    if not cleaned or len(cleaned) > MAX_URL_CHARS:
        return None
    try:
        parts = urlsplit(cleaned)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    return parts


def safe_link(raw: str | None) -> tuple[str | None, str | None]:
    """(link, warning): the link when it is an absolute http(s) URL, else None and why it was dropped."""
    if raw is None or not raw.strip():
        return None, None
    if len(raw) > MAX_URL_CHARS:
        return None, f"link dropped: longer than {MAX_URL_CHARS} characters"
    parts = _split(raw)
    if parts is None:
        return None, "link dropped: not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return None, f"link dropped: {scheme}: scheme" if scheme else "link dropped: not an absolute URL"
    if not parts.hostname:
        return None, "link dropped: no host"
    return urlunsplit(parts), None


def http_url(raw: str | None) -> str | None:
    """The URL when it is an absolute http(s) URL with a host, else None: the only links we render."""
    return safe_link(raw)[0]


def _clean_query(query: str) -> str:
    if not query:
        return ""
    kept = [piece for piece in query.split("&") if piece and not is_tracking_param(piece.split("=", 1)[0])]
    return "&".join(kept)


def canonical_url(url: str | None) -> str | None:
    """The canonical form of an http(s) URL, or None when it is not one.

    >>> canonical_url("HTTPS://Example.COM:443/a/b?utm_source=rss&id=7&fbclid=x#top")
    'https://example.com/a/b?id=7'
    """
    if url is None:
        return None
    parts = _split(url)
    if parts is None:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ALLOWED_SCHEMES or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, _clean_query(parts.query), ""))


# ------------------------------------------------------------------------------- redaction

REDACTED = "***"
# Query/fragment parameter names whose value is a credential (compared lowercased, after unquoting).
SECRET_PARAMS = frozenset(
    {
        "token", "key", "apikey", "api_key", "api-key", "access_token", "refresh_token", "id_token", "auth",
        "auth_token", "authorization", "sig", "signature", "secret", "client_secret", "password", "passwd",
        "pwd", "pass", "session", "sessionid", "session_id", "sid", "jwt", "bearer", "private_token",
        "x-api-key", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "code",
    }
)
SECRET_SUFFIXES = ("token", "secret", "password", "apikey", "api_key", "signature", "_key", "-key")
_USERINFO = re.compile(r"^(?P<head>\s*[A-Za-z][A-Za-z0-9+.-]*:)?(?P<slashes>//)(?P<userinfo>[^/?#]*)@")
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>`]+")


def is_secret_param(name: str) -> bool:
    """True for a query parameter name whose value is a credential (token, key, sig, password ...)."""
    key = unquote_plus(name).strip().lower()
    return key in SECRET_PARAMS or key.endswith(SECRET_SUFFIXES)


def _redact_params(params: str) -> str:
    pieces = []
    for piece in params.split("&"):
        name, eq, _value = piece.partition("=")
        pieces.append(f"{name}={REDACTED}" if eq and is_secret_param(name) else piece)
    return "&".join(pieces)


def redact(url: str | None) -> str | None:
    """The URL with its credentials replaced by `***`, for display and logs (never for fetching).

    `user:password@` becomes `***@`; the values of token-like query and fragment parameters
    (token, key, apikey, access_token, sig, signature, secret, password ...) become `***`.
    Everything else keeps its exact spelling.

    >>> redact("https://bob:hunter2@example.com/rss?token=abc&page=2")
    'https://***@example.com/rss?token=***&page=2'
    """
    if not url:
        return url
    out = _USERINFO.sub(lambda m: f"{m.group('head') or ''}//{REDACTED}@", url, count=1)
    rest, hash_, fragment = out.partition("#")
    base, qmark, query = rest.partition("?")
    if qmark:
        base += qmark + _redact_params(query)
    if hash_:
        base += hash_ + _redact_params(fragment)
    return base


def redact_text(text: str | None) -> str | None:
    """A message (an error, a log line) with every URL in it redacted."""
    if not text:
        return text

    def one(m: re.Match[str]) -> str:
        found = m.group(0)
        url = found.rstrip(".,;:!?)]}")  # sentence punctuation after a URL is not part of it
        return (redact(url) or "") + found[len(url) :]

    return _URL_IN_TEXT.sub(one, text)

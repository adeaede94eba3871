"""urls.safe_link and urls.canonical_url."""

from __future__ import annotations

import pytest

from monitor.ingest.urls import canonical_url, http_url, is_tracking_param, redact, redact_text, safe_link


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://example.com/a?id=7", "https://example.com/a?id=7"),
        ("HTTPS://Example.COM:443/a/b?utm_source=rss&id=7&fbclid=x#top", "https://example.com/a/b?id=7"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com:80/x", "https://example.com:80/x"),
        ("https://example.com/x?b=2&a=1&utm_medium=feed", "https://example.com/x?b=2&a=1"),
        ("https://example.com/x?utm_source=a&utm_campaign=b", "https://example.com/x"),
        (
            "https://www.nytimes.com/2026/x.html?smid=tw-share&partner=rss&emc=rss",
            "https://www.nytimes.com/2026/x.html?partner=rss",
        ),
        (
            "https://example.com/x?gclid=1&mc_cid=2&mc_eid=3&ocid=4&cmpid=5&taid=6&UTM_Source=7",
            "https://example.com/x",
        ),
        ("https://example.com/x?q=caf%C3%A9&page=2#c", "https://example.com/x?q=caf%C3%A9&page=2"),
        ("https://example.com/Path/Case?Key=Val", "https://example.com/Path/Case?Key=Val"),
        ("https://user:pw@Example.com/x", "https://example.com/x"),
        ("https://example.com./x", "https://example.com/x"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        ("  https://example.com/x\n", "https://example.com/x"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,x",
        "/relative",
        "https://",
        "http://host:99999/",
    ],
)
def test_canonical_url_of_non_http_is_none(url: str | None) -> None:
    assert canonical_url(url) is None


def test_same_article_with_and_without_tracking_is_equal() -> None:
    a = "https://www.milenio.com/politica/nota-123"
    b = "https://www.milenio.com/politica/nota-123?utm_source=rss&utm_medium=feed#comentarios"
    assert canonical_url(a) == canonical_url(b)
    assert canonical_url("https://e.com/n?id=1") != canonical_url("https://e.com/n?id=2")


@pytest.mark.parametrize(
    ("raw", "link", "warning"),
    [
        ("https://example.com/a", "https://example.com/a", None),
        (" http://example.com/a ", "http://example.com/a", None),
        ("javascript:alert(1)", None, "link dropped: javascript: scheme"),
        ("JavaScript:alert(1)", None, "link dropped: javascript: scheme"),
        ("java\nscript:alert(1)", None, "link dropped: javascript: scheme"),
        ("file:///etc/passwd", None, "link dropped: file: scheme"),
        ("data:text/html;base64,AAAA", None, "link dropped: data: scheme"),
        ("/relative/path", None, "link dropped: not an absolute URL"),
        ("https:///nohost", None, "link dropped: no host"),
        ("https://" + "a" * 5000, None, "link dropped: longer than 4096 characters"),
        ("", None, None),
        (None, None, None),
    ],
)
def test_safe_link(raw: str | None, link: str | None, warning: str | None) -> None:
    assert safe_link(raw) == (link, warning)


def test_tracking_param_names() -> None:
    assert is_tracking_param("utm_content") and is_tracking_param("UTM_TERM") and is_tracking_param("fbclid")
    assert not is_tracking_param("id") and not is_tracking_param("page") and not is_tracking_param("q")


def test_http_url_is_the_link_or_none() -> None:
    """The check every renderer and the registry use: the link itself, or None, never a warning."""
    assert http_url("https://example.com/a?b=1#c") == "https://example.com/a?b=1#c"  # not canonicalised
    assert http_url("HTTP://Example.com/a") == "http://Example.com/a"  # scheme case only
    for bad in (None, "", "javascript:alert(1)", "/relative", "https:///nohost", "https://x.example:port/f"):
        assert http_url(bad) is None, bad


# --------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bob:hunter2@example.com/rss", "https://***@example.com/rss"),
        ("https://bob@example.com/rss", "https://***@example.com/rss"),
        ("https://a@b:c%40d@example.com:8443/x", "https://***@example.com:8443/x"),
        ("https://example.com/rss?token=abc&page=2", "https://example.com/rss?token=***&page=2"),
        ("https://example.com/rss?page=2&API_KEY=abc", "https://example.com/rss?page=2&API_KEY=***"),
        ("https://example.com/rss?apikey=1&key=2&access_token=3", "https://example.com/rss?apikey=***&key=***&access_token=***"),
        ("https://example.com/rss?sig=1&signature=2&secret=3&password=4", "https://example.com/rss?sig=***&signature=***&secret=***&password=***"),
        ("https://example.com/rss?x_auth_token=1&client_secret=2", "https://example.com/rss?x_auth_token=***&client_secret=***"),
        ("https://example.com/rss#access_token=abc&x=1", "https://example.com/rss#access_token=***&x=1"),
        ("https://u:p@example.com/rss?api%5Fkey=z", "https://***@example.com/rss?api%5Fkey=***"),
        # nothing secret: the exact spelling is kept
        ("https://example.com/Path/@user/feed?q=caf%C3%A9&page=2", "https://example.com/Path/@user/feed?q=caf%C3%A9&page=2"),
        ("https://example.com/rss?token", "https://example.com/rss?token"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("", ""),
    ],
)
def test_redact_hides_credentials_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_redact_none() -> None:
    assert redact(None) is None and redact_text(None) is None


def test_redact_text_hides_every_url_in_a_message() -> None:
    message = (
        "HTTP 401 Unauthorized from https://bob:hunter2@feeds.example.com/x?token=s3cret: "
        "redirected to 'http://carol:pw2@other.example/y?sig=zz'. (see https://ok.example/help)"
    )
    shown = redact_text(message)
    assert shown == (
        "HTTP 401 Unauthorized from https://***@feeds.example.com/x?token=***: "
        "redirected to 'http://***@other.example/y?sig=***'. (see https://ok.example/help)"
    )
    for secret in ("hunter2", "s3cret", "carol", "pw2", "zz"):
        assert secret not in shown

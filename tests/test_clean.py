"""clean: text from HTML, the narrow HTML allowlist, and text/plain escaping."""

from __future__ import annotations

import pytest

from monitor.ingest import clean


def test_text_from_html() -> None:
    assert clean.text_from_html("<p>Hola</p><p>mundo</p>", 100) == "Hola mundo"
    assert clean.text_from_html("Méx<b>ico</b> &amp; EE.&nbsp;UU. &lt;3", 100) == "México & EE. UU. <3"
    assert clean.text_from_html("a<script>alert(1)</script>b<style>x{}</style>c", 100) == "abc"
    assert clean.text_from_html("line\n\n\tbreaks  and\u00a0spaces", 100) == "line breaks and spaces"
    assert clean.text_from_html("bidi\u202etxt.exe\u200b\x07", 100) == "biditxt.exe"
    assert clean.text_from_html("", 100) == "" and clean.text_from_html(None, 100) == ""


def test_paragraphs_keep_block_structure() -> None:
    assert (
        clean.paragraphs_from_html("<p>Uno  dos</p>\n<ul><li>tres</li><li>cuatro</li></ul>", 100)
        == "Uno dos\ntres\ncuatro"
    )


def test_cap() -> None:
    assert clean.cap("short", 10) == "short"
    capped = clean.cap("una frase bastante larga para cortar", 20)
    assert len(capped) <= 20 and capped.endswith("…") and " " not in capped[-2:]
    assert len(clean.text_from_html("<p>" + "x" * 100_000 + "</p>", 1000)) == 1000


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<p>Hi <a href="https://e.com/x" onclick="x()" target="_blank">l</a></p>',
            '<p>Hi <a href="https://e.com/x" rel="noopener noreferrer">l</a></p>',
        ),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="/relative">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<img src="https://t.example/p.gif" width="1" height="1">text', "text"),
        ('<svg><a xlink:href="javascript:alert(1)">svgtext</a></svg>ok', "ok"),
        ('<form action="https://evil/"><input type="password"><button>Login</button></form>', "Login"),
        ('<p style="color:red" class="x" lang="es">p</p>', "<p>p</p>"),
        (
            "<blockquote><em>e</em><strong>s</strong><b>b</b><i>i</i><br><ol><li>1</li></ol></blockquote>",
            "<blockquote><em>e</em><strong>s</strong><b>b</b><i>i</i><br><ol><li>1</li></ol></blockquote>",
        ),
        ("<h2>Title</h2><div>d</div><iframe src=x>f</iframe>", "Titled"),
    ],
)
def test_clean_html_allowlist(html: str, expected: str) -> None:
    assert clean.clean_html(html, 1000) == expected


def test_text_plain_is_escaped() -> None:
    assert (
        clean.html_from_text("<script>alert(1)</script>\nsegunda línea", 100)
        == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p><p>segunda línea</p>"
    )


def test_active_markup_detection() -> None:
    assert clean.has_active_markup("<script>x</script>") and clean.has_active_markup(
        '<img src=x onerror="y">'
    )
    assert not clean.has_active_markup("History of the <blink> tag") and not clean.has_active_markup("a < b")

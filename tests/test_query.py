"""The query parser and the FTS5 strings built from it (pure functions; FTS5 checks on an in-memory table)."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime

import pytest

from monitor.search.query import (
    MAX_QUERY_CHARS,
    Query,
    QueryError,
    Term,
    any_expression,
    fts_expression,
    parse_query,
    word_forms,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

# style-and-reliability.md §2.11 list, plus more of the same kind
HOSTILE = [
    '"', "\x00", "O:", "*", "*p", "AND", "NEAR(", "(cartel", "cartel -drones", "title:", "", "   ", '""', "c'est",
    "a" * 10_000, "OR", "OR OR cartel OR", "NOT", "-", "--", "- -", "cartel\x00drones", "^cartel", "cartel:*", ":",
    "title:cartel", "summary:", "{title summary}: cartel", "NEAR(cartel drones, 2)", "cartel + drones", '"cartel"*',
    "cartel AND OR NOT drones", "'; DROP TABLE articles; --", "rowid:1", "rank:1", "articles_fts:x", "\u202ecartel",
    "cártel\u200b", "country:", "country:XX", "story:abc", "since:yesterday", "since:2026-13-45", "until:1999-01-01 since:2026-01-01",
    "🌮 cartel", "«guerra contra el narco»", "“drones”", "-country:MX cartel", "frame:", "story:-1", "\t\n\r",
    "*" * 50, "a*", "é*", "x" * 2001, " ".join(["w"] * 100),
]


def _fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(title, summary, tokenize='unicode61 remove_diacritics 2')")
    conn.execute("INSERT INTO t VALUES ('Cárteles y drones en México', 'La soberanía nacional')")
    conn.execute("INSERT INTO t VALUES ('Pentagon weighs strikes on cartels', 'Drones and special forces')")
    return conn


def _match(conn: sqlite3.Connection, expr: str) -> set[int]:
    return {r[0] for r in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", [expr])}


def test_words_are_anded_clauses_and_phrases_stay_whole() -> None:
    q = parse_query('cartel drones "guerra contra el narco"')
    assert [[t.text for t in c] for c in q.clauses] == [["cartel"], ["drones"], ["guerra contra el narco"]]
    assert q.clauses[2][0].phrase and not q.clauses[0][0].phrase


def test_or_binds_the_words_on_each_side() -> None:
    q = parse_query("drones OR misiles fentanilo")
    assert [[t.text for t in c] for c in q.clauses] == [["drones", "misiles"], ["fentanilo"]]
    q = parse_query('"guerra contra el narco" OR narcoterrorismo OR drones')
    assert [len(c) for c in q.clauses] == [3]


def test_lowercase_or_is_a_word_and_stray_or_is_noted() -> None:
    q = parse_query("OR cartel OR")
    assert [[t.text for t in c] for c in q.clauses] == [["cartel"]]
    assert any("OR" in n for n in q.notes)


@pytest.mark.parametrize("text", ["cartel -sinaloa", "cartel NOT sinaloa", "cartel !sinaloa", "cartel −sinaloa"])
def test_exclusion(text: str) -> None:
    q = parse_query(text)
    assert [c[0].text for c in q.clauses] == ["cartel"]
    assert [t.text for t in q.excluded] == ["sinaloa"]


def test_excluded_phrase() -> None:
    q = parse_query('drones -"ventas récord"')
    assert q.excluded == (Term("ventas récord", phrase=True),)


def test_prefix_and_too_short_prefix() -> None:
    q = parse_query("terror* narco*")
    assert all(c[0].prefix for c in q.clauses)
    q = parse_query("a* cartel")
    assert not any(t.prefix for c in q.clauses for t in c)
    assert any("too short" in n for n in q.notes)


def test_filters_in_text_and_as_keywords_combine() -> None:
    q = parse_query(
        "cartel country:mx outlet:La-Jornada lang:ES frame:Sovereignty story:42 Country:US",
        outlet=["proceso"],
        story="7",
        now=NOW,
    )
    assert q.countries == ("MX", "US")
    assert set(q.outlets) == {"la-jornada", "proceso"}
    assert q.languages == ("es",)
    assert q.frames == ("sovereignty",)
    assert set(q.stories) == {42, 7}
    assert [c[0].text for c in q.clauses] == ["cartel"]


def test_quoted_filter_value_and_comma_lists() -> None:
    q = parse_query('outlet:"la-jornada" country:US,MX drones')
    assert q.outlets == ("la-jornada",)
    assert q.countries == ("US", "MX")


def test_dates_absolute_relative_and_inclusive_until() -> None:
    q = parse_query("cartel since:2026-11-01 until:2026-11-02", now=NOW)
    assert q.since == "2026-11-01T00:00:00+00:00"
    assert q.until == "2026-11-03T00:00:00+00:00"  # until: includes its whole day
    q = parse_query("cartel since:7d", now=NOW)
    assert q.since == "2026-11-16T12:00:00+00:00"
    q = parse_query("cartel", since="24h", until="2026-11-23T10:30", now=NOW)
    assert (q.since, q.until) == ("2026-11-22T12:00:00+00:00", "2026-11-23T10:30:00+00:00")
    q = parse_query("x since:2026-11-01 since:2026-11-05")
    assert q.since == "2026-11-05T00:00:00+00:00"  # the narrower bound wins


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("", "no searchable words"),
        ("   \x00 ", "no searchable words"),
        ('""', "no searchable words"),
        ("-drones", "only excludes"),
        ("cartel since:yesterday", "since:2026-11-01"),
        ("cartel until:2026-02-30", "until:2026-11-01"),
        ("cartel country:Mexico", "country:MX"),
        ("cartel lang:spanish", "lang:es"),
        ("cartel country:ß", "country code"),  # "ß".upper() is "SS": the check is on what was typed
        ("cartel lang:é1", "lang:es"),
        ("cartel outlet:la_jornada!", "outlet:la-jornada"),
        ("cartel frame:-sovereignty", "frame:sovereignty"),
        ("cartel story:abc", "story:42"),
        ("cartel country:", "country:MX"),
        ("-country:US cartel", "country:MX"),
        ("cartel since:2026-11-05 until:2026-11-01", "swap"),
        ("x" * (MAX_QUERY_CHARS + 1), "at most"),
        (" ".join(f"w{i}" for i in range(100)), "at most"),
    ],
)
def test_errors_say_what_to_fix(text: str, fix: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(text)
    message = str(info.value)
    assert fix in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_filter_only_query_is_allowed_and_empty_only_on_request() -> None:
    q = parse_query("country:MX frame:sovereignty")
    assert q.has_filters and not q.clauses
    assert parse_query("", allow_empty=True) == Query()


def test_unknown_field_is_searched_as_words_with_a_note() -> None:
    q = parse_query("title:cartel")
    assert [c[0].text for c in q.clauses] == ["title cartel"] or [c[0].text for c in q.clauses] == ["title", "cartel"]
    assert any("'title:' is not a filter" in n for n in q.notes)


def test_common_words_ignored_unless_quoted_or_alone() -> None:
    q = parse_query("ataque con drones")
    assert [c[0].text for c in q.clauses] == ["ataque", "drones"]
    assert q.ignored == ("con",)
    q = parse_query('ataque "con" drones')
    assert [c[0].text for c in q.clauses] == ["ataque", "con", "drones"]
    q = parse_query("de la")  # nothing else: keep them rather than search nothing
    assert [c[0].text for c in q.clauses] == ["de", "la"]


def test_control_characters_and_typographic_quotes() -> None:
    q = parse_query("cartel\x00drones «guerra contra el narco» “soberanía”")
    assert [c[0].text for c in q.clauses] == ["cartel", "drones", "guerra contra el narco", "soberanía"]


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("cartel", {"cartel", "cartels", "carteles"}),
        ("carteles", {"carteles", "cartele", "cartel"}),
        ("strikes", {"strikes", "strike"}),
        ("naciones", {"naciones", "nacione", "nacion"}),
        ("luz", {"luz"}),  # too short to vary
        ("policy", {"policy", "policys", "policyes", "policies"}),
        ("luces", {"luces", "luz", "luce"}),
        ("2026", {"2026"}),
    ],
)
def test_word_forms(word: str, forms: set[str]) -> None:
    assert set(word_forms(word)) == forms


def test_forms_find_plural_and_singular_in_both_languages() -> None:
    conn = _fts()
    assert _match(conn, fts_expression(parse_query("cartel"))) == {1, 2}
    assert _match(conn, fts_expression(parse_query('"cartel"'))) == set()  # quoted: exactly that form
    assert _match(conn, fts_expression(parse_query("dron"))) == {1, 2}  # Spanish singular finds "drones"
    assert _match(conn, fts_expression(parse_query("soberania"))) == {1}


def test_accents_and_case_fold() -> None:
    conn = _fts()
    sets = [_match(conn, fts_expression(parse_query(q))) for q in ("méxico", "Mexico", "MÉXICO", "mexico")]
    assert sets[0] == {1}
    assert all(s == sets[0] for s in sets)


def test_every_term_reaches_fts_quoted() -> None:
    expr = fts_expression(parse_query('NEAR cartel* "a b" x OR y'))
    assert "NEAR" not in expr.replace('"near"', "")
    assert expr.count('"') % 2 == 0
    assert any_expression([Term("sinaloa"), Term("ventas récord", phrase=True)]).endswith('"ventas récord"')


def _random_query(rng: random.Random) -> str:
    pieces = [
        '"', "'", "*", "-", "+", "(", ")", ":", "^", "OR", "AND", "NOT", "NEAR", "\x00", "\x1b", "\u200b", " ", "  ",
        "cartel", "drones", "méxico", "título", "title", "summary", "country", "since", "story", "lang", "rank", "rowid",
        "2026-11-01", "7d", "MX", "🌮", "ñ", "{", "}", ",", "\\", "%", "_", ";", "\n", "é", "NEAR(", "x" * 30,
    ]
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 25)))


def test_hostile_and_random_input_gives_a_query_or_a_query_error_and_valid_fts() -> None:
    conn = _fts()
    rng = random.Random(20261123)
    inputs = HOSTILE + [_random_query(rng) for _ in range(600)]
    parsed = 0
    for text in inputs:
        try:
            q = parse_query(text, now=NOW)
        except QueryError as exc:
            assert str(exc) and "\n" not in str(exc), repr(text)
            continue
        parsed += 1
        for expr in (fts_expression(q), any_expression(q.excluded)):
            if expr:
                _match(conn, expr)  # FTS5 accepts it: no OperationalError can reach a user
    assert parsed > 100  # most random strings are searchable, not refused


def test_raw_keeps_the_expression_and_still_refuses_empty() -> None:
    q = parse_query("cartel NOT sinaloa", raw=True, country="MX")
    assert q.raw == "cartel NOT sinaloa" and q.countries == ("MX",)
    with pytest.raises(QueryError, match="--raw"):
        parse_query('"', raw=True)

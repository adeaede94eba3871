"""The debate file: the bundled one is complete and valid; broken ones fail with the file, section and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.analysis.debate import DebateError, compile_pattern, load_debate
from monitor.cli.main import cli
from monitor.config.settings import Settings

FRAME_IDS = (
    "sovereignty", "security_terrorism", "military_operations", "legality", "drugs_health", "cooperation",
    "economy_trade", "migration_border", "human_cost", "corruption", "geopolitics", "arms_trafficking",
)


def bundled() -> Path:
    return Settings().debate_path


def test_bundled_debate_has_the_frames_and_actors() -> None:
    debate = load_debate(bundled())
    assert debate.frame_ids == FRAME_IDS
    for frame in debate.frames:
        assert 1 <= frame.mfc <= 15
        assert frame.label_en and frame.label_es and frame.definition
        assert {p.language for p in frame.patterns} == {"en", "es"}, frame.id
    actor_ids = {a.id for a in debate.actors}
    for needed in ("sheinbaum", "trump", "hegseth", "rubio", "garcia_harfuch", "sinaloa_cartel", "cjng", "semar",
                   "sedena", "northcom", "cia", "dea", "morena"):
        assert needed in actor_ids
    assert "Cártel de Sinaloa" in debate.actor_names()
    parties = {p.id: {n.text for n in p.names} for p in debate.parties}
    assert {"Sheinbaum", "México"} <= parties["mexico"] and {"Hegseth", "Pentágono"} <= parties["united_states"]
    assert len(debate.hash) == 64
    assert ("es-en", "lancha", "boat", ()) in debate.glossary and ("en-es", "strikes on", "ataques contra", ()) in debate.glossary
    strike = next(g for g in debate.glossary if g[:2] == ("en-es", "strike"))
    assert strike[2] == "ataque" and "boat*" in strike[3]


def test_pattern_syntax() -> None:
    near = compile_pattern("strike ~5 boat", "en")
    assert near.window == 5 and len(near.parts) == 2
    prefix = compile_pattern("narco*", "es")
    assert prefix.parts[0][0].prefix and prefix.parts[0][0].value == "narco"
    phrase = compile_pattern("Cárteles de Sinaloa", "es")
    assert [m.value for m in phrase.parts[0]] == ["cartel", "de", "sinalo"]
    for bad in ("~ boat", "strike ~", "  ", "a*"):
        with pytest.raises(ValueError):
            compile_pattern(bad, "en")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "debate.toml"
    p.write_text(text, encoding="utf-8")
    return p


BASE = bundled().read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("threshold = 4.0", "threshold = \"high\""), ["[relevance]", "'threshold'", "number"]),
        (("mfc = 14", "mfc = 22"), ["frames.frame 'sovereignty'", "'mfc'", "1 to 15"]),
        (('id = "legality"', 'id = "sovereignty"'), ["frames.frame 'sovereignty'", "two frames"]),
        (('"strike ~ cartel",', '"strike ~",'), ["relevance.terms #1", "en[", "'~'"]),
        (('names = ["Pete Hegseth", "Hegseth"]', "names = []"), ["actors 'hegseth'", "'names'"]),
        (('kind = "person"', 'kind = "robot"'), ["actors 'sheinbaum'", "'kind'"]),
        (('id = "rubio"', 'id = "hegseth"'), ["actors 'hegseth'", "two actors"]),
        (('id = "legality"', 'id = "Legality"'), ["frames.frame 'Legality'", "lower-case"]),
        (('actors = ["sheinbaum", "garcia_harfuch"', 'actors = ["nobody", "garcia_harfuch"'), ["parties 'mexico'", "'actors'", "'nobody'"]),
        (('id = "united_states"\nactors = ["trump"', 'id = "mexico"\nactors = ["trump"'), ["parties 'mexico'", "two parties"]),
        (("[glossary.en-es]", "[glossary.fr-es]"), ["[glossary]", "'fr-es'", "es-en, en-es"]),
        (('"lanchas" = "boats"', '"lanchas" = ""'), ["[glossary.es-en]", "'lanchas'", "non-empty"]),
        (('"lanchas" = "boats"', '"lanchas" = 3'), ["[glossary.es-en]", "'lanchas'", "non-empty"]),
        (('"strike" = { text = "ataque", when = ["boat*", "vessel*"', '"strike" = { text = "ataque", if = ["boat*", "vessel*"'), ["[glossary.en-es]", "'strike'", "when"]),
        (('"strike" = { text = "ataque", when = ["boat*", "vessel*"', '"strike" = { text = "ataque", when = [1, "vessel*"'), ["[glossary.en-es]", "'strike'", "'when' must list words"]),
    ],
)
def test_invalid_debate_names_section_and_field(tmp_path: Path, change: tuple[str, str], expected: list[str]) -> None:
    assert change[0] in BASE
    path = _write(tmp_path, BASE.replace(change[0], change[1], 1))
    with pytest.raises(DebateError) as err:
        load_debate(path)
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DebateError, match="not valid TOML"):
        load_debate(_write(tmp_path, "[debate\nid = 1"))
    with pytest.raises(DebateError, match="not found"):
        load_debate(tmp_path / "nope.toml")


def test_cli_reports_a_broken_debate_file_in_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace("mfc = 14", "mfc = 0", 1))
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "m.db"), "--debate", str(path), "analyze"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "error:" in result.output and "'mfc'" in result.output

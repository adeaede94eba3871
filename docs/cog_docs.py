"""Generators for the `[[[cog ... ]]]` blocks in docs/*.md (cog puts this folder on sys.path).

Regenerate every doc with `cog -r docs/*.md`; `cog --check docs/*.md` (run by tests/test_docs.py)
fails when a command's --help or an option in the settings table changed and the docs did not.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import tokenize
import typing
from collections.abc import Iterator
from typing import Any

import click
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config import settings as settings_mod

HELP_WIDTH = 100  # the CLI's own max_content_width: help reads the same as on a wide terminal
PROG = "monitor"

# ------------------------------------------------------------------------------ commands


def command_paths(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand, as argument tuples: (), ("alerts",), ("alerts", "list") ..."""
    yield prefix
    ctx = click.Context(group, info_name=PROG)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def help_text(path: tuple[str, ...]) -> str:
    """`monitor <path> --help`, exactly as the command prints it at HELP_WIDTH columns."""
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name=PROG, terminal_width=HELP_WIDTH, env={"COLUMNS": None})
    if result.exit_code != 0:
        raise RuntimeError(f"{PROG} {' '.join(path)} --help failed: {result.output}")
    return result.output.rstrip() + "\n"


def anchor(path: tuple[str, ...]) -> str:
    return "-".join([PROG, *path])


def commands_index() -> str:
    """A bulleted list linking to each command's section."""
    lines = []
    for path in command_paths():
        if path:
            summary = _short_help(path)
            lines.append(f"- [`{PROG} {' '.join(path)}`](#{anchor(path)}){': ' + summary if summary else ''}")
    return "\n".join(lines) + "\n"


def _short_help(path: tuple[str, ...]) -> str:
    command: click.Command = cli
    ctx = click.Context(cli, info_name=PROG)
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(ctx, name)  # type: ignore[assignment]
    return command.get_short_help_str(limit=90)


def commands_reference() -> str:
    """A section per command with its --help in a code block."""
    parts = []
    for path in command_paths():
        title = " ".join([PROG, *path])
        parts.append(f'<a id="{anchor(path)}"></a>\n\n### `{title}`\n\n```\n{help_text(path)}```\n')
    return "\n".join(parts)


# ------------------------------------------------------------------------------ settings


# Meanings for options whose line in settings.py has no comment (a comment there wins).
FALLBACK_MEANINGS = {
    ("poll", "connect_timeout_s"): "time to open a connection to a feed's server",
    ("poll", "read_timeout_s"): "longest wait for the next bytes of a response",
    ("poll", "max_redirects"): "redirects followed per fetch",
    ("poll", "max_field_chars"): "longest title, summary or content kept per article",
    ("poll", "user_agent"): "the User-Agent header sent to outlets",
    ("translation", "engine"): "auto: argos when its packages are installed, else apertium, else none",
    ("translation", "beam_size"): "Argos beam search width (1: greedy, fastest)",
    ("translation", "batch_size"): "sentences per CTranslate2 batch",
    ("translation", "workers"): "CTranslate2 workers translating batches",
    ("digest", "timezone"): "the digest's calendar day and local times are in this zone",
    ("digest", "max_stories"): "top stories shown in the digest",
    ("digest", "recipients"): "who receives the digest (e-mail addresses)",
    ("digest", "sender"): "the From address of digest and alert e-mails",
    ("digest", "subscription_note"): "the digest footer's line on how to change the subscription",
    ("smtp", "host"): "mail server for the digest and e-mail alerts",
    ("smtp", "port"): "mail server port (587 for starttls, 465 for tls)",
    ("smtp", "security"): "none, starttls or tls (implicit TLS)",
    ("smtp", "user"): "login name; the password only from MONITOR_SMTP_PASSWORD",
    ("smtp", "timeout_s"): "per SMTP operation; also sets how long a send's claim lasts",
    ("watch", "webhook_timeout_s"): "per webhook delivery; also sets how long an alert's claim lasts",
    ("serve", "host"): "address `monitor serve` listens on (0.0.0.0: the LAN; the page has no login)",
    ("serve", "port"): "port `monitor serve` listens on (0: any free port)",
}


def _comments(cls: type) -> dict[str, str]:
    """Each field of a settings dataclass -> the comments written beside and above it in its source."""
    source = inspect.getsource(cls)
    lines = source.splitlines()
    by_line: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            by_line[token.start[0]] = token.string.lstrip("#").strip()
    out: dict[str, str] = {}
    body = typing.cast(ast.ClassDef, ast.parse(source).body[0]).body
    for node in body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        above: list[str] = []
        number = node.lineno - 1
        while number >= 1 and lines[number - 1].strip().startswith("#"):
            above.insert(0, by_line.get(number, ""))
            number -= 1
        trailing = by_line.get(node.end_lineno or node.lineno, "")
        out[node.target.id] = " ".join(part for part in [*above, trailing] if part)
    return out


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '""' if value == "" else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    if isinstance(value, int) and value >= 100_000:
        return f"{value:_}"
    return str(value)


def _allowed(rules: typing.Mapping[str, Any]) -> str:
    """The option's allowed values, from its `opt(...)` rules in the settings table."""
    parts = []
    if "choices" in rules:
        parts.append("one of " + ", ".join(f"`{c}`" for c in rules["choices"]))
    if "min" in rules:
        parts.append(f"≥ {rules['min']}")
    if "above" in rules:
        parts.append(f"> {rules['above']}")
    if "max" in rules:
        parts.append(f"≤ {rules['max']}")
    if "check" in rules:
        parts.append(_check_text(rules["check"]))
    return ", ".join(parts)


def _check_text(check: Any) -> str:
    """A custom check described by its docstring, else by what it says about a value it refuses."""
    doc = inspect.getdoc(check)
    if doc:
        return doc.splitlines()[0]
    problem = str(check("\x00not a value\x00") or "")
    for prefix in ("must be ", "is not "):
        if problem.startswith(prefix):
            problem = problem[len(prefix) :]
    return problem


_TYPES = {int: "integer", float: "number", bool: "true/false", str: "text"}


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint) or (str,)
        return f"list of {_TYPES.get(item, 'values')}"
    return _TYPES.get(hint, getattr(hint, "__name__", str(hint)))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _env_names(section: str | None, name: str) -> list[str]:
    short = [env for env, (sec, fld) in settings_mod._SHORT_ENV.items() if (fld is None and sec == name and section is None) or (sec == section and fld == name)]
    if section is None:
        return short
    return [f"MONITOR_{section.upper()}_{name.upper()}", *short]


def _table(cls: type, section: str | None, names: list[str] | None = None) -> str:
    hints = typing.get_type_hints(cls)
    comments = _comments(cls)
    for (sec, name), meaning in FALLBACK_MEANINGS.items():
        if sec == section and not comments.get(name):
            comments[name] = meaning
    defaults = cls()
    rows = ["| option | type | default | allowed | environment | meaning |", "|---|---|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if names is not None and f.name not in names:
            continue
        env = ", ".join(f"`{e}`" for e in _env_names(section, f.name))
        rows.append(
            f"| `{f.name}` | {_type_name(hints[f.name])} | `{_cell(_toml(getattr(defaults, f.name)))}` "
            f"| {_cell(_allowed(f.metadata))} | {env} | {_cell(comments.get(f.name, ''))} |"
        )
    return "\n".join(rows) + "\n"


def settings_reference() -> str:
    """The top-level options, then one table per `[section]`, straight from monitor/config/settings.py."""
    hints = typing.get_type_hints(settings_mod.Settings)
    top = [f.name for f in dataclasses.fields(settings_mod.Settings) if hints[f.name] is str and f.name != "config_path"]
    parts = ["### Top level (outside any section)\n", _table(settings_mod.Settings, None, top)]
    for section in settings_mod.SECTIONS:
        cls = hints[section]
        summary = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
        parts.append(f"\n### `[{section}]`\n")
        if summary and not summary.startswith(cls.__name__ + "("):
            parts.append(summary + "\n")
        parts.append("\n" + _table(cls, section))
    return "".join(parts)


# ------------------------------------------------------------------------------ Python API


def api_example() -> str:
    """The runnable example of monitor/api.py's docstring (tests/test_api.py runs it), as a code block."""
    from monitor import api

    doc = inspect.getdoc(api) or ""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(">>>"))
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    return "```pycon\n" + "\n".join(lines[start:end]) + "\n```\n"


def _default(value: Any) -> str:
    if callable(value):
        return getattr(value, "__name__", "...")
    return repr(value)


def _signature(name: str, obj: Any) -> str:
    """`name(params) -> return`, with annotations as written and no memory addresses."""
    signature = inspect.signature(obj)
    params, star_done = [], False
    for p in signature.parameters.values():
        if p.name == "self":
            continue
        if p.kind is p.KEYWORD_ONLY and not star_done:
            params.append("*")
            star_done = True
        text = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        star_done = star_done or p.kind is p.VAR_POSITIONAL
        if p.annotation is not p.empty:
            text += f": {p.annotation}"
        if p.default is not p.empty:
            text += f" = {_default(p.default)}"
        params.append(text)
    result = "" if signature.return_annotation in (signature.empty, "None") else f" -> {signature.return_annotation}"
    return f"{name}({', '.join(params)}){result}"


def api_reference() -> str:
    """Every public name of monitor.api with its signature and docstring."""
    from monitor import api

    parts = []
    for name in ("Monitor", "open_monitor", "demo_feeds"):
        obj = getattr(api, name)
        parts.append(f"### `{name}`\n\n```python\n{_signature(name, obj)}\n```\n\n{inspect.getdoc(obj)}\n")
        if not inspect.isclass(obj):
            continue
        for member, value in inspect.getmembers(obj):
            if member.startswith("_"):
                continue
            if isinstance(value, property):
                parts.append(f"#### `{name}.{member}` (property)\n\n{inspect.getdoc(value) or ''}\n")
            elif inspect.isfunction(value):
                signature = _signature(f"{name}.{member}", value)
                parts.append(f"#### `{name}.{member}()`\n\n```python\n{signature}\n```\n\n{inspect.getdoc(value) or ''}\n")
    return "\n".join(parts)

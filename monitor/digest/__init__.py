"""The daily digest: the day's stories with US and Mexican coverage side by side, how each press
framed the debate, blindspots, lead/lag and feed health; rendered as text, Markdown, HTML email and
JSON; stored in the database; sent over SMTP.

`run` is the pipeline stage (`monitor run` ends with it); `make_digest` is what `monitor digest` calls.
"""

from __future__ import annotations

from monitor.days import parse_day
from monitor.digest.model import Digest, build_digest
from monitor.digest.render import FORMATS, render
from monitor.digest.stage import DigestReport, make_digest, produce, run, write_files

__all__ = [
    "FORMATS",
    "Digest",
    "DigestReport",
    "build_digest",
    "make_digest",
    "parse_day",
    "produce",
    "render",
    "run",
    "write_files",
]

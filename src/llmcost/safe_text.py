"""Strings from the logs made harmless on their way out, one function per kind of output.

Every user-provided string (a feature, a user id, a model name...) reaches a spreadsheet, a
terminal, a Markdown page or a chart. Each renderer passes its text cells through here:

- `csv_cell`: OWASP's rule against formula injection — a cell starting with `=`, `+`, `-`, `@`,
  a tab or a carriage return (or their full-width forms) gets a leading `'`, so that a
  spreadsheet shows it as text instead of running it; quoting is the CSV writer's.
- `terminal`: control characters (escape sequences, NUL, C1, line breaks inside a cell) and the
  invisible characters that reorder or hide text (bidi overrides and isolates, zero-width space,
  BOM) are shown escaped (`\\x1b`, `\\u202e`), never sent raw.
- `markdown`: the same, then the characters that make table cells, links, images or HTML
  escaped (`|`, `[`, `]`, `<`, `>`, `&`, `\\`; a backtick stays: a code span is inert); a value a
  renderer would turn into a link by itself (a URL, `www.`, an e-mail address) is given as a
  code span, which no Markdown renderer links.
- `json_text`: JSON already escapes C0 controls; C1 controls and bidi characters are escaped too.
- `chart_spec`: every string of a chart's spec escaped as for the terminal, before the chart
  renderer sees it (it aborts the process on a character XML cannot hold).
"""

from __future__ import annotations

import re
from typing import Any

# C0 (tab and line ends included: inside a cell they fake rows), DEL and C1; Arabic letter mark;
# zero-width space; LRM/RLM; bidi embeddings and overrides; line/paragraph separators; bidi
# isolates; BOM
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
# what JSON leaves raw of the above (it escapes C0 itself)
_UNSAFE_JSON = re.compile("[\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_MD_SPECIAL = re.compile(r"[\\|\[\]<>&]")
_MD_ENTITY = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_AUTOLINK = re.compile(r"(?i)(://|www\.|@[^\s@]+\.[^\s@]|mailto:|xmpp:)")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str) -> str:
    """TEXT with control and bidi characters shown as escapes."""
    return _UNSAFE.sub(_escape, text)


def csv_cell(text: str) -> str:
    """A text cell that a spreadsheet will not read as a formula (OWASP)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def markdown(text: str) -> str:
    """TEXT for a Markdown table cell or line: inert (no link, image, HTML, table break)."""
    text = terminal(text)
    if _AUTOLINK.search(text):
        return _code_span(text)
    return _MD_SPECIAL.sub(lambda m: _MD_ENTITY.get(m.group(), "\\" + m.group()), text)


def _code_span(text: str) -> str:
    """A code span: its content is shown as it is (only a pipe needs escaping in a table)."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    body = text.replace("|", "\\|")
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip(" ") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def json_text(text: str) -> str:
    """A JSON document with C1 controls and bidi characters escaped as \\uXXXX (still valid
    JSON: such characters can only be inside its strings)."""
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def chart_spec(value: Any) -> Any:
    """A chart spec (dicts, lists, strings) with every string escaped as for the terminal."""
    if isinstance(value, str):
        return terminal(value)
    if isinstance(value, dict):
        return {k: chart_spec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [chart_spec(v) for v in value]
    return value

"""A compact Markdown summary for $GITHUB_STEP_SUMMARY and pull-request comments.

GitHub caps a step summary at 1 MiB and a comment at 65,536 characters: long tables are cut to
their first rows with a note pointing at the full artifact, never cut mid-row.
"""

from __future__ import annotations

from typing import Any

from llmcost import safe_text
from llmcost.documents import Result, Table
from llmcost.values import fmt_cell

MAX_ROWS = 25
MAX_CHARS = 60_000  # fits a pull-request comment, far under the step-summary limit


def summary_markdown(result: Any, title: str = "llmcost report", max_rows: int = MAX_ROWS) -> str:
    short = _Truncated(result, max_rows)
    text = to_markdown(short, title)
    while len(text) > MAX_CHARS and short.max_rows > 1:
        short.max_rows //= 2
        text = to_markdown(short, title)
    return text


class _Truncated:
    def __init__(self, result: Any, max_rows: int) -> None:
        self.result, self.max_rows = result, max_rows

    def to_json(self) -> dict[str, Any]:
        return dict(self.result.to_json())

    def headline(self) -> list[str]:
        return list(self.result.headline())

    def tables(self) -> list[Table]:
        out = []
        for t in self.result.tables():
            if len(t) > self.max_rows:  # a frame's length: no row built for the rows cut
                more = len(t) - self.max_rows
                note = (
                    t.note + "; " if t.note else ""
                ) + f"first {self.max_rows} of {len(t)} rows; {more} more in the full report"
                t = t.head(self.max_rows)
                t.note = note
            out.append(t)
        return out


_md_escape = safe_text.markdown


def md_table(table: Table) -> str:
    head = "| " + " | ".join(_md_escape(c.title) for c in table.columns) + " |"
    align = "|" + "|".join("---:" if c.kind != "text" else "---" for c in table.columns) + "|"
    body = [
        "| " + " | ".join(_md_escape(fmt_cell(c, row)) for c in table.columns) + " |"
        for row in table.rows
    ]
    return "\n".join([head, align, *body])


def to_markdown(result: Result, title: str = "llmcost report") -> str:
    parts = [f"## {title}", ""]
    parts += [f"- {_md_escape(line)}" for line in result.headline()]
    for table in result.tables():
        parts += ["", f"### {_md_escape(table.title)}", ""]
        if table.note:
            parts += [f"_{_md_escape(table.note)}_", ""]
        parts.append(md_table(table) if table.rows else "_no rows_")
    return "\n".join(parts) + "\n"

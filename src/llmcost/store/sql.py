"""SQL text for what a statement names or compares that cannot be a parameter (a path in a
table function, a key as a column, a value inside generated SQL)."""

from __future__ import annotations


def literal(text: str) -> str:
    """TEXT as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """NAME as a quoted SQL identifier (a column named by a JSON key)."""
    return '"' + name.replace('"', '""') + '"'

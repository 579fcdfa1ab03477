"""The typed documents every command returns, and the tables they hold.

A result is anything with `to_json()` (the stable, schema-versioned document as plain values),
`tables()` (the tables a person reads, first one is the main table) and `headline()` (the lines
printed above the tables). A result may also have `document()`: the same document whose large
lists of rows are polars DataFrames (`frames` in this module), which `llmcost.render` writes as
JSON without turning every row into a Python dict.

A `Table` holds either a list of row dicts or a polars DataFrame (`Table.frame`); `Table.rows` is
always the row dicts (made from the frame once, when something asks for them). A frame may carry
hidden boolean columns `__omit__<key>`: in a row where one is true, the field `<key>` is left out
of that row's JSON object (a row of another shape, such as a customer with revenue but no request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import polars as pl

OMIT = "__omit__"


@dataclass
class Column:
    key: str
    title: str = ""
    kind: str = "text"  # text | int | usd | pct | num | ratio

    def __post_init__(self) -> None:
        if not self.title:
            self.title = self.key


def is_frame(value: Any) -> bool:
    """A polars DataFrame (without importing polars when none was ever made)."""
    import sys

    pl = sys.modules.get("polars")
    return pl is not None and isinstance(value, pl.DataFrame)


def preload_polars() -> None:
    """Import polars (and pyarrow, which DuckDB hands its Arrow through) in a background thread,
    while DuckDB runs a report's first queries — it releases the GIL while it runs them — so the
    import (~0.1 s) overlaps them instead of delaying the first frame. An import already running
    or done is not repeated (Python's import lock makes the first frame wait for it to finish)."""
    import importlib
    import sys
    import threading

    if "polars" in sys.modules:
        return

    def run() -> None:
        for name in ("pyarrow", "polars"):
            importlib.import_module(name)

    threading.Thread(target=run, name="llmcost-preload", daemon=True).start()


def fetch_frame(con: Any, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """A query's result as a polars DataFrame, through Arrow (no Python value per cell)."""
    import warnings

    import polars as pl

    with warnings.catch_warnings():  # "an extra copy of the rows": a copy of a few columns, once
        warnings.simplefilter("ignore", UserWarning)
        arrow = con.execute(sql, params).to_arrow_table()
    out = pl.from_arrow(arrow)
    assert isinstance(out, pl.DataFrame)
    return out


def frame_dicts(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of a frame as dicts, without the hidden columns and the fields they leave out."""
    omit = [c for c in frame.columns if c.startswith(OMIT)]
    visible = frame.drop(omit)
    rows = visible.to_dicts()
    if not omit:
        return rows
    for name in omit:
        key = name[len(OMIT) :]
        for i in frame.get_column(name).arg_true().to_list():
            rows[i].pop(key, None)
    return rows


def materialise(value: Any) -> Any:
    """A document with every frame in it turned into a list of row dicts."""
    if is_frame(value):
        return frame_dicts(value)
    if isinstance(value, dict):
        return {k: materialise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [materialise(v) for v in value]
    return value


class Table:
    """A titled table: columns to show and rows, as a list of dicts or as a polars DataFrame."""

    def __init__(
        self, title: str, columns: list[Column], rows: Any, note: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.title = title
        self.columns = columns
        self.note = note
        self.extra: dict[str, Any] = extra if extra is not None else {}
        self.frame: pl.DataFrame | None = rows if is_frame(rows) else None
        self._rows: list[dict[str, Any]] | None = None if self.frame is not None else list(rows)

    @property
    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            assert self.frame is not None
            self._rows = frame_dicts(self.frame)
        return self._rows

    @rows.setter
    def rows(self, value: list[dict[str, Any]]) -> None:
        self._rows, self.frame = list(value), None

    def __len__(self) -> int:
        return self.frame.height if self.frame is not None else len(self.rows)

    def head(self, n: int) -> Table:
        """The first n rows, as a table of the same title, columns and note."""
        rows = self.frame.head(n) if self.frame is not None else self.rows[:n]
        return Table(self.title, self.columns, rows, self.note, self.extra)

    def sorted_by(self, key: str, *, descending: bool) -> Table:
        """The rows ordered by one column (missing values last), a stable sort."""
        if self.frame is not None:
            rows: Any = self.frame.sort(
                key, descending=descending, nulls_last=True, maintain_order=True
            )
        else:
            present = [r for r in self.rows if r.get(key) is not None]
            missing = [r for r in self.rows if r.get(key) is None]
            rows = sorted(present, key=lambda r: r[key], reverse=descending) + missing
        return Table(self.title, self.columns, rows, self.note, self.extra)

    def __repr__(self) -> str:
        return f"Table({self.title!r}, {len(self)} rows)"


class Result(Protocol):
    def to_json(self) -> dict[str, Any]: ...
    def tables(self) -> list[Table]: ...
    def headline(self) -> list[str]: ...

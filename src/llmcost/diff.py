"""`llmcost diff`: compare two saved JSON reports (this week vs last, old vs new price table).

Totals and per-group deltas; a group present on one side only is "added" or "removed". The
per-group rows are computed in SQL over the two reports' rows into a polars frame (`group_frame`),
which the document holds and the writers write column by column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcost.documents import Column, Table, is_frame, materialise
from llmcost.errors import InputError
from llmcost.values import fmt_change, fmt_value, fmt_window

if TYPE_CHECKING:
    import polars as pl

SCHEMA = "llmcost.diff/1"
REPORT_SCHEMA_PREFIX = "llmcost.report/"
TOTAL_KEYS = [
    ("requests", "int"), ("tasks", "int"), ("users", "int"), ("customers", "int"),
    ("cost_usd", "usd"), ("revenue_usd", "usd"), ("margin_usd", "usd"), ("margin_pct", "pct"),
]  # fmt: skip
# the fields of a report a diff reads (besides its rows)
READS = ("schema", "generated_at", "pricing", "window", "totals", "by")
ROW_KEYS = [("requests", "int"), ("cost_usd", "usd"), ("revenue_usd", "usd"), ("margin_pct", "pct")]


def load_report(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}",
            hint="save one with `llmcost report --format json -o FILE`",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path} is not JSON: {exc}",
            hint="give a file written by `llmcost report --format json`",
        ) from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if not isinstance(schema, str) or not schema.startswith(REPORT_SCHEMA_PREFIX):
        raise InputError(
            f"{path} is not an llmcost report (schema {schema!r})",
            hint="give a file written by `llmcost report --format json`",
        )
    return dict(doc)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def window_days(doc: dict[str, Any]) -> float | None:
    """The length of a saved report's window in days (None when an end is open or unreadable)."""
    from datetime import datetime

    w = doc.get("window") or {}
    try:
        since, until = (
            datetime.fromisoformat(str(w[k]).replace("Z", "+00:00")) for k in ("since", "until")
        )
    except (KeyError, TypeError, ValueError):
        return None
    return (until - since).total_seconds() / 86400


def _days(n: float) -> str:
    return f"{n:g} day{'s' * (n != 1)}" if n == int(n) else f"{n:.1f} days"


def _delta(base: Any, current: Any, kind: str) -> dict[str, Any]:
    b, c = _num(base), _num(current)
    d = (c - b) if b is not None and c is not None else None
    # a percentage's change is in points; a relative change of a percentage would mislead
    rel = (d / abs(b) * 100.0) if d is not None and b and kind != "pct" else None
    return {"base": b, "current": c, "delta": d, "delta_pct": rel}


# ---------------------------------------------------------------- the per-group rows, in SQL
#
# A group is a key of `by` values; a report holding one key twice counts its last row, at the place
# of its first. The rows come in the current report's order, then the base's groups it lacks, and
# are sorted by the absolute cost change, largest first (a stable sort: ties keep that order).
# Each number is the JSON's number as a float (anything else counts as missing) and each change
# the same IEEE operation as `_delta`: current - base, relative to |base| in %.

KEY = "__lc_k"  # the internal names of the key columns (__lc_k0, ...) and of the row's place
PLACE = "__lc_i"
GROUP_SQL = """
WITH
b AS (SELECT * EXCLUDE (last) FROM (
        SELECT *, min({place}) OVER w AS pos, row_number() OVER (w ORDER BY {place} DESC) AS last
        FROM lc_base WINDOW w AS (PARTITION BY {keys})) WHERE last = 1),
c AS (SELECT * EXCLUDE (last) FROM (
        SELECT *, min({place}) OVER w AS pos, row_number() OVER (w ORDER BY {place} DESC) AS last
        FROM lc_cur WINDOW w AS (PARTITION BY {keys})) WHERE last = 1),
j AS (
    SELECT {coalesced}, b.pos IS NOT NULL AS in_b, c.pos IS NOT NULL AS in_c,
           coalesce(c.pos, ?::BIGINT + b.pos) AS ord, {sides}
    FROM c FULL OUTER JOIN b ON {join}),
d AS (SELECT *, {deltas} FROM j)
SELECT {picks}, CASE WHEN NOT in_b THEN 'added' WHEN NOT in_c THEN 'removed'
                     WHEN {unchanged} THEN 'unchanged' ELSE 'changed' END AS status,
       {fields}
FROM d ORDER BY abs(coalesce(delta_cost_usd, 0)) DESC, ord
"""


def _column(rows: list[Any], key: str) -> tuple[list[Any], set[type]]:
    """The rows' values of `key` (None where missing, or where a row is not an object), and their
    types. map() over C functions: no Python bytecode per row."""
    from itertools import repeat

    if set(map(type, rows)) <= {dict}:
        values = list(map(dict.get, rows, repeat(key)))
    else:
        values = [r.get(key) if isinstance(r, dict) else None for r in rows]
    return values, set(map(type, values))


def _numbers(rows: list[Any], key: str) -> pl.Series:
    """The `key` field of the rows as floats, as _num reads a value: a number, else missing."""
    import polars as pl

    values, types = _column(rows, key)
    if types <= {float, type(None)}:
        return pl.Series(key, values, dtype=pl.Float64)
    if types <= {int, type(None)}:
        try:  # float(int) rounds to the nearest, as the cast does
            return pl.Series(key, values, dtype=pl.Int64).cast(pl.Float64)
        except TypeError:
            pass  # an integer past 64 bits
    return pl.Series(key, list(map(_num, values)), dtype=pl.Float64)


def _keys(rows: list[Any], name: str, column: str) -> pl.Series:
    """The `name` field of the rows: text (or whole numbers), missing as null."""
    import polars as pl

    values, types = _column(rows, name)
    if types <= {str, type(None)}:
        return pl.Series(column, values, dtype=pl.String)
    if types <= {int, type(None)}:
        try:
            return pl.Series(column, values, dtype=pl.Int64)
        except TypeError:
            pass
    raise InputError(
        f"the rows' {name!r} values are not all text",
        hint="give files written by `llmcost report --format json`",
    )


def side_frame(rows: Any, by: list[str]) -> pl.DataFrame:
    """A report's rows (a list of row dicts, or a report's frame) as the columns a diff reads:
    the place, the keys (__lc_k0, ...) and the numbers of ROW_KEYS as floats."""
    import polars as pl

    from llmcost.documents import OMIT

    names = [k for k, _ in ROW_KEYS]
    if is_frame(rows):
        frame: pl.DataFrame = rows

        def field(name: str) -> pl.Expr:
            if name not in frame.columns:
                return pl.lit(None)
            col = pl.col(name)
            if OMIT + name in frame.columns:  # a field left out of the row counts as missing
                col = pl.when(pl.col(OMIT + name)).then(None).otherwise(col)
            return col

        exprs = [pl.int_range(pl.len(), dtype=pl.Int64).alias(PLACE)]
        for i, b in enumerate(by):
            exprs.append(field(b).alias(f"{KEY}{i}"))
        for k in names:
            dtype = frame.schema.get(k)
            ok = dtype is not None and dtype.is_numeric()
            x = field(k).cast(pl.Float64) if ok else pl.lit(None, dtype=pl.Float64)
            # jsonable writes a non-finite float as null
            exprs.append(pl.when(x.is_finite()).then(x).otherwise(None).alias(k))
        out = frame.select(exprs)
        return out.with_columns(
            pl.col(c).cast(pl.String) for c, t in out.schema.items() if t == pl.Null
        )
    rows = list(rows)
    columns = [pl.Series(PLACE, range(len(rows)), dtype=pl.Int64)]
    columns += [_keys(rows, b, f"{KEY}{i}") for i, b in enumerate(by)]
    columns += [_numbers(rows, k) for k in names]
    return pl.DataFrame(columns)


def group_frame(by: list[str], base_rows: Any, current_rows: Any) -> pl.DataFrame:
    """The per-group rows of a diff, every field computed in SQL over the two sides' frames."""
    import duckdb

    from llmcost.documents import fetch_frame

    base, cur = side_frame(base_rows, by), side_frame(current_rows, by)
    keys = [f"{KEY}{i}" for i in range(len(by))]
    if not keys:  # no --by: every row is the one group
        import polars as pl

        keys = [f"{KEY}0"]
        base, cur = (f.with_columns(pl.lit(0).alias(keys[0])) for f in (base, cur))
    for k in keys:
        tb, tc = base.schema[k], cur.schema[k]
        if tb != tc:
            raise InputError(
                f"the two reports' {by[keys.index(k)]!r} values are of different types",
                hint="give files written by `llmcost report --format json`",
            )
    q = _quote
    sides, deltas, fields, unchanged = [], [], [], []
    for k, kind in ROW_KEYS:
        sides.append(f"b.{k} AS base_{k}, c.{k} AS current_{k}")
        if kind == "pct":  # points; a group on one side only has no change
            deltas.append(f"current_{k} - base_{k} AS delta_{k}")
        else:  # a group on one side only: its whole amount is the change (the other side is 0)
            deltas.append(
                f"CASE WHEN in_b AND in_c THEN current_{k} - base_{k} WHEN in_c THEN current_{k}"
                f" ELSE -base_{k} END AS delta_{k}"
            )
        fields.append(f"base_{k}, current_{k}, delta_{k}")
        if k == "cost_usd":
            fields.append(
                "CASE WHEN in_b AND in_c AND base_cost_usd <> 0"
                " THEN (current_cost_usd - base_cost_usd) / abs(base_cost_usd) * 100.0 END AS delta_cost_pct"
            )
        unchanged.append(f"coalesce(delta_{k}, 0) = 0")
    sql = GROUP_SQL.format(
        place=PLACE,
        keys=", ".join(keys),
        coalesced=", ".join(f"coalesce(c.{k}, b.{k}) AS {k}" for k in keys),
        sides=", ".join(sides),
        join=" AND ".join(f"c.{k} IS NOT DISTINCT FROM b.{k}" for k in keys),
        deltas=", ".join(deltas),
        picks=", ".join(f"{k} AS {q(b)}" for k, b in zip(keys, by, strict=False))
        or "NULL AS __lc_none",
        unchanged=" AND ".join(unchanged),
        fields=", ".join(fields),
    )
    con = duckdb.connect()
    con.register("lc_base", base)
    con.register("lc_cur", cur)
    out = fetch_frame(con, sql, [cur.height])
    con.close()
    return out.drop("__lc_none") if not by else out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class DiffResult:
    base: dict[str, Any]
    current: dict[str, Any]

    def __post_init__(self) -> None:
        self.by = [str(b) for b in self.base.get("by") or []]
        cur_by = [str(b) for b in self.current.get("by") or []]
        if self.by != cur_by:
            raise InputError(
                f"the reports are grouped differently (--by {','.join(self.by) or 'nothing'} vs {','.join(cur_by) or 'nothing'})",
                hint="save both with the same --by",
            )
        self.totals = {k: _delta((self.base.get("totals") or {}).get(k), (self.current.get("totals") or {}).get(k), kind)
                       for k, kind in TOTAL_KEYS}  # fmt: skip
        self.rows = self._rows()

    def _rows(self) -> pl.DataFrame:
        def rows(doc: dict[str, Any]) -> Any:
            value = doc.get("rows")
            return value if is_frame(value) or isinstance(value, list) else []

        return group_frame(self.by, rows(self.base), rows(self.current))

    @staticmethod
    def _side(doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "generated_at": doc.get("generated_at"),
            "window": doc.get("window"),
            "pricing_sha256": (doc.get("pricing") or {}).get("sha256"),
        }

    def to_json(self) -> dict[str, Any]:
        """The document as plain values (the rows as a list of dicts)."""
        out: dict[str, Any] = materialise(self.document())
        return out

    def document(self) -> dict[str, Any]:
        """The document with its per-group rows as a frame, for the writers."""
        return {
            "schema": SCHEMA,
            "base": self._side(self.base),
            "current": self._side(self.current),
            "by": self.by,
            "window_days": {"base": window_days(self.base), "current": window_days(self.current)},
            "totals": self.totals,
            "rows": self.rows,
        }

    def headline(self) -> list[str]:
        c = self.totals["cost_usd"]
        line = f"cost {fmt_value(c['base'], 'usd')} → {fmt_value(c['current'], 'usd')}"
        if c["delta"] is not None:
            line += f" ({fmt_change(c['delta'], 'usd')}"
            line += f", {c['delta_pct']:+.1f}%)" if c["delta_pct"] is not None else ")"
        lines = [line]
        bs, cs = self._side(self.base), self._side(self.current)
        if bs["pricing_sha256"] != cs["pricing_sha256"]:
            lines.append(
                f"price table changed: sha256 {str(bs['pricing_sha256'])[:12]} → {str(cs['pricing_sha256'])[:12]}"
            )
        bw, cw = bs["window"] or {}, cs["window"] or {}
        lines.append(f"base window {fmt_window(bw.get('since'), bw.get('until'))}; "
                     f"current {fmt_window(cw.get('since'), cw.get('until'))}")  # fmt: skip
        bd, cd = window_days(self.base), window_days(self.current)
        if bd is not None and cd is not None and abs(bd - cd) > 1e-9:
            lines.append(
                f"the periods differ in length: base {_days(bd)}, current {_days(cd)}; totals are not"
                " like for like (give --since/--until for a current window as long as the base)"
            )
        return lines

    def tables(self) -> list[Table]:
        kinds = dict(TOTAL_KEYS)
        # numbers, not text: each cell is formatted by the row's unit (CSV and Parquet get the numbers)
        totals_rows = [
            {"metric": k, "unit": kinds[k], "base": v["base"], "current": v["current"], "delta": v["delta"],
             "delta_pct": v["delta_pct"]}
            for k, v in self.totals.items() if v["base"] is not None or v["current"] is not None
        ]  # fmt: skip
        totals = Table(
            "totals",
            [
                Column("metric"),
                Column("base", kind="unit"),
                Column("current", kind="unit"),
                Column("delta", "change", "+unit"),
                Column("delta_pct", "change %", "+rel"),
            ],
            totals_rows,
            note="a change of a percentage is in points (pp)",
        )
        if not self.by:
            return [totals]
        cols = [Column(b) for b in self.by] + [
            Column("status"), Column("base_cost_usd", "base cost", "usd"), Column("current_cost_usd", "current cost", "usd"),
            Column("delta_cost_usd", "Δ cost", "+usd"), Column("delta_cost_pct", "Δ cost %", "+rel"),
            Column("base_requests", "base requests", "int"), Column("current_requests", "current requests", "int"),
        ]  # fmt: skip
        # the per-group table comes first: it is what csv and parquet write
        return [Table("by " + ", ".join(self.by), cols, self.rows), totals]


def diff(base_path: Path, current: dict[str, Any] | Path) -> DiffResult:
    base = load_report(base_path)
    cur = load_report(current) if isinstance(current, Path) else current
    return DiffResult(base, cur)

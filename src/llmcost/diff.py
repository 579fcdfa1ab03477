"""`llmcost diff`: compare two saved JSON reports (this week vs last, old vs new price table).

Totals and per-group deltas; a group present on one side only is "added" or "removed".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcost.documents import Column, Table
from llmcost.errors import InputError
from llmcost.values import fmt_change, fmt_value, fmt_window

SCHEMA = "llmcost.diff/1"
REPORT_SCHEMA_PREFIX = "llmcost.report/"
TOTAL_KEYS = [
    ("requests", "int"), ("tasks", "int"), ("users", "int"), ("customers", "int"),
    ("cost_usd", "usd"), ("revenue_usd", "usd"), ("margin_usd", "usd"), ("margin_pct", "pct"),
]  # fmt: skip
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

    def _rows(self) -> list[dict[str, Any]]:
        def index(doc: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
            return {tuple(r.get(b) for b in self.by): r for r in doc.get("rows") or []}

        base, cur = index(self.base), index(self.current)
        out = []
        for key in list(cur) + [k for k in base if k not in cur]:
            b, c = base.get(key), cur.get(key)
            row: dict[str, Any] = dict(zip(self.by, key, strict=True))
            row["status"] = "added" if b is None else "removed" if c is None else "changed"
            for k, kind in ROW_KEYS:
                d = _delta((b or {}).get(k), (c or {}).get(k), kind)
                if kind != "pct" and (b is None or c is None):
                    # a group on one side only: its whole amount is the change (the other side counts as 0)
                    d["delta"] = (
                        d["current"]
                        if b is None
                        else (-d["base"] if d["base"] is not None else None)
                    )
                row[f"base_{k}"], row[f"current_{k}"] = d["base"], d["current"]
                row[f"delta_{k}"] = d["delta"]
                if k == "cost_usd":
                    row["delta_cost_pct"] = d["delta_pct"]
            if row["status"] == "changed" and all(not row[f"delta_{k}"] for k, _ in ROW_KEYS):
                row["status"] = "unchanged"
            out.append(row)
        out.sort(key=lambda r: -abs(r["delta_cost_usd"] or 0.0))
        return out

    @staticmethod
    def _side(doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "generated_at": doc.get("generated_at"),
            "window": doc.get("window"),
            "pricing_sha256": (doc.get("pricing") or {}).get("sha256"),
        }

    def to_json(self) -> dict[str, Any]:
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

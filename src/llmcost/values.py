"""How a value is written as text: JSON-ready values and the people-facing cell text.

The bottom layer beside `llmcost.documents`: analytics fill their tables with these texts and the
renderers use the same functions, so nothing above needs `llmcost.render` to format a number.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmcost.documents import Column


def jsonable(value: Any) -> Any:
    """Decimals become JSON numbers (not rounded beyond 1e-9), datetimes RFC 3339 UTC strings."""
    if isinstance(value, Decimal):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def fmt_usd(value: Any, *, sign: bool = False) -> str:
    """Money for people: cents from $1 up, three significant digits below (JSON and CSV keep it all).
    -$27.90, $112.27, $0.0279, $0.000146; below a millionth of a dollar, <$0.000001."""
    v = float(value)
    lead = "-" if v < 0 else "+" if sign and v > 0 else ""
    a = abs(v)
    if a == 0:
        return "$0"
    if a >= 1:
        return f"{lead}${a:,.2f}"
    if a < 0.000001:
        return f"{lead}<$0.000001"
    decimals = min(6, 2 - math.floor(math.log10(a)))
    return f"{lead}${a:.{decimals}f}"


def fmt_usd_terms(*values: Any) -> list[str]:
    """Amounts printed with one number of decimals, so that a sum or difference of them adds up as
    printed (billed $0.500000 - logged $0.000150 = gap $0.499850)."""
    small = [abs(float(v)) for v in values if v is not None and float(v) != 0]
    decimals = 2 if not small or min(small) >= 1 else min(6, 2 - math.floor(math.log10(min(small))))
    decimals = max(decimals, 2)
    out = []
    for v in values:
        if v is None:
            out.append("—")
            continue
        f = float(v)
        out.append(f"{'-' if f < 0 else ''}${abs(f):,.{decimals}f}")
    return out


def fmt_change(value: Any, unit: str, relative: Any = None) -> str:
    """A signed change: +$3.40 (+12.0%), -1,234 (-5.0%); a change of a percentage in points: +2.1 pp."""
    if value is None:
        return "—"
    v = float(value)
    if v == 0:
        text = {"pct": "0.0 pp", "usd": "$0"}.get(unit, "0")
        return text + (" (0.0%)" if relative is not None and unit != "pct" else "")
    if unit == "pct":
        return f"{v:+.1f} pp"
    if unit == "usd":
        text = "$0" if v == 0 else fmt_usd(v, sign=True)
    elif unit == "int":
        text = f"{int(v):+,}"
    else:
        text = f"{v:+,.3f}"
    return text + (f" ({float(relative):+.1f}%)" if relative is not None else "")


def fmt_when(value: datetime | date) -> str:
    """A date as 2026-10-31; a time as 2026-10-31 14:05 (UTC; seconds only when they are not 0)."""
    if isinstance(value, datetime):
        if value.hour == value.minute == value.second == 0 and not value.microsecond:
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M" + (":%S" if value.second else ""))
    return value.isoformat()


def fmt_window(since: Any, until: Any) -> str:
    """A window as people say it: 2026-08-01 to 2026-10-31 (92 days) when it ends at midnight (the
    last day it includes), else with times: 2026-11-03 08:48 to 2026-12-03 08:48 UTC."""
    s, u = _as_datetime(since), _as_datetime(until)
    if s is None or u is None:
        return f"{fmt_when(s) if s else 'the start'} to {fmt_when(u) if u else 'the end'}"
    if s == u:
        return f"{fmt_when(s)} (empty)"
    midnight = all(t.hour == t.minute == t.second == 0 for t in (s, u))
    if midnight:
        days = (u - s).days
        return (
            f"{fmt_when(s)} to {fmt_when(u - timedelta(days=1))} ({days:,} day{'s' * (days != 1)})"
        )
    return f"{fmt_when(s)} to {fmt_when(u)} UTC"


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time())
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None) if parsed.tzinfo else parsed


def fmt_value(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "usd":
        return fmt_usd(value)
    if kind == "pct":
        return f"{float(value):.1f}%"
    if kind == "ratio":
        return f"{float(value):.3f}"
    if kind == "int":
        return f"{int(value):,}"
    # num: no trailing zeros; 3 decimals below 10, 1 below 100, none above: 0.075, 15, 8,467
    if kind == "num":
        v = float(value)
        text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.3f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, (datetime, date)):
        return fmt_when(value)
    return str(value)


def cell_kind(column: Column, row: dict[str, Any]) -> str:
    """Kind "unit": a mixed table (metric per row) formats each cell by the row's own `unit`."""
    return str(row.get("unit", "text")) if column.kind in ("unit", "change") else column.kind


def fmt_cell(column: Column, row: dict[str, Any]) -> str:
    """A table cell as people read it. Kind "change": signed, by the row's unit, with the relative
    change from the `<key>_pct` field beside it (percentage points for a percentage)."""
    value = row.get(column.key)
    if column.kind == "change":
        return fmt_change(value, cell_kind(column, row), row.get(f"{column.key}_pct"))
    # signed: +usd, +rel (a relative change, in %), +unit (the row's own unit)
    if column.kind.startswith("+"):
        unit = column.kind[1:]
        if unit == "rel":
            return "—" if value is None else f"{float(value):+.1f}%"
        return fmt_change(value, str(row.get("unit", "num")) if unit == "unit" else unit)
    return fmt_value(value, cell_kind(column, row))

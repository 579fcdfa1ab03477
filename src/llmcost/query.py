"""The query vocabulary every command shares: the --by dimensions, the one --where parser and its SQL,
windows (--since/--until, the previous period, month arithmetic) and `now()`.

The bottom of the layers (pyproject.toml, [tool.importlinter]): it imports nothing of llmcost but
the errors, so the analytics, the what-if, the exports and the renderers read the same rules. User
text reaches SQL only as bound parameters; field names come from the whitelists below.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from llmcost.errors import LlmcostError

# --by name -> SQL over the `priced` view. The JSON key is the name given on the command line;
# customer_id, user_id, task_id and request_id name the same dimensions.
DIMENSIONS: dict[str, str] = {
    "feature": "feature",
    "customer": "customer_id",
    "user": "user_id",
    "task": "coalesce(task_id, request_id)",
    "model": "model",
    "provider": "provider",
    "tier": "tier",
    "plan": "plan",
    "status": "status",
    "request": "request_id",
    "day": "strftime(date_trunc('day', ts), '%Y-%m-%d')",
    "week": "strftime(date_trunc('week', ts), '%Y-%m-%d')",
    "month": "strftime(date_trunc('month', ts), '%Y-%m')",
}

# --by model groups on the price table's model (gpt-4.1-mini-2025-04-14 is gpt-4.1-mini), --by provider
# on one name per provider (gemini is google); both from lc_model_names (install_names). --where
# compares the values as logged (DIMENSIONS).
MODEL_GROUP = "coalesce((SELECT n.model_id FROM lc_model_names n WHERE n.name = model), model)"
PROVIDER_ALIASES = {
    "gemini": "google", "google_genai": "google", "google-genai": "google", "google_ai_studio": "google",
    "googleai": "google", "gcp.gemini": "google", "gcp.gen_ai": "google", "vertex_ai": "vertex",
    "vertexai": "vertex", "gcp.vertex_ai": "vertex", "google_vertex": "vertex", "aws.bedrock": "bedrock",
    "amazon_bedrock": "bedrock", "aws_bedrock": "bedrock", "azure_openai": "azure", "azure.ai.openai": "azure",
    "az.ai.openai": "azure", "az.ai.inference": "azure", "azure_ai": "azure", "mistral_ai": "mistral",
    "mistralai": "mistral", "together_ai": "together", "togetherai": "together", "x_ai": "xai",
    "anthropic.messages": "anthropic", "openai.chat": "openai",
}  # fmt: skip
PROVIDER_GROUP = (
    "coalesce(CASE lower(trim(provider)) "
    + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in PROVIDER_ALIASES.items())
    + " ELSE nullif(lower(trim(provider)), '') END,"
    " (SELECT n.model_provider FROM lc_model_names n WHERE n.name = model))"
)
GROUP_DIMENSIONS = {"model": MODEL_GROUP, "provider": PROVIDER_GROUP}
SYNONYMS = {
    "customer_id": "customer",
    "user_id": "user",
    "task_id": "task",
    "request_id": "request",
}
ATTR_NAME = re.compile(r"^attrs\.([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)$")  # no empty part: a..b
# --where fields: the string dimensions above (not the derived dates) and the two flags.
TIME_DIMENSIONS = ("day", "week", "month")
WHERE_FIELDS = [k for k in DIMENSIONS if k not in TIME_DIMENSIONS] + ["batch", "cache_hit"]
BOOL_FIELDS = {"batch", "cache_hit"}


def now() -> datetime:
    """Naive UTC now; LLMCOST_NOW (ISO time) pins it, for reproducible reports and golden files."""
    pinned = os.environ.get("LLMCOST_NOW")
    if pinned:
        value = _parse_iso(pinned)
        if value is None:
            raise LlmcostError(
                f"cannot read LLMCOST_NOW={pinned!r}",
                hint="use an ISO time such as 2026-11-22T10:00:00Z",
            )
        return value
    return datetime.now(UTC).replace(tzinfo=None)


_clock = now


def install_names(con: Any, prices: Any, names: list[str] | None = None) -> None:
    """lc_model_names: each logged model name that resolves (PRICES: a pricing.PriceTable), with its
    price-table id and provider."""
    if names is None:
        names = [r[0] for r in con.execute("SELECT DISTINCT model FROM requests").fetchall()]
    rows = [(n, m.id, m.provider) for n in names if n is not None and (m := prices.resolve(n))]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lc_model_names (name VARCHAR, model_id VARCHAR, model_provider VARCHAR)"
    )
    if rows:
        con.executemany("INSERT INTO lc_model_names VALUES (?, ?, ?)", rows)


def dimension_sql(name: str) -> str:
    """The SQL of a --by dimension (needs lc_model_names for model and provider)."""
    key = SYNONYMS.get(name, name)
    if key in GROUP_DIMENSIONS:
        return GROUP_DIMENSIONS[key]
    if key in DIMENSIONS:
        return DIMENSIONS[key]
    m = ATTR_NAME.match(name)
    if m:
        # The name is restricted to [A-Za-z0-9_-.] by ATTR_NAME, so quoting it into the JSON path is safe.
        path = ".".join(f'"{part}"' for part in m.group(1).split("."))
        return f"json_extract_string(attrs, '$.{path}')"
    known = ", ".join([*DIMENSIONS, "attrs.NAME"])
    raise LlmcostError(f"unknown --by dimension {name!r}", hint=f"choose from: {known}")


def check_attrs(con: Any, by: list[str]) -> None:
    """--by attrs.NAME for a field no request carries is a typo, not one `—` group of everything."""
    for name in by:
        m = ATTR_NAME.match(name)
        if not m or not con.execute("SELECT count(*) FROM requests").fetchone()[0]:
            continue
        sql = dimension_sql(name)
        if con.execute(f"SELECT 1 FROM requests WHERE {sql} IS NOT NULL LIMIT 1").fetchone():
            continue
        keys = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT unnest(json_keys(attrs)) AS k FROM requests WHERE attrs IS NOT NULL ORDER BY k LIMIT 21"
            ).fetchall()
        ]
        seen = ", ".join(keys[:20]) + (", …" if len(keys) > 20 else "") if keys else "none"
        raise LlmcostError(
            f"--by {name}: no request has a field {m.group(1)!r}",
            hint=f"fields the requests carry: {seen}",
        )


def parse_by(text: str | None) -> list[str]:
    if not text:
        return []
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        dimension_sql(name)
    if len(set(names)) != len(names):
        raise LlmcostError(f"--by names a dimension twice: {text!r}")
    return names


# ---------------------------------------------------------------- --where


@dataclass(frozen=True)
class Filter:
    """One `--where FIELD=VALUE` / `FIELD!=VALUE`; an empty VALUE means the field is missing.

    The one rule, in every command: the same field with `=` repeated is any of the values (OR);
    different fields, and every `!=`, must all hold (AND)."""

    name: str
    op: str  # "=" or "!="
    value: str

    @property
    def column(self) -> str:
        return (
            dimension_sql(self.name)
            if self.name.startswith("attrs.")
            else DIMENSIONS.get(self.name, self.name)
        )

    def text(self) -> str:
        return f"{self.name}{self.op}{self.value}"


_WHERE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(!=|=)(.*)$", re.S)


def parse_where(items: list[str] | None, *, fields: list[str] | None = None) -> list[Filter]:
    """`--where` clauses as filters; FIELDS: the fields the caller's table has (WHERE_FIELDS).
    A value in matching quotes (a config file's `feature='a b'`) is read without them."""
    known = WHERE_FIELDS if fields is None else fields
    filters = []
    for item in items or []:
        m = _WHERE.match(item)
        if not m:
            raise LlmcostError(
                f"cannot read --where {item!r}",
                hint="use FIELD=VALUE or FIELD!=VALUE, e.g. --where feature=support-chat",
            )
        name, op, value = SYNONYMS.get(m.group(1), m.group(1)), m.group(2), m.group(3).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if name not in known and not ATTR_NAME.match(name):
            raise LlmcostError(
                f"unknown --where field {m.group(1)!r}",
                hint=f"choose from: {', '.join(known)}, attrs.NAME",
            )
        if name in BOOL_FIELDS and value.lower() not in ("true", "false"):
            raise LlmcostError(f"--where {name} takes true or false, got {value!r}")
        filters.append(Filter(name, op, value))
    return filters


def where_sql(filters: list[Filter]) -> tuple[str, list[Any]]:
    """Same field with `=` repeated: any of the values; everything else: all must hold.
    `!=` keeps rows where the field is missing (IS DISTINCT FROM)."""
    clauses: list[str] = []
    params: list[Any] = []
    equals: dict[str, list[Filter]] = {}
    for f in filters:
        if f.op == "=" and f.value != "":
            equals.setdefault(f.name, []).append(f)
            continue
        if f.value == "":
            clauses.append(f"({f.column} IS {'NOT ' if f.op == '!=' else ''}NULL)")
        elif f.name in BOOL_FIELDS:
            clauses.append(f"({f.column} IS DISTINCT FROM ?)")
            params.append(f.value.lower() == "true")
        else:
            clauses.append(f"(CAST({f.column} AS VARCHAR) IS DISTINCT FROM ?)")
            params.append(f.value)
    for name, group in equals.items():
        col = group[0].column
        if name in BOOL_FIELDS:
            clauses.append("(" + " OR ".join(f"{col} = ?" for _ in group) + ")")
            params += [g.value.lower() == "true" for g in group]
        else:
            clauses.append(f"(CAST({col} AS VARCHAR) IN ({', '.join('?' for _ in group)}))")
            params += [g.value for g in group]
    return (" AND ".join(clauses) or "TRUE"), params


# ---------------------------------------------------------------- windows


_RELATIVE = re.compile(r"^(\d+)([hdwm])$")


def _parse_iso(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(text.strip()), datetime.min.time())
        except ValueError:
            return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def parse_when(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """ISO dates/datetimes (UTC unless an offset is given) or relative windows such as 30d, 12h, 4w, 3m."""
    if text is None or text.strip() == "":
        return None
    m = _RELATIVE.match(text.strip())
    if m:
        base = now or _clock()
        n, unit = int(m.group(1)), m.group(2)
        try:
            # calendar months: 3m on 2026-11-30 is 2026-08-30; 1m on 2026-03-31 is 2026-02-28
            if unit == "m":
                y, mo = divmod(base.year * 12 + base.month - 1 - n, 12)
                if y < 1:
                    raise OverflowError
                last = (datetime(y + (mo + 1) // 12, (mo + 1) % 12 + 1, 1) - timedelta(days=1)).day
                return _in_range(base.replace(year=y, month=mo + 1, day=min(base.day, last)), text)
            delta = {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}
            return _in_range(base - delta[unit], text)
        except OverflowError:
            return _in_range(datetime.min, text)
    value = _parse_iso(text)
    if value is None:
        raise LlmcostError(
            f"cannot read the date {text!r}",
            hint="use 2026-08-01, 2026-08-01T12:00:00Z or a window such as 30d",
        )
    return _in_range(value, text)


def _in_range(value: datetime, text: str) -> datetime:
    """VALUE when it is a time a request can have (ingest rejects any other): 1970 .. 2200."""
    if not datetime(1970, 1, 1) <= value.replace(tzinfo=None) <= datetime(2200, 1, 1):
        raise LlmcostError(
            f"the date {text!r} is out of range",
            hint="requests are from 1970-01-01 .. 2200-01-01",
        )
    return value


_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def parse_window(since: str | None, until: str | None, *, now: datetime | None = None) -> Window:
    """--since/--until as a window: a relative start (30d, 3m) is anchored at now, so with no --until
    the window ends now; a date-only --until includes that day; an end before the start is an error."""
    base = now or _clock()
    start = parse_when(since, now=base)
    end = parse_when(until, now=base)
    if end is not None and until is not None and _DATE_ONLY.match(until):
        end += timedelta(days=1)  # --until 2026-10-31 means up to the end of that day
    relative = since is not None and _RELATIVE.match(since.strip()) is not None
    if relative and end is None:
        end = base
    if start is not None and end is not None and end <= start:
        raise LlmcostError(
            f"the window is empty or inverted: --since {since} is not before --until {until or 'now'}",
            hint="give a --since earlier than --until",
        )
    return Window(start, end)


def month_start(d: datetime) -> datetime:
    return datetime(d.year, d.month, 1)


def add_months(d: datetime, n: int) -> datetime:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return datetime(y, m + 1, 1)


@dataclass
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def sql(self, column: str = "ts") -> tuple[str, list[Any]]:
        clauses, params = [], []
        if self.since is not None:
            clauses.append(f"{column} >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{column} < ?")
            params.append(self.until)
        return (" AND ".join(clauses) or "TRUE"), params

    def previous(self) -> Window:
        """The window of equal length just before; whole calendar months when both ends are month starts."""
        assert self.since is not None and self.until is not None
        s, u = self.since, self.until
        if s == month_start(s) and u == month_start(u):
            months = (u.year - s.year) * 12 + u.month - s.month
            return Window(add_months(s, -months), s)
        return Window(s - (u - s), s)


def summary_window(con: Any) -> Window | None:
    """The summary's default window: the latest calendar month of the data that is over (the
    previous period is then the month before). None when no month of the data is over yet."""
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM requests").fetchone()
    if hi is None:
        return None
    last = month_start(hi)
    if add_months(last, 1) > _clock():  # the data's latest month is still running
        last = add_months(last, -1)
    if last < month_start(lo):
        return None
    return Window(last, add_months(last, 1))


LAST_FULL_MONTH = "last full month"


def report_window(con: Any, by: list[str], window: Window) -> tuple[Window, str | None]:
    """The window `report` shows, and the rule that chose it when none was given: the summary (no
    grouping, no window) is the last full month of the data beside the month before. Otherwise the
    window given, and no rule."""
    if by or window.since is not None or window.until is not None:
        return window, None
    last = summary_window(con)
    return (window, None) if last is None else (last, LAST_FULL_MONTH)


def effective_window(con: Any, window: Window) -> Window:
    """Open ends are closed at the data's month bounds (first request's month .. after the last's)."""
    if window.since is not None and window.until is not None:
        return window
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM requests").fetchone()
    if lo is None:
        return Window(window.since or window.until, window.until or window.since)
    since = window.since or month_start(lo)
    until = window.until or add_months(hi, 1)
    if until <= since:
        until = since
    return Window(since, until)

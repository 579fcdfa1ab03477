"""Small result objects for the commands that are not the P&L: ingest summary, rejects, prices."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from llmcost.documents import Column, Table


@dataclass
class SimpleResult:
    doc: dict[str, Any]
    table_list: list[Table]
    lines: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.doc

    def tables(self) -> list[Table]:
        return self.table_list

    def headline(self) -> list[str]:
        return self.lines


def ingest_summary(summary: Any) -> SimpleResult:
    cols = [
        Column("path"), Column("format"), Column("read", kind="int"), Column("loaded", kind="int"),
        Column("rejected", kind="int"), Column("duplicates", kind="int"), Column("note"),
    ]  # fmt: skip
    rows = []
    for f in summary.files:
        row = f.as_json()
        row["note"] = (
            "not loaded: see the error below" if getattr(f, "error", None)
            else "already ingested: skipped" if f.skipped
            else "strict: rejected lines, nothing loaded" if f.strict_failed
            else ""
        )  # fmt: skip
        rows.append(row)
    totals = summary.totals
    rows_total = {"path": "total", "format": "", **totals, "note": ""}
    line = (
        f"read {totals['read']:,} = loaded {totals['loaded']:,} + rejected {totals['rejected']:,}"
        f" + duplicates {totals['duplicates']:,}"
    )
    return SimpleResult(summary.as_json(), [Table("ingest", cols, [*rows, rows_total])], [line])


def rejects_table(rows: list[dict[str, Any]]) -> SimpleResult:
    cols = [Column("path"), Column("line", kind="int"), Column("reason"), Column("raw")]
    shown = [
        {**r, "raw": r["raw"] if len(r["raw"]) <= 120 else r["raw"][:117] + "..."} for r in rows
    ]
    return SimpleResult(
        {"rejects": rows}, [Table("rejected lines", cols, shown)], [f"{len(rows):,} rejected lines"]
    )


def prices_list_table(
    table: Any, match: str | None = None, host: str | None = None, *, summary: bool = False
) -> SimpleResult:
    """Every model (or those whose id or alias contains `match`, on `host`) with its current rates.
    `summary` gives one row per host instead: a terminal cannot show ~2,300 rows usefully."""
    models = [
        m for m in table.models.values()
        if (host is None or m.provider == host)
        and (match is None or any(match.lower() in n.lower() for n in [m.id, *m.aliases]))
    ]  # fmt: skip
    if summary:
        counts: dict[str, list[Any]] = {}
        for m in models:
            counts.setdefault(m.provider, []).append(m)
        hosts = [
            {"provider": h, "models": len(ms), "names": sum(1 + len(m.aliases) for m in ms)}
            for h, ms in sorted(counts.items())
        ]
        return SimpleResult(
            {"pricing": {"files": table.files, "sha256": table.sha256}, "hosts": hosts},
            [
                Table(
                    "price table by host",
                    [Column("provider"), Column("models", kind="int"), Column("names", kind="int")],
                    hosts,
                    note="llmcost prices list MATCH or --host HOST lists the models; --format json all of them",
                )
            ],
            [f"{len(models)} models, sha256 {table.sha256[:12]}"],
        )
    cols = [
        Column("provider"), Column("model"), Column("tier"), Column("since"),
        Column("input", kind="num"), Column("output", kind="num"), Column("cache_read", kind="num"),
        Column("cache_write", kind="num"), Column("cache_write_1h", kind="num"),
        Column("batch_discount", kind="ratio"), Column("versions", kind="int"), Column("aliases"),
    ]  # fmt: skip
    rows = []
    from llmcost.query import now

    today = now().date()
    for model in sorted(models, key=lambda m: (m.provider, m.id)):
        v = model.version_at(today) or model.versions[-1]
        rows.append(
            {
                "provider": model.provider,
                "model": model.id,
                "tier": model.tier,
                "since": v.effective_from,
                "input": v.input,
                "output": v.output,
                "cache_read": v.cache_read,
                "cache_write": v.cache_write,
                "cache_write_1h": v.cache_write_1h,
                "batch_discount": v.batch_discount,
                "versions": len(model.versions),
                "aliases": ", ".join(model.aliases),
                "replaces": ", ".join(model.replaces),
            }
        )
    if any(r["replaces"] for r in rows):  # an overlay took over a bundled name: say so
        cols.append(Column("replaces"))
    doc = {"pricing": {"files": table.files, "sha256": table.sha256}, "models": rows}
    note = "USD per 1M tokens"
    return SimpleResult(
        doc,
        [Table("price table", cols, rows, note=note)],
        [f"{len(rows)} models, sha256 {table.sha256[:12]}"],
    )


def prices_show_table(model: Any) -> SimpleResult:
    cols = [
        Column("effective_from"), Column("input", kind="num"), Column("output", kind="num"),
        Column("cache_read", kind="num"), Column("cache_write", kind="num"), Column("cache_write_1h", kind="num"),
        Column("batch_discount", kind="ratio"), Column("long_context_threshold", kind="int"),
        Column("long_input", kind="num"), Column("long_output", kind="num"), Column("source"),
    ]  # fmt: skip
    rows = [
        {
            "effective_from": v.effective_from,
            "input": v.input,
            "output": v.output,
            "cache_read": v.cache_read,
            "cache_write": v.cache_write,
            "cache_write_1h": v.cache_write_1h,
            "batch_discount": v.batch_discount,
            "long_context_threshold": v.long_context_threshold,
            "long_input": v.long_input,
            "long_output": v.long_output,
            "source": v.source,
        }
        for v in model.versions
    ]
    doc = {
        "model": model.id,
        "provider": model.provider,
        "tier": model.tier,
        "aliases": model.aliases,
        "versions": rows,
    }
    head = [
        f"{model.id} ({model.provider}, tier {model.tier}); aliases: {', '.join(model.aliases) or '-'}"
    ]
    return SimpleResult(doc, [Table("price versions (USD per 1M tokens)", cols, rows)], head)


def prices_check_result(con: Any, table: Any, window: Any = None) -> SimpleResult:
    """Models in the data that are unpriced (unknown, not listed by the request's host, or used before
    their first price), and those priced by fallback (their host unknown, another host's price
    borrowed), with request counts and cost share. `doc["unpriced_requests"]` > 0 makes `prices check` exit 1."""
    from llmcost import pricing

    pricing.install(con, table)
    where, params = window.sql("ts") if window is not None else ("TRUE", [])
    found = con.execute(
        f"""SELECT model, provider, count(*) AS requests, count(price_model) AS priced, min(ts), max(ts),
                   sum(cost_usd) AS cost
            FROM priced WHERE {where} GROUP BY model, provider ORDER BY model, provider""",
        params,
    ).fetchall()
    total_cost = sum((r[6] for r in found if r[6] is not None), start=Decimal(0))
    total_requests = sum(r[2] for r in found)
    rows = []
    fallback_rows = []
    by_model: dict[str, list[Any]] = {}
    for model, provider, n, priced, first, last, cost in found:
        # priced at the host the name or the provider names; "fallback" when neither names one
        known, how = table.resolve_how(model, provider)
        note = "no host known" if priced and how == "fallback" else None
        if note:
            fallback_rows.append(
                {
                    "model": model,
                    "provider": provider,
                    "priced_as": known.id if known else None,
                    "requests": priced,
                    "cost_usd": float(cost) if cost is not None else None,
                    "cost_share": float(cost / total_cost)
                    if cost is not None and total_cost
                    else None,
                    "reason": note,
                }
            )
        agg = by_model.setdefault(model, [0, 0, first, last, known, []])
        agg[0] += n
        agg[1] += priced
        agg[2], agg[3] = min(agg[2], first), max(agg[3], last)
        agg[4] = agg[4] or known
        if known is None and n > priced and provider and table.resolve(model) is not None:
            agg[5].append(provider)  # another host lists the name: never its price (SPEC §4)
    for model, (n, priced, first, last, known, hosts) in sorted(
        by_model.items(), key=lambda kv: (-kv[1][0], kv[0])
    ):
        if n == priced:
            continue
        reason = (
            f"provider {', '.join(hosts)} does not list it"
            if hosts
            else "no price for this model"
            if known is None
            else f"requests before its first price ({known.versions[0].effective_from})"
        )
        rows.append(
            {
                "model": model,
                "unpriced_requests": n - priced,
                "request_share": (n - priced) / total_requests if total_requests else None,
                "first_seen": first,
                "last_seen": last,
                "reason": reason,
            }
        )
    cols = [
        Column("model"),
        Column("unpriced_requests", kind="int"),
        Column("first_seen"),
        Column("last_seen"),
        Column("reason"),
    ]
    # rate fallbacks matter for the models the data uses; the rest are counted, `prices list` shows them
    used = {m.id for m in (table.resolve(n, h or None) for n, h in pricing.request_keys(con)) if m}
    warnings = table.warnings()
    relevant = [w for w in warnings if w.split(" ", 1)[0] in used]
    unpriced_requests = sum(r["unpriced_requests"] for r in rows)
    lines = [
        f"{len(rows)} model name(s) in the data without a price at their time"
        f" ({unpriced_requests} of {total_requests} requests)",
        f"{len({r['model'] for r in fallback_rows})} model name(s) priced by fallback, at another host's price"
        f" ({sum(r['requests'] for r in fallback_rows)} requests)",
    ]
    lines += [f"warning: {w}" for w in relevant]
    if len(warnings) > len(relevant):
        lines.append(
            f"{len(warnings) - len(relevant)} rate fallback(s) in models your data does not use (see --format json)"
        )
    doc = {
        "requests": total_requests,
        "unpriced_requests": unpriced_requests,
        "unpriced": rows,
        "fallback": fallback_rows,
        "warnings": warnings,
        "pricing": {"files": table.files, "sha256": table.sha256},
    }
    fb_cols = [
        Column("model"),
        Column("provider"),
        Column("priced_as"),
        Column("requests", kind="int"),
        Column("cost_usd", kind="usd"),
        Column("cost_share", kind="ratio"),
        Column("reason"),
    ]
    tables = [Table("unpriced models", cols, rows, note="add a price with --pricing FILE")]
    if fallback_rows:
        tables.append(
            Table(
                "priced by fallback",
                fb_cols,
                fallback_rows,
                note="log the provider to price at its host",
            )
        )
    return SimpleResult(doc, tables, lines)


def lake_export_summary(summary: Any) -> SimpleResult:
    cols = [
        Column("table"), Column("partitions", kind="int"), Column("written", kind="int"),
        Column("unchanged", kind="int"), Column("removed", kind="int"), Column("rows", kind="int"),
    ]  # fmt: skip
    doc = summary.as_json()
    line = (
        f"{summary.lake}: {summary.files_written:,} part files written, {summary.files_deleted:,} deleted"
        if summary.changed
        else f"{summary.lake}: up to date, nothing written"
    )
    return SimpleResult(doc, [Table("lake export", cols, doc["tables"])], [line])


def ingest_explain_view(doc: dict[str, Any]) -> SimpleResult:
    """`ingest --explain`'s document (ingest.explain.explain) as tables: one per record."""
    tables = []
    for rec in doc["records"]:
        rows = [
            {"field": f["field"], "value": _shown(f["value"]), "from": f["from"]}
            for f in rec["fields"]
        ]
        rows.append(
            {
                "field": "attrs",
                "value": _shown(rec["attrs"]) if rec["attrs"] else "—",
                "from": "everything not mapped (text dropped)",
            }
        )
        tables.append(
            Table(f"line {rec['line']}", [Column("field"), Column("value"), Column("from")], rows)
        )
    if doc["rejects"]:
        tables.append(
            Table("rejected", [Column("line", kind="int"), Column("reason")],
                  [{"line": r["line"], "reason": r["reason"]} for r in doc["rejects"]])
        )  # fmt: skip
    lines = [f"{doc['path']}: format {doc['format']} ({doc['format_description']})"]
    if doc["mapping"]:
        lines.append("mapping: " + ", ".join(f"{k}={v}" for k, v in doc["mapping"].items()))
    return SimpleResult(doc, tables, lines)


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."

"""Small result objects for the commands that are not the P&L: ingest summary, rejects, prices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from llmcost.render import Column, Table


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
            "already ingested: skipped" if f.skipped
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


def prices_list_table(table: Any) -> SimpleResult:
    cols = [
        Column("provider"), Column("model"), Column("tier"), Column("since"),
        Column("input", kind="num"), Column("output", kind="num"), Column("cache_read", kind="num"),
        Column("cache_write", kind="num"), Column("cache_write_1h", kind="num"),
        Column("batch_discount", kind="ratio"), Column("versions", kind="int"), Column("aliases"),
    ]  # fmt: skip
    rows = []
    today = date.today()
    for model in sorted(table.models.values(), key=lambda m: (m.provider, m.id)):
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
            }
        )
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


def prices_check_result(con: Any, table: Any) -> SimpleResult:
    """Models in the data that are unpriced (unknown, or used before their first price), and fallbacks."""
    from llmcost import pricing

    pricing.install(con, table)
    found = con.execute(
        """SELECT model, count(*) AS requests, count(price_model) AS priced, min(ts), max(ts)
           FROM priced GROUP BY model HAVING count(*) > count(price_model) ORDER BY requests DESC"""
    ).fetchall()
    rows = []
    for model, n, priced, first, last in found:
        known = table.resolve(model)
        reason = (
            "no price for this model"
            if known is None
            else f"requests before its first price ({known.versions[0].effective_from})"
        )
        rows.append(
            {
                "model": model,
                "unpriced_requests": n - priced,
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
    used = {
        m.id
        for m in (
            table.resolve(r[0])
            for r in con.execute("SELECT DISTINCT model FROM requests").fetchall()
        )
        if m
    }
    warnings = table.warnings()
    relevant = [w for w in warnings if w.split(" ", 1)[0] in used]
    lines = [f"{len(rows)} model name(s) in the data without a price at their time"]
    lines += [f"warning: {w}" for w in relevant]
    if len(warnings) > len(relevant):
        lines.append(
            f"{len(warnings) - len(relevant)} rate fallback(s) in models your data does not use (see --format json)"
        )
    doc = {
        "unpriced": rows,
        "warnings": warnings,
        "pricing": {"files": table.files, "sha256": table.sha256},
    }
    return SimpleResult(
        doc, [Table("unpriced models", cols, rows, note="add a price with --pricing FILE")], lines
    )


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

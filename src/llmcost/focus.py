"""FOCUS out: the priced requests as FinOps FOCUS cost and usage rows (docs/focus.md).

One row per request (or per day, `grain="day"`) and token type (uncached input, cache read,
5-minute and 1-hour cache write, output), as the specification's AI billing examples meter them:
each token type its own SKU. The money, per row, in DECIMAL as the report computes it:

    ContractedCost = tokens x the rate in force (overlays applied) / 1e6
    EffectiveCost  = BilledCost = ContractedCost x (1 - batch_discount) for a batch request
    ListCost       = tokens x the bundled table's rate / 1e6 (the overlay's when only it prices the model)

so BilledCost sums to `report`'s cost. Left out, and counted: semantic-cache hits (no provider
call, $0) and unpriced requests (FOCUS costs cannot be null).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcost import pricing
from llmcost.errors import LlmcostError
from llmcost.store.sql import literal

FOCUS_VERSION = "1.4"
GRAINS = ("request", "day")
SUFFIXES = {".csv": "csv", ".parquet": "parquet"}

# token type -> (tokens of the request, rate key, SkuMeter, SkuPriceDetails TokenType, cache action)
TOKEN_TYPES: dict[str, tuple[str, str, str, str, str | None]] = {
    "input": ("input_tokens - cache_read_tokens - cache_write_tokens - cache_write_1h_tokens", "input",
              "Input Tokens", "Input", "Uncached"),
    "cache_read": ("cache_read_tokens", "cache_read", "Cache Read Input Tokens", "CacheRead", "Read"),
    "cache_write": ("cache_write_tokens", "cache_write", "Cache Write Input Tokens", "CacheWrite", "Write"),
    "cache_write_1h": ("cache_write_1h_tokens", "cache_write_1h", "Cache Write 1h Input Tokens", "CacheWrite", "Write"),
    "output": ("output_tokens", "output", "Output Tokens", "Output", None),
}  # fmt: skip

# host (a request's provider) -> (the company that sells and hosts it, ServiceName)
HOSTS: dict[str, tuple[str, str]] = {
    "openai": ("OpenAI", "OpenAI API"),
    "anthropic": ("Anthropic", "Claude API"),
    "google": ("Google", "Gemini API"),
    "gemini": ("Google", "Gemini API"),
    "vertex_ai": ("Google Cloud", "Vertex AI"),
    "bedrock": ("Amazon Web Services", "Amazon Bedrock"),
    "azure": ("Microsoft", "Azure OpenAI"),
    "azure_ai": ("Microsoft", "Azure AI Foundry"),
    "mistral": ("Mistral AI", "Mistral AI API"),
    "together": ("Together AI", "Together AI API"),
    "groq": ("Groq", "GroqCloud"),
    "openrouter": ("OpenRouter", "OpenRouter"),
    "deepinfra": ("DeepInfra", "DeepInfra"),
}
# model id pattern -> the model's developer (SkuPriceDetails ModelDeveloper, PublisherName)
DEVELOPERS = [
    ("claude", "Anthropic"),
    ("gpt|^o[1-9]|chatgpt|text-embedding|openai\\.", "OpenAI"),
    ("gemini|gemma", "Google"),
    ("llama", "Meta"),
    ("mistral|mixtral|codestral|ministral|magistral|pixtral", "Mistral AI"),
    ("nova|titan|amazon\\.", "Amazon"),
    ("deepseek", "DeepSeek"),
    ("qwen", "Alibaba Cloud"),
    ("cohere|command", "Cohere"),
]

EFF, LIST = "lc_focus_eff", "lc_focus_list"

# The requests to export, with their price row (effective) and bundled price row (list).
SELECTED = """
SELECT * FROM (
    SELECT q.request_id, q.ts, q.model, q.model AS logged_model, q.provider, q.user_id, q.customer_id, q.feature, q.task_id,
           q.plan, q.status, q.batch, q.cache_hit, q.input_tokens, q.cache_read_tokens, q.cache_write_tokens,
           q.cache_write_1h_tokens, q.output_tokens, q.attrs,
           lower(coalesce(q.provider, e.price_provider)) AS host,
           e.model_id, e.model_id AS price_model, e.tier, e.valid_from AS price_from,
           e.long_threshold IS NOT NULL AND q.input_tokens > e.long_threshold AS long_context,
           CASE WHEN q.batch THEN e.batch_factor ELSE 1 END AS factor,
           {rates}
    FROM requests q
    LEFT JOIN {eff} e ON e.model = q.model AND e.host = coalesce(q.provider, '') AND q.ts >= e.valid_from AND q.ts < e.valid_to
    LEFT JOIN {list} l ON l.model = q.model AND l.host = coalesce(q.provider, '') AND q.ts >= l.valid_from AND q.ts < l.valid_to
) r
WHERE {window} AND {where}
"""

# One row per request and token type with tokens; money exact (see the module docstring).
TOKEN_ROWS = """
SELECT r.*, k.token_type, k.sku_meter, k.token_kind, k.cache_action, k.ord,
       {tokens} AS tokens, {c_rate} AS c_rate, coalesce({l_rate}, {c_rate}) AS l_rate
FROM ({selected}) r
CROSS JOIN (VALUES {kinds}) k(token_type, sku_meter, token_kind, cache_action, ord)
WHERE r.price_model IS NOT NULL AND NOT r.cache_hit
"""
MONEY = "CAST(0.000001 AS DECIMAL(7,6))"
COSTS = f"""
       CAST(tokens * c_rate AS DECIMAL(38,9)) * {MONEY} AS contracted,
       CAST(tokens * c_rate AS DECIMAL(38,9)) * factor * {MONEY} AS effective,
       CAST(tokens * l_rate AS DECIMAL(38,9)) * {MONEY} AS list"""

# The FOCUS columns, in order (docs/focus.md says where each comes from).
FOCUS_COLUMNS = """
    CAST(effective AS DECIMAL(38,18)) AS BilledCost,
    host AS BillingAccountId,
    seller AS BillingAccountName,
    'USD' AS BillingCurrency,
    {ts}(date_trunc('month', period_start) + INTERVAL 1 MONTH) AS BillingPeriodEnd,
    {ts}(date_trunc('month', period_start)) AS BillingPeriodStart,
    'Usage' AS ChargeCategory,
    CAST(NULL AS VARCHAR) AS ChargeClass,
    model_id || ' ' || lower(sku_meter) || ' on ' || service AS ChargeDescription,
    'Usage-Based' AS ChargeFrequency,
    {ts}(period_end) AS ChargePeriodEnd,
    {ts}(period_start) AS ChargePeriodStart,
    CAST(tokens AS DECIMAL(38,0)) AS ConsumedQuantity,
    'Tokens' AS ConsumedUnit,
    CAST(contracted AS DECIMAL(38,18)) AS ContractedCost,
    CAST(c_rate AS DECIMAL(38,18)) AS ContractedUnitPrice,
    CAST(effective AS DECIMAL(38,18)) AS EffectiveCost,
    seller AS HostProviderName,
    seller AS InvoiceIssuerName,
    CAST(list AS DECIMAL(38,18)) AS ListCost,
    CAST(l_rate AS DECIMAL(38,18)) AS ListUnitPrice,
    'Standard' AS PricingCategory,
    CAST(tokens * {money} AS DECIMAL(38,18)) AS PricingQuantity,
    '1000000 Tokens' AS PricingUnit,
    seller AS ProviderName,
    developer AS PublisherName,
    'AI and Machine Learning' AS ServiceCategory,
    service AS ServiceName,
    seller AS ServiceProviderName,
    'Generative AI' AS ServiceSubcategory,
    host || '/' || model_id || '/' || token_type AS SkuId,
    sku_meter AS SkuMeter,
    CAST(to_json(map_from_entries(list_filter([
        {{'k': 'ModelId', 'v': model_id}}, {{'k': 'ModelDeveloper', 'v': developer}},
        {{'k': 'TokenType', 'v': token_kind}},
        {{'k': 'TokenDirection', 'v': CASE WHEN token_type = 'output' THEN 'Output' ELSE 'Input' END}},
        {{'k': 'TokenCacheAction', 'v': cache_action}},
        {{'k': 'CacheTtl', 'v': CASE token_type WHEN 'cache_write' THEN '5m' WHEN 'cache_write_1h' THEN '1h' END}},
        {{'k': 'ContextTier', 'v': CASE WHEN long_context THEN 'Long' END}},
        {{'k': 'ServiceTier', 'v': CASE WHEN batch THEN 'Batch' END}}], lambda e: e.v IS NOT NULL))) AS VARCHAR)
        AS SkuPriceDetails,
    host || '/' || model_id || '/' || token_type || '@' || strftime(price_from, '%Y-%m-%d')
        || CASE WHEN long_context THEN '/long' ELSE '' END || CASE WHEN batch THEN '/batch' ELSE '' END AS SkuPriceId,
    nullif(CAST(to_json(map_from_entries(list_filter([
        {{'k': 'feature', 'v': feature}}, {{'k': 'customer', 'v': customer_id}},
        {{'k': 'user', 'v': user_id}}, {{'k': 'task', 'v': task_id}}], lambda e: e.v IS NOT NULL))) AS VARCHAR), '{{}}')
        AS Tags,
    token_type AS x_TokenType,
    model_id AS x_Model,
    requests AS x_Requests,
    request_id AS x_RequestId,
    logged_model AS x_LoggedModel
"""

REQUEST_GRAIN = """
SELECT *, date_trunc('second', ts) AS period_start, date_trunc('second', ts) + INTERVAL 1 SECOND AS period_end,
       CAST(1 AS BIGINT) AS requests, {costs}
FROM token_rows WHERE tokens <> 0
"""
DAY_GRAIN = """
SELECT date_trunc('day', ts) AS period_start, date_trunc('day', ts) + INTERVAL 1 DAY AS period_end,
       host, seller, service, developer, model_id, token_type, sku_meter, token_kind, cache_action, ord,
       price_from, long_context, batch, c_rate, l_rate, feature, customer_id,
       CAST(NULL AS VARCHAR) AS user_id, CAST(NULL AS VARCHAR) AS task_id,
       CAST(NULL AS VARCHAR) AS request_id, CAST(NULL AS VARCHAR) AS logged_model,
       count(DISTINCT request_id) AS requests, sum(tokens) AS tokens,
       sum(contracted) AS contracted, sum(effective) AS effective, sum(list) AS list
FROM (SELECT *, {costs} FROM token_rows WHERE tokens <> 0)
GROUP BY ALL
"""


@dataclass
class ExportSummary:
    path: Path
    grain: str
    rows: int = 0
    requests: int = 0
    billed_usd: Any = None
    list_usd: Any = None
    unpriced: int = 0
    unpriced_models: list[str] = field(default_factory=list)
    cache_hits: int = 0

    def lines(self) -> list[str]:
        from llmcost.values import fmt_value

        out = [
            f"wrote {self.rows:,} FOCUS {FOCUS_VERSION} rows ({self.requests:,} requests, by {self.grain}) to {self.path}: "
            f"billed {fmt_value(self.billed_usd, 'usd')}, list {fmt_value(self.list_usd, 'usd')}"
        ]
        if self.cache_hits:
            out.append(
                f"{self.cache_hits:,} semantic-cache hits left out: no provider call, no charge"
            )
        if self.unpriced:
            out.append(
                f"{self.unpriced:,} unpriced requests left out ({', '.join(self.unpriced_models)}): "
                "FOCUS costs cannot be null; `llmcost prices check` lists them"
            )
        return out


def _rate(kind: str, p: str) -> str:
    return f"CASE WHEN {p}.long_threshold IS NOT NULL AND q.input_tokens > {p}.long_threshold THEN {p}.l_{kind} ELSE {p}.r_{kind} END"


def _register(con: Any, effective: pricing.PriceTable, bundled: pricing.PriceTable) -> None:
    keys = pricing.request_keys(con)
    pricing.register(con, effective, EFF, keys=keys)
    pricing.register(con, bundled, LIST, keys=keys)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE lc_focus_hosts (provider VARCHAR, seller VARCHAR, service VARCHAR)"
    )
    con.executemany(
        "INSERT INTO lc_focus_hosts VALUES (?, ?, ?)", [(k, *v) for k, v in HOSTS.items()]
    )


def token_rows_sql(window: Any, where: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    """The CTE `token_rows` (one row per priced request and token type) and its parameters."""
    rates = ",\n           ".join(
        f"{_rate(k, 'e')} AS c_{k}, {_rate(k, 'l')} AS l_{k}" for k in pricing.RATE_KEYS
    )
    wsql, wparams = window.sql("ts")
    selected = SELECTED.format(rates=rates, eff=EFF, list=LIST, window=wsql, where=where[0])

    def pick(prefix: str) -> str:
        return (
            "CASE k.token_type "
            + " ".join(
                f"WHEN '{name}' THEN r.{prefix}{spec[1]}" for name, spec in TOKEN_TYPES.items()
            )
            + " END"
        )

    tokens = (
        "CASE k.token_type "
        + " ".join(
            f"WHEN '{name}' THEN {' - '.join('r.' + t.strip() for t in spec[0].split(' - '))}"
            for name, spec in TOKEN_TYPES.items()
        )
        + " END"
    )
    kinds = ", ".join(
        f"({literal(name)}, {literal(spec[2])}, {literal(spec[3])}, "
        f"{literal(spec[4]) if spec[4] else 'NULL'}, {i})"
        for i, (name, spec) in enumerate(TOKEN_TYPES.items())
    )
    developer = (
        "CASE "
        + " ".join(
            f"WHEN regexp_matches(lower(t.model_id), {literal(rx)}) THEN {literal(name)}"
            for rx, name in DEVELOPERS
        )
        + " ELSE t.host END"
    )
    rows = TOKEN_ROWS.format(
        selected=selected, tokens=tokens, c_rate=pick("c_"), l_rate=pick("l_"), kinds=kinds
    )
    sql = f"""token_rows AS (
        SELECT t.*, coalesce(h.seller, t.host) AS seller, coalesce(h.service, t.host) AS service,
               {developer} AS developer
        FROM ({rows}) t LEFT JOIN lc_focus_hosts h ON h.provider = t.host)"""
    return sql, [*wparams, *where[1]]


def export_sql(
    window: Any, where: tuple[str, list[Any]], grain: str, fmt: str
) -> tuple[str, list[Any]]:
    if grain not in GRAINS:
        raise LlmcostError(f"unknown --grain {grain!r}", hint="choose request or day")
    cte, params = token_rows_sql(window, where)
    body = (REQUEST_GRAIN if grain == "request" else DAY_GRAIN).format(costs=COSTS)
    # FOCUS date/times are UTC, ISO 8601 with a Z: text in a CSV, a UTC TIMESTAMPTZ in Parquet
    macro = "strftime(x, '%Y-%m-%dT%H:%M:%SZ')" if fmt == "csv" else "timezone('UTC', x)"
    columns = _with_ts(FOCUS_COLUMNS.format(ts="lc_focus_ts", money=MONEY), macro)
    order = (
        "ChargePeriodStart, x_RequestId, SkuId"
        if grain == "request"
        else "ChargePeriodStart, SkuId, Tags"
    )
    sql = f"WITH {cte}, rows AS ({body}) SELECT {columns} FROM rows ORDER BY {order}"
    return sql, params


def _with_ts(columns: str, macro: str) -> str:
    """Each lc_focus_ts(EXPR) as the format's date/time expression."""
    out, rest = [], columns
    marker = "lc_focus_ts("
    while marker in rest:
        head, tail = rest.split(marker, 1)
        depth, i = 1, 0
        while depth:
            depth += {"(": 1, ")": -1}.get(tail[i], 0)
            i += 1
        out.append(head + "(" + macro.replace("x", tail[: i - 1], 1) + ")")
        rest = tail[i:]
    return "".join(out) + rest


def output_format(path: Path) -> str:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise LlmcostError(
            f"cannot tell the FOCUS file type from {path.name!r}",
            hint="name it FILE.csv or FILE.parquet",
        )
    if not path.parent.is_dir():
        raise LlmcostError(
            f"cannot write {path}: no folder {path.parent}", hint="create it, or choose another -o"
        )
    return fmt


def export(
    con: Any, prices: pricing.PriceTable, path: Path, *, grain: str = "request", window: Any = None,
    where: tuple[str, list[Any]] = ("TRUE", []), bundled: pricing.PriceTable | None = None,
) -> ExportSummary:  # fmt: skip
    """Write the FOCUS rows of the requests in WINDOW matching WHERE to PATH (.csv or .parquet)."""
    from llmcost.query import Window

    fmt = output_format(path)
    window = window or Window()
    _register(con, prices, bundled or pricing.load())
    sql, params = export_sql(window, where, grain, fmt)
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet, COMPRESSION zstd"
    part = path.with_name(f".{path.name}.part")
    import duckdb

    try:
        con.execute(f"COPY ({sql}) TO {literal(str(part))} ({options})", params)
        part.replace(path)
    except (duckdb.IOException, OSError) as exc:
        part.unlink(missing_ok=True)
        raise LlmcostError(
            f"cannot write {path}: {str(exc).splitlines()[0][:200]}", hint="check the -o path"
        ) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    summary = ExportSummary(path=path, grain=grain)
    cte, cparams = token_rows_sql(window, where)
    wsql, wparams = window.sql("ts")
    summary.requests, summary.billed_usd, summary.list_usd = con.execute(
        f"""WITH {cte}, rows AS ({REQUEST_GRAIN.format(costs=COSTS)})
            SELECT count(DISTINCT request_id), sum(effective), sum(list) FROM rows""",
        cparams,
    ).fetchone()
    summary.rows = _count_rows(con, path, fmt)
    selected = SELECTED.format(
        rates=", ".join(f"{_rate(k, 'e')} AS c_{k}, {_rate(k, 'l')} AS l_{k}" for k in pricing.RATE_KEYS),
        eff=EFF, list=LIST, window=wsql, where=where[0],
    )  # fmt: skip
    unpriced, models, hits = con.execute(
        f"""SELECT count(*) FILTER (WHERE price_model IS NULL),
                   list(DISTINCT logged_model ORDER BY logged_model) FILTER (WHERE price_model IS NULL),
                   count(*) FILTER (WHERE price_model IS NOT NULL AND cache_hit)
            FROM ({selected})""",
        [*wparams, *where[1]],
    ).fetchone()
    summary.unpriced, summary.unpriced_models, summary.cache_hits = unpriced, models or [], hits
    return summary


def _count_rows(con: Any, path: Path, fmt: str) -> int:
    reader = "read_csv" if fmt == "csv" else "read_parquet"
    return int(con.execute(f"SELECT count(*) FROM {reader}({literal(str(path))})").fetchone()[0])

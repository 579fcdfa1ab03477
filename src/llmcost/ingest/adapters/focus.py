"""FinOps FOCUS cost and usage files (CSV or Parquet, FOCUS 1.0 to 1.4): the AI rows, billed.

A cloud's FOCUS export carries every service; the rows of a generative-AI service (Amazon Bedrock,
Azure OpenAI / AI Foundry, Vertex AI, a model vendor's own API) land in the `billed` table, with
`BilledCost` as the amount, so `reconcile` lines the cloud bill up against the request logs. The
other services' rows are not llmcost's: they are passed over and not counted as lines read.

Each row names its host (from ServiceName and the provider columns: FOCUS 1.3 renamed ProviderName
to ServiceProviderName and added HostProviderName), its model and token type, from the first of:
SkuPriceDetails (`ModelId`, `TokenType` or `TokenDirection` + `TokenCacheAction`, the AI
properties of the specification's AI billing examples), ResourceId (a Bedrock model or inference
profile ARN, a Vertex `publishers/*/models/*` path), the meter text (AWS `x_UsageType`, SkuMeter,
ChargeDescription). docs/focus.md has the details and the shapes tested.
"""

from __future__ import annotations

import json
import re
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from llmcost.errors import InputError
from llmcost.ingest.adapters import _exports as x
from llmcost.ingest.formats import Format, Job, register
from llmcost.ingest.sources import Source
from llmcost.store import writes

KIND = "focus"
REQUIRED = {"billedcost", "chargeperiodstart"}  # in every FOCUS version
AI_SERVICE = re.compile(
    r"bedrock|openai|foundry|vertex|gemini|claude|anthropic|cognitive services|azure ai|generative|mistral|"
    r"together|groq|openrouter|deepinfra",
    re.I,
)
# host key (as request logs name it: provider) <- words of ServiceName / the provider columns
HOSTS = [
    ("bedrock", re.compile(r"bedrock", re.I)),
    ("vertex_ai", re.compile(r"vertex", re.I)),
    ("azure", re.compile(r"azure|microsoft|foundry|cognitive services", re.I)),
    ("openai", re.compile(r"openai", re.I)),
    ("anthropic", re.compile(r"anthropic|claude", re.I)),
    ("google", re.compile(r"google|gemini", re.I)),
    ("mistral", re.compile(r"mistral", re.I)),
    ("together", re.compile(r"together", re.I)),
    ("groq", re.compile(r"groq", re.I)),
    ("openrouter", re.compile(r"openrouter", re.I)),
    ("deepinfra", re.compile(r"deepinfra", re.I)),
]
TOKEN_TYPES = {
    "input": "input",
    "cacheread": "cache_read",
    "cachewrite": "cache_write",
    "output": "output",
}
ARN_MODEL = re.compile(r":(?:foundation-model|inference-profile)/(?P<id>[^/\s]+)")
VERTEX_MODEL = re.compile(r"publishers/(?P<pub>[^/]+)/models/(?P<id>[^/@\s]+)")
# meter text: a model family, then its version and size words, up to the token words
TEXT_MODEL = re.compile(
    r"(?P<m>\b(?:gpt|o[1-9]|gemini|gemma|claude|llama|mistral|mixtral|nova|titan|command|deepseek|qwen)"
    r"(?:[\s\-._]*(?:[\d.]+[a-z]?|mini|nano|turbo|flash|lite|pro|ultra|sonnet|haiku|opus|instant|large|small|"
    r"medium|micro|premier|instruct|chat|r\+|plus|v\d+))*)",
    re.I,
)
AZURE_TAIL = re.compile(r"[-\s](?:inp|input|outp|output|cchd|cached|cache|batch|glbl|global|regnl|regional|dzone|"
                        r"datazone|data zone|tokens?)\b.*$", re.I)  # fmt: skip
MAPPED = {"billedcost", "billingcurrency", "chargeperiodstart", "chargeperiodend", "skumeter", "chargedescription",
          "consumedquantity", "consumedunit", "subaccountid", "billingaccountid", "resourceid"}  # fmt: skip
KEY = ["period_start", "period_end", "provider", "model", "token_kind", "workspace", "project", "api_key",
       "line_item", "k_sku_price", "k_sku", "k_category", "k_class", "k_region", "k_tags", "k_commitment",
       "k_pricing", "k_usage_type"]  # fmt: skip


def _get(row: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = x.text(row.get(name))
        if value is not None:
            return value
    return None


def _details(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("skupricedetails")
    if isinstance(raw, dict):
        return {str(k).lower(): v for k, v in raw.items()}
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return {}
        if isinstance(parsed, dict):
            return {str(k).lower(): v for k, v in parsed.items()}
    return {}


def host_of(row: dict[str, Any]) -> str | None:
    service = _get(row, "servicename") or ""
    sellers = " ".join(
        filter(
            None, (_get(row, "serviceprovidername", "providername"), _get(row, "hostprovidername"))
        )
    )
    for text in (service, sellers):
        for key, rx in HOSTS:
            if rx.search(text):
                return key
    return sellers.split()[0].lower() if sellers else None


def is_ai(row: dict[str, Any]) -> bool:
    if (_get(row, "servicesubcategory") or "").lower() == "generative ai":
        return True
    if AI_SERVICE.search(_get(row, "servicename") or ""):
        return True
    return (
        _get(row, "servicecategory") or ""
    ) == "AI and Machine Learning" and "modelid" in _details(row)


def _model_from_text(text: str, host: str | None) -> str | None:
    if host == "azure":  # meters: "gpt-4o-mini-0718-Inp-glbl Tokens", "gpt 4o 0513 Input global"
        head = AZURE_TAIL.sub("", text.strip()).strip()
        head = re.sub(r"[\s_]+", "-", head.lower())
        head = re.sub(r"-(?:\d{4})$", "", head)  # a release's MMDD
        if re.match(r"^(gpt|o[1-9]|text-embedding|dall-e|whisper|tts)", head):
            return head
    # camel case as AWS usage types write it: Claude3.5Haiku -> Claude 3.5 Haiku
    text = re.sub(r"(?<=[a-z])(?=[A-Z\d])|(?<=\d)(?=[A-Z])", " ", text)
    m = TEXT_MODEL.search(text)
    if m is None:
        return None
    name = re.sub(r"[\s_]+", "-", m.group("m").strip().lower())
    if name.startswith(("claude", "llama", "mistral", "mixtral")):
        name = name.replace(".", "-")  # "Claude 3.5 Sonnet" -> claude-3-5-sonnet
    return re.sub(r"-+", "-", name).strip("-") or None


def model_of(row: dict[str, Any], host: str | None) -> str | None:
    details = _details(row)
    for key in ("modelid", "model", "x_model"):
        if x.text(details.get(key)):
            return x.text(details.get(key))
    direct = _get(row, "x_model", "x_modelid", "x_modelname")
    if direct:
        return direct
    resource = _get(row, "resourceid") or ""
    if m := ARN_MODEL.search(resource):
        return m.group("id")
    if m := VERTEX_MODEL.search(resource):
        return m.group("id")
    for text in (
        _get(row, "skumeter", "x_skumetername"),
        _get(row, "x_usagetype"),
        _get(row, "chargedescription"),
    ):
        if text and (found := _model_from_text(text, host)):
            return found
    return None


def token_kind_of(row: dict[str, Any]) -> str | None:
    details = _details(row)
    token_type = re.sub(r"[\s_\-]", "", str(details.get("tokentype") or "")).lower()
    if token_type in TOKEN_TYPES:
        kind = TOKEN_TYPES[token_type]
        ttl = str(details.get("cachettl") or "")
        return "cache_write_1h" if kind == "cache_write" and ttl == "1h" else kind
    direction = str(details.get("tokendirection") or "").lower()
    action = str(details.get("tokencacheaction") or "").lower()
    if direction:
        if direction == "output":
            return "output"
        return {"read": "cache_read", "write": "cache_write"}.get(action, "input")
    text = " ".join(
        filter(
            None, (_get(row, "x_usagetype"), _get(row, "skumeter"), _get(row, "chargedescription"))
        )
    )
    t = text.lower()
    if re.search(r"cache[\s\-_]*read|cached|cchd", t):
        return "cache_read"
    if re.search(r"cache[\s\-_]*(write|creation)", t):
        return "cache_write_1h" if re.search(r"\b1h\b|1[\s-]*hour", t) else "cache_write"
    if re.search(r"output|outp|completion|\bout\b", t):
        return "output"
    if re.search(r"input|\binp\b|-inp-|prompt", t):
        return "input"
    return None


def billed_row(row: dict[str, Any]) -> dict[str, Any]:
    currency = (_get(row, "billingcurrency") or "USD").upper()
    amount = row.get("billedcost")
    if currency != "USD" and _get(row, "x_billedcostinusd"):  # Microsoft's exports carry both
        currency, amount = "USD", row.get("x_billedcostinusd")
    if currency != "USD":
        raise x.Reject(f"BillingCurrency {currency} is not USD; convert it first")
    if amount in (None, ""):
        raise x.Reject("missing BilledCost")
    host = host_of(row)
    token_kind = token_kind_of(row)
    text = " ".join(
        filter(
            None, (_get(row, "x_usagetype"), _get(row, "skumeter"), _get(row, "chargedescription"))
        )
    )
    quantity = row.get("consumedquantity")
    out = {
        "period_start": x.when(row.get("chargeperiodstart"), "ChargePeriodStart"),
        "period_end": x.when(row.get("chargeperiodend"), "ChargePeriodEnd") if _get(row, "chargeperiodend") else None,
        "provider": host or "unknown",
        "model": model_of(row, host),
        "token_kind": token_kind,
        "cost_type": "tokens" if token_kind else "other",
        "service_tier": "batch" if re.search(r"\bbatch\b", text, re.I) else None,
        "context_window": "long" if re.search(r"long[\s\-_]*context", text, re.I) else None,
        "amount_usd": x.money(amount, "BilledCost"),
        "currency": currency,
        "project": _get(row, "subaccountid"),
        "workspace": _get(row, "billingaccountid"),
        "api_key": _get(row, "resourceid"),
        "line_item": _get(row, "skumeter", "chargedescription", "x_usagetype"),
        "quantity": float(x.money(quantity, "ConsumedQuantity")) if quantity not in (None, "") else None,
        "quantity_unit": _get(row, "consumedunit"),
        "attrs": x.extra_attrs({k: _plain(v) for k, v in row.items()}, MAPPED),
        "k_sku_price": _get(row, "skupriceid"),
        "k_sku": _get(row, "skuid"),
        "k_category": _get(row, "chargecategory"),
        "k_class": _get(row, "chargeclass"),
        "k_region": _get(row, "regionid"),
        "k_tags": _plain(row.get("tags")),
        "k_commitment": _get(row, "commitmentdiscountid"),
        "k_pricing": _get(row, "pricingcategory"),
        "k_usage_type": _get(row, "x_usagetype"),
    }  # fmt: skip
    return x.keyed(out, KEY)


def _plain(value: Any) -> Any:
    """A Parquet cell as JSON can hold it (maps as objects, times as text)."""
    if (
        isinstance(value, list)
        and value
        and all(isinstance(i, tuple) and len(i) == 2 for i in value)
    ):
        return {str(k): v for k, v in value}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# ---------------------------------------------------------------- detection and loading


def sniff_csv(head: bytes, source: Source) -> bool:
    return x.csv_header(head) >= REQUIRED


def sniff_parquet(head: bytes, source: Source) -> bool:
    return head.startswith(b"PAR1")


def _parquet_rows(job: Job) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    data = x.read_all(job)
    with tempfile.TemporaryDirectory(prefix="llmcost-focus-") as tmp:
        path = Path(tmp) / "focus.parquet"
        path.write_bytes(data)
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several kinds for a broken file
            raise InputError(
                f"cannot read {job.source.name} as Parquet: {str(exc).splitlines()[0][:200]}",
                hint="is the file complete?",
            ) from None
    names = {n.lower(): n for n in table.column_names}
    if not set(names) >= REQUIRED:
        raise InputError(
            f"{job.source.name} is a Parquet file without the FOCUS columns BilledCost and ChargePeriodStart",
            hint="llmcost reads Parquet as FOCUS cost and usage data only",
        )
    table = table.rename_columns([n.lower() for n in table.column_names])
    return table.to_pylist()  # type: ignore[no-any-return]


def _store(job: Job, rows: list[tuple[int, dict[str, Any], str]]) -> writes.Counts:
    records = [(line_no, raw, partial(billed_row, row)) for line_no, row, raw in rows if is_ai(row)]
    return x.store(job, "billed", KIND, records, [])


def load_csv(job: Job) -> writes.Counts:
    _, rows = x.csv_rows(job)
    return _store(job, list(rows))


def load_parquet(job: Job) -> writes.Counts:
    rows = _parquet_rows(job)
    return _store(job, [(n, row, x.dump(row)) for n, row in enumerate(rows, start=1) if is_ai(row)])


FORMAT_CSV = register(
    Format(
        name="focus_csv",
        kind=KIND,
        description="FinOps FOCUS 1.0-1.4 cost and usage CSV (AI services' rows, billed cost)",
        sniff=sniff_csv,
        load=load_csv,
        priority=40,
    )
)
FORMAT_PARQUET = register(
    Format(
        name="focus_parquet",
        kind=KIND,
        description="FinOps FOCUS 1.0-1.4 cost and usage Parquet (AI services' rows, billed cost)",
        sniff=sniff_parquet,
        load=load_parquet,
        priority=40,
    )
)

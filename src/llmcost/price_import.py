"""Build the bundled price table from the public sources (a maintainer's tool, never run by a report).

Two sources, both MIT: pydantic's genai-prices data (dated prices, match rules) and LiteLLM's
`model_prices_and_context_window` JSON (one current price per key, per-host keys). The importer
reads both, groups names into models per host, keeps every version already in the table, appends
the sources' newer versions, applies the reviewed `overrides.toml`, and reports every place where
the sources disagree, for a person to decide (an override), never merging silently.
"""

from __future__ import annotations

import gzip
import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from llmcost import query
from llmcost.errors import PricingError

# host -> (id prefix in the table, genai-prices provider ids, LiteLLM providers, LiteLLM key prefixes)
HOSTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "openai": ("", ("openai",), ("openai",), ("openai/",)),
    "anthropic": ("", ("anthropic",), ("anthropic",), ("anthropic/",)),
    "google": ("", ("google",), ("gemini",), ("gemini/",)),
    "vertex": (
        "vertex_ai/",
        (),
        (
            "vertex_ai",
            "vertex_ai-anthropic_models",
            "vertex_ai-language-models",
            "vertex_ai-mistral_models",
            "vertex_ai-llama_models",
            "vertex_ai-ai21_models",
            "vertex_ai-deepseek_models",
            "vertex_ai-qwen_models",
            "vertex_ai-openai_models",
            "vertex_ai-minimax_models",
            "vertex_ai-moonshot_models",
            "vertex_ai-zai_models",
        ),
        ("vertex_ai/",),
    ),
    "bedrock": ("", ("aws",), ("bedrock", "bedrock_converse"), ("bedrock/converse/", "bedrock/")),
    "azure": ("azure/", ("azure",), ("azure",), ("azure/",)),
    "azure_ai": ("azure_ai/", (), ("azure_ai",), ("azure_ai/",)),
    "mistral": ("", ("mistral",), ("mistral",), ("mistral/",)),
    "deepseek": ("", ("deepseek",), ("deepseek",), ("deepseek/",)),
    "xai": ("", ("x-ai",), ("xai",), ("xai/",)),
    "groq": ("groq/", ("groq",), ("groq",), ("groq/",)),
    "together": ("together_ai/", ("together",), ("together_ai",), ("together_ai/",)),
    "fireworks": ("fireworks_ai/", ("fireworks",), ("fireworks_ai",), ("fireworks_ai/",)),
    "deepinfra": ("deepinfra/", (), ("deepinfra",), ("deepinfra/",)),
    "openrouter": ("openrouter/", ("openrouter",), ("openrouter",), ("openrouter/",)),
}
TEXT_MODES = {"chat", "completion", "responses", None}
UNDATED = date(2023, 1, 1)  # first day of a price no source dates (see pricing/README.md)
M = Decimal(1_000_000)
RATES = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_DATED = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
_LONG = re.compile(r"^input_cost_per_token_above_(\d+)k_tokens$")
# Bedrock region / profile prefixes and Azure data zones: the same model, sometimes at another price
_REGION = re.compile(
    r"^(?:(?:us|eu|apac|jp|au|ca|us-gov|global|apne\d?|us-east-\d|us-west-\d)\.|(?:eu|us|global)/)"
)


def dec(x: Any) -> Decimal:
    """A source figure as an exact Decimal; LiteLLM's per-token floats are read through their repr."""
    return Decimal(str(x)) if not isinstance(x, Decimal) else x


def per_m(x: Any) -> Decimal:
    """A per-token float as USD per 1M tokens, to 1e-9 (3e-06 -> 3, 1.9999999999999998e-07 -> 0.2)."""
    v = (dec(x) * M).quantize(Decimal("0.000000001"))
    return v.normalize() if v else Decimal(0)


@dataclass
class Version:
    effective_from: date
    rates: dict[str, Decimal]  # RATES (cache ones may be absent) and the long_* / batch keys
    source: str = ""

    def key(self) -> tuple[Any, ...]:
        return tuple(sorted((k, str(v)) for k, v in self.rates.items()))


@dataclass
class Entry:
    host: str
    id: str
    names: list[str]  # every name this model is logged as on its host, without the host's prefix
    versions: list[Version]
    tier: str | None = None
    deprecated: bool = False
    origin: str = ""  # "genai-prices", "litellm", "both", "table"
    notes: list[str] = field(default_factory=list)
    litellm: dict[str, Decimal] | None = (
        None  # LiteLLM's figure for the entry's own name, when it has one
    )


# ---------------------------------------------------------------- genai-prices


def _match(rule: Any, name: str) -> bool:
    """genai-prices' MatchLogic, case-insensitive."""
    n = name.lower()
    if "equals" in rule:
        return n == str(rule["equals"]).lower()
    if "starts_with" in rule:
        return n.startswith(str(rule["starts_with"]).lower())
    if "ends_with" in rule:
        return n.endswith(str(rule["ends_with"]).lower())
    if "contains" in rule:
        return str(rule["contains"]).lower() in n
    if "regex" in rule:
        return re.search(str(rule["regex"]), name, flags=re.IGNORECASE) is not None
    if "or" in rule:
        return any(_match(r, name) for r in rule["or"])
    if "and" in rule:
        return all(_match(r, name) for r in rule["and"])
    return False


def _names(rule: Any) -> list[str]:
    """The literal names a rule spells out (equals, and the stem of starts_with / dated regexes)."""
    out: list[str] = []
    if "equals" in rule:
        out.append(str(rule["equals"]))
    elif "starts_with" in rule:
        s = str(rule["starts_with"])
        if re.search(r"[a-z0-9]$", s, re.IGNORECASE) and not s.endswith("-202"):
            out.append(s)
    elif "regex" in rule:
        m = re.fullmatch(r"\^([A-Za-z0-9.\-/]+?)(?:\[-@\]|-)\\d\{8\}\$", str(rule["regex"]))
        if m:
            out.append(m.group(1))
    for r in rule.get("or", []):
        out += _names(r)
    return out


def _tiered(value: Any) -> tuple[Decimal, int | None, Decimal | None]:
    if isinstance(value, dict):
        tiers = value.get("tiers") or []
        if tiers:
            return dec(value["base"]), int(tiers[0]["start"]), dec(tiers[0]["price"])
        return dec(value["base"]), None, None
    return dec(value), None, None


GP_KEYS = {"input_mtok": "input", "output_mtok": "output", "cache_read_mtok": "cache_read",
           "cache_write_mtok": "cache_write", "cache_write_1h_mtok": "cache_write_1h"}  # fmt: skip


def gp_rates(prices: dict[str, Any]) -> dict[str, Decimal] | None:
    """One genai-prices ModelPrice as table rates; None when it is not priced per text token."""
    if "input_mtok" not in prices or "output_mtok" not in prices:
        return None
    rates: dict[str, Decimal] = {}
    long: dict[str, Decimal] = {}
    threshold: int | None = None
    for src, key in GP_KEYS.items():
        if src not in prices:
            continue
        base, start, tier = _tiered(prices[src])
        rates[key] = base
        if start is not None and tier is not None:
            threshold = threshold or start
            if key in ("input", "output", "cache_read", "cache_write"):
                long[f"long_{key}"] = tier
    if threshold is not None and "long_input" in long and "long_output" in long:
        rates["long_context_threshold"] = Decimal(threshold)
        rates.update(long)
    return rates


def gp_batch(model: dict[str, Any], rates: dict[str, Decimal]) -> Decimal | None:
    for variant in model.get("price_variants") or []:
        if variant.get("when") == {"processing": "batch"} and "input_mtok" in variant.get(
            "prices", {}
        ):
            b_in, _, _ = _tiered(variant["prices"]["input_mtok"])
            if rates["input"]:
                return (1 - b_in / rates["input"]).normalize()
    return None


def gp_versions(model: dict[str, Any]) -> tuple[list[Version], list[str]]:
    """genai-prices' price list as dated versions. A time-of-day price (DeepSeek's off-peak hours)
    cannot be kept by a table priced by the day: the day's highest rate of each kind is used, so
    that a request is never priced below what it may have cost."""
    prices = model.get("prices")
    notes: list[str] = []
    entries = [{"prices": prices}] if isinstance(prices, dict) else list(prices or [])
    out: list[Version] = []
    by_hour: list[dict[str, Decimal]] = []
    for e in entries:
        constraint = e.get("constraint") or {}
        rates = gp_rates(e.get("prices") or {})
        if rates is None:
            continue
        if "start_time" in constraint:
            by_hour.append(rates)
            continue
        start = (
            date.fromisoformat(constraint["start_date"]) if "start_date" in constraint else UNDATED
        )
        out.append(Version(start, rates, "genai-prices"))
    out.sort(key=lambda v: v.effective_from)
    if by_hour and out:
        notes.append("time-of-day prices: the day's highest rates are used")
        base = out[0].rates
        for rates in by_hour:
            for k in RATES:
                if k in rates and rates[k] > base.get(k, Decimal(0)):
                    base[k] = rates[k]
    if out:
        discount = gp_batch(model, out[-1].rates)
        if discount is not None and 0 < discount < 1:
            out[-1].rates["batch_discount"] = discount
    return out, notes


# ---------------------------------------------------------------- LiteLLM


def ll_rates(v: dict[str, Any]) -> dict[str, Decimal] | None:
    if "input_cost_per_token" not in v or "output_cost_per_token" not in v:
        return None
    rates = {"input": per_m(v["input_cost_per_token"]), "output": per_m(v["output_cost_per_token"])}
    for src, key in (("cache_read_input_token_cost", "cache_read"), ("cache_creation_input_token_cost", "cache_write"),
                     ("cache_creation_input_token_cost_above_1hr", "cache_write_1h")):  # fmt: skip
        if v.get(src) is not None:
            rates[key] = per_m(v[src])
    b = v.get("input_cost_per_token_batches")
    if b is not None and v["input_cost_per_token"]:
        d = (1 - dec(b) / dec(v["input_cost_per_token"])).quantize(Decimal("0.0001")).normalize()
        if 0 < d < 1:
            rates["batch_discount"] = d
    longs = sorted(int(m.group(1)) for k in v if (m := _LONG.match(k)))
    if longs:
        n = longs[0]
        sfx = f"_above_{n}k_tokens"
        if v.get("output_cost_per_token" + sfx) is not None:
            rates["long_context_threshold"] = Decimal(n * 1000)
            rates["long_input"] = per_m(v["input_cost_per_token" + sfx])
            rates["long_output"] = per_m(v["output_cost_per_token" + sfx])
            if v.get("cache_read_input_token_cost" + sfx) is not None:
                rates["long_cache_read"] = per_m(v["cache_read_input_token_cost" + sfx])
            if v.get("cache_creation_input_token_cost" + sfx) is not None:
                rates["long_cache_write"] = per_m(v["cache_creation_input_token_cost" + sfx])
    return rates


def ll_host(key: str, v: dict[str, Any]) -> tuple[str, str] | None:
    """(host, name on the host) for a LiteLLM key, or None when it is not one of the hosts."""
    provider = v.get("litellm_provider")
    for host, (_, _, providers, prefixes) in HOSTS.items():
        if provider in providers:
            name = key
            for p in prefixes:
                if name.lower().startswith(p):
                    name = name[len(p) :]
                    break
            return host, name
    return None


# ---------------------------------------------------------------- reading the sources


def read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (OSError, ValueError, EOFError) as exc:
        raise PricingError(
            f"cannot read {path}: {exc}", hint="give a genai-prices or LiteLLM JSON file"
        ) from None


def kind_of(doc: Any) -> str:
    """'genai-prices' (a list of providers with models) or 'litellm' (an object of model keys)."""
    if isinstance(doc, list) and doc and isinstance(doc[0], dict) and "models" in doc[0]:
        return "genai-prices"
    if isinstance(doc, dict) and any(
        isinstance(v, dict) and "litellm_provider" in v for v in doc.values()
    ):
        return "litellm"
    raise PricingError(
        "not a price file this importer reads",
        hint="give genai-prices' data JSON (a list of providers) or LiteLLM's model_prices_and_context_window.json",
    )


@dataclass
class Imported:
    entries: dict[tuple[str, str], Entry]  # (host, id) -> entry
    disagreements: list[str]
    notes: list[str]


def _tier(name: str) -> str:
    n = name.lower()
    if re.search(
        r"opus|(^|[-/.])o1(?!-mini)|ultra|-pro(?!-preview)|gpt-4(?![.o])|gpt-5(\.\d)?-pro|o3-pro|grok-4(?!-fast)|mythos|fable|large|405b|671b",
        n,
    ):
        return (
            "frontier"
            if re.search(r"opus|o1|ultra|gpt-5(\.\d)?-pro|o3-pro|mythos|fable|405b", n)
            else "mid"
        )
    if re.search(
        r"mini|nano|flash|haiku|lite|small|tiny|[^0-9]([1-9]|1[0-9]|2[0-9])b\b|8x7b|3b|gemma|ministral|instant|fast",
        n,
    ):
        return "small"
    return "mid"


def _gp_host(provider: str, model: str) -> str:
    """genai-prices' `google` lists Claude at Vertex AI's (global endpoint) rates: that host is Vertex."""
    host = next(h for h, spec in HOSTS.items() if provider in spec[1])
    return "vertex" if host == "google" and model.lower().startswith("claude") else host


def _rates_text(rates: dict[str, Decimal]) -> str:
    return "/".join(_num(rates[k]) for k in ("input", "output") if k in rates)


def from_sources(gp: Any | None, ll: Any | None, as_of: date | None = None) -> Imported:
    """Group the sources' names into models per host; the genai-prices price (in force on `as_of`)
    leads where both price a name."""
    as_of = as_of or query.now().date()
    entries: dict[tuple[str, str], Entry] = {}
    disagreements: list[str] = []
    notes: list[str] = []
    gp_rules: dict[str, list[tuple[Entry, Any]]] = {}
    for provider in gp or []:
        host = next((h for h, spec in HOSTS.items() if provider["id"] in spec[1]), None)
        if host is None:
            continue
        for m in provider.get("models", []):
            versions, vnotes = gp_versions(m)
            if not versions:
                continue
            host = _gp_host(provider["id"], m["id"])
            prefix = HOSTS[host][0]
            names = [m["id"], *(n for n in _names(m.get("match") or {}) if n != m["id"])]
            names = list(dict.fromkeys(names))
            e = Entry(host, prefix + m["id"], names, versions, _tier(m["id"]), bool(m.get("deprecated")),
                      "genai-prices", vnotes)  # fmt: skip
            entries[(host, e.id)] = e
            gp_rules.setdefault(host, []).append((e, m.get("match") or {}))
    # LiteLLM keys: join a genai-prices model whose rules match, else a sibling with the same price
    by_base: dict[tuple[str, str, tuple[Any, ...]], Entry] = {}
    keys: list[tuple[bool, str, str, str, dict[str, Decimal], Any]] = []
    for key, v in (ll or {}).items():
        if not isinstance(v, dict) or v.get("mode") not in TEXT_MODES:
            continue
        hn = ll_host(key, v)
        rates = ll_rates(v) if hn is not None else None
        if hn is None or rates is None:
            continue
        routed = key.lower().startswith(HOSTS[hn[0]][3])  # the name LiteLLM routes by leads
        keys.append((not routed, key, hn[0], hn[1], rates, v))
    taken: dict[tuple[str, str], tuple[str, dict[str, Decimal]]] = {}
    for _, key, host, name, rates, v in sorted(keys, key=lambda k: (k[0], k[1])):
        first = taken.setdefault((host, name.lower()), (key, rates))
        if first[0] != key:  # two keys for one name on one host
            if first[1] != rates:
                disagreements.append(f"{host} {name}: LiteLLM {first[0]} (kept) vs LiteLLM {key}: "
                                     + _rates_text(first[1]) + " vs " + _rates_text(rates))  # fmt: skip
            continue
        version = Version(UNDATED, rates, "litellm")
        owner = next((e for e, rule in gp_rules.get(host, []) if _match(rule, name) or name.lower() in
                      (n.lower() for n in e.names)), None)  # fmt: skip
        if owner is not None:
            now = [v for v in owner.versions if v.effective_from <= as_of] or owner.versions[:1]
            cur = now[-1].rates
            diff = [k for k in ("input", "output", "cache_read", "cache_write") if k in rates and k in cur
                    and rates[k] != cur[k]]  # fmt: skip
            if diff and name.lower() not in (n.lower() for n in owner.names):
                # a rule matches, but LiteLLM prices this very name (a region, a data zone) differently:
                # genai-prices has no figure for it, so it is a model of its own at LiteLLM's price
                owner = None
        if owner is not None:
            if (
                name.lower() == owner.id.lower().removeprefix(HOSTS[host][0])
                or owner.litellm is None
            ):
                owner.litellm = rates
            if name not in owner.names:
                owner.names.append(name)
            owner.origin = "both"
            if diff:
                disagreements.append(
                    f"{host} {owner.id}: genai-prices "
                    + ", ".join(f"{k} {_num(cur[k])}" for k in diff)
                    + f" vs LiteLLM {key}: "
                    + ", ".join(f"{k} {_num(rates[k])}" for k in diff)
                )
            for k in ("batch_discount", "cache_write_1h", "long_context_threshold", "long_input", "long_output",
                      "long_cache_read", "long_cache_write"):  # fmt: skip
                if k in rates and k not in cur and not diff:
                    if k.startswith("long_") and "long_context_threshold" not in rates:
                        continue
                    cur[k] = rates[k]
            continue
        base = _DATED.sub("", _REGION.sub("", name).removesuffix(":0").removesuffix("-v1"))
        sibling = by_base.get((host, base, version.key()))
        if sibling is not None:
            sibling.names.append(name)
            continue
        e = Entry(host, HOSTS[host][0] + name, [name], [version], _tier(name),
                  bool(v.get("deprecation_date") and str(v["deprecation_date"]) < query.now().date().isoformat()),
                  "litellm")  # fmt: skip
        entries[(host, e.id)] = e
        by_base[(host, base, version.key())] = e
    return Imported(entries, disagreements, notes)


# ---------------------------------------------------------------- the table on disk


def read_table(directory: Path) -> dict[tuple[str, str], Entry]:
    """The versions already in the generated files: they are kept as they are."""
    out: dict[tuple[str, str], Entry] = {}
    for path in sorted(directory.glob("*.toml")):
        if path.name == "overrides.toml":
            continue
        doc = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        host = str(doc.get("provider", path.stem))
        prefix = HOSTS.get(host, ("",))[0]
        for m in doc.get("models", []):
            versions = [
                Version(
                    p["effective_from"],
                    {
                        k: dec(v)
                        for k, v in p.items()
                        if k not in ("effective_from", "note", "source")
                    },
                    str(p.get("source", "")),
                )
                for p in m.get("prices", [])
            ]
            names = [
                m["id"].removeprefix(prefix),
                *(a.removeprefix(prefix) for a in m.get("aliases", [])),
            ]
            mid = (
                m["id"] if m["id"].startswith(prefix) else prefix + m["id"]
            )  # ids carry their host's prefix
            out[(host, mid)] = Entry(host, mid, names, versions, m.get("tier"), origin="table")
    return out


@dataclass
class Override:
    host: str
    model: str
    reason: str
    source: str
    version: Version | None = None
    aliases: list[str] = field(default_factory=list)
    tier: str | None = None
    line: int = 0
    prefer: str | None = None
    drop: bool = False


def read_overrides(path: Path) -> list[Override]:
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    doc = tomllib.loads(text, parse_float=Decimal)
    lines = [i for i, ln in enumerate(text.splitlines(), start=1) if ln.strip() == "[[override]]"]
    out = []
    for i, raw in enumerate(doc.get("override", [])):
        line = lines[i] if i < len(lines) else 0
        for key in ("host", "model", "reason", "source"):
            if not raw.get(key):
                raise PricingError(f"cannot read {path} line {line}: an override needs '{key}'",
                                   hint="each override says what it changes, why, and where the figure comes from")  # fmt: skip
        version = None
        if "effective_from" in raw:
            rates = {k: dec(raw[k]) for k in raw if k in (*RATES, "batch_discount", "long_context_threshold",
                                                         "long_input", "long_output", "long_cache_read", "long_cache_write")}  # fmt: skip
            version = Version(raw["effective_from"], rates, "overrides.toml")
        out.append(Override(raw["host"], raw["model"], raw["reason"], raw["source"], version,
                            list(raw.get("aliases", [])), raw.get("tier"), line, raw.get("prefer"),
                            bool(raw.get("drop", False))))  # fmt: skip
    return out


def merge(old: dict[tuple[str, str], Entry], new: Imported, overrides: list[Override], as_of: date) -> tuple[
        dict[tuple[str, str], Entry], list[str]]:  # fmt: skip
    """Old versions stay; a source's dated versions after the last old one, or a changed current price
    (dated `as_of`), are appended; then the overrides. Returns the table and what changed."""
    changes: list[str] = []
    out: dict[tuple[str, str], Entry] = {}
    index: dict[tuple[str, str], tuple[str, str]] = {}
    for k, e in old.items():
        out[k] = e
        for n in e.names:
            index[(e.host, n.lower())] = k
    pairs: list[tuple[Entry, Entry]] = []
    for k, e in new.entries.items():
        hit = next(
            (index[(e.host, n.lower())] for n in e.names if (e.host, n.lower()) in index), None
        )
        if hit is None:
            out[k] = e
            for n in e.names:
                index.setdefault((e.host, n.lower()), k)
            continue
        cur = out[hit]
        for n in e.names:
            if (
                n.lower() not in (x.lower() for x in cur.names)
                and index.get((e.host, n.lower()), hit) == hit
            ):
                cur.names.append(n)
                index[(e.host, n.lower())] = hit
        pairs.append((cur, e))
    prefer: set[tuple[str, str]] = set()
    for o in overrides:
        key = index.get((o.host, o.model.lower())) or (
            (o.host, o.model) if (o.host, o.model) in out else None
        )
        if key is None:
            raise PricingError(f"cannot read overrides.toml line {o.line}: no model {o.model} on {o.host}",
                               hint="an override names a model the sources or the table list")  # fmt: skip
        e = out[key]
        if o.prefer == "litellm":
            src = new.entries.get(key) or next((n for c, n in pairs if c is e), None)
            if src is None or src.litellm is None:
                raise PricingError(
                    f"cannot read overrides.toml line {o.line}: LiteLLM has no price for {o.model}"
                )
            src.versions = [Version(UNDATED, src.litellm, "litellm")]
            prefer.add(key)
        if o.version is not None:
            e.versions = [v for v in e.versions if v.effective_from != o.version.effective_from]
            if not o.drop:
                e.versions.append(o.version)
            e.versions.sort(key=lambda v: v.effective_from)
        for a in o.aliases:
            if a not in e.names:
                e.names.append(a)
        if o.tier:
            e.tier = o.tier
    # several source models may reach one table model (genai-prices' regional model and LiteLLM's
    # un-prefixed key, say): its price comes from one, genai-prices' first
    chosen: dict[int, tuple[Entry, Entry]] = {}
    for cur, e in pairs:
        rank = (e.origin == "litellm", e.id.lower() != cur.id.lower())
        best = chosen.get(id(cur))
        if best is None or rank < (
            best[1].origin == "litellm",
            best[1].id.lower() != cur.id.lower(),
        ):
            chosen[id(cur)] = (cur, e)
    for cur, e in pairs:
        lead = chosen[id(cur)][1]
        if (
            e is not lead
            and e.versions
            and lead.versions
            and _differs(e.versions[-1], lead.versions[-1])
        ):
            new.disagreements.append(
                f"{cur.host} {cur.id}: {lead.origin} {lead.id} {_rates_text(lead.versions[-1].rates)} (kept) "
                f"vs {e.origin} {e.id} {_rates_text(e.versions[-1].rates)}"
            )
    for cur, e in chosen.values():
        last = cur.versions[-1]
        later = [v for v in e.versions if v.effective_from > last.effective_from]
        for v in later:
            cur.versions.append(v)
            changes.append(f"{cur.host} {cur.id}: new version from {v.effective_from}")
        src_now = [v for v in e.versions if v.effective_from <= as_of]
        old_now = [v for v in cur.versions if v.effective_from <= as_of] or [last]
        if not later and src_now and _differs(src_now[-1], old_now[-1]):
            cur.versions.append(Version(as_of, src_now[-1].rates, src_now[-1].source))
            changes.append(f"{cur.host} {cur.id}: price changed, new version from {as_of}")
    return out, changes


def _differs(src: Version, old: Version) -> bool:
    """A changed price: a rate both give differs (a rate the source leaves out is not news)."""
    return any(
        k in src.rates and k in old.rates and src.rates[k] != old.rates[k]
        for k in (*RATES, "batch_discount", "long_context_threshold", "long_input", "long_output")
    )


def _base(v: Version) -> tuple[Any, ...]:
    return tuple(
        (k, v.rates.get(k))
        for k in ("input", "output", "cache_read", "cache_write", "batch_discount")
    )


def _num(x: Decimal) -> str:
    s = format(x.normalize(), "f")
    return s + ".0" if "." not in s and "e" not in s.lower() else s


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def complete(e: Entry) -> None:
    """A cache rate no source gives is billed at `input`: written out, so `prices check` warns only where
    a rate is really unknown (Claude's cache writes, which every host charges for)."""
    if "claude" in e.id.lower():
        return
    for v in e.versions:
        for k in ("cache_read", "cache_write", "cache_write_1h"):
            v.rates.setdefault(k, v.rates["input"])


def render_host(host: str, entries: list[Entry], header: list[str], seen: set[str]) -> str:
    """One host's file. `seen` holds the names taken by the hosts written before (a name belongs to one
    model in the whole table)."""
    out = [f"# {line}".rstrip() for line in header]
    out += [f'provider = "{host}"', ""]
    prefix = HOSTS.get(host, ("",))[0]
    for e in sorted(entries, key=lambda e: e.id.lower()):
        if e.id.lower() in seen:
            continue
        complete(e)
        aliases = []
        for n in e.names:
            if host == "bedrock" and "." not in n:
                continue  # a Bedrock model id is always vendor.name
            full = prefix + n if prefix and not n.lower().startswith(prefix) else n
            if full.lower() != e.id.lower() and full.lower() not in seen:
                aliases.append(full)
                seen.add(full.lower())
        seen.add(e.id.lower())
        out.append("[[models]]")
        out.append(f"id = {_q(e.id)}")
        out.append(f"aliases = [{', '.join(_q(a) for a in aliases)}]")
        out.append(f'tier = "{e.tier or "mid"}"')
        for v in e.versions:
            out.append("")
            out.append("[[models.prices]]")
            out.append(f"effective_from = {v.effective_from.isoformat()}")
            for k in (*RATES, "batch_discount", "long_context_threshold", "long_input", "long_output",
                      "long_cache_read", "long_cache_write"):  # fmt: skip
                if k in v.rates:
                    val = v.rates[k]
                    out.append(f"{k} = {int(val) if k == 'long_context_threshold' else _num(val)}")
            if v.source:
                out.append(f"source = {_q(v.source)}")
        out.append("")
    return "\n".join(out)


def run(
    *, genai_prices: Path | None, litellm: Path | None, table_dir: Path, out_dir: Path, as_of: date,
    versions: dict[str, str], overrides: Path | None = None,
) -> tuple[list[str], list[str], dict[str, int]]:  # fmt: skip
    """Import, merge and write; returns (disagreements, changes, models written per host)."""
    gp = read_json(genai_prices) if genai_prices else None
    ll = read_json(litellm) if litellm else None
    if gp is not None and kind_of(gp) != "genai-prices":
        raise PricingError(f"{genai_prices} is not genai-prices data", hint="pass it as --litellm")
    if ll is not None and kind_of(ll) != "litellm":
        raise PricingError(
            f"{litellm} is not LiteLLM's price file", hint="pass it as --genai-prices"
        )
    imported = from_sources(gp, ll, as_of)
    old = read_table(table_dir)
    table, changes = merge(
        old, imported, read_overrides(overrides or table_dir / "overrides.toml"), as_of
    )
    header = [
        "Generated by `llmcost prices import`; edit pricing/overrides.toml, not this file.",
        "Sources (MIT): "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
        + f"; read {as_of}.",
        "USD per 1M tokens; format: pricing/README.md.",
        "",
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    seen: set[str] = set()
    for host in HOSTS:
        entries = [e for e in table.values() if e.host == host]
        if not entries:
            continue
        (out_dir / f"{host}.toml").write_text(
            render_host(host, entries, header, seen), encoding="utf-8"
        )
        counts[host] = len(entries)
    return imported.disagreements, changes, counts


# ---------------------------------------------------------------- inputs as a person gives them


def installed_genai_prices() -> tuple[Any, str]:
    """genai-prices' bundled data as JSON-shaped objects (needs the `import` extra), and its version."""
    try:
        import genai_prices  # type: ignore[import-not-found,unused-ignore]
        from genai_prices import data  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise PricingError(
            "genai-prices is not installed",
            hint="pip install 'llmcost[import]', or give its data with --genai-prices FILE",
        ) from None
    return _plain(data.providers), str(getattr(genai_prices, "__version__", "unknown"))


def _plain(o: Any) -> Any:
    """genai-prices' dataclasses as the JSON its data file holds (Decimals and dates as strings)."""
    import dataclasses
    from datetime import time

    if type(o).__name__ == "ModelPrice":
        return {k: _plain(v) for k, v in o._comparable_values().items()}
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        out = {}
        for f in dataclasses.fields(o):
            v = getattr(o, f.name)
            if f.name.startswith("_") or not f.init or f.name == "extractors" or v is None:
                continue
            out[f.name.rstrip("_")] = _plain(v)
        return out
    if isinstance(o, list):
        return [_plain(x) for x in o]
    if isinstance(o, dict):
        return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, date | time):
        return o.isoformat()
    return o


_VERSION = re.compile(r"-(\d+(?:\.\d+)+)")


def read_source(path: Path) -> tuple[Any, str, str]:
    """(document, kind, version) of a data file: JSON, .json.gz, or the litellm wheel itself."""
    import zipfile

    if path.suffix == ".whl":
        try:
            with zipfile.ZipFile(path) as z:
                member = next(
                    n
                    for n in z.namelist()
                    if n.endswith("model_prices_and_context_window_backup.json")
                )
                doc = json.loads(z.read(member))
        except (OSError, StopIteration, zipfile.BadZipFile, ValueError):
            raise PricingError(
                f"cannot read {path}: no LiteLLM price file in it",
                hint="give litellm's wheel or its JSON",
            ) from None
    else:
        doc = read_json(path)
    m = _VERSION.search(path.name)
    return doc, kind_of(doc), m.group(1) if m else "unknown"


def snapshot(doc: Any, directory: Path, name: str) -> Path:
    """The exact input, kept beside the table so that the same table can be built again offline."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json.gz"
    path.write_bytes(gzip.compress(json.dumps(doc, sort_keys=True, indent=0).encode(), 9, mtime=0))
    return path


def update_overlay(
    source: Path, bundled: Path, into: Path, as_of: date
) -> tuple[Path, int, list[str]]:
    """`prices update --from FILE`: what FILE prices differently from the table, as a dated overlay in
    `into` (the bundled files are not touched). Returns (file written, models in it, disagreements)."""
    doc, kind, version = read_source(source)
    imported = from_sources(
        doc if kind == "genai-prices" else None, doc if kind == "litellm" else None
    )
    old = read_table(bundled)
    if into.is_dir():
        for k, e in read_table(into).items():
            if k in old:
                old[k].versions = sorted({v.effective_from: v for v in [*old[k].versions, *e.versions]}.values(),
                                         key=lambda v: v.effective_from)  # fmt: skip
            else:
                old[k] = e
    before = {k: len(e.versions) for k, e in old.items()}
    table, _ = merge(old, imported, [], as_of)
    out: list[Entry] = []
    for k, e in table.items():
        if k not in before:
            out.append(e)  # a model the table does not have
        elif len(e.versions) > before[k]:  # only the new versions; the id makes them this model's
            out.append(Entry(e.host, e.id, [], e.versions[before[k] :], e.tier, origin="update"))
    into.mkdir(parents=True, exist_ok=True)
    path = into / f"update-{kind}-{as_of.isoformat()}.toml"
    header = [
        f"Made by `llmcost prices update --from {source.name}` ({kind} {version}) on {as_of}.",
        "",
    ]
    seen = {
        n.lower()
        for k, e in old.items()
        for n in [e.id, *(HOSTS.get(e.host, ("",))[0] + x for x in e.names)]
    }
    texts: list[str] = []
    for host in HOSTS:
        entries = [e for e in out if e.host == host]
        if entries:
            for e in entries:
                if e.origin == "update":
                    seen.discard(e.id.lower())
            texts.append(render_host(host, entries, header if not texts else [], seen))
    path.write_text(_one_file(texts), encoding="utf-8")
    return path, len(out), imported.disagreements


def _one_file(texts: list[str]) -> str:
    """Host files joined as one overlay: each model names its host (an overlay has no single provider)."""
    out = []
    for text in texts:
        host = ""
        for line in text.splitlines():
            if line.startswith("provider = "):
                host = line.split("=", 1)[1].strip()
                continue
            out.append(line)
            if line.startswith("tier = ") and host:
                out.append(f"provider = {host}")
    return "\n".join(out) + "\n"

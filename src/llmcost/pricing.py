"""The dated price table: load the TOML files, resolve model names, price requests in SQL.

Prices are USD per 1M tokens, read as Decimal and kept DECIMAL in DuckDB, so a request's cost is
exact. A request is priced with the version in force at its timestamp; a model with no version
then is unpriced (NULL cost, never 0).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from llmcost import __version__
from llmcost.config import bundled_pricing_dir
from llmcost.errors import PricingError
from llmcost.query import now

RATE_KEYS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
CACHE_KEYS = ("cache_read", "cache_write", "cache_write_1h")
LONG_KEYS = ("long_input", "long_output", "long_cache_read", "long_cache_write")
PRICE_KEYS = {
    "effective_from",
    *RATE_KEYS,
    "batch_discount",
    "long_context_threshold",
    *LONG_KEYS,
    "note",
    "source",
}
MODEL_KEYS = {"id", "aliases", "tier", "prices", "provider", "note", "source", "name", "replaces"}
CACHE_FORMAT = 2  # bump when PriceTable, Model or PriceVersion change shape
MAX_RATE = Decimal(
    10_000
)  # USD per 1M tokens: above this a figure is a typo (the dearest real rate is ~600)
TIERS = ("small", "mid", "frontier")
Q = Decimal("0.000000001")  # rates are kept to 1e-9 USD per 1M tokens


@dataclass(frozen=True)
class PriceVersion:
    effective_from: date
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal
    batch_discount: Decimal = Decimal(0)
    long_context_threshold: int | None = None
    long_input: Decimal | None = None
    long_output: Decimal | None = None
    long_cache_read: Decimal | None = None
    long_cache_write: Decimal | None = None
    long_cache_write_1h: Decimal | None = None
    fallbacks: tuple[str, ...] = ()  # cache rates missing in the file, priced at `input`
    source: str = ""

    def cost(
        self, *, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0, cache_write_tokens: int = 0,
        cache_write_1h_tokens: int = 0, batch: bool = False, cache_hit: bool = False,
    ) -> Decimal:  # fmt: skip
        """SPEC §4 in Python: the reference the SQL is tested against."""
        if cache_hit:
            return Decimal(0)
        long = (
            self.long_context_threshold is not None and input_tokens > self.long_context_threshold
        )
        r_in = self.long_input if long and self.long_input is not None else self.input
        r_out = self.long_output if long and self.long_output is not None else self.output
        r_cr = (
            self.long_cache_read if long and self.long_cache_read is not None else self.cache_read
        )
        r_cw = (
            self.long_cache_write
            if long and self.long_cache_write is not None
            else self.cache_write
        )
        r_cw1 = (
            self.long_cache_write_1h
            if long and self.long_cache_write_1h is not None
            else self.cache_write_1h
        )
        uncached = input_tokens - cache_read_tokens - cache_write_tokens - cache_write_1h_tokens
        total = (
            uncached * r_in + cache_read_tokens * r_cr + cache_write_tokens * r_cw
            + cache_write_1h_tokens * r_cw1 + output_tokens * r_out
        ) / Decimal(1_000_000)  # fmt: skip
        if batch:
            total *= 1 - self.batch_discount
        return total


@dataclass
class Model:
    id: str
    provider: str
    tier: str | None
    aliases: list[str]
    versions: list[PriceVersion]
    files: list[str] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)  # bundled names an overlay model takes over

    def version_at(self, when: datetime | date) -> PriceVersion | None:
        day = when.date() if isinstance(when, datetime) else when
        current = None
        for version in self.versions:
            if version.effective_from <= day:
                current = version
        return current


@dataclass
class PriceTable:
    models: dict[str, Model]
    files: list[str]
    sha256: str
    index: dict[str, str] = field(default_factory=dict)  # lower-case id or alias -> model id
    # a bare name as Bedrock sells it -> model id, built on first use (see `bedrock_names`)
    bedrock: dict[str, str] | None = None

    def resolve(self, name: str | None, host: str | None = None) -> Model | None:
        """The model a logged name is priced as (see `resolve_how`)."""
        return self.resolve_how(name, host)[0]

    def resolve_how(self, name: str | None, host: str | None = None) -> tuple[Model | None, str]:
        """(model, how): how is "host" when the name (or `host`, the request's provider) says where it
        was served and that host lists it, "fallback" when no host is known and another host's price is
        borrowed, "" when unpriced."""
        if not name:
            return None, ""
        bare = bedrock_bare(name, host)
        # a first-party name served by Bedrock: Bedrock's price, never the vendor's
        if bare is not None:
            if self.bedrock is None:
                self.bedrock = bedrock_names(self)
            for candidate in bare:
                model_id = self.bedrock.get(candidate)
                if model_id is not None:
                    return self.models[model_id], "host"
            return None, ""
        known, candidates = host_candidates(name, host)
        for candidate in candidates:
            model_id = self.index.get(candidate)
            if model_id is not None:
                return self.models[model_id], "host"
        if known is not None:
            return None, ""  # a known host that does not list the model: never another host's price
        for candidate in fallback_candidates(name):
            model_id = self.index.get(candidate)
            if model_id is not None:
                return self.models[model_id], "fallback"
        return None, ""

    def warnings(self) -> list[str]:
        out = []
        for model in self.models.values():
            for v in model.versions:
                for key in v.fallbacks:
                    out.append(
                        f"{model.id} (from {v.effective_from}): no {key} rate; priced at the input rate ({v.input})"
                    )
        return out


# ---------------------------------------------------------------- name resolution
#
# A price belongs to a model as sold by a host (SPEC section 4). The table's ids and aliases carry the
# host: first-party names bare (`gpt-4o`, `claude-opus-4-6`, `gemini-2.5-flash`, `mistral-large-2512`,
# `deepseek-chat`, `grok-4`), Bedrock ids in their dotted form (`us.anthropic.claude-...-v1:0`), the
# others with a gateway prefix (`vertex_ai/`, `azure/` with data zones `azure/eu/`, `azure_ai/`, `groq/`,
# `together_ai/`, `fireworks_ai/`, `deepinfra/`, `openrouter/`).

# gateway prefix as logged -> the table's prefix for that host ("" for a bare first-party name)
GATEWAYS = {
    "openai/": "", "anthropic/": "", "gemini/": "", "google/": "", "mistral/": "", "deepseek/": "",
    "xai/": "", "x-ai/": "", "bedrock/converse/": "", "bedrock_converse/": "", "bedrock/": "",
    "vertex_ai/": "vertex_ai/", "vertex/": "vertex_ai/", "azure/": "azure/", "azure_ai/": "azure_ai/",
    "groq/": "groq/", "together_ai/": "together_ai/", "together/": "together_ai/",
    "fireworks_ai/": "fireworks_ai/", "fireworks/": "fireworks_ai/", "deepinfra/": "deepinfra/",
    "openrouter/": "openrouter/",
}  # fmt: skip
# vendor prefixes that are also the org part of open-weight model names (`openai/gpt-oss-120b`)
_ORG_LIKE = {"openai/", "google/", "mistral/", "deepseek/", "x-ai/"}
# a request's provider -> its host's prefix
HOST_PREFIX = {
    "openai": "", "anthropic": "", "google": "", "gemini": "", "mistral": "", "deepseek": "", "xai": "",
    "x-ai": "", "bedrock": "", "aws": "", "vertex": "vertex_ai/", "vertex_ai": "vertex_ai/",
    "azure": "azure/", "azure_openai": "azure/", "azure_ai": "azure_ai/", "groq": "groq/",
    "together": "together_ai/", "together_ai": "together_ai/", "fireworks": "fireworks_ai/",
    "fireworks_ai": "fireworks_ai/", "deepinfra": "deepinfra/", "openrouter": "openrouter/",
}  # fmt: skip
_BEDROCK = re.compile(
    r"^(?:(?:us|eu|apac|global|jp|au|ca|us-gov)\.)?(?:anthropic|meta|mistral|amazon|cohere|ai21|deepseek|openai|qwen|writer|twelvelabs|moonshot|minimax|nvidia|google)\."
)
_ARN = re.compile(
    r"^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile|application-inference-profile)/(.+)$"
)
_DATE_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
_FINE_TUNE = re.compile(r"^(ft:[^:]+):")


def host_candidates(name: str, host: str | None = None) -> tuple[str | None, list[str]]:
    """(the table prefix of the host the name or provider names, or None; the names to look up).

    Only known gateway prefixes are stripped, never the org part of a model name; `name@version` is
    looked up as it is (never as its bare family); a fine-tuned `ft:BASE:org::id` is looked up as
    `ft:BASE` (the fine-tune rate), never as BASE."""
    out: list[str] = []

    def add(n: str) -> None:
        if n and n not in out:
            out.append(n)

    n = name.strip().lower()
    m = _ARN.match(n)
    if m:
        n = m.group(1)
    known: str | None = None
    for gw, prefix in GATEWAYS.items():
        if n.startswith(gw):
            rest = n[len(gw) :]
            if gw in _ORG_LIKE and "/" in rest:
                break  # openai/… with a further slash is an org, not a gateway
            known, n = prefix, prefix + rest
            break
    if known is None and _BEDROCK.match(n):
        known = ""
    if known is None and host:
        h = HOST_PREFIX.get(host.strip().lower())
        if h is not None:
            known = h
            n = h + n if h and not n.startswith(h) else n
    add(n)
    ft = _FINE_TUNE.match(n)
    if ft:
        return "", [ft.group(1)]
    add(_DATE_SUFFIX.sub("", n))
    return known, out


_BEDROCK_HOSTS = {"bedrock", "aws"}
_PROFILES = {"us", "eu", "apac", "global", "jp", "au", "ca", "us-gov", "regional"}  # cross-region
_BEDROCK_GATEWAYS = ("bedrock/converse/", "bedrock_converse/", "bedrock/")
_BEDROCK_ID = re.compile(r"^[a-z0-9-]+\.([a-z0-9][a-z0-9.-]*?)(?:-v\d+(?::\d+)?)?$")


def bedrock_bare(name: str, host: str | None) -> list[str] | None:
    """The names to look up when a first-party name (`claude-sonnet-4-5`) is logged as served by Bedrock
    (a `bedrock/` prefix, or provider bedrock or aws); None for any other name, Bedrock's own ids included."""
    n = name.strip().lower()
    for gw in _BEDROCK_GATEWAYS:
        if n.startswith(gw):
            n = n[len(gw) :]
            break
    else:
        by_host = (host or "").strip().lower() in _BEDROCK_HOSTS
        if not by_host or any(n.startswith(g) for g in GATEWAYS):
            return None
    if not n or "/" in n or ":" in n or "@" in n or _BEDROCK.match(n) or _ARN.match(n):
        return None
    return list(dict.fromkeys([n, _DATE_SUFFIX.sub("", n)]))


def bedrock_names(table: PriceTable) -> dict[str, str]:
    """Bedrock's models by their bare names: `anthropic.claude-sonnet-4-5-20250929-v1:0` (the model id a
    request names when it uses no cross-region profile) as `claude-sonnet-4-5-20250929` and
    `claude-sonnet-4-5`. Where two dated ids share a bare family name, the newest date wins."""
    out: dict[str, str] = {}
    for key in sorted(table.index):
        model_id = table.index[key]
        m = _BEDROCK_ID.match(key)
        if m is None or table.models[model_id].provider != "bedrock" or not _BEDROCK.match(key):
            continue
        if key.split(".", 1)[0] in _PROFILES:
            continue  # a cross-region profile: only a name that says so is priced as one
        bare = m.group(1)
        out.setdefault(bare, model_id)
        out[_DATE_SUFFIX.sub("", bare)] = model_id
    return out


# what-if aliases: a family's name -> its vendor and the pattern of its first-party ids, whose groups are
# the version numbers (`claude-haiku-4-5` is 4.5, `gemini-3.8-flash` 3.8, `gpt-5.4-mini` 5.4)
FAMILIES: dict[str, tuple[str, re.Pattern[str]]] = {
    "haiku": ("anthropic", re.compile(r"^claude-haiku-(\d+)(?:-(\d))?$")),
    "sonnet": ("anthropic", re.compile(r"^claude-sonnet-(\d+)(?:-(\d))?$")),
    "opus": ("anthropic", re.compile(r"^claude-opus-(\d+)(?:-(\d))?$")),
    "mini": ("openai", re.compile(r"^gpt-(\d+)(?:\.(\d+))?-mini$")),
    "nano": ("openai", re.compile(r"^gpt-(\d+)(?:\.(\d+))?-nano$")),
    "flash": ("google", re.compile(r"^gemini-(\d+)(?:\.(\d+))?-flash$")),
    "flash-lite": ("google", re.compile(r"^gemini-(\d+)(?:\.(\d+))?-flash-lite$")),
    "pro": ("google", re.compile(r"^gemini-(\d+)(?:\.(\d+))?-pro$")),
}


def family_model(table: PriceTable, alias: str, when: date | None = None) -> Model | None:
    """The current model of a what-if alias's family (`haiku`, `sonnet`, `opus`, `mini`, `nano`, `flash`,
    `flash-lite`, `pro`): of the vendor's own ids of that family with a price in force on `when`
    (default today, UTC: `llmcost.query.now`), the highest version. None when `alias` is not a family's name."""
    family = FAMILIES.get(alias.strip().lower())
    if family is None:
        return None
    vendor, pattern = family
    day = when or now().date()
    best: tuple[tuple[int, int], Model] | None = None
    for model in table.models.values():
        m = pattern.match(model.id)
        if m is None or model.provider != vendor or model.version_at(day) is None:
            continue
        version = (int(m.group(1)), int(m.group(2) or 0))
        if best is None or version > best[0]:
            best = (version, model)
    return best[1] if best else None


def route_target(table: PriceTable, name: str, when: date | None = None) -> Model | None:
    """The model a what-if routes to: a family alias's current model, else the name as it resolves."""
    return family_model(table, name, when) or table.resolve(name)


def fallback_candidates(name: str) -> list[str]:
    """A name whose host is unknown: as it is, then as each host that lists it sells it."""
    n = name.strip().lower()
    out = [n, _DATE_SUFFIX.sub("", n)]
    out += [p + n for p in dict.fromkeys(GATEWAYS.values()) if p]
    return out


def name_candidates(name: str) -> list[str]:
    """The names to look up for a logged model string, most specific first (no host given)."""
    known, out = host_candidates(name)
    return out if known is not None else [*out, *fallback_candidates(name)]


# ---------------------------------------------------------------- loading


def _line_of(text: str, pattern: str, start: int = 0) -> int:
    """1-based line of the first line matching `pattern` at or after line `start` (0 when absent)."""
    rx = re.compile(pattern)
    for i, line in enumerate(text.splitlines()[start:], start=start + 1):
        if rx.search(line):
            return i
    return 0


def _fail(
    path: Path,
    text: str,
    message: str,
    *,
    model: str | None = None,
    key: str | None = None,
    version: int = 0,
) -> PricingError:
    line = 0
    if model is not None:
        line = _line_of(text, rf'^\s*id\s*=\s*"{re.escape(model)}"')
        for _ in range(
            version
        ):  # the key is in the version-th [[models.prices]] after the id, not the first
            line = _line_of(text, r"^\s*\[\[models\.prices\]\]", line) or line
        if key is not None:
            line = _line_of(text, rf"^\s*{re.escape(key)}\s*=", max(line - 1, 0)) or line
    where = f"{path} line {line}" if line else str(path)
    return PricingError(
        f"cannot read prices: {where}: {message}", hint="see pricing/README.md for the format"
    )


def _rate(value: Any, path: Path, text: str, model: str, key: str, version: int = 0) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise _fail(
            path,
            text,
            f"{model}: '{key}' must be a number, got {value!r}",
            model=model,
            key=key,
            version=version,
        )
    rate = Decimal(value)
    if not rate.is_finite() or rate > MAX_RATE:
        raise _fail(
            path,
            text,
            f"{model}: '{key}' = {value} is not a price (USD per 1M tokens, at most {MAX_RATE})",
            model=model,
            key=key,
            version=version,
        )
    if rate < 0:
        raise _fail(
            path,
            text,
            f"{model}: '{key}' must not be negative",
            model=model,
            key=key,
            version=version,
        )
    return rate


def _version(
    raw: dict[str, Any], path: Path, text: str, model: str, label: str, version: int = 0
) -> PriceVersion:
    """One [[models.prices]] entry; `version` (1-based) lets an error point at its own lines."""
    unknown = set(raw) - PRICE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(
            path,
            text,
            f"{model}: unknown key '{key}' in a price",
            model=model,
            version=version,
            key=key,
        )
    eff = raw.get("effective_from")
    if isinstance(eff, datetime):
        eff = eff.date()
    if not isinstance(eff, date):
        raise _fail(path, text, f"{model}: 'effective_from' must be a date such as 2025-10-15",
                    model=model, version=version, key="effective_from")  # fmt: skip
    for key in ("input", "output"):
        if key not in raw:
            raise _fail(path, text, f"{model}: a price needs '{key}'", model=model, version=version)
    rates = {k: _rate(raw[k], path, text, model, k, version) for k in RATE_KEYS if k in raw}
    fallbacks = tuple(k for k in CACHE_KEYS if k not in rates)
    for key in fallbacks:
        rates[key] = rates["input"]
    discount = _rate(raw.get("batch_discount", 0), path, text, model, "batch_discount", version)
    if discount > 1:
        raise _fail(path, text, f"{model}: 'batch_discount' is a fraction from 0 to 1",
                    model=model, version=version, key="batch_discount")  # fmt: skip
    threshold = raw.get("long_context_threshold")
    longs: dict[str, Decimal | None] = {k: None for k in (*LONG_KEYS, "long_cache_write_1h")}
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold <= 0:
            raise _fail(path, text, f"{model}: 'long_context_threshold' must be a whole number of tokens",
                        model=model, version=version, key="long_context_threshold")  # fmt: skip
        for key in ("long_input", "long_output"):
            if key not in raw:
                raise _fail(
                    path,
                    text,
                    f"{model}: a long-context tier needs '{key}'",
                    model=model,
                    version=version,
                )
            longs[key] = _rate(raw[key], path, text, model, key, version)
        scale = longs["long_input"] / rates["input"] if rates["input"] else Decimal(1)  # type: ignore[operator]
        for key, base in (("long_cache_read", "cache_read"), ("long_cache_write", "cache_write")):
            longs[key] = (
                _rate(raw[key], path, text, model, key, version)
                if key in raw
                else (rates[base] * scale).quantize(Q)
            )
        longs["long_cache_write_1h"] = (rates["cache_write_1h"] * scale).quantize(Q)
    elif any(k in raw for k in LONG_KEYS):
        raise _fail(
            path,
            text,
            f"{model}: long_* rates need 'long_context_threshold'",
            model=model,
            version=version,
        )
    return PriceVersion(
        effective_from=eff, batch_discount=discount, long_context_threshold=threshold, fallbacks=fallbacks,
        source=label, **rates, **longs,  # type: ignore[arg-type]
    )  # fmt: skip


def _read_file(
    path: Path, label: str, *, overlay: bool, known: dict[str, str] | None = None
) -> tuple[list[Model], bytes]:
    """The models of one price file; `known` is the index so far (an overlay may extend its models)."""
    known = known or {}
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise PricingError(
            f"cannot read prices: {path}: {exc.strerror}", hint="check the --pricing path"
        ) from None
    text = blob.decode("utf-8", errors="replace")
    try:
        doc = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PricingError(
            f"cannot read prices: {path}: {exc}", hint="fix the TOML syntax; see pricing/README.md"
        ) from None
    provider = doc.get("provider")
    if provider is None and not overlay:
        raise _fail(path, text, "missing 'provider = \"...\"' at the top")
    raw_models = doc.get("models", [])
    if not isinstance(raw_models, list):
        raise _fail(path, text, "'models' must be an array of tables ([[models]])")
    models = []
    for raw in raw_models:
        model_id = raw.get("id")
        if not isinstance(model_id, str) or not model_id:
            raise _fail(path, text, "a [[models]] entry has no 'id'")
        unknown = set(raw) - MODEL_KEYS
        if unknown:
            key = sorted(unknown)[0]
            raise _fail(path, text, f"{model_id}: unknown key '{key}'", model=model_id, key=key)
        tier = raw.get("tier")
        if tier is not None and tier not in TIERS:
            raise _fail(
                path,
                text,
                f"{model_id}: tier must be one of {', '.join(TIERS)}",
                model=model_id,
                key="tier",
            )
        prices = raw.get("prices", [])
        if not prices and not overlay:
            raise _fail(path, text, f"{model_id}: no [[models.prices]]", model=model_id)
        if not prices and overlay and model_id.lower() not in known:
            raise _fail(path, text, f"{model_id}: no [[models.prices]] (a new model needs a price)",
                        model=model_id)  # fmt: skip
        versions = [
            _version(p, path, text, model_id, label, i) for i, p in enumerate(prices, start=1)
        ]
        dates = [v.effective_from for v in versions]
        for i, d in enumerate(dates):
            if d in dates[:i]:
                raise _fail(path, text, f"{model_id}: two prices from {d}; give each date once",
                            model=model_id, key="effective_from", version=i + 1)  # fmt: skip
        replaces = raw.get("replaces", [])
        replaces = [replaces] if isinstance(replaces, str) else replaces
        if not isinstance(replaces, list) or not all(isinstance(r, str) for r in replaces):
            raise _fail(path, text, f"{model_id}: replaces must be a name or a list of names",
                        model=model_id, key="replaces")  # fmt: skip
        aliases = raw.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise _fail(
                path,
                text,
                f"{model_id}: aliases must be a list of strings",
                model=model_id,
                key="aliases",
            )
        models.append(
            Model(
                id=model_id,
                provider=str(raw.get("provider", provider or "custom")),
                tier=tier,
                aliases=list(aliases),
                versions=versions,
                files=[label],
                replaces=[r.lower() for r in replaces],
            )
        )
    return models, blob


def _toml_files(path: Path, *, bundled: bool = False) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.toml") if p.is_file())
        if bundled:  # the importer's inputs live beside the table; they are not price files
            files = [
                p
                for p in files
                if p.name != "overrides.toml" and "sources" not in p.relative_to(path).parts
            ]
        return files
    if path.is_file():
        return [path]
    raise PricingError(
        f"cannot read prices: {path} does not exist", hint="check the --pricing path"
    )


def _cache_path(digest: str) -> Path | None:
    root = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(root) / "llmcost" / f"prices-{digest[:32]}.pickle"


def _load_bundled(base: Path) -> tuple[PriceTable, list[tuple[str, bytes]]]:
    """The bundled table, parsed once per content and kept in the user's cache (parsing ~2,300
    models costs ~0.5 s; unpickling them a few ms)."""
    files = _toml_files(base, bundled=True)
    blobs = []
    for p in files:
        try:
            blobs.append((f"pricing/{p.relative_to(base)}", p.read_bytes()))
        except OSError as exc:
            raise PricingError(f"cannot read prices: {p}: {exc.strerror}") from None
    key = hashlib.sha256(f"llmcost-prices\0{__version__}\0{CACHE_FORMAT}\0".encode())
    for label, blob in blobs:
        key.update(label.encode() + b"\0" + hashlib.sha256(blob).digest())
    cache = _cache_path(key.hexdigest())
    if cache is not None:
        try:
            with cache.open("rb") as f:
                table = pickle.load(f)
            if isinstance(table, PriceTable):
                return table, blobs
        except Exception:  # a missing, stale or unreadable cache is rebuilt
            pass
    table = PriceTable(models={}, files=[], sha256="")
    for (label, _), path in zip(blobs, files, strict=True):
        models, _ = _read_file(path, label, overlay=False)
        for model in models:
            _merge(table, model, path, False)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as f:
                pickle.dump(table, f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(cache)
        except OSError:
            pass
    return table, blobs


def load(overlays: list[Path] | None = None, *, bundled: Path | None = None) -> PriceTable:
    """The bundled table with the overlays applied in order (later files win)."""
    base = bundled or bundled_pricing_dir()
    table, blobs = _load_bundled(base)
    digest = hashlib.sha256()
    files: list[str] = []
    for label, blob in blobs:
        digest.update(label.encode() + b"\0" + hashlib.sha256(blob).digest())
        files.append(label)
    table.files = files
    for overlay in overlays or []:
        for path in _toml_files(overlay):
            models, blob = _read_file(path, str(path), overlay=True, known=table.index)
            digest.update(str(path).encode() + b"\0" + hashlib.sha256(blob).digest())
            files.append(str(path))
            for model in models:
                _merge(table, model, path, True)
    for model in table.models.values():
        model.versions.sort(key=lambda v: v.effective_from)
    table.sha256 = digest.hexdigest()
    return table


def _merge(table: PriceTable, model: Model, path: Path, overlay: bool) -> None:
    existing_id = table.index.get(model.id.lower())
    if existing_id is not None and overlay and existing_id.lower() != model.id.lower():
        if model.id.lower() not in model.replaces:  # the overlay's id is a bundled model's alias
            raise PricingError(
                f"cannot read prices: {path}: {model.id} is an alias of {existing_id} in the bundled table",
                hint=f'add replaces = "{model.id}" to the model to take the name over, or use id = "{existing_id}"',
            )
        existing_id = None
    if existing_id is None:
        for alias in model.aliases:
            owner = table.index.get(alias.lower())
            if owner is not None and not (overlay and alias.lower() in model.replaces):
                raise PricingError(
                    f"cannot read prices: {path}: alias '{alias}' of {model.id} is already used by {owner}",
                    hint=f'aliases must be unique across price files; add replaces = "{alias}" to take it over'
                    if overlay
                    else "aliases must be unique across price files",
                )
        if model.tier is None and not overlay:
            raise PricingError(f"cannot read prices: {path}: {model.id} has no tier")
        table.models[model.id] = model
        for name in [model.id, *model.aliases]:
            table.index[name.lower()] = model.id
        return
    if not overlay:
        raise PricingError(
            f"cannot read prices: {path}: model {model.id} is defined twice",
            hint="merge the two entries",
        )
    # An overlay on a known model: a version with the same effective_from replaces the bundled one.
    target = table.models[existing_id]
    by_date = {v.effective_from: v for v in target.versions}
    for v in model.versions:
        by_date[v.effective_from] = v
    target.versions = list(by_date.values())
    target.tier = model.tier or target.tier
    target.files.append(model.files[0])
    target.replaces += [r for r in model.replaces if r not in target.replaces]
    for alias in model.aliases:
        owner = table.index.get(alias.lower())
        if owner is not None and owner != target.id and alias.lower() not in model.replaces:
            raise PricingError(
                f"cannot read prices: {path}: alias '{alias}' of {model.id} is already used by {owner}",
                hint=f'add replaces = "{alias}" to the model to take the name over',
            )
        if alias not in target.aliases:
            target.aliases.append(alias)
        table.index[alias.lower()] = target.id


# ---------------------------------------------------------------- SQL

PRICE_COLUMNS = """
    model VARCHAR, model_id VARCHAR, price_provider VARCHAR, tier VARCHAR,
    valid_from TIMESTAMP, valid_to TIMESTAMP,
    r_input DECIMAL(18,9), r_output DECIMAL(18,9), r_cache_read DECIMAL(18,9),
    r_cache_write DECIMAL(18,9), r_cache_write_1h DECIMAL(18,9), batch_factor DECIMAL(10,9),
    long_threshold BIGINT, l_input DECIMAL(18,9), l_output DECIMAL(18,9), l_cache_read DECIMAL(18,9),
    l_cache_write DECIMAL(18,9), l_cache_write_1h DECIMAL(18,9), host VARCHAR, fallback BOOLEAN
"""
# a price row is keyed by (logged model name, host): `host` is the request's provider, '' when it has none,
# so a join matches `p.model = r.model AND p.host = coalesce(r.provider, '')` (SPEC §4)
PRICE_MARKS = ", ".join("?" * 20)
FAR_FUTURE = datetime(9999, 1, 1)


def price_rows(
    table: PriceTable, keys: list[tuple[str, str]], *, as_model: Model | None = None
) -> list[tuple[Any, ...]]:
    """One row per (logged model name, host, price version), each valid over [valid_from, valid_to).
    `keys` are (name, host) pairs, host the request's provider or '': the name is priced at that host's
    price (`resolve_how`), `fallback` true when no host is known and another host's price is borrowed.

    With `as_model`, every name is priced as that model, its first version reaching back to the
    beginning of time (what-if routing to a model that did not exist yet uses its earliest price).
    """
    rows = []
    for name, host in keys:
        model: Model | None = as_model
        how = "host"
        if as_model is None:
            model, how = table.resolve_how(name, host or None)
        if model is None:
            continue
        versions = model.versions
        for i, v in enumerate(versions):
            start = datetime.combine(v.effective_from, datetime.min.time())
            if as_model is not None and i == 0:
                start = datetime(1, 1, 1)
            end = (
                datetime.combine(versions[i + 1].effective_from, datetime.min.time())
                if i + 1 < len(versions)
                else FAR_FUTURE
            )
            rows.append(
                (
                    name,
                    model.id,
                    model.provider,
                    model.tier,
                    start,
                    end,
                    v.input,
                    v.output,
                    v.cache_read,
                    v.cache_write,
                    v.cache_write_1h,
                    1 - v.batch_discount,
                    v.long_context_threshold,
                    v.long_input,
                    v.long_output,
                    v.long_cache_read,
                    v.long_cache_write,
                    v.long_cache_write_1h,
                    host,
                    how == "fallback",
                )
            )
    return rows


def register(
    con: Any,
    table: PriceTable,
    name: str = "lc_prices",
    *,
    as_model: Model | None = None,
    keys: list[tuple[str, str]] | None = None,
) -> None:
    """A temp table of price rows for every (model name, provider) in the requests table (`keys`, when
    the caller already knows them)."""
    if keys is None:
        keys = request_keys(con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({PRICE_COLUMNS})")
    rows = price_rows(table, keys, as_model=as_model)
    if rows:
        con.executemany(f"INSERT INTO {name} VALUES ({PRICE_MARKS})", rows)


def request_keys(con: Any, source: str = "requests") -> list[tuple[str, str]]:
    """The distinct (model, provider or '') of `source`: the keys its price rows are looked up by."""
    sql = f"SELECT DISTINCT model, coalesce(provider, '') FROM {source} WHERE model IS NOT NULL"
    return [(m, h) for m, h in con.execute(sql).fetchall()]


def _rate_sql(rate: str, p: str, r: str) -> str:
    return f"CASE WHEN {p}.long_threshold IS NOT NULL AND {r}.input_tokens > {p}.long_threshold THEN {p}.l_{rate} ELSE {p}.r_{rate} END"


def cost_sql(r: str = "r", p: str = "p") -> str:
    """SPEC §4 as a SQL expression: the list cost of request `r` at price row `p` (NULL when unpriced),
    before a semantic-cache hit zeroes it. DECIMAL throughout: exact to the token."""
    return f"""(CASE WHEN {p}.model_id IS NULL THEN NULL ELSE
        CAST(( ({r}.input_tokens - {r}.cache_read_tokens - {r}.cache_write_tokens - {r}.cache_write_1h_tokens) * {_rate_sql("input", p, r)}
             + {r}.cache_read_tokens * {_rate_sql("cache_read", p, r)}
             + {r}.cache_write_tokens * {_rate_sql("cache_write", p, r)}
             + {r}.cache_write_1h_tokens * {_rate_sql("cache_write_1h", p, r)}
             + {r}.output_tokens * {_rate_sql("output", p, r)} ) AS DECIMAL(38,9))
        * CASE WHEN {r}.batch THEN {p}.batch_factor ELSE 1 END
        * CAST(0.000001 AS DECIMAL(7,6))
    END)"""


def cost_usd_sql(r: str = "r", p: str = "p") -> str:
    """What the request cost: the list cost, 0 for a semantic-cache hit, NULL when unpriced."""
    return f"""CASE WHEN {p}.model_id IS NULL THEN NULL WHEN {r}.cache_hit THEN CAST(0 AS DECIMAL(38,24))
                    ELSE {cost_sql(r, p)} END"""


def priced_view_sql(source: str = "requests", prices: str = "lc_prices") -> str:
    """Every request with its price row: `list_cost_usd` (what the tokens cost at list price) and
    `cost_usd` (0 for a semantic-cache hit; NULL when unpriced)."""
    return f"""
        SELECT r.*, p.model_id AS price_model, p.price_provider, p.tier,
               {cost_sql()} AS list_cost_usd,
               {cost_usd_sql()} AS cost_usd
        FROM {source} r
        LEFT JOIN {prices} p ON p.model = r.model AND p.host = coalesce(r.provider, '')
                            AND r.ts >= p.valid_from AND r.ts < p.valid_to
    """


# ---------------------------------------------------------------- exact costs, fast
#
# DECIMAL(38,24) costs are 128-bit integers: computing one per request, and casting it to DOUBLE for a
# percentile (~0.5 us a value), was most of a report's time. The same exact numbers come from integer
# "units" of 0.5e-15 USD: a cost is N x f / 1e15 USD with N = sum(tokens x rate x 1e9) an integer and
# f the batch factor. While every term is >= 0, N < 2^52 (a cost under $4.5) and f is 0, 0.5 or 1,
# float arithmetic on N is exact and the units N x 2f are an integer below 2^53 (a BIGINT, an exact
# DOUBLE). Then
#   sum(cost)           = sum(units) x 5e-16, exactly (a DECIMAL(38,24) again, see sum_cost_sql);
#   CAST(cost AS DOUBLE) = units / 2e15, one IEEE division of exact operands: the correctly rounded
#                          value, as DuckDB's cast gives it.
# A priced request outside that range has NULL units and its exact DECIMAL cost in `cost_exact`.
UNIT_ROW_LIMIT = 2**52
UNITS_PER_USD_D = "2e15"  # 2^16 x 5^15: exact as a DOUBLE
USD_PER_UNIT = "CAST('0.0000000000000005' AS DECIMAL(16,16))"


def register_units(con: Any, prices: str = "lc_prices", name: str = "lc_prices_u") -> None:
    """`prices` plus each rate x 1e9 as an (exact, integral) DOUBLE, and 2 x the batch factor when integral."""
    rates = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
    cols = ", ".join(
        f"CAST(r_{k}::DECIMAL(38,9) * 1000000000 AS DOUBLE) AS u_{k}, CAST(l_{k}::DECIMAL(38,9) * 1000000000 AS DOUBLE) AS ul_{k}"
        for k in rates
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {name} AS SELECT *, {cols},
                   CASE WHEN batch_factor * 2 = round(batch_factor * 2) THEN CAST(batch_factor * 2 AS DOUBLE) END AS u_batch
            FROM {prices}"""
    )


def cost_units_sql(r: str = "r", p: str = "p") -> str:
    """The request's cost_usd in units of 0.5e-15 USD (BIGINT), or NULL: unpriced, or not exact this way."""

    def rate(k: str) -> str:
        return f"CASE WHEN {p}.long_threshold IS NOT NULL AND {r}.input_tokens > {p}.long_threshold THEN {p}.ul_{k} ELSE {p}.u_{k} END"

    uncached = f"({r}.input_tokens - {r}.cache_read_tokens - {r}.cache_write_tokens - {r}.cache_write_1h_tokens)"
    n = f"""({uncached} * {rate("input")} + {r}.cache_read_tokens * {rate("cache_read")}
             + {r}.cache_write_tokens * {rate("cache_write")} + {r}.cache_write_1h_tokens * {rate("cache_write_1h")}
             + {r}.output_tokens * {rate("output")})"""
    return f"""(CASE WHEN {p}.model_id IS NULL THEN NULL WHEN {r}.cache_hit THEN 0::BIGINT
        WHEN {uncached} < 0 OR least({r}.cache_read_tokens, {r}.cache_write_tokens, {r}.cache_write_1h_tokens,
                                     {r}.output_tokens) < 0 OR ({r}.batch AND {p}.u_batch IS NULL) THEN NULL
        WHEN {n} < {UNIT_ROW_LIMIT} THEN CAST({n} * CASE WHEN {r}.batch THEN {p}.u_batch ELSE 2.0 END AS BIGINT) END)"""


def sum_cost_sql(units: str, exact: str, where: str = "", *, unit: str = USD_PER_UNIT) -> str:
    """sum(cost_usd) over rows split into `units` (integral multiples of UNIT USD) and `exact` (the
    rest): the same DECIMAL(38,24), NULL when no row is priced. `where` filters the rows (an
    aggregate FILTER). The one exact cost sum; `sum_partial_cost_sql` adds up such sums."""
    f = f" FILTER (WHERE {where})" if where else ""
    return (
        f"CASE WHEN count({units}){f} + count({exact}){f} > 0 THEN CAST("
        f"coalesce(CAST(sum({units}){f} AS DECIMAL(38,0)) * {unit}, 0) + coalesce(sum({exact}){f}, 0)"
        " AS DECIMAL(38,24)) END"
    )


def sum_partial_cost_sql(units: str, n_units: str, exact: str, n_exact: str) -> str:
    """`sum_cost_sql` over partial sums (a rollup's sum of units, count of them, sum of exact costs,
    count of them): the same DECIMAL(38,24) as over the rows themselves."""
    return (
        f"CASE WHEN sum({n_units}) + sum({n_exact}) > 0 THEN CAST("
        f"coalesce(CAST(sum({units}) AS DECIMAL(38,0)) * {USD_PER_UNIT}, 0) + coalesce(sum({exact}), 0)"
        " AS DECIMAL(38,24)) END"
    )


def cost_double_sql(units: str, exact: str) -> str:
    """One row's cost_usd as DOUBLE, equal to CAST(cost_usd AS DOUBLE)."""
    return f"coalesce({units} / {UNITS_PER_USD_D}, CAST({exact} AS DOUBLE))"


def sum_double_sql(units: str, exact: str) -> str:
    """CAST(sum(cost_usd) AS DOUBLE) over the rows: integral DOUBLE units add exactly below 2^53."""
    return (
        f"CASE WHEN count({exact}) = 0 AND sum({units}::DOUBLE) < {2**53} "
        f"THEN sum({units}::DOUBLE) / {UNITS_PER_USD_D} ELSE CAST({sum_cost_sql(units, exact)} AS DOUBLE) END"
    )


def install(
    con: Any, table: PriceTable, view: str = "priced", *, keys: list[tuple[str, str]] | None = None
) -> None:
    """Register the price rows and a `priced` view over requests."""
    register(con, table, keys=keys)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {priced_view_sql()}")

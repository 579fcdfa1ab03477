"""Vendor response objects as apps log them (SPEC §2), and request logs read through a mapping.

A line may be what an SDK returned, as `response.model_dump_json()` writes it:
- an OpenAI chat completion (`object: "chat.completion"`: `created` epoch seconds, `usage`);
- an OpenAI Responses object (`object: "response"`: `created_at`; `status: "completed"` is
  success, `incomplete` / `failed` are kept as the status);
- an Anthropic Message (`type: "message"`: no time of its own, taken from a field beside it or
  the mapping; the request's `metadata.user_id` is the end user);
- a Gemini `generateContent` response (`modelVersion`, `createTime`, `responseId`, `usageMetadata`);
- an OpenAI Batch API output line (`custom_id`, `response.body`: priced as batch; a non-2xx
  `status_code` or an `error` is an error);
- any of these wrapped as `{"request": ..., "response": ...}` with the app's own fields beside
  them (canonical names and aliases), which win over the response's.
`metadata.<canonical name>` (the request's or the response's: OpenAI and Anthropic echo it)
fills a field the line does not name at the top. OpenAI's `user` (or `safety_identifier`) is
the end user, never the customer: `customer_id` falls back to it only when nothing names one.

The usage objects are handed to the canonical SQL as they are, which reads each by its keys.
A mapping (`[ingest.map]`, `ingest --map FIELD=PATH`) names where a canonical field is: a dotted
path into the line, or a quoted constant (`timestamp = '"2026-01-01T00:00:00Z"'`); it wins over
everything else. CSV request logs (`requests_csv`) are read the same way, a row as a flat record.
Text is dropped before the line is written (SPEC §3) unless `--keep-text`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from llmcost.ingest import canonical, text
from llmcost.ingest.adapters import _request_source as rs
from llmcost.ingest.formats import Format, Job, first_records, register
from llmcost.ingest.sources import Source
from llmcost.store.writes import Counts

KIND = "requests"  # the same calls as the canonical log: one dedupe scope
USAGE_KEYS = ("usage", "usageMetadata")
# Canonical fields an app may put under `metadata` (its canonical names, not the aliases: a
# vendor's metadata has keys of its own)
META_FIELDS = ("user_id", "customer_id", "feature", "task_id", "plan", "step", "request_id",
               "timestamp", "status")  # fmt: skip
CHAT_OBJECTS = {"chat.completion", "text_completion"}


# ---------------------------------------------------------------- paths and mappings


def get_path(value: Any, path: str) -> Any:
    """The value at a dotted PATH (`usage.prompt_tokens`; a key with dots of its own, such as
    `gen_ai.usage.input_tokens`, is tried whole first); None when it is not there."""
    if isinstance(value, dict) and path in value:
        return value[path]
    head, dot, rest = path.partition(".")
    while dot:
        if isinstance(value, dict) and head in value:
            found = get_path(value[head], rest)
            if found is not None:
                return found
        nxt, dot, rest = rest.partition(".")
        head = f"{head}.{nxt}"
    return value.get(path) if isinstance(value, dict) else None


def constant(path: str) -> tuple[bool, Any]:
    """(True, the value) when a mapping's PATH is a quoted constant rather than a path."""
    p = path.strip()
    if len(p) >= 2 and p[0] == p[-1] == '"':
        try:
            return True, json.loads(p)
        except ValueError:
            return True, p[1:-1]
    return False, None


def check_mapping(mapping: dict[str, str]) -> dict[str, str]:
    """The mapping, or InputError naming a field that is not canonical."""
    from llmcost.errors import InputError

    for field in mapping:
        if field not in canonical.ALIASES:
            raise InputError(
                f"cannot map {field!r}: not a canonical field",
                hint=f"map one of: {', '.join(canonical.ALIASES)}",
            )
    return mapping


def parse_mapping(items: list[str], configured: Any = None) -> dict[str, str]:
    """`[ingest.map]` (a table: field = path) overlaid by `--map FIELD=PATH` items."""
    from llmcost.errors import ConfigError, InputError

    mapping: dict[str, str] = {}
    if configured is not None:
        if not isinstance(configured, dict) or not all(
            isinstance(v, str) for v in configured.values()
        ):
            raise ConfigError(
                '[ingest.map] must be a table of field = "dotted.path"',
                hint='e.g. model = "llm.name"',
            )
        mapping.update({str(k): v for k, v in configured.items()})
    for item in items:
        field, sep, path = item.partition("=")
        if not sep or not field.strip() or not path.strip():
            raise InputError(
                f"--map {item!r}: expected FIELD=PATH", hint="e.g. --map customer_id=ctx.account"
            )
        mapping[field.strip()] = path.strip()
    return check_mapping(mapping)


# ---------------------------------------------------------------- shapes


def vendor(body: Any) -> str | None:
    """Which vendor response object BODY is, if any."""
    if not isinstance(body, dict):
        return None
    obj = body.get("object")
    if obj in CHAT_OBJECTS or (isinstance(body.get("choices"), list) and "usage" in body):
        return "openai_chat"
    if obj == "response":
        return "openai_responses"
    if body.get("type") == "message" and isinstance(body.get("usage"), dict):
        return "anthropic"
    if isinstance(body.get("usageMetadata"), dict) and (
        "modelVersion" in body or "candidates" in body or "responseId" in body
    ):
        return "gemini"
    return None


def is_batch_line(rec: dict[str, Any]) -> bool:
    response = rec.get("response")
    return "custom_id" in rec and (response is None or isinstance(response, dict))


def is_wrapper(rec: dict[str, Any]) -> bool:
    response = rec.get("response")
    if not isinstance(response, dict):
        return False
    return isinstance(rec.get("request"), dict) or vendor(response) is not None


def has_meta(rec: dict[str, Any]) -> bool:
    meta = rec.get("metadata")
    return isinstance(meta, dict) and any(k in meta for k in META_FIELDS)


def recognises(rec: Any) -> bool:
    """A record this reader is for (the canonical reader takes plain request logs)."""
    return isinstance(rec, dict) and (
        vendor(rec) is not None or is_batch_line(rec) or is_wrapper(rec) or has_meta(rec)
    )


# ---------------------------------------------------------------- one record


class Explained(dict[str, str]):
    """Where each canonical field of a record came from (for `ingest --explain`)."""


def convert_record(
    rec: Any,
    mapping: dict[str, str] | None = None,
    keep_text: bool = False,
    origin: Explained | None = None,
) -> rs.Outcome:
    """One line -> the canonical record the SQL reads (typing and judgement happen there)."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    origin = origin if origin is not None else Explained()
    fields: dict[str, Any] = {}

    def put(field: str, value: Any, where: str) -> None:
        if field not in fields and value not in (None, "", [], {}):
            fields[field] = value
            origin[field] = where

    # 1. the mapping wins
    used_top: set[str] = set()
    for field, path in (mapping or {}).items():
        is_const, value = constant(path)
        if is_const:
            put(field, value, f"constant {path}")
        else:
            value = get_path(rec, path)
            put(field, value, path)
            if value is not None and path in rec:
                used_top.add(path)

    # 2. split the line: the app's own fields, the vendor's response, the request
    batch = False
    request: dict[str, Any] = {}
    if is_batch_line(rec):
        response = rs.obj(rec.get("response"))
        body = rs.obj(response.get("body"))
        app = {k: v for k, v in rec.items() if k not in ("response", "id", "error")}
        batch = True
        status = rs.as_int(response.get("status_code"))
        if rec.get("error") or (isinstance(status, int) and status >= 400):
            put("status", "error", "error / response.status_code")
        put("request_id", body.get("id") or response.get("request_id") or rec.get("id"),
            "response.body.id")  # fmt: skip
        prefix = "response.body."
    elif is_wrapper(rec):
        body = rec["response"]
        request = rs.obj(rec.get("request"))
        app = {k: v for k, v in rec.items() if k not in ("request", "response")}
        prefix = "response."
    elif vendor(rec) is not None:
        body, app, prefix = rec, {}, ""
    else:
        body, app, prefix = {}, rec, ""
    kind = vendor(body)

    # 3. the app's fields by canonical name or alias, then its metadata
    for field, aliases in canonical.ALIASES.items():
        for alias in aliases:
            top = alias in app
            value = app[alias] if top else get_path(app, alias) if "." in alias else None
            if value not in (None, ""):
                put(field, value, alias)
                if top:
                    used_top.add(alias)
                break
    metas = [("metadata", rs.obj(app.get("metadata"))),
             (f"{prefix}metadata", rs.obj(body.get("metadata"))),
             ("request.metadata", rs.obj(request.get("metadata")))]  # fmt: skip
    for where, meta in metas:
        for field in META_FIELDS:
            put(field, meta.get(field), f"{where}.{field}")

    # 4. what the vendor's object says
    if kind is not None:
        put("request_id", body.get("id") or body.get("responseId"),
            prefix + ("responseId" if kind == "gemini" else "id"))  # fmt: skip
        stamp = {"openai_chat": "created", "openai_responses": "created_at", "gemini": "createTime"}
        if kind in stamp:
            put("timestamp", body.get(stamp[kind]), prefix + stamp[kind])
        model_key = "modelVersion" if kind == "gemini" else "model"
        put("model", body.get(model_key) or request.get("model"), prefix + model_key)
        for where, src in ((prefix, body), ("request.", request)):
            put("user_id", src.get("user") or src.get("safety_identifier"), f"{where}user")
        if kind == "openai_responses":
            state = str(body.get("status") or "completed")
            put("status", "ok" if state == "completed" else state, prefix + "status")
        if kind == "anthropic" and body.get("type") == "error":
            put("status", "error", prefix + "type")
    if kind == "anthropic" and "timestamp" not in fields:
        return (
            "missing timestamp: an Anthropic Message has none of its own; log one beside it"
            " or map one (--map timestamp=PATH)"
        )
    if batch:
        fields["batch"] = True
        origin["batch"] = "OpenAI Batch API output line"

    # 5. the usage object, as it is (the SQL reads it by its keys)
    out: dict[str, Any] = dict(fields)
    if not any(f in fields for f in ("input_tokens", "output_tokens")):
        for key in USAGE_KEYS:
            for where, src in ((key, app), (prefix + key, body)):
                usage = src.get(key)
                if isinstance(usage, dict) and "usage" not in out and "usageMetadata" not in out:
                    out[key] = usage
                    origin["tokens"] = where
                    if key in app:
                        used_top.add(key)
        nested = rs.obj(app.get("response")).get("usage")
        if "usage" not in out and "usageMetadata" not in out and isinstance(nested, dict):
            out["usage"] = nested
            origin["tokens"] = "response.usage"

    if keep_text:
        prompt, answer = _texts(rec, request, body)
        if prompt:
            out["prompt"] = prompt
        if answer:
            out["completion"] = answer

    # 6. everything else is kept (attrs), its text dropped
    extras: dict[str, Any] = {
        k: v for k, v in app.items() if k not in used_top and k not in ("metadata",)
    }
    meta_rest = {k: v for k, v in rs.obj(app.get("metadata")).items() if k not in META_FIELDS}
    if meta_rest:
        extras["metadata"] = meta_rest
    for k, v in body.items():
        if k not in ("usage", "usageMetadata", "metadata", "id", "responseId", "created",
                     "created_at", "createTime", "model", "modelVersion", "user", "status"):  # fmt: skip
            extras.setdefault(k, v)
    if request:  # the request's parameters (temperature, max_tokens...), its messages dropped below
        extras.setdefault("request", {k: v for k, v in request.items() if k != "metadata"})
    if not keep_text:
        extras = text.scrub(extras, drop=True)[0]
    return rs.canonical_record(out, extras, "app")


def _texts(rec: dict[str, Any], request: dict[str, Any], body: dict[str, Any]) -> tuple[str, str]:
    """The prompt and the answer as text, for --keep-text."""
    prompt_parts = [
        request.get(k) or rec.get(k)
        for k in ("system", "instructions", "messages", "input", "contents", "prompt")
    ]
    if body.get("instructions"):
        prompt_parts.append(body["instructions"])
    prompt = "\n".join(
        p if isinstance(p, str) else json.dumps(p, ensure_ascii=False) for p in prompt_parts if p
    )
    answers: list[str] = []

    def collect(v: Any) -> None:
        if isinstance(v, dict):
            for k in ("content", "text", "output_text"):
                if isinstance(v.get(k), str):
                    answers.append(v[k])
            for child in v.values():
                if isinstance(child, (dict, list)):
                    collect(child)
        elif isinstance(v, list):
            for child in v:
                collect(child)

    for key in ("choices", "output", "content", "candidates"):
        collect(body.get(key))
    return prompt, "\n".join(answers)


# ---------------------------------------------------------------- loading


def _convert(job: Job) -> Callable[[Any], list[tuple[str | None, rs.Outcome]]]:
    mapping = job.mapping

    def convert(value: Any) -> list[tuple[str | None, rs.Outcome]]:
        return rs.one(convert_record(value, mapping, job.keep_text))

    return convert


def load(job: Job) -> Counts:
    records = rs.json_records(job, lambda d: d if isinstance(d, list) else [d])
    return rs.load_records(job, KIND, records, _convert(job))


def load_csv(job: Job) -> Counts:
    records = rs.csv_records(job)
    if not job.keep_text:
        records = _scrub_csv(records)
    cells = _convert(job)

    def convert(row: Any) -> list[tuple[str | None, rs.Outcome]]:
        if not isinstance(row, dict):
            return rs.one("not a CSV row")
        return cells({k: v for k, v in row.items() if v is not None and v.strip() != ""})

    return rs.load_records(job, KIND, records, convert)


def _scrub_csv(records: Iterable[rs.Record]) -> Iterator[rs.Record]:
    """CSV rows whose kept text (for a reject) has the text cells replaced by markers."""
    import csv
    import io

    for line_no, raw, row, error in records:
        if isinstance(row, dict) and any(text.is_text(k, v) and v for k, v in row.items()):
            buf = io.StringIO()
            clean = [text.marker(len(v)) if text.is_text(k, v) and v else v for k, v in row.items()]
            csv.writer(buf, lineterminator="").writerow(clean)
            raw = buf.getvalue()
            row = {k: v for k, v in row.items() if not text.is_text(k, v)}
        yield line_no, raw, row, error


def sniff(head: bytes, source: Source) -> bool:
    records = first_records(head)
    return any(recognises(r) for r in records)


MODEL_COLUMNS = {"model", "model_id"}
TOKEN_COLUMNS = {"input_tokens", "prompt_tokens", "output_tokens", "completion_tokens"}


def sniff_csv(head: bytes, source: Source) -> bool:
    header = {h.lower() for h in rs.csv_header(head)}
    return bool(header & MODEL_COLUMNS) and bool(header & TOKEN_COLUMNS)


FORMAT = register(
    Format(
        name="sdk",
        kind=KIND,
        description="raw SDK responses (OpenAI chat/Responses, Anthropic Message, Gemini, OpenAI Batch output), {request, response} wrappers, metadata.* names",
        sniff=sniff,
        load=load,
        priority=850,
    )
)
CSV_FORMAT = register(
    Format(
        name="requests_csv",
        kind=KIND,
        description="request log as CSV with a header (canonical column names and aliases, or --map)",
        sniff=sniff_csv,
        load=load_csv,
        priority=860,
    )
)

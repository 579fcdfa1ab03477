"""The canonical request log (SPEC §2): JSON lines -> typed rows, judged line by line, in SQL.

Each line is parsed once by DuckDB's JSON reader (`json_extract` with a list of paths). Aliases
are coalesced in the order SPEC §2 lists them; nested vendor `usage` objects are read with their
own vendor's token semantics, chosen by their keys. A line that fails a check gets a reason and
goes to `rejects`; nothing is dropped.
"""

from __future__ import annotations

import json
import weakref
from functools import lru_cache
from typing import Any

from llmcost.ingest import text as _text
from llmcost.store.sql import ident, literal

# Canonical field -> the JSON paths that may carry it, first match wins.
ALIASES: dict[str, list[str]] = {
    "request_id": ["request_id", "id", "generation_id"],
    "timestamp": ["timestamp", "ts", "created_at", "start_time"],
    "provider": ["provider", "gen_ai.provider.name", "gen_ai.system"],
    "model": ["model", "model_id", "gen_ai.response.model", "gen_ai.request.model"],
    "user_id": ["user_id", "user", "end_user"],
    "customer_id": ["customer_id", "workspace_id", "org_id", "tenant_id", "account_id"],
    "feature": ["feature", "feature_id", "tag"],
    "task_id": ["task_id", "trace_id", "session_id", "conversation_id", "run_id"],
    "step": ["step"],
    "plan": ["plan", "user_tier", "plan_tier"],
    "input_tokens": ["input_tokens", "prompt_tokens"],
    "cache_read_tokens": [
        "cache_read_tokens",
        "cached_tokens",
        "prompt_tokens_details.cached_tokens",
    ],
    "cache_write_tokens": ["cache_write_tokens"],
    "cache_write_1h_tokens": ["cache_write_1h_tokens"],
    "output_tokens": ["output_tokens", "completion_tokens"],
    "reasoning_tokens": ["reasoning_tokens", "completion_tokens_details.reasoning_tokens"],
    "cache_hit": ["cache_hit", "semantic_cache_hit"],
    "batch": ["batch"],
    "status": ["status"],
    "latency_ms": ["latency_ms"],
    "cost_usd": ["cost_usd", "cost", "spend"],
}
# Objects read with their vendor's semantics; and text fields (kept only with --keep-text).
NESTED = ["usage", "usageMetadata", "response.usage"]
# A line nested deeper than this is rejected (Python's own JSON reader, which some formats use,
# gives up near 1000 levels; no log needs more than a few dozen).
MAX_DEPTH = 256
TEXT_FIELDS = {
    "prompt": ["prompt", "messages", "input_text"],
    "response": ["completion", "output_text"],
}
TEXT_KEYS = frozenset(p for ps in TEXT_FIELDS.values() for p in ps)
# Other keys whose values are prompt or response text (choices, content, candidates...): left
# out of attrs without --keep-text (SPEC §3), at the top level and inside CONTAINERS objects.
OTHER_TEXT_KEYS = _text.TEXT_KEYS - TEXT_KEYS
CONTAINERS = tuple(sorted(_text.CONTAINER_KEYS))

# Fields whose value is text: a JSON string as its text, any other value as its JSON text.
STRING_FIELDS = [
    "request_id",
    "timestamp",
    "provider",
    "model",
    "user_id",
    "customer_id",
    "feature",
    "task_id",
    "plan",
    "status",
]
# Top-level keys that carry a string field: a reader may give them as text already (`direct`).
STRING_KEYS = frozenset(p for f in STRING_FIELDS for p in ALIASES[f])

INT_FIELDS = [
    "step",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
]
BOOL_FIELDS = ["cache_hit", "batch"]
NUM_FIELDS = ["latency_ms", "cost_usd"]

# Keys of a nested usage object, by vendor (SPEC §2).
USAGE_PATHS = [
    "input_tokens",  # 1
    "prompt_tokens",  # 2
    "output_tokens",  # 3
    "completion_tokens",  # 4
    "cache_read_input_tokens",  # 5  Anthropic
    "cache_creation_input_tokens",  # 6  Anthropic
    "cache_creation.ephemeral_5m_input_tokens",  # 7
    "cache_creation.ephemeral_1h_input_tokens",  # 8
    "prompt_tokens_details.cached_tokens",  # 9  OpenAI chat
    "input_tokens_details.cached_tokens",  # 10 OpenAI responses
    "prompt_tokens_details.cache_write_tokens",  # 11
    "input_tokens_details.cache_write_tokens",  # 12
    "completion_tokens_details.reasoning_tokens",  # 13
    "output_tokens_details.reasoning_tokens",  # 14
    "cache_creation",  # 15 (presence marks Anthropic)
    "promptTokenCount",  # 16 Gemini
    "cachedContentTokenCount",  # 17
    "candidatesTokenCount",  # 18
    "thoughtsTokenCount",  # 19
    "toolUsePromptTokenCount",  # 20
]


def _path(key: str) -> str:
    """A JSON path; dotted canonical keys (`gen_ai.system`) are literal keys at the top level."""
    if key.startswith("gen_ai."):
        return f'$."{key}"'
    return "$." + ".".join(f'"{part}"' for part in key.split("."))


def _top_keys() -> list[str]:
    keys: list[str] = []
    for paths in ALIASES.values():
        keys.extend(paths)
    keys.extend(NESTED)
    for paths in TEXT_FIELDS.values():
        keys.extend(paths)
    return keys


PATHS = _top_keys()
INDEX = {key: i + 1 for i, key in enumerate(PATHS)}  # DuckDB lists are 1-based

# Top-level keys a line may carry that are mapped to columns (removed from attrs). Nested usage
# objects stay in attrs too: their vendor-specific extras (server tool use...) are not mapped.
MAPPED_TOP = sorted(
    {p.split(".")[0] if not p.startswith("gen_ai.") else p for ps in ALIASES.values() for p in ps}
    | TEXT_KEYS
)

MACROS = r"""
CREATE OR REPLACE TEMP MACRO lc_present(j) AS (j IS NOT NULL AND j <> 'null');
CREATE OR REPLACE TEMP MACRO lc_str(j) AS (
    CASE WHEN j IS NULL OR j = 'null' THEN NULL
         -- a JSON string without escapes is its own text between the quotes; no need to parse it
         WHEN left(j, 1) = '"' AND NOT contains(j, '\') THEN substr(j, 2, length(j) - 2)
         WHEN left(j, 1) = '"' THEN json_extract_string(j, '$')
         ELSE j END);
CREATE OR REPLACE TEMP MACRO lc_unq(j) AS (CASE WHEN left(j, 1) = '"' THEN substr(j, 2, length(j) - 2) ELSE j END);
-- TRY_CAST('1.5' AS BIGINT) rounds to 2: a value with a '.' or an exponent must be integral (100.0, 1e3)
CREATE OR REPLACE TEMP MACRO lc_int_s(s) AS (
    CASE WHEN contains(s, '.') OR contains(s, 'e') OR contains(s, 'E')
         THEN CASE WHEN TRY_CAST(s AS DOUBLE) = trunc(TRY_CAST(s AS DOUBLE)) AND abs(TRY_CAST(s AS DOUBLE)) < 1e15
                   THEN TRY_CAST(TRY_CAST(s AS DOUBLE) AS BIGINT) END
         -- at most 15 characters: below 10^15, so that no sum of counts can overflow
         WHEN strlen(s) < 16 THEN TRY_CAST(s AS BIGINT) END);
CREATE OR REPLACE TEMP MACRO lc_int(j) AS (lc_int_s(lc_unq(j)));
CREATE OR REPLACE TEMP MACRO lc_num(j) AS (TRY_CAST(lc_unq(j) AS DOUBLE));
CREATE OR REPLACE TEMP MACRO lc_bad_num(j) AS (CASE WHEN lc_present(j) THEN TRY_CAST(lc_unq(j) AS DOUBLE) IS NULL ELSE false END);
-- a simple CASE, not IN lists: DuckDB plans an IN list over a column as a join
CREATE OR REPLACE TEMP MACRO lc_bool(j) AS (
    CASE j WHEN 'true' THEN true WHEN '1' THEN true WHEN '"true"' THEN true WHEN '"1"' THEN true
           WHEN '"yes"' THEN true WHEN '"True"' THEN true WHEN '"TRUE"' THEN true
           WHEN 'false' THEN false WHEN '0' THEN false WHEN '"false"' THEN false WHEN '"0"' THEN false
           WHEN '"no"' THEN false WHEN '"False"' THEN false WHEN '"FALSE"' THEN false END);
CREATE OR REPLACE TEMP MACRO lc_epoch(b) AS (
    CASE WHEN abs(b) < 100000000000 THEN make_timestamp(b * 1000000)
         WHEN abs(b) < 100000000000000 THEN make_timestamp(b * 1000)
         WHEN abs(b) < 100000000000000000 THEN make_timestamp(b)
         ELSE make_timestamp(b // 1000) END);
CREATE OR REPLACE TEMP MACRO lc_epoch_frac(d) AS (
    CASE WHEN abs(d) < 100000000000 THEN make_timestamp(TRY_CAST(round(d * 1000000) AS BIGINT))
         WHEN abs(d) < 100000000000000 THEN make_timestamp(TRY_CAST(round(d * 1000) AS BIGINT))
         -- 1e25 or 1e19 fits no timestamp: NULL (a reject), not an error that stops the file
         ELSE make_timestamp(TRY_CAST(round(d) AS BIGINT)) END);
CREATE OR REPLACE TEMP MACRO lc_ts(s) AS coalesce(
    -- JavaScript's toISOString() (the commonest form): an exact format, read faster than the test
    -- below; strptime has no offset to ignore, and anything else it does not read goes on
    try_strptime(s, '%Y-%m-%dT%H:%M:%S.%gZ'),
    CASE WHEN s IS NULL THEN NULL
         -- plain UTC (or zone-less, read as UTC) RFC 3339: the TIMESTAMP cast is much cheaper than the ICU one
         WHEN regexp_full_match(s, '\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,9})?Z?') THEN TRY_CAST(s AS TIMESTAMP)
         WHEN NOT contains(s, '.') AND TRY_CAST(s AS BIGINT) IS NOT NULL THEN lc_epoch(TRY_CAST(s AS BIGINT))
         WHEN TRY_CAST(s AS DOUBLE) IS NOT NULL THEN lc_epoch_frac(TRY_CAST(s AS DOUBLE))
         -- RFC 3339 allows a lower-case t and z, which DuckDB's cast does not read
         ELSE timezone('UTC', coalesce(TRY_CAST(s AS TIMESTAMPTZ), TRY_CAST(upper(s) AS TIMESTAMPTZ))) END);
CREATE OR REPLACE TEMP MACRO lc_provider(m) AS (
    CASE WHEN m IS NULL THEN NULL
         WHEN regexp_matches(lower(m), '^((us|eu|apac|global|jp|au)\.)?(anthropic|meta|mistral|amazon|cohere|ai21|deepseek|qwen|openai)\.') THEN 'bedrock'
         WHEN regexp_matches(lower(m), '^(anthropic/)?claude') THEN 'anthropic'
         WHEN regexp_matches(lower(m), '^(openai/)?(gpt|o[1-9]|chatgpt|text-embedding|davinci|babbage|codex|computer-use)') THEN 'openai'
         WHEN regexp_matches(lower(m), '^((google|gemini|vertex_ai)/)?(gemini|gemma)') THEN 'google'
         WHEN regexp_matches(lower(m), '^(mistral/)?(mistral|mixtral|codestral|ministral|magistral|pixtral)') THEN 'mistral'
         WHEN contains(m, '/') THEN split_part(m, '/', 1)
         END);
"""


# Connections whose macros were created outside any transaction: they last as long as the
# connection. (Macros created inside a file's transaction vanish if it rolls back.)
_INSTALLED: weakref.WeakSet[Any] = weakref.WeakSet()


def install_macros(con: Any, *, outside_transaction: bool = False) -> None:
    """Create the parse macros on CON; a no-op (it costs ~10 ms a call) once they are there for good."""
    if con in _INSTALLED:
        return
    con.execute(MACROS)
    if outside_transaction:
        _INSTALLED.add(con)


def top_key(path: str) -> str:
    """The top-level key a path starts at: `prompt_tokens_details.cached_tokens` -> `prompt_tokens_details`."""
    return path if path.startswith("gen_ai.") else path.split(".")[0]


# Every top-level key the parse SQL may read; `parse_sql(present=...)` takes a subset of these.
# (and the keys whose text the parse drops: a key set without them needs no dropping)
TOP_KEYS = frozenset(top_key(p) for p in PATHS) | OTHER_TEXT_KEYS | frozenset(CONTAINERS)


@lru_cache(maxsize=256)
def parse_sql(
    source_table: str,
    keep_text: bool,
    present: frozenset[str] | None = None,
    columns: tuple[str, ...] | None = None,
    text_columns: frozenset[str] = frozenset(),
) -> str:
    """SELECT over `source_table(line_no, line, raw, pre_reason)`: one typed row per record, with `reason`.

    `line` is the canonical JSON to parse; `raw` (when not NULL) is what the source file said and
    is what a reject keeps; `pre_reason` is a rejection an adapter decided before SQL saw the line.

    `present` is the set of top-level keys (of TOP_KEYS) that occur in any line of the source;
    None means any may. The SQL is specialised to it: a key no line carries costs nothing, and
    the result is the same as with None. Cached per key set.

    SOURCE_TABLE is a table's name, or a subquery in parentheses with its alias.

    COLUMNS: the source is instead `source_table(line_no, <one JSON column per top-level key>)`,
    the lines already parsed by DuckDB's JSON reader (`ingest.direct`); COLUMNS names every key
    of the lines, `present` those of TOP_KEYS. Every line is then a JSON object, and `line` is
    NULL: the caller must not keep a reject or an id made from it (`direct` checks and falls back).
    `attrs` is built from the unmapped columns, in COLUMNS order. TEXT_COLUMNS (of STRING_KEYS)
    are columns the reader gave as text (VARCHAR: a string as its text, any other value as its
    JSON text, null as NULL), which is what the parse makes of the others.
    """
    paths = [p for p in PATHS if present is None or top_key(p) in present]
    index = {key: i + 1 for i, key in enumerate(paths)}  # DuckDB lists are 1-based

    def v(key: str) -> str | None:
        if key not in index:
            return None
        return f"v[{index[key]}]" if columns is None else _column_value(key)

    def first(field: str) -> str | None:
        """The first present alias of a field, as raw JSON text (a string field: as its text)."""
        if field in STRING_FIELDS:
            refs = [
                ident(p) if columns is not None and p in text_columns else f"lc_str({v(p)})"
                for p in ALIASES[field]
                if p in index
            ]
        else:
            # a top-level key's column is NULL for a JSON null already (the reader's doing)
            refs = [
                f"{v(p)}"
                if columns is not None and p == top_key(p)
                else f"CASE WHEN lc_present({v(p)}) THEN {v(p)} END"
                for p in ALIASES[field]
                if p in index
            ]
        if not refs:
            return None
        return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"

    fields = {f: e for f in ALIASES if (e := first(f)) is not None}

    def j(field: str) -> str:
        # a field no line carries is a constant NULL, which DuckDB folds away
        return f"j_{field}" if field in fields else "NULL::VARCHAR"

    path_list = "[" + ", ".join(f"'{_path(p)}'" for p in paths) + "]"
    usage_list = "[" + ", ".join(f"'{_path(p)}'" for p in USAGE_PATHS) + "]"
    drop_keys = [k for k in MAPPED_TOP if present is None or k in present]
    if not keep_text:
        drop_keys += sorted(
            k for k in OTHER_TEXT_KEYS - set(drop_keys) if present is None or k in present
        )
    drop_patch = "{" + ", ".join(f'"{k}": null' for k in drop_keys) + "}"

    nested_refs = [
        f"CASE WHEN left({v(n)}, 1) = '{{' THEN {v(n)} END" for n in NESTED if n in index
    ]
    has_usage = bool(nested_refs)
    has_flat = "input_tokens" in fields or "output_tokens" in fields
    if not nested_refs:
        nested = "NULL::VARCHAR"
    elif len(nested_refs) == 1:
        nested = nested_refs[0]
    else:
        nested = f"coalesce({', '.join(nested_refs)})"

    # each flat typed field is converted once (c_<field>), and judged from that: present, but
    # no value of its type
    conv: dict[str, tuple[str, str]] = {}  # field -> (conversion, what a bad value is told)
    for f in INT_FIELDS:
        conv[f] = (f"lc_int_s(s_{f})", "must be an integer")
    for f in BOOL_FIELDS:
        conv[f] = (f"lc_bool(j_{f})", "must be true or false")
    for f in NUM_FIELDS:
        conv[f] = (f"lc_num(j_{f})", "must be a number")
    conv = {f: v for f, v in conv.items() if f in fields}
    bad_checks = [
        f"WHEN c_{f} IS NULL AND lc_present(j_{f}) THEN '{f} {told}, got ' || left(j_{f}, 40)"
        if f not in INT_FIELDS
        # an integer too large to count anything (10^15 and up) is told apart from a non-integer
        else f"WHEN c_{f} IS NULL AND lc_present(j_{f}) THEN '{f} ' || CASE WHEN abs(TRY_CAST(lc_unq(j_{f}) AS DOUBLE)) BETWEEN 1e15 AND 1e308"
        f" THEN 'is out of range (below 10^15)' ELSE '{told}' END || ', got ' || left(j_{f}, 40)"
        for f, (_, told) in conv.items()
    ]
    # Infinity, -Infinity, "NaN": a number, but none that can be added up
    bad_checks += [
        f"WHEN NOT isfinite(c_{f}) THEN '{f} must be a finite number, got ' || left(j_{f}, 40)"
        for f in NUM_FIELDS
        if f in conv
    ]
    conv_cols = "".join(f", {expr} AS c_{f}" for f, (expr, _) in conv.items())
    # an integer's text unquoted a step before it is read: `lc_int_s` names it seven times, and
    # a macro's argument is planned wherever it is named
    unq_cols = "".join(f", lc_unq(j_{f}) AS s_{f}" for f in INT_FIELDS if f in conv)
    sql_type = {f: "BIGINT" for f in INT_FIELDS} | {f: "BOOLEAN" for f in BOOL_FIELDS}
    sql_type |= {f: "DOUBLE" for f in NUM_FIELDS}

    def c(field: str) -> str:
        """The field's converted value (NULL when it is absent or not of its type)."""
        return f"c_{field}" if field in conv else f"NULL::{sql_type[field]}"

    # `ui`: the usage values as integers, converted by one lambda (a macro is expanded, and
    # DuckDB plans, wherever it is named: forty `lc_int(u[i])` cost ~0.15 s to plan); a value is
    # bad where it is present and not an integer (u[15], `cache_creation`, is an object)
    u_bad = " OR ".join(
        f"(lc_present(u[{i}]) AND ui[{i}] IS NULL)"
        for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20)
    )

    if keep_text:

        def text(kind: str) -> str:
            refs = [r for p in TEXT_FIELDS[kind] if (r := v(p)) is not None]
            if not refs:
                return "NULL::VARCHAR"
            return f"lc_str({refs[0] if len(refs) == 1 else 'coalesce(' + ', '.join(refs) + ')'})"

        text_cols = f", {text('prompt')} AS prompt_text, {text('response')} AS response_text"
    else:
        text_cols = ", NULL::VARCHAR AS prompt_text, NULL::VARCHAR AS response_text"

    def by_shape(cases: dict[str, str]) -> str:
        """A CASE over the token shapes this key set allows (the others cannot occur)."""
        allowed = {"flat"} if has_flat else set()
        if has_usage:
            allowed |= {"anthropic", "gemini", "openai"}
        whens = [f"WHEN '{shape}' THEN {expr}" for shape, expr in cases.items() if shape in allowed]
        return f"CASE shape {' '.join(whens)} END" if whens else "NULL::BIGINT"

    if has_flat and has_usage:
        shape_expr = f"""CASE WHEN lc_present({j("input_tokens")}) OR lc_present({j("output_tokens")}) THEN 'flat'
             WHEN u IS NULL THEN 'none'
             WHEN lc_present(u[5]) OR lc_present(u[6]) OR lc_present(u[15]) THEN 'anthropic'
             WHEN lc_present(u[16]) OR lc_present(u[18]) THEN 'gemini'
             ELSE 'openai' END"""
    elif has_usage:
        shape_expr = """CASE WHEN u IS NULL THEN 'none'
             WHEN lc_present(u[5]) OR lc_present(u[6]) OR lc_present(u[15]) THEN 'anthropic'
             WHEN lc_present(u[16]) OR lc_present(u[18]) THEN 'gemini'
             ELSE 'openai' END"""
    elif has_flat:
        shape_expr = f"CASE WHEN lc_present({j('input_tokens')}) OR lc_present({j('output_tokens')}) THEN 'flat' ELSE 'none' END"
    else:
        shape_expr = "'none'"
    u_col = (
        f"CASE WHEN j_usage IS NOT NULL THEN CAST(json_extract(j_usage, {usage_list}) AS VARCHAR[]) END"
        if has_usage
        else "NULL::VARCHAR[]"
    )
    ui_col = (
        "CASE WHEN u IS NOT NULL THEN list_transform(u, lambda x: lc_int(x)) END"
        if has_usage
        else "NULL::BIGINT[]"
    )
    bad_usage = (
        f"CASE WHEN shape IN ('anthropic', 'gemini', 'openai') THEN ({u_bad}) ELSE false END"
        if has_usage
        else "false"
    )
    extract = f"CAST(json_extract(line, {path_list}) AS VARCHAR[])" if paths else "NULL::VARCHAR[]"
    typed_j = (
        ", ".join(f"j_{f}, c_{f}" for f in INT_FIELDS + BOOL_FIELDS + NUM_FIELDS if f in fields)
        or "NULL AS no_j"
    )
    anthropic_input = "coalesce(ui[1], 0) + coalesce(ui[5], 0) + coalesce(ui[6], ui[7] + ui[8], 0)"
    anthropic_write = (
        "CASE WHEN lc_present(u[7]) OR lc_present(u[8]) THEN coalesce(ui[7], 0) ELSE ui[6] END"
    )
    tokens = {
        "input_tokens": by_shape(
            {
                "flat": c("input_tokens"),
                "anthropic": anthropic_input,
                "gemini": "coalesce(ui[16], 0) + coalesce(ui[20], 0)",
                "openai": "coalesce(ui[2], ui[1])",
            }
        ),
        "cache_read_tokens": by_shape(
            {
                "flat": c("cache_read_tokens"),
                "anthropic": "ui[5]",
                "gemini": "ui[17]",
                "openai": "coalesce(ui[9], ui[10])",
            }
        ),
        "cache_write_tokens": by_shape(
            {
                "flat": c("cache_write_tokens"),
                "anthropic": anthropic_write,
                "openai": "coalesce(ui[11], ui[12])",
            }
        ),
        "cache_write_1h_tokens": by_shape(
            {
                "flat": c("cache_write_1h_tokens"),
                "anthropic": "ui[8]",
            }
        ),
        "output_tokens": by_shape(
            {
                "flat": c("output_tokens"),
                "anthropic": "ui[3]",
                "gemini": "coalesce(ui[18], 0) + coalesce(ui[19], 0)",
                "openai": "coalesce(ui[4], ui[3])",
            }
        ),
        "reasoning_tokens": by_shape(
            {
                "flat": c("reasoning_tokens"),
                "gemini": "ui[19]",
                "openai": "coalesce(ui[13], ui[14])",
                "anthropic": "ui[14]",
            }
        ),
    }
    f_cols = "".join(f"{expr} AS j_{name}, " for name, expr in fields.items())

    # Lines: each step is kept, so that a JSON extraction is not redone wherever its result is
    # named. Columns: nothing costly to redo, and keeping ~30 string columns costs more than it saves.
    mat = "MATERIALIZED" if columns is None else ""
    if columns is None:
        head = f"""
WITH src AS (
    SELECT line_no, line, raw, pre_reason
    FROM {source_table}
    WHERE pre_reason IS NOT NULL OR NOT regexp_full_match(line, '\\s*')
), parsed AS (
    SELECT line_no, line, raw, pre_reason, json_valid(line) AS valid,
           CASE WHEN json_valid(line) THEN json_type(line) END AS jtype
    FROM src
), ex AS MATERIALIZED (
    SELECT line_no, line, raw, pre_reason, valid, jtype,
           CASE WHEN jtype = 'OBJECT' THEN {extract} END AS v, NULL::VARCHAR AS x_attrs
    FROM parsed
)"""
        # a rejected line keeps no attrs (and an invalid one has none to merge)
        attrs = f"json_merge_patch(line, '{drop_patch}')"
        if not keep_text:  # the text inside a {"request": ..., "response": ...} goes too
            for key in [k for k in CONTAINERS if present is None or k in present]:
                patch = f'{{"{key}": {_TEXT_PATCH}}}'
                marker = _marker_sql(f"json_extract_string(line, '$.{key}')")
                whole = _marker_sql(f"CAST(json_extract(line, '$.{key}') AS VARCHAR)")
                attrs = f"""(CASE json_type(line, '$.{key}') WHEN 'OBJECT' THEN json_merge_patch({attrs}, '{patch}')
                    WHEN 'VARCHAR' THEN json_merge_patch({attrs}, json_object('{key}', {marker}))
                    WHEN 'ARRAY' THEN json_merge_patch({attrs}, json_object('{key}', {whole}))
                    ELSE {attrs} END)"""
        attrs = f"CASE WHEN reason IS NULL THEN nullif(CAST({attrs} AS VARCHAR), '{{}}') END"
    else:
        # the reader gave each key its own column: no list to build, and nothing costly to keep
        # (the CTEs below are inlined rather than materialised)
        head = f"""
WITH ex AS (
    SELECT NULL::VARCHAR AS line, NULL::VARCHAR AS raw, NULL::VARCHAR AS pre_reason,
           true AS valid, 'OBJECT' AS jtype, {_column_attrs(columns, keep_text)} AS x_attrs, *
    FROM {source_table}
)"""
        # as it is: a rejected row never reaches `requests` (`direct` stops at it), and a CASE
        # around this string costs more than building it
        attrs = "x_attrs"
    return f"""{head}, f AS {mat} (
    SELECT line_no, line, raw, pre_reason, valid, jtype, x_attrs,
           {f_cols}{nested} AS j_usage
           {text_cols}
    FROM ex
), u AS {mat} (
    SELECT *, {u_col} AS u
    FROM f
), unq AS (
    SELECT *{unq_cols}
    FROM u
), tok AS (
    SELECT *,
        -- which semantics apply to the token counts: flat canonical, Anthropic, Gemini or OpenAI usage
        {shape_expr} AS shape, {ui_col} AS ui{conv_cols}
    FROM unq
), typed AS {mat} (
    SELECT line_no, line, raw, pre_reason, valid, jtype, shape, j_usage, u, x_attrs,
        {typed_j},
        {j("request_id")} AS request_id_s,
        {j("timestamp")} AS ts_s,
        {j("provider")} AS provider_s,
        {j("model")} AS model,
        {j("user_id")} AS user_id,
        {j("customer_id")} AS customer_s,
        {j("feature")} AS feature,
        {j("task_id")} AS task_id,
        {c("step")} AS step,
        {j("plan")} AS plan,
        lower(coalesce({j("status")}, 'ok')) AS status,
        {tokens["input_tokens"]} AS input_tokens,
        {tokens["cache_read_tokens"]} AS cache_read_tokens,
        {tokens["cache_write_tokens"]} AS cache_write_tokens,
        {tokens["cache_write_1h_tokens"]} AS cache_write_1h_tokens,
        {tokens["output_tokens"]} AS output_tokens,
        {tokens["reasoning_tokens"]} AS reasoning_tokens,
        {bad_usage} AS bad_usage,
        coalesce({c("cache_hit")}, false) AS cache_hit,
        coalesce({c("batch")}, false) AS batch,
        {c("latency_ms")} AS latency_ms,
        {c("cost_usd")} AS logged_cost_usd,
        prompt_text, response_text
    FROM tok
), timed AS {mat} (
    -- ts_s once, then the conversion: lc_ts names its argument several times
    SELECT *, lc_ts(ts_s) AS ts FROM typed
), judged AS (
    SELECT *,
        CASE
            WHEN pre_reason IS NOT NULL THEN pre_reason
            WHEN NOT valid THEN 'invalid JSON'
            WHEN jtype <> 'OBJECT' THEN 'not a JSON object (got ' || lower(jtype) || ')'
            -- trim() only where the first character could be blank (it copies the string)
            WHEN CASE WHEN model IS NULL THEN true WHEN ascii(model) BETWEEN 33 AND 126 THEN false
                      ELSE trim(model, ' ' || chr(9) || chr(10) || chr(13)) = '' END THEN 'missing model'
            WHEN ts_s IS NULL THEN 'missing timestamp'
            WHEN ts IS NULL THEN 'bad timestamp: ' || left(ts_s, 40)
            WHEN NOT (ts >= TIMESTAMP '1970-01-01' AND ts < TIMESTAMP '2200-01-01')
                THEN 'timestamp out of range (1970-01-01 .. 2200-01-01): ' || left(ts_s, 40)
            {" ".join(bad_checks)}
            WHEN bad_usage THEN 'usage object has a token count that is not an integer'
            WHEN shape = 'none' THEN 'no token counts (input_tokens / output_tokens or a usage object)'
            WHEN least(coalesce(input_tokens, 0), coalesce(cache_read_tokens, 0), coalesce(cache_write_tokens, 0),
                       coalesce(cache_write_1h_tokens, 0), coalesce(output_tokens, 0), coalesce(reasoning_tokens, 0)) < 0
                THEN 'negative token count'
            WHEN coalesce(cache_read_tokens, 0) + coalesce(cache_write_tokens, 0) + coalesce(cache_write_1h_tokens, 0)
                 > coalesce(input_tokens, 0) THEN 'cache tokens exceed input_tokens (which must include them)'
            WHEN coalesce(reasoning_tokens, 0) > coalesce(output_tokens, 0) THEN 'reasoning_tokens exceed output_tokens'
            WHEN step < 0 THEN 'step must not be negative'
            WHEN step > 2147483647 THEN 'step is out of range (below 2^31)'
            WHEN latency_ms < 0 THEN 'latency_ms must not be negative'
        END AS reason
    FROM timed
)
SELECT
    line_no, CASE WHEN reason IS NOT NULL THEN regexp_replace(coalesce(raw, line), '\\r$', '') END AS line, reason,
    -- a made-up id hashes the record as parsed (no line end, BOM or spacing of its own), so that
    -- a CRLF copy makes the same ids; `made_id` lets the loader number repeated records apart
    CASE WHEN request_id_s IS NOT NULL THEN request_id_s
         WHEN raw IS NULL AND valid THEN 'md5:' || md5(CAST(json(line) AS VARCHAR))
         WHEN json_valid(raw) THEN 'md5:' || md5(CAST(json(raw) AS VARCHAR))
         ELSE 'md5:' || md5(coalesce(raw, line)) END AS request_id,
    request_id_s IS NULL AS made_id,
    ts,
    lower(coalesce(provider_s, lc_provider(model))) AS provider,
    model, user_id,
    coalesce(customer_s, user_id) AS customer_id,
    feature, task_id, TRY_CAST(step AS INTEGER) AS step, plan, status,
    coalesce(input_tokens, 0) AS input_tokens,
    coalesce(cache_read_tokens, 0) AS cache_read_tokens,
    coalesce(cache_write_tokens, 0) AS cache_write_tokens,
    coalesce(cache_write_1h_tokens, 0) AS cache_write_1h_tokens,
    coalesce(output_tokens, 0) AS output_tokens,
    coalesce(reasoning_tokens, 0) AS reasoning_tokens,
    cache_hit, batch, latency_ms, logged_cost_usd,
    false AS estimated,
    prompt_text, response_text,
    {attrs} AS attrs
FROM judged
"""


def _column_value(path: str) -> str:
    """A path's JSON text from per-key JSON columns: a top-level key is its column, a nested path
    is extracted from its top-level key's column (as `json_extract(line, path)` would)."""
    top = top_key(path)
    if path == top:
        return f"CAST({ident(top)} AS VARCHAR)"
    rest = "$." + ".".join(f'"{part}"' for part in path[len(top) + 1 :].split("."))
    return f"CAST(json_extract({ident(top)}, '{rest}') AS VARCHAR)"


ATTRS_GROUP = 8


# inside a container, a nested input/output goes whole
_TEXT_PATCH = (
    "{" + ", ".join(f'"{k}": null' for k in sorted(_text.TEXT_KEYS | _text.CONTAINER_KEYS)) + "}"
)


def _marker_sql(string: str) -> str:
    """SQL for `text.marker` of the text STRING (an SQL expression)."""
    return f"('[text removed: ' || format('{{:,}}', length({string})) || ' characters]')"


def _column_attrs(columns: tuple[str, ...], keep_text: bool = True) -> str:
    """`attrs` from the unmapped columns: a JSON object of those a line carries (not null).

    Built by one `concat` a group of ATTRS_GROUP keys, each key's separator chosen by whether a
    key before it is there: every `||` or `concat_ws` would copy the string built so far, and
    this costs half as much. The choice names every key before it, so keys are grouped (a
    group's expression grows with the square of its keys), and the groups joined by `concat_ws`.
    """
    mapped = set(MAPPED_TOP) | (set() if keep_text else OTHER_TEXT_KEYS)
    extras = [k for k in columns if k not in mapped]
    if not extras:
        return "NULL::VARCHAR"
    scrub = frozenset() if keep_text else frozenset(CONTAINERS)
    groups = [extras[i : i + ATTRS_GROUP] for i in range(0, len(extras), ATTRS_GROUP)]
    if len(groups) == 1:
        return _attrs_group(groups[0], "{", "}", scrub)
    joined = ", ".join(_attrs_group(g, "", "", scrub) for g in groups)
    return f"nullif('{{' || concat_ws(',', {joined}) || '}}', '{{}}')"


def _attrs_group(
    keys: list[str], open_: str, close: str, scrub: frozenset[str] = frozenset()
) -> str:
    """`"k":value` of each of KEYS a line carries, comma-separated, between OPEN_ and CLOSE; NULL
    when it carries none. The text inside an object under a key of SCRUB is left out."""
    present = [f"{ident(k)} IS NOT NULL" for k in keys]
    pieces = [literal(open_)] if open_ else []
    for i, k in enumerate(keys):
        name = json.dumps(k, ensure_ascii=False) + ":"
        if i == 0:
            sep = literal(name)
        else:
            before = " OR ".join(present[:i])
            sep = f"CASE WHEN {before} THEN {literal(',' + name)} ELSE {literal(name)} END"
        pieces.append(f"CASE WHEN {present[i]} THEN {sep} END")
        value = f"CAST({ident(k)} AS VARCHAR)"
        if k in scrub:  # an object loses its text; a string is text
            marker = _marker_sql(f"json_extract_string({value}, '$')")
            value = (
                f"CASE left({value}, 1) WHEN '{{' THEN CAST(json_merge_patch({value}, '{_TEXT_PATCH}') AS VARCHAR)"
                f" WHEN '\"' THEN CAST(to_json({marker}) AS VARCHAR)"
                f" WHEN '[' THEN CAST(to_json({_marker_sql(value)}) AS VARCHAR) ELSE {value} END"
            )
        pieces.append(value)
    if close:
        pieces.append(literal(close))
    return f"CASE WHEN {' OR '.join(present)} THEN concat({', '.join(pieces)}) END"

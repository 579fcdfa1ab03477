"""The canonical request log (SPEC §2): JSON lines -> typed rows, judged line by line, in SQL.

Each line is parsed once by DuckDB's JSON reader (`json_extract` with a list of paths). Aliases
are coalesced in the order SPEC §2 lists them; nested vendor `usage` objects are read with their
own vendor's token semantics, chosen by their keys. A line that fails a check gets a reason and
goes to `rejects`; nothing is dropped.
"""

from __future__ import annotations

from typing import Any

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
    "cache_read_tokens": ["cache_read_tokens", "cached_tokens", "prompt_tokens_details.cached_tokens"],
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
TEXT_FIELDS = {"prompt": ["prompt", "messages", "input_text"], "response": ["completion", "output_text"]}

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
    | {p for ps in TEXT_FIELDS.values() for p in ps}
)

MACROS = r"""
CREATE OR REPLACE TEMP MACRO lc_present(j) AS (j IS NOT NULL AND j <> 'null');
CREATE OR REPLACE TEMP MACRO lc_str(j) AS (
    CASE WHEN j IS NULL OR j = 'null' THEN NULL
         WHEN left(j, 1) = '"' THEN json_extract_string(j, '$')
         ELSE j END);
CREATE OR REPLACE TEMP MACRO lc_unq(j) AS (CASE WHEN left(j, 1) = '"' THEN substr(j, 2, length(j) - 2) ELSE j END);
CREATE OR REPLACE TEMP MACRO lc_int(j) AS (TRY_CAST(lc_unq(j) AS BIGINT));
CREATE OR REPLACE TEMP MACRO lc_bad_int(j) AS (lc_present(j) AND TRY_CAST(lc_unq(j) AS BIGINT) IS NULL);
CREATE OR REPLACE TEMP MACRO lc_num(j) AS (TRY_CAST(lc_unq(j) AS DOUBLE));
CREATE OR REPLACE TEMP MACRO lc_bad_num(j) AS (lc_present(j) AND TRY_CAST(lc_unq(j) AS DOUBLE) IS NULL);
CREATE OR REPLACE TEMP MACRO lc_bool(j) AS (
    CASE WHEN j IN ('true', '1', '"true"', '"1"', '"yes"', '"True"', '"TRUE"') THEN true
         WHEN j IN ('false', '0', '"false"', '"0"', '"no"', '"False"', '"FALSE"') THEN false END);
CREATE OR REPLACE TEMP MACRO lc_bad_bool(j) AS (lc_present(j) AND lc_bool(j) IS NULL);
CREATE OR REPLACE TEMP MACRO lc_epoch(b) AS (
    CASE WHEN abs(b) < 100000000000 THEN make_timestamp(b * 1000000)
         WHEN abs(b) < 100000000000000 THEN make_timestamp(b * 1000)
         WHEN abs(b) < 100000000000000000 THEN make_timestamp(b)
         ELSE make_timestamp(b // 1000) END);
CREATE OR REPLACE TEMP MACRO lc_epoch_frac(d) AS (
    CASE WHEN abs(d) < 100000000000 THEN make_timestamp(CAST(round(d * 1000000) AS BIGINT))
         WHEN abs(d) < 100000000000000 THEN make_timestamp(CAST(round(d * 1000) AS BIGINT))
         ELSE make_timestamp(CAST(round(d) AS BIGINT)) END);
CREATE OR REPLACE TEMP MACRO lc_ts(s) AS (
    CASE WHEN s IS NULL THEN NULL
         WHEN TRY_CAST(s AS BIGINT) IS NOT NULL THEN lc_epoch(CAST(s AS BIGINT))
         WHEN TRY_CAST(s AS DOUBLE) IS NOT NULL THEN lc_epoch_frac(CAST(s AS DOUBLE))
         ELSE timezone('UTC', TRY_CAST(s AS TIMESTAMPTZ)) END);
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


def install_macros(con: Any) -> None:
    con.execute(MACROS)


def _v(key: str) -> str:
    return f"v[{INDEX[key]}]"


def _first(field: str) -> str:
    """The first present alias of a field, as raw JSON text."""
    refs = [f"CASE WHEN lc_present({_v(p)}) THEN {_v(p)} END" for p in ALIASES[field]]
    return refs[0] if len(refs) == 1 else f"coalesce({', '.join(refs)})"


def parse_sql(source_table: str, keep_text: bool) -> str:
    """SELECT over `source_table(line_no, line, raw, pre_reason)`: one typed row per record, with `reason`.

    `line` is the canonical JSON to parse; `raw` (when not NULL) is what the source file said and
    is what a reject keeps; `pre_reason` is a rejection an adapter decided before SQL saw the line.
    """
    path_list = "[" + ", ".join(f"'{_path(p)}'" for p in PATHS) + "]"
    usage_list = "[" + ", ".join(f"'{_path(p)}'" for p in USAGE_PATHS) + "]"
    drop_patch = "{" + ", ".join(f'"{k}": null' for k in MAPPED_TOP) + "}"

    fields = {f: _first(f) for f in ALIASES}
    nested = f"coalesce({', '.join(f'CASE WHEN left({_v(n)}, 1) = {chr(39)}{{{chr(39)} THEN {_v(n)} END' for n in NESTED)})"

    bad_checks: list[str] = []
    for f in INT_FIELDS:
        bad_checks.append(f"WHEN lc_bad_int(j_{f}) THEN '{f} must be an integer, got ' || left(j_{f}, 40)")
    for f in BOOL_FIELDS:
        bad_checks.append(f"WHEN lc_bad_bool(j_{f}) THEN '{f} must be true or false, got ' || left(j_{f}, 40)")
    for f in NUM_FIELDS:
        bad_checks.append(f"WHEN lc_bad_num(j_{f}) THEN '{f} must be a number, got ' || left(j_{f}, 40)")
    u_bad = " OR ".join(f"lc_bad_int(u[{i}])" for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20))

    text_cols = ""
    if keep_text:
        text_cols = (
            f", lc_str(coalesce({', '.join(_v(p) for p in TEXT_FIELDS['prompt'])})) AS prompt_text"
            f", lc_str(coalesce({', '.join(_v(p) for p in TEXT_FIELDS['response'])})) AS response_text"
        )
    else:
        text_cols = ", NULL::VARCHAR AS prompt_text, NULL::VARCHAR AS response_text"

    return f"""
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
           CASE WHEN jtype = 'OBJECT' THEN CAST(json_extract(line, {path_list}) AS VARCHAR[]) END AS v
    FROM parsed
), f AS MATERIALIZED (
    SELECT line_no, line, raw, pre_reason, valid, jtype,
           {", ".join(f"{expr} AS j_{name}" for name, expr in fields.items())},
           {nested} AS j_usage
           {text_cols}
    FROM ex
), u AS MATERIALIZED (
    SELECT *, CASE WHEN j_usage IS NOT NULL THEN CAST(json_extract(j_usage, {usage_list}) AS VARCHAR[]) END AS u
    FROM f
), tok AS (
    SELECT *,
        -- which semantics apply to the token counts: flat canonical, Anthropic, Gemini or OpenAI usage
        CASE WHEN lc_present(j_input_tokens) OR lc_present(j_output_tokens) THEN 'flat'
             WHEN u IS NULL THEN 'none'
             WHEN lc_present(u[5]) OR lc_present(u[6]) OR lc_present(u[15]) THEN 'anthropic'
             WHEN lc_present(u[16]) OR lc_present(u[18]) THEN 'gemini'
             ELSE 'openai' END AS shape
    FROM u
), typed AS MATERIALIZED (
    SELECT line_no, line, raw, pre_reason, valid, jtype, shape, j_usage, u,
        {", ".join(f"j_{f}" for f in INT_FIELDS + BOOL_FIELDS + NUM_FIELDS)},
        lc_str(j_request_id) AS request_id_s,
        lc_str(j_timestamp) AS ts_s,
        lc_ts(lc_str(j_timestamp)) AS ts,
        lc_str(j_provider) AS provider_s,
        lc_str(j_model) AS model,
        lc_str(j_user_id) AS user_id,
        lc_str(j_customer_id) AS customer_s,
        lc_str(j_feature) AS feature,
        lc_str(j_task_id) AS task_id,
        lc_int(j_step) AS step,
        lc_str(j_plan) AS plan,
        lower(coalesce(lc_str(j_status), 'ok')) AS status,
        CASE shape
            WHEN 'flat' THEN lc_int(j_input_tokens)
            WHEN 'anthropic' THEN coalesce(lc_int(u[1]), 0) + coalesce(lc_int(u[5]), 0) + coalesce(lc_int(u[6]), lc_int(u[7]) + lc_int(u[8]), 0)
            WHEN 'gemini' THEN coalesce(lc_int(u[16]), 0) + coalesce(lc_int(u[20]), 0)
            WHEN 'openai' THEN coalesce(lc_int(u[2]), lc_int(u[1]))
        END AS input_tokens,
        CASE shape
            WHEN 'flat' THEN lc_int(j_cache_read_tokens)
            WHEN 'anthropic' THEN lc_int(u[5])
            WHEN 'gemini' THEN lc_int(u[17])
            WHEN 'openai' THEN coalesce(lc_int(u[9]), lc_int(u[10]))
        END AS cache_read_tokens,
        CASE shape
            WHEN 'flat' THEN lc_int(j_cache_write_tokens)
            WHEN 'anthropic' THEN CASE WHEN lc_present(u[7]) OR lc_present(u[8]) THEN coalesce(lc_int(u[7]), 0)
                                       ELSE lc_int(u[6]) END
            WHEN 'openai' THEN coalesce(lc_int(u[11]), lc_int(u[12]))
        END AS cache_write_tokens,
        CASE shape
            WHEN 'flat' THEN lc_int(j_cache_write_1h_tokens)
            WHEN 'anthropic' THEN lc_int(u[8])
        END AS cache_write_1h_tokens,
        CASE shape
            WHEN 'flat' THEN lc_int(j_output_tokens)
            WHEN 'anthropic' THEN lc_int(u[3])
            WHEN 'gemini' THEN coalesce(lc_int(u[18]), 0) + coalesce(lc_int(u[19]), 0)
            WHEN 'openai' THEN coalesce(lc_int(u[4]), lc_int(u[3]))
        END AS output_tokens,
        CASE shape
            WHEN 'flat' THEN lc_int(j_reasoning_tokens)
            WHEN 'gemini' THEN lc_int(u[19])
            WHEN 'openai' THEN coalesce(lc_int(u[13]), lc_int(u[14]))
            WHEN 'anthropic' THEN lc_int(u[14])
        END AS reasoning_tokens,
        shape IN ('anthropic', 'gemini', 'openai') AND ({u_bad}) AS bad_usage,
        coalesce(lc_bool(j_cache_hit), false) AS cache_hit,
        coalesce(lc_bool(j_batch), false) AS batch,
        lc_num(j_latency_ms) AS latency_ms,
        lc_num(j_cost_usd) AS logged_cost_usd,
        prompt_text, response_text
    FROM tok
), judged AS (
    SELECT *,
        CASE
            WHEN pre_reason IS NOT NULL THEN pre_reason
            WHEN NOT valid THEN 'invalid JSON'
            WHEN jtype <> 'OBJECT' THEN 'not a JSON object (got ' || lower(jtype) || ')'
            WHEN model IS NULL OR trim(model) = '' THEN 'missing model'
            WHEN ts_s IS NULL THEN 'missing timestamp'
            WHEN ts IS NULL THEN 'bad timestamp: ' || left(ts_s, 40)
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
            WHEN latency_ms < 0 THEN 'latency_ms must not be negative'
        END AS reason
    FROM typed
)
SELECT
    line_no, CASE WHEN reason IS NOT NULL THEN regexp_replace(coalesce(raw, line), '\\r$', '') END AS line, reason,
    coalesce(request_id_s, 'md5:' || md5(coalesce(raw, line))) AS request_id,
    ts,
    lower(coalesce(provider_s, lc_provider(model))) AS provider,
    model, user_id,
    coalesce(customer_s, user_id) AS customer_id,
    feature, task_id, CAST(step AS INTEGER) AS step, plan, status,
    coalesce(input_tokens, 0) AS input_tokens,
    coalesce(cache_read_tokens, 0) AS cache_read_tokens,
    coalesce(cache_write_tokens, 0) AS cache_write_tokens,
    coalesce(cache_write_1h_tokens, 0) AS cache_write_1h_tokens,
    coalesce(output_tokens, 0) AS output_tokens,
    coalesce(reasoning_tokens, 0) AS reasoning_tokens,
    cache_hit, batch, latency_ms, logged_cost_usd,
    false AS estimated,
    prompt_text, response_text,
    CASE WHEN reason IS NULL THEN
        nullif(json_merge_patch(line, '{drop_patch}'), '{{}}')
    END AS attrs
FROM judged
"""

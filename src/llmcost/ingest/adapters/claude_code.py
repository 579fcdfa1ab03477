"""Claude Code session logs: `~/.claude/projects/<project>/<session>.jsonl` (also nested
`<session>/...jsonl` and `<session>/subagents/agent-*.jsonl`), read the way ccusage reads them.

- Usage follows Anthropic's rules: `input_tokens` EXCLUDES cache reads and writes, so all input
  = input + cache_read + cache_creation; `cache_creation.ephemeral_5m/1h_input_tokens` split the
  writes by TTL (1-hour writes have their own rate).
- Claude Code writes several streaming snapshots of one response (same `message.id` and
  `requestId`, output growing): the most complete copy is kept, the others count as duplicates;
  a copy loaded from a live session before its response ended is completed on the next read.
- A sidechain replay (`isSidechain`, the same `message.id` under a new `requestId`) of a message
  already logged by its parent session is dropped (ccusage #913), in the same file or when the
  parent was loaded earlier (a tree is walked in sorted order, so the parent's file comes first).
- project (the folder under `projects/`) = feature; session (file stem, or the session folder
  for nested and subagent files) = task.
- Lines without usage (user turns, summaries, snapshots) and `<synthetic>` messages are not API
  calls and are passed over; a line that mentions usage but does not parse is rejected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmcost.errors import InputError
from llmcost.ingest import requests_log
from llmcost.ingest.formats import Format, Job, first_records, register
from llmcost.ingest.sources import Source
from llmcost.store import writes
from llmcost.store.writes import Counts

KIND = "claude_code"
SEP = ":"  # request_id = message.id:requestId


# ---------------------------------------------------------------- where the logs live


def default_roots(env: dict[str, str] | None = None) -> list[Path]:
    """The `projects/` folders ccusage reads: CLAUDE_CONFIG_DIR (comma-separated; each entry holds
    projects/ or is it) replaces the defaults `$XDG_CONFIG_HOME/claude` and `~/.claude`."""
    env = dict(os.environ) if env is None else env
    configured = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        roots = []
        for entry in (e.strip() for e in configured.split(",")):
            if not entry:
                continue
            path = Path(entry).expanduser()
            if path.name == "projects" and path.is_dir():
                roots.append(path)
            elif (path / "projects").is_dir():
                roots.append(path / "projects")
        if not roots:
            raise InputError(
                f"CLAUDE_CONFIG_DIR={configured}: no projects/ folder there",
                hint="point it at the folder that holds Claude Code's projects/",
            )
        return _unique(roots)
    home = Path(env.get("HOME") or Path.home())
    xdg = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    roots = [p for p in (xdg / "claude" / "projects", home / ".claude" / "projects") if p.is_dir()]
    if not roots:
        raise InputError(
            "no Claude Code logs found in ~/.config/claude/projects or ~/.claude/projects",
            hint="set CLAUDE_CONFIG_DIR to the folder that holds projects/",
        )
    return _unique(roots)


def _unique(paths: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for p in paths:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            out.append(p)
    return out


def default_files(env: dict[str, str] | None = None) -> list[str]:
    """Every session log under the default roots, in sorted order (a parent session before its
    subagents: `s.jsonl` sorts before `s/`)."""
    roots = default_roots(env)
    # sorted as strings: "s.jsonl" < "s/..." ('.' < '/'), where Path order would put "s/" first
    files = [
        f for root in roots for f in sorted(str(p) for p in root.rglob("*.jsonl") if p.is_file())
    ]
    if not files:
        raise InputError(
            f"no Claude Code session logs (*.jsonl) under {', '.join(str(r) for r in roots)}",
            hint="has Claude Code been used on this machine?",
        )
    return files


def project_session(path: Path | None) -> tuple[str | None, str | None]:
    """(project, session) from a path under a `projects/` folder."""
    if path is None:
        return None, None
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "projects" and i + 2 < len(parts):
            project, rest = parts[i + 1], parts[i + 2 :]
            session = (
                rest[0][: -len(".jsonl")]
                if len(rest) == 1 and rest[0].endswith(".jsonl")
                else rest[0]
            )
            return project, session
    return None, None


# ---------------------------------------------------------------- reading a file (no database)

USAGE = b'"usage"'


@dataclass
class Collected:
    """A file read without the database, so that it can run ahead in a thread: either its
    whole text (CONTENT, one Arrow string sharing the bytes read; DuckDB splits it into lines
    and keeps the ones that mention usage), or those lines already found, with their line
    numbers (a file read in chunks)."""

    project: str | None
    session: str | None
    line_no: Any = None  # pyarrow Int64Array
    line: Any = None  # pyarrow LargeStringArray
    content: Any = None  # pyarrow LargeStringArray of one value: the file's text


def collect(
    path: Path | None, reader: Iterable[bytes | bytearray], on_bytes: Callable[[int], None]
) -> Collected:
    """A file given whole (a list of one piece) is kept as one Arrow string over its bytes, no
    copy; a file read in chunks keeps the lines that mention `"usage"`, found with bytes.find
    (no Python object for the other lines, which hold most of the bytes: user turns with tool
    output). Parsing is left to DuckDB."""
    import pyarrow as pa

    project, session = project_session(path)
    if isinstance(reader, list) and len(reader) == 1:
        data = reader[0]
        offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
        content = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
        try:
            # checks the UTF-8 (as a cast from binary would, at the same speed, without
            # importing pyarrow.compute: ~25 ms of a small ingest)
            content.validate(full=True)
        except pa.ArrowInvalid:
            pass  # not UTF-8: line by line, shown escaped
        else:
            on_bytes(len(data))
            return Collected(project, session, content=content)
    return _collect_lines(project, session, reader, on_bytes)


def _collect_lines(
    project: str | None,
    session: str | None,
    reader: Iterable[bytes | bytearray],
    on_bytes: Callable[[int], None],
) -> Collected:
    import pyarrow as pa

    nums: list[int] = []
    lines: list[bytes | bytearray] = []
    base = 0  # lines before this chunk
    for chunk in reader:
        find, rfind, count = chunk.find, chunk.rfind, chunk.count
        seen = newlines = 0  # newlines counted in chunk[:seen]
        at = find(USAGE)
        while at >= 0:
            start = rfind(b"\n", 0, at) + 1
            end = find(b"\n", at)
            if end < 0:
                end = len(chunk)
            newlines += count(b"\n", seen, start)
            seen = start
            nums.append(base + newlines + 1)
            lines.append(chunk[start:end])
            at = find(USAGE, end)
        # a chunk ends with a newline, except maybe the last one
        base += newlines + count(b"\n", seen) + (0 if chunk.endswith(b"\n") else 1)
        on_bytes(len(chunk))
    binary = pa.array(lines, pa.large_binary())
    try:
        text = binary.cast(pa.large_string())
    except pa.ArrowInvalid:  # not UTF-8: shown escaped, and rejected as invalid JSON if it is
        text = pa.array(
            [b.decode("utf-8", errors="backslashreplace") for b in lines], pa.large_string()
        )
    return Collected(project, session, pa.array(nums, pa.int64()), text)


def load(job: Job) -> Counts:
    """One file on its own (a big one, or stdin), in the caller's transaction."""
    from llmcost.ingest import canonical

    collected = collect(job.source.path, job.reader, job.on_bytes)
    # parsed on a cursor of its own: it reads no table, and the file's connection may hold a result
    cursor = job.con.cursor()
    try:
        canonical.install_macros(cursor)
        parsed = parse(cursor, [collected])
    finally:
        cursor.close()
    staged = stage(job.con, parsed, job.keep_text)
    try:
        staged.decide([0])
        return staged.commit(job, 0)
    finally:
        staged.drop()


# ---------------------------------------------------------------- parsing (set-based, in DuckDB)

# What a line holds, relative to the entry (the line itself, or a progress event's data.message).
ENTRY_PATHS = [
    "message.usage", "message.id", "message.model", "requestId", "timestamp", "cwd", "sessionId",
    "isSidechain", "gitBranch", "version", "isApiErrorMessage", "costUSD",
    "message.usage.input_tokens", "message.usage.output_tokens", "message.usage.cache_read_input_tokens",
    "message.usage.cache_creation_input_tokens", "message.usage.cache_creation",
    "message.usage.cache_creation.ephemeral_5m_input_tokens",
    "message.usage.cache_creation.ephemeral_1h_input_tokens", "message.usage.speed",
    "message.usage.service_tier",
]  # fmt: skip
PROGRESS = "data.message"
_N = len(ENTRY_PATHS)


def _json_path(dotted: str) -> str:
    return "$." + ".".join(f'"{part}"' for part in dotted.split("."))


def _ref(key: str) -> str:
    """The raw JSON text of KEY in the row's entry (the line, or a progress event's message)."""
    return f"v[{ENTRY_PATHS.index(key) + 2}]"


def _tok(j: str) -> str:
    """A token count the way `as_int` reads it: null and "" are absent; integral numbers and
    numeric strings are integers; anything else is NULL (and `_bad` says so)."""
    # the plain integer first (TRY_CAST would round 1.5 to 2), lc_int for the other spellings
    return (
        f"coalesce(CASE WHEN NOT contains({j}, '.') THEN TRY_CAST({j} AS BIGINT) END,"
        f" CASE WHEN {j} NOT IN ('null', '\"\"') THEN lc_int({j}) END)"
    )


def _bad(j: str, i: str) -> str:
    """Whether the JSON text J is there but its integer I (`_tok(J)`) could not be read."""
    return f"({i} IS NULL AND {j} IS NOT NULL AND {j} NOT IN ('null', '\"\"'))"


def _truthy(j: str) -> str:
    return f"({j} IS NOT NULL AND {j} NOT IN ('null', 'false', '0', '0.0', '\"\"', '[]', '{{}}'))"


def _kept(j: str) -> str:
    """Whether an extra is kept in attrs: empty values are left out, as `canonical_record` does."""
    return f"({j} IS NOT NULL AND {j} NOT IN ('null', '\"\"', '{{}}', '[]'))"


# attrs key -> the column with its JSON text (None: is_sidechain, kept only when true)
ATTRS = [
    ("message_id", "j_mid"), ("claude_request_id", "j_rid"), ("claude_session_id", "j_sid"),
    ("is_sidechain", None), ("git_branch", "j_branch"), ("cwd", "j_cwd"), ("version", "j_version"),
    ("speed", "j_speed"), ("service_tier", "j_tier"),
]  # fmt: skip


def _parse_sql() -> str:
    """SELECT over cc_whole(seq, content), cc_given(seq, line_no, line) and cc_files(projects,
    sessions: one row, each a list with an item a file, by seq): one row per
    API call (lines without usage and `<synthetic>` messages are passed over), typed as the
    requests table, with the rejection `reason` of a line the canonical log would reject."""

    def path_list(paths: list[str]) -> str:
        return "[" + ", ".join(f"'{_json_path(p)}'" for p in ["type", *paths]) + "]"

    entry = path_list(ENTRY_PATHS)
    progress = path_list([f"{PROGRESS}.{p}" for p in ENTRY_PATHS])
    j = {
        name: _ref(path)
        for name, path in {
            "usage": "message.usage", "mid": "message.id", "model": "message.model", "rid": "requestId",
            "ts": "timestamp", "cwd": "cwd", "sid": "sessionId", "side": "isSidechain",
            "branch": "gitBranch", "version": "version", "err": "isApiErrorMessage", "cost": "costUSD",
            "in": "message.usage.input_tokens", "out": "message.usage.output_tokens",
            "read": "message.usage.cache_read_input_tokens",
            "cci": "message.usage.cache_creation_input_tokens", "cc": "message.usage.cache_creation",
            "e5": "message.usage.cache_creation.ephemeral_5m_input_tokens",
            "e1": "message.usage.cache_creation.ephemeral_1h_input_tokens",
            "speed": "message.usage.speed", "tier": "message.usage.service_tier",
        }.items()
    }  # fmt: skip
    # attrs in one concat (no copy of the text at each `||`): each key's separator is chosen by
    # whether a key before it is kept, from flags computed once a row (k0, k1...)
    flags = [_truthy("j_side") if col is None else _kept(col) for _, col in ATTRS]
    key_flags = ", ".join(f"{flag} AS k{i}" for i, flag in enumerate(flags))
    any_key = " OR ".join(f"k{i}" for i in range(len(ATTRS)))
    pieces = []
    for i, (name, col) in enumerate(ATTRS):
        before = " OR ".join(f"k{j}" for j in range(i))
        key = (
            f"CASE WHEN {before} THEN ',\"{name}\":' ELSE '\"{name}\":' END"
            if i
            else f"'\"{name}\":'"
        )
        value = "'true'" if col is None else col
        pieces.append(f"CASE WHEN k{i} THEN {key} END, CASE WHEN k{i} THEN {value} END")
    attrs = ",\n        ".join(pieces)
    not_int = "'message.usage has a token count that is not an integer: ' || left(lc_str({}), 40)"
    return f"""
WITH split AS (
    -- a whole file's lines, numbered from 1
    SELECT seq, unnest(generate_series(1, len(lines))) AS line_no, unnest(lines) AS line
    FROM (SELECT seq, string_split(content, chr(10)) AS lines FROM cc_whole)
), cc_lines AS (
    SELECT seq, line_no, line FROM split WHERE contains(line, '"usage"')
    UNION ALL
    SELECT seq, line_no, line FROM cc_given
), src AS (
    -- rtrim(line, chr(13)) is slow (it reads characters): only the rare line that needs it
    SELECT l.seq, l.line_no, CASE WHEN suffix(l.line, chr(13)) THEN rtrim(l.line, chr(13)) ELSE l.line END AS line,
        -- a file's project and session by its place in the lists (no hash join a line)
        f.projects[l.seq + 1] AS project, f.sessions[l.seq + 1] AS session
    FROM cc_lines l CROSS JOIN cc_files f
), v1 AS (
    -- try(): NULL for a line that is not JSON, which is rejected
    SELECT seq, line_no, line, project, session,
           CAST(try(json_extract(line, {entry})) AS VARCHAR[]) AS v1
    FROM src
), v AS (
    -- the entry: the line itself, or a subagent progress event's message (ccusage reads both),
    -- whose paths are read only for such lines
    SELECT seq, line_no, line, project, session,
        CASE WHEN v1[1] = '"progress"' AND left(v1[2], 1) IS DISTINCT FROM '{{'
             THEN CAST(try(json_extract(line, {progress})) AS VARCHAR[]) ELSE v1 END AS v
    FROM v1
), e AS (
    SELECT *, v IS NOT NULL AS valid, left(v[2], 1) = '{{' AS o
    FROM v
), f AS (
    SELECT seq, line_no, line, project, session, valid,
        {", ".join(f"{expr} AS j_{name}" for name, expr in j.items())}
    FROM e
    WHERE NOT valid OR (o AND {_ref("message.model")} IS DISTINCT FROM '"<synthetic>"')
), w AS (
    -- cache writes: the TTL split when cache_creation has it, else all 5-minute ones
    SELECT *,
        left(j_cc, 1) = '{{' AND (j_e5 IS NOT NULL OR j_e1 IS NOT NULL) AS split
    FROM f
), w2 AS (
    SELECT *,
        CASE WHEN split THEN j_e5 ELSE j_cci END AS j_w5,
        CASE WHEN split THEN j_e1 END AS j_w1h
    FROM w
), i AS (
    -- each token count read once: NULL when absent or not an integer (`_bad` tells which)
    SELECT *,
        {_tok("j_in")} AS i_in, {_tok("j_out")} AS i_out, {_tok("j_read")} AS i_read,
        {_tok("j_w5")} AS i_w5, {_tok("j_w1h")} AS i_w1h,
        lc_str(j_model) AS model,
        lc_str(j_ts) AS ts_s
    FROM w2
), t AS (
    SELECT *,
        CASE WHEN NOT valid THEN 'invalid JSON'
             WHEN j_in IS NULL THEN 'message.usage has no input_tokens'
             WHEN j_out IS NULL THEN 'message.usage has no output_tokens'
             WHEN {_bad("j_in", "i_in")} THEN {not_int.format("j_in")}
             WHEN {_bad("j_read", "i_read")} THEN {not_int.format("j_read")}
             WHEN {_bad("j_w5", "i_w5")} THEN {not_int.format("j_w5")}
             WHEN {_bad("j_w1h", "i_w1h")} THEN {not_int.format("j_w1h")}
        END AS pre_reason,
        coalesce(i_read, 0) AS cache_read_tokens,
        coalesce(i_w5, 0) AS cache_write_tokens,
        coalesce(i_w1h, 0) AS cache_write_1h_tokens,
        coalesce(i_in, 0) + coalesce(i_read, 0) + coalesce(i_w5, 0) + coalesce(i_w1h, 0) AS input_tokens,
        coalesce(i_out, 0) AS output_tokens,
        lc_ts(ts_s) AS ts
    FROM i
), judged AS (
    SELECT *,
        coalesce(pre_reason, CASE
            WHEN model IS NULL OR trim(model) = '' THEN 'missing model'
            WHEN ts_s IS NULL THEN 'missing timestamp'
            WHEN ts IS NULL THEN 'bad timestamp: ' || left(ts_s, 40)
            WHEN {_bad("j_out", "i_out")} THEN 'output_tokens must be an integer, got ' || left(j_out, 40)
            WHEN lc_bad_num(j_cost) THEN 'cost_usd must be a number, got ' || left(j_cost, 40)
            WHEN least(input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens) < 0
                THEN 'negative token count'
            WHEN cache_read_tokens + cache_write_tokens + cache_write_1h_tokens > input_tokens
                THEN 'cache tokens exceed input_tokens (which must include them)'
        END) AS reason,
        CASE WHEN {_truthy("j_mid")} AND {_truthy("j_rid")} THEN lc_str(j_mid) || '{SEP}' || lc_str(j_rid)
             WHEN {_truthy("j_mid")} THEN lc_str(j_mid) END AS py_rid
    FROM t
), flagged AS (
    -- which extras a row keeps in attrs (empty values are left out, as `canonical_record` does)
    SELECT *, {key_flags} FROM judged
)
SELECT
    seq, line_no, reason, pre_reason IS NOT NULL AS pre,
    CASE WHEN reason IS NOT NULL THEN line END AS line,
    py_rid,
    coalesce(py_rid, 'md5:' || md5(line)) AS request_id,
    hash('{KIND}', coalesce(py_rid, 'md5:' || md5(line))) AS rid_hash,
    CASE WHEN {_kept("j_mid")} THEN lc_str(j_mid) END AS mid,
    {_truthy("j_side")} AS side,
    -- how complete a streaming copy is: its token total, then whether it has `speed`
    input_tokens + output_tokens + cache_read_tokens AS size,
    {_kept("j_speed")} AS has_speed,
    ts, lower(lc_provider(model)) AS provider, model,
    NULL::VARCHAR AS user_id, NULL::VARCHAR AS customer_id,
    coalesce(project, CASE WHEN left(j_cwd, 1) = '"' THEN regexp_replace(lc_str(j_cwd), '[^A-Za-z0-9]', '-', 'g') END)
        AS feature,
    coalesce(session, lc_str(j_sid)) AS task_id,
    NULL::INTEGER AS step, NULL::VARCHAR AS plan,
    CASE WHEN {_truthy("j_err")} THEN 'error' ELSE 'ok' END AS status,
    input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens,
    0::BIGINT AS reasoning_tokens, false AS cache_hit, false AS batch, NULL::DOUBLE AS latency_ms,
    lc_num(j_cost) AS logged_cost_usd, false AS estimated,
    NULL::VARCHAR AS prompt_text, NULL::VARCHAR AS response_text,
    -- the extras, kept as attrs: the values are JSON text already, so the object is written as text
    CASE WHEN reason IS NULL AND ({any_key}) THEN concat('{{',
        {attrs},
        '}}') END::JSON AS attrs
FROM flagged
"""


# What a group of files loads, decided for all its files at once; each file's transaction then
# only moves its own rows. File k's decisions depend on the database before the group and on
# the files before k in the group, exactly as if they had been loaded one by one.
PLAN_SQL = f"""
CREATE OR REPLACE TEMP TABLE cc_plan AS
WITH s AS (
    -- the decisions need only these narrow columns; the wide ones are joined back at the end
    SELECT seq, line_no, reason IS NULL AS ok, pre, py_rid, request_id, rid_hash, mid, side, size, has_speed
    FROM cc_stage WHERE seq IN (SELECT unnest(?::INTEGER[]))
), ranked AS (
    -- streaming copies in one file: the most complete one stands for the message
    SELECT *,
        CASE WHEN pre OR py_rid IS NULL THEN 1
             ELSE row_number() OVER (PARTITION BY seq, py_rid ORDER BY size DESC, has_speed DESC, line_no)
        END AS copy_rank
    FROM s
), kept AS (
    SELECT * FROM ranked WHERE copy_rank = 1
), stored_side AS MATERIALIZED (
    -- stored copies of the messages of the group's sidechain lines: few rows, found by their
    -- request_id alone (a scan of one column)
    SELECT request_id FROM requests
    WHERE source_kind = '{KIND}'
      AND split_part(request_id, '{SEP}', 1) IN (SELECT mid FROM kept WHERE side AND NOT pre)
), stored_parents AS (
    -- ...then those of them that are not sidechain copies (attrs read for them only)
    -- (a condition under an aggregate: not pushed into the scan of every stored row)
    SELECT split_part(r.request_id, '{SEP}', 1) AS mid
    FROM requests r JOIN stored_side s
      ON r.rid_hash = hash('{KIND}', s.request_id) AND r.request_id = s.request_id
    WHERE r.source_kind = '{KIND}'
    GROUP BY mid HAVING bool_or(r.attrs IS NULL OR json_extract(r.attrs, '$.is_sidechain') IS NULL)
), group_parents AS (
    SELECT mid, min(CASE WHEN ok THEN seq END) AS first_ok_seq
    FROM kept WHERE NOT side AND NOT pre AND mid IS NOT NULL GROUP BY mid
), same_file_parents AS (
    SELECT DISTINCT seq, mid FROM kept WHERE NOT side AND NOT pre AND mid IS NOT NULL
), judged AS (
    -- a sidechain replay: its parent copy is in the same file, in an earlier file, or stored
    SELECT k.*,
        coalesce(k.side AND NOT k.pre AND k.mid IS NOT NULL AND (
            sp.mid IS NOT NULL OR gp.first_ok_seq < k.seq OR sf.mid IS NOT NULL), false) AS replay
    FROM kept k
    LEFT JOIN stored_parents sp ON sp.mid = k.mid
    LEFT JOIN group_parents gp ON gp.mid = k.mid
    LEFT JOIN same_file_parents sf ON sf.seq = k.seq AND sf.mid = k.mid
), stored AS (
    SELECT request_id, rid_hash, input_tokens + output_tokens + cache_read_tokens AS stored_size
    FROM requests
    WHERE source_kind = '{KIND}' AND rid_hash IN (SELECT rid_hash FROM judged WHERE ok)
), cand AS (
    SELECT j.*, st.stored_size,
        max(j.size) OVER (PARTITION BY j.request_id ORDER BY j.seq
                          RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_size,
        row_number() OVER (PARTITION BY j.request_id ORDER BY j.seq, j.line_no) AS nth
    FROM judged j LEFT JOIN stored st ON st.rid_hash = j.rid_hash AND st.request_id = j.request_id
    WHERE NOT j.replay AND j.ok
), actions AS (
    SELECT seq, line_no,
        CASE WHEN stored_size IS NULL AND nth = 1 THEN 'load'
             -- a copy loaded while Claude Code was still streaming it is completed by a later read
             WHEN py_rid IS NOT NULL AND size > greatest(stored_size, earlier_size) THEN 'update'
        END AS action
    FROM cand
    UNION ALL
    SELECT seq, line_no, 'reject' AS action FROM judged WHERE NOT ok AND NOT replay
)
SELECT st.* EXCLUDE (pre, py_rid, mid, side, size, has_speed), a.action
FROM actions a JOIN cc_stage st USING (seq, line_no)
WHERE a.action IS NOT NULL
"""


@dataclass
class Staged:
    """The parsed lines of a group of files, then what each file loads (TEMP TABLE cc_plan,
    after `decide`); `commit` moves one file's rows in its transaction."""

    con: Any
    parsed: Any  # Arrow table from `parse`
    read: dict[int, int]  # place in the group -> lines read
    counts: dict[int, Counts] = field(default_factory=dict)
    updates: set[int] = field(default_factory=set)  # places of files that complete stored rows

    def decide(self, include: list[int]) -> None:
        """Decide for the files at the places INCLUDE (the others, copies of loaded files, are left out)."""
        cc_stage = self.parsed  # noqa: F841  (read by the query)
        self.con.execute(PLAN_SQL, [include])
        self.counts = {seq: Counts(read=self.read.get(seq, 0)) for seq in include}
        for seq, action, n in self.con.execute(
            "SELECT seq, action, count(*) FROM cc_plan GROUP BY ALL"
        ).fetchall():
            if action == "load":
                self.counts[seq].loaded = n
            elif action == "reject":
                self.counts[seq].rejected = n
            else:
                self.updates.add(seq)
        for c in self.counts.values():
            c.duplicates = c.read - c.loaded - c.rejected

    def commit(self, job: Job, seq: int) -> Counts:
        """Move one file's rows into requests and rejects (in the caller's transaction)."""
        return self.commit_group(job.con, {seq: int(job.file_id)}, job.keep_text)[seq]

    def commit_group(
        self, con: Any, file_ids: dict[int, int], keep_text: bool
    ) -> dict[int, Counts]:
        """Move the rows of the files at the places FILE_IDS maps (to their file ids) into
        requests and rejects, a few statements for all of them (in the caller's transaction).
        The same rows as committing the files one by one, in order."""
        seqs = sorted(file_ids)
        if not seqs:
            return {}
        ids: list[int | None] = [None] * (seqs[-1] + 1)
        for seq, file_id in file_ids.items():
            ids[seq] = file_id
        in_group = f"seq IN ({', '.join(str(int(s)) for s in seqs)})"
        id_of = "(?::BIGINT[])[seq + 1]"
        if any(self.counts[s].loaded for s in seqs):
            insert = writes.insert_requests_sql(
                f"cc_plan WHERE action = 'load' AND {in_group}",
                {"source_kind": f"'{KIND}'", "file_id": id_of},
            )
            con.execute(insert, [ids])
        if any(self.counts[s].rejected for s in seqs):
            where = f"action = 'reject' AND {in_group}"
            if not keep_text:
                from llmcost.ingest import text  # a reject keeps no prompt or answer (SPEC §3)

                text.scrub_rejects(con, "cc_plan", where)
            con.execute(
                f"INSERT INTO rejects SELECT {id_of}, line_no, reason, line FROM cc_plan WHERE {where}",
                [ids],
            )
        if self.updates.intersection(seqs):
            # one file after another, each completion was more complete than the ones before
            # it: the last file's stands
            sets = ", ".join(f"{k} = u.{k}" for k in TOKEN_COLUMNS)
            con.execute(
                f"""UPDATE requests SET {sets}
                    FROM (SELECT * FROM cc_plan WHERE action = 'update' AND {in_group}
                          QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY seq DESC) = 1) u
                    WHERE requests.source_kind = '{KIND}' AND requests.rid_hash = u.rid_hash
                      AND requests.request_id = u.request_id"""
            )
        return {s: Counts(**asdict(self.counts[s])) for s in seqs}

    def drop(self) -> None:
        import duckdb

        # cleanup: after a failure, the transaction may be aborted until the caller rolls back
        with suppress(duckdb.Error):
            self.con.execute("DROP TABLE IF EXISTS cc_plan")


TOKEN_COLUMNS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
)


def parse(con: Any, files: list[Collected]) -> Any:
    """Parse the usage lines of a group of files in one statement, into an Arrow table (the
    stage). It needs no table of the database, so it may run on another cursor, in a thread,
    while the group before is committed."""
    import pyarrow as pa

    given = [(i, c) for i, c in enumerate(files) if c.content is None]
    whole = [(i, c) for i, c in enumerate(files) if c.content is not None]
    cc_given = pa.table(  # noqa: F841  (read by the query below)
        {
            "seq": pa.concat_arrays(
                [pa.array([i] * len(c.line_no), pa.int32()) for i, c in given]
                or [pa.array([], pa.int32())]
            ),
            "line_no": pa.concat_arrays(
                [c.line_no for _, c in given] or [pa.array([], pa.int64())]
            ),
            "line": pa.concat_arrays(
                [c.line for _, c in given] or [pa.array([], pa.large_string())]
            ),
        }
    )
    # one batch a file: DuckDB splits the files on every thread (the texts are not copied)
    schema = pa.schema([("seq", pa.int32()), ("content", pa.large_string())])
    cc_whole = pa.Table.from_batches(  # noqa: F841
        [pa.record_batch([pa.array([i], pa.int32()), c.content], schema=schema) for i, c in whole],
        schema,
    )
    cc_files = pa.table(  # noqa: F841
        {
            "projects": pa.array([[c.project for c in files]], pa.list_(pa.string())),
            "sessions": pa.array([[c.session for c in files]], pa.list_(pa.string())),
        }
    )
    return con.sql(PARSE_SQL).to_arrow_table()


def stage(con: Any, parsed: Any, keep_text: bool) -> Staged:
    """The group's stage, from `parse`. KEEP_TEXT changes nothing: Claude Code's usage lines
    are stored without their text."""
    # counted by DuckDB: pyarrow.compute would cost a small ingest ~25 ms to import
    cc_parsed = parsed  # noqa: F841  (read by the query below)
    counts = (
        con.execute("SELECT seq, count(*) FROM cc_parsed GROUP BY seq").fetchall()
        if parsed.num_rows
        else []
    )
    return Staged(con, parsed, {int(seq): int(n) for seq, n in counts})


PARSE_SQL = _parse_sql()
GROUPED = requests_log.register_grouped(KIND, collect, parse, stage)


def sniff(head: bytes, source: Source) -> bool:
    for rec in first_records(head, limit=10):
        if not isinstance(rec, dict):
            return False
        if "sessionId" in rec and ("parentUuid" in rec or "uuid" in rec or "leafUuid" in rec):
            return True
        if rec.get("type") in ("summary", "file-history-snapshot") and (
            "leafUuid" in rec or "messageId" in rec
        ):
            return True
    # the first lines can be longer than the head sample (big tool outputs): look at the bytes
    return head.lstrip()[:1] == b"{" and b'"sessionId"' in head and b'"parentUuid"' in head


FORMAT = register(
    Format(
        name="claude_code",
        kind=KIND,
        description="Claude Code session logs (~/.claude/projects/**/*.jsonl; `ingest --claude-code`)",
        sniff=sniff,
        load=load,
        priority=150,
    )
)

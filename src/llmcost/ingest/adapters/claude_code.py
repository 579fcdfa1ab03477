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

import json
import os
import re
from pathlib import Path
from typing import Any

from llmcost.errors import InputError
from llmcost.ingest.adapters import _request_source as rs
from llmcost.ingest.formats import Format, Job, first_records, register
from llmcost.ingest.sources import Source
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


# ---------------------------------------------------------------- one line


def _entry(rec: Any) -> dict[str, Any] | None:
    """The usage-carrying part of a line: the line itself, or a subagent progress event's message."""
    if not isinstance(rec, dict):
        return None
    msg = rec.get("message")
    if isinstance(msg, dict) and isinstance(msg.get("usage"), dict):
        return rec
    data = rec.get("data")
    if (
        rec.get("type") == "progress"
        and isinstance(data, dict)
        and isinstance(data.get("message"), dict)
    ):
        inner = data["message"]
        if isinstance(inner.get("message"), dict) and isinstance(
            inner["message"].get("usage"), dict
        ):
            return dict(inner)
    return None


def _convert(
    entry: dict[str, Any], project: str | None, session: str | None
) -> dict[str, Any] | str:
    msg = entry["message"]
    usage = msg["usage"]
    for key in ("input_tokens", "output_tokens"):
        if key not in usage:
            return f"message.usage has no {key}"
    creation = usage.get("cache_creation")
    if isinstance(creation, dict) and (
        "ephemeral_5m_input_tokens" in creation or "ephemeral_1h_input_tokens" in creation
    ):
        w5, w1h = (
            rs.as_int(creation.get("ephemeral_5m_input_tokens")),
            rs.as_int(creation.get("ephemeral_1h_input_tokens")),
        )
    else:
        w5, w1h = rs.as_int(usage.get("cache_creation_input_tokens")), 0
    read = rs.as_int(usage.get("cache_read_input_tokens"))
    total_in = rs.add_ints(usage["input_tokens"], read, w5, w1h)
    if not isinstance(total_in, int):
        return f"message.usage has a token count that is not an integer: {str(total_in)[:40]}"
    mid, rid = msg.get("id"), entry.get("requestId")
    cwd = entry.get("cwd")
    fields = {
        "request_id": f"{mid}{SEP}{rid}" if mid and rid else (mid or None),
        "timestamp": entry.get("timestamp"),
        "model": msg.get("model"),
        "feature": project or (re.sub(r"[^A-Za-z0-9]", "-", cwd) if isinstance(cwd, str) else None),
        "task_id": session or entry.get("sessionId"),
        "input_tokens": total_in,
        "cache_read_tokens": read,
        "cache_write_tokens": w5,
        "cache_write_1h_tokens": w1h,
        "output_tokens": rs.as_int(usage.get("output_tokens")),
        "status": "error" if entry.get("isApiErrorMessage") else "ok",
        "cost_usd": entry.get("costUSD"),
    }
    extras = {
        "message_id": mid,
        "claude_request_id": rid,
        "claude_session_id": entry.get("sessionId"),
        "is_sidechain": True if entry.get("isSidechain") else None,
        "git_branch": entry.get("gitBranch"),
        "cwd": cwd,
        "version": entry.get("version"),
        "speed": usage.get("speed"),
        "service_tier": usage.get("service_tier"),
    }
    return rs.canonical_record(fields, extras, KIND)


def _size(rec: dict[str, Any]) -> tuple[int, bool]:
    """How complete a streaming copy is: its token total, then whether it has `speed`."""
    total = sum(
        rec.get(k, 0) if isinstance(rec.get(k), int) else 0
        for k in ("input_tokens", "output_tokens", "cache_read_tokens")
    )
    return total, "speed" in rec


# ---------------------------------------------------------------- one file


def load(job: Job) -> Counts:
    project, session = project_session(job.source.path)
    kept: dict[str, int] = {}  # request_id -> index in rows
    rows: list[tuple[int, str, dict[str, Any] | str]] = []
    dropped = 0
    line_no = 0
    for chunk in job.reader:
        lines = chunk.split(b"\n")
        if chunk.endswith(b"\n"):
            lines.pop()
        for raw_line in lines:
            line_no += 1
            if b'"usage"' not in raw_line:
                continue  # user turns, summaries, snapshots: not API calls
            text = raw_line.decode("utf-8", errors="backslashreplace").rstrip("\r")
            try:
                rec = json.loads(text)
            except json.JSONDecodeError:
                rows.append((line_no, text, "invalid JSON"))
                continue
            entry = _entry(rec)
            if entry is None or entry["message"].get("model") == "<synthetic>":
                continue
            out = _convert(entry, project, session)
            rid = out.get("request_id") if isinstance(out, dict) else None
            if isinstance(rid, str) and rid in kept:
                dropped += 1
                i = kept[rid]
                old = rows[i][2]
                if isinstance(old, dict) and isinstance(out, dict) and _size(out) > _size(old):
                    rows[i] = (line_no, text, out)  # a later, more complete streaming copy
                continue
            if isinstance(rid, str):
                kept[rid] = len(rows)
            rows.append((line_no, text, out))
        job.on_bytes(len(chunk))
    rows, replays = _drop_replays(job, rows)
    _complete_loaded(job, rows)
    stager = rs.Stager(job, KIND)
    for n, text, out in sorted(rows, key=lambda r: r[0]):
        stager.add(n, text, out)
    counts = stager.finish()
    counts.read += dropped + replays
    counts.duplicates += dropped + replays
    return counts


TOKEN_COLUMNS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
)


def _complete_loaded(job: Job, rows: list[tuple[int, str, dict[str, Any] | str]]) -> None:
    """A message loaded while Claude Code was still streaming it (a live session's file, read
    before the response ended) is completed when the grown file is read again: the stored row
    takes the larger counts; the new copy then counts as a duplicate."""
    fresh = {
        out["request_id"]: out
        for _, _, out in rows
        if isinstance(out, dict)
        and isinstance(out.get("request_id"), str)
        and all(isinstance(out.get(c, 0), int) for c in TOKEN_COLUMNS)
    }
    if not fresh:
        return
    stored = job.con.execute(
        """SELECT request_id, input_tokens + output_tokens + cache_read_tokens FROM requests
           WHERE source_kind = ? AND request_id IN (SELECT unnest(?::VARCHAR[]))""",
        [KIND, list(fresh)],
    ).fetchall()
    for rid, total in stored:
        new = fresh[rid]
        if _size(new)[0] > total:
            job.con.execute(
                f"UPDATE requests SET {', '.join(f'{c} = ?' for c in TOKEN_COLUMNS)} "
                "WHERE source_kind = ? AND request_id = ?",
                [*(new.get(c, 0) for c in TOKEN_COLUMNS), KIND, rid],
            )


def _drop_replays(
    job: Job, rows: list[tuple[int, str, dict[str, Any] | str]]
) -> tuple[list[Any], int]:
    """Drop sidechain copies of a message whose parent copy (same message.id, another requestId)
    is in this file or already loaded."""
    parents = {
        out["message_id"]
        for _, _, out in rows
        if isinstance(out, dict) and "message_id" in out and not out.get("is_sidechain")
    }
    side = {
        out["message_id"]
        for _, _, out in rows
        if isinstance(out, dict) and out.get("is_sidechain") and "message_id" in out
    }
    unknown = sorted(side - parents)
    if unknown:
        found = job.con.execute(
            f"""SELECT DISTINCT split_part(request_id, '{SEP}', 1) FROM requests
                WHERE source_kind = ? AND split_part(request_id, '{SEP}', 1) IN (SELECT unnest(?::VARCHAR[]))
                  AND (attrs IS NULL OR json_extract(attrs, '$.is_sidechain') IS NULL)""",
            [KIND, unknown],
        ).fetchall()
        parents |= {r[0] for r in found}
    keep = [
        r
        for r in rows
        if not (
            isinstance(r[2], dict)
            and r[2].get("is_sidechain")
            and r[2].get("message_id") in parents
        )
    ]
    return keep, len(rows) - len(keep)


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

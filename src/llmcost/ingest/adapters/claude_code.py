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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcost.errors import InputError
from llmcost.ingest import requests_log
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


Row = tuple[int, str, dict[str, Any] | str]


@dataclass
class Collected:
    """A file's API calls, read without the database: (line_no, text, outcome) rows, and the
    streaming copies already counted as duplicates."""

    rows: list[Row]
    dropped: int
    # In a group, whether the database can hold a copy of one of these messages (see stage_group);
    # when it cannot, the lookups of _complete_loaded and _drop_replays are known to find nothing.
    may_be_stored: bool = True
    may_have_parents: bool = True


def load(job: Job) -> Counts:
    return finish(job, collect(job.source.path, job.reader, job.on_bytes))


def collect(
    path: Path | None, reader: Iterable[bytes], on_bytes: Callable[[int], None]
) -> Collected:
    project, session = project_session(path)
    kept: dict[str, int] = {}  # request_id -> index in rows
    rows: list[Row] = []
    dropped = 0
    line_no = 0
    for chunk in reader:
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
        on_bytes(len(chunk))
    return Collected(sorted(rows, key=lambda r: r[0]), dropped)


def finish(job: Job, collected: Collected, group_seq: int | None = None) -> Counts:
    """Load a collected file in the file's transaction. With GROUP_SEQ, its rows were already parsed
    together with other small files' (`stage_group`): only what depends on the database is left."""
    rows, replays = _drop_replays(job, collected.rows, collected.may_have_parents)
    if collected.may_be_stored:
        _complete_loaded(job, rows)
    if group_seq is None:
        stager = rs.Stager(job, KIND)
        for n, text, out in rows:
            stager.add(n, text, out)
        counts = stager.finish()
    elif collected.rows:
        kept = {r[0] for r in rows}
        dropped_lines = [r[0] for r in collected.rows if r[0] not in kept]
        counts = requests_log.commit_group_file(job, group_seq, KIND, dropped_lines)
    else:
        counts = Counts()
    counts.read += collected.dropped + replays
    counts.duplicates += collected.dropped + replays
    return counts


def stage_group(con: Any, files: list[Collected], keep_text: bool) -> None:
    """Parse the rows of several collected files in one statement (see `requests_log.stage_group`)."""
    staged = rs.Rows()
    for seq, c in enumerate(files):
        for n, text, out in c.rows:
            staged.add(seq * requests_log.GROUP_SHIFT + n, text, out)
    requests_log.stage_group(con, staged.table(), keep_text, frozenset(staged.keys))
    _mark_lookups(con, files)


def _ids(c: Collected) -> tuple[set[str], set[str]]:
    """A file's request_ids, and the message ids `_drop_replays` may look up."""
    outs = [out for _, _, out in c.rows if isinstance(out, dict)]
    rids = {out["request_id"] for out in outs if isinstance(out.get("request_id"), str)}
    return rids, {out["message_id"] for out in outs if isinstance(out.get("message_id"), str)}


def _mark_lookups(con: Any, files: list[Collected]) -> None:
    """Spare each file of a group the two per-file lookups in `requests` when they cannot find anything.

    A row a file's lookup could find was stored before the group (asked once here, for the whole
    group) or by an earlier file of the group (its request_ids are known). A file none of whose
    ids can match such a row needs no lookup; any other file does its lookups as on its own.
    """
    ids = [_ids(c) for c in files]
    all_rids = sorted(set().union(*(r for r, _ in ids)))
    all_mids = sorted(set().union(*(m for _, m in ids)))
    stored = {
        r[0]
        for r in con.execute(
            "SELECT request_id FROM requests WHERE source_kind = ? AND request_id IN (SELECT unnest(?::VARCHAR[]))",
            [KIND, all_rids],
        ).fetchall()
    }
    stored_mids = {
        r[0]
        for r in con.execute(
            f"""SELECT DISTINCT split_part(request_id, '{SEP}', 1) FROM requests
                WHERE source_kind = ? AND split_part(request_id, '{SEP}', 1) IN (SELECT unnest(?::VARCHAR[]))""",
            [KIND, all_mids],
        ).fetchall()
    }
    for c, (rids, mids) in zip(files, ids, strict=True):
        c.may_be_stored = not rids.isdisjoint(stored)
        c.may_have_parents = not mids.isdisjoint(stored_mids)
        stored |= rids  # what this file may store, for the files after it
        stored_mids |= {r.split(SEP, 1)[0] for r in rids}


GROUPED = requests_log.register_grouped(KIND, collect, finish, stage_group)


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
    job: Job, rows: list[tuple[int, str, dict[str, Any] | str]], lookup: bool = True
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
    if unknown and lookup:
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

"""Generate a Claude Code log tree (`<out>/projects/<project>/<session>.jsonl`) for comparing
llmcost with ccusage, deterministic for a seed.

It has what real trees have: user turns with large tool output (most of the bytes), assistant
messages written as several streaming snapshots (output growing), 5-minute and 1-hour cache
writes, `<synthetic>` placeholders, resumed sessions that copy earlier messages, and subagent
transcripts (`<session>/subagents/agent-*.jsonl`) holding genuine sidechain messages and replays
of parent messages under a new requestId. Every request stays under 200k input tokens, so that
the long-context rules of the two tools (whole request vs per bucket) do not differ.

`<out>/expected.json` holds the totals after dedupe and the cost at list prices computed here,
independently of both tools.

    python benchmarks/claude_code_tree.py OUT --mb 400 [--seed 1]
    python benchmarks/claude_code_tree.py OUT --files 400 --lines 1500   # a fixed shape instead
    CLAUDE_CONFIG_DIR=OUT ccusage claude daily --offline --mode calculate --json -z UTC
    llmcost --db OUT.duckdb ingest OUT/projects && llmcost --db OUT.duckdb report --by day --format json
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# USD per 1M tokens: input, output, 5-minute cache write, 1-hour cache write, cache read
PRICES = {
    "claude-sonnet-4-20250514": ("3", "15", "3.75", "6", "0.30"),
    "claude-opus-4-1-20250805": ("15", "75", "18.75", "30", "1.50"),
    "claude-haiku-4-5-20251001": ("1", "5", "1.25", "2", "0.10"),
}
MODELS = list(PRICES)
START = datetime(2026, 10, 1, tzinfo=UTC)
LINES_PER_TURN = 2.7  # a user turn, and 1-3 assistant snapshots half the time (3% synthetic)


class Totals:
    def __init__(self) -> None:
        self.input = self.output = self.cache_create = self.cache_read = self.requests = 0
        self.cost = Decimal(0)
        self.by_day: dict[str, Decimal] = {}

    def add(self, model: str, ts: str, u: dict[str, Any]) -> None:
        c5 = u["cache_creation"]["ephemeral_5m_input_tokens"]
        c1 = u["cache_creation"]["ephemeral_1h_input_tokens"]
        i, o, w5, w1, r = (Decimal(x) for x in PRICES[model])
        cost = (u["input_tokens"] * i + u["output_tokens"] * o + c5 * w5 + c1 * w1
                + u["cache_read_input_tokens"] * r) / Decimal(1_000_000)  # fmt: skip
        self.input += u["input_tokens"]
        self.output += u["output_tokens"]
        self.cache_create += c5 + c1
        self.cache_read += u["cache_read_input_tokens"]
        self.requests += 1
        self.cost += cost
        self.by_day[ts[:10]] = self.by_day.get(ts[:10], Decimal(0)) + cost


class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.filler = "".join(
            self.rng.choice("abcdefghijklmnopqrstuvwxyz      \n") for _ in range(200_000)
        )
        self.totals = Totals()
        self.n = 0

    def text(self, lo: int, hi: int) -> str:
        size = self.rng.randint(lo, hi)
        start = self.rng.randint(0, len(self.filler) - size)
        return self.filler[start : start + size]

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def usage(self) -> dict[str, Any]:
        r = self.rng.random()
        c1 = self.rng.randint(500, 8000) if r < 0.15 else 0
        c5 = self.rng.randint(200, 20000) if 0.15 <= r < 0.6 else 0
        return {
            "input_tokens": self.rng.choice([1, 3, 4, 8, 12, 40, 300, 2500]),
            "cache_creation_input_tokens": c5 + c1,
            "cache_read_input_tokens": self.rng.randint(0, 150_000),
            "output_tokens": self.rng.randint(20, 4000),
            "service_tier": "standard",
            "cache_creation": {"ephemeral_5m_input_tokens": c5, "ephemeral_1h_input_tokens": c1},
        }

    def line(self, base: dict[str, Any], **kw: Any) -> str:
        rec = {**base, **kw}
        return json.dumps(rec, separators=(",", ":"))

    def assistant(self, base: dict[str, Any], ts: str, model: str, usage: dict[str, Any], mid: str, rid: str,
                  side: bool = False) -> str:  # fmt: skip
        msg = {"id": mid, "type": "message", "role": "assistant", "model": model,
               "content": [{"type": "text", "text": self.text(80, 600)}],
               "stop_reason": "end_turn", "stop_sequence": None, "usage": usage}  # fmt: skip
        return self.line(base, isSidechain=side, message=msg, requestId=rid, type="assistant",
                         uuid=self.uid(), timestamp=ts)  # fmt: skip

    def session(self, project: str, cwd: str, when: datetime, turns: int) -> tuple[list[str], list[tuple[str, str, str, dict[str, Any]]]]:  # fmt: skip
        """The lines of one session file and its final messages (model, ts, mid, usage)."""
        sid = self.uid()
        base = {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": cwd,
                "sessionId": sid, "version": "2.0.14", "gitBranch": "main"}  # fmt: skip
        lines = [
            self.line({"type": "summary", "summary": self.text(20, 60), "leafUuid": self.uid()})
        ]
        finals = []
        model = self.rng.choice(MODELS)
        for _ in range(turns):
            when += timedelta(seconds=self.rng.randint(5, 400))
            ts = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            lines.append(self.line(base, type="user", uuid=self.uid(), timestamp=ts,
                                   message={"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                                                         "content": self.text(300, 3500)}]}))  # fmt: skip
            if self.rng.random() < 0.03:
                lines.append(self.assistant(base, ts, "<synthetic>", {"input_tokens": 0, "output_tokens": 0,
                             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}, f"msg_{self.uid()}", f"req_{self.uid()}"))  # fmt: skip
                continue
            mid, rid, usage = f"msg_{self.uid()}", f"req_{self.uid()}", self.usage()
            if self.rng.random() < 0.5:  # streaming snapshots before the final one
                for _ in range(self.rng.randint(1, 2)):
                    early = {
                        **usage,
                        "output_tokens": self.rng.randint(1, max(1, usage["output_tokens"] // 3)),
                    }
                    lines.append(self.assistant(base, ts, model, early, mid, rid))
            lines.append(self.assistant(base, ts, model, usage, mid, rid))
            finals.append((model, ts, mid, usage))
        return lines, finals


def generate(
    out: Path,
    mb: float,
    seed: int = 1,
    files_wanted: int | None = None,
    per_file: int | None = None,
) -> dict[str, Any]:
    """A tree of about MB MiB; or, with FILES_WANTED, that many files (sessions, their subagent
    transcripts and resumed copies) whose sessions have about PER_FILE lines each."""
    g = Gen(seed)
    projects = [
        f"-home-dev-repo-{name}"
        for name in ("api", "webapp", "infra", "ml", "docs", "mobile", "cli", "site")
    ]
    target = int(mb * 1024 * 1024)
    written = files = 0
    day = 0
    while (files < files_wanted) if files_wanted else (written < target):
        project = g.rng.choice(projects)
        cwd = "/" + project.strip("-").replace("-", "/")
        when = START + timedelta(
            days=day % 30, hours=g.rng.randint(0, 20), minutes=g.rng.randint(0, 59)
        )
        day += 1
        turns = int(g.rng.lognormvariate(5.6, 0.9))  # a few small sessions, a long tail of big ones
        if per_file:
            turns = round(per_file / LINES_PER_TURN)
        lines, finals = g.session(project, cwd, when, max(turns, 3))
        sid = json.loads(lines[1])["sessionId"]
        folder = out / "projects" / project
        folder.mkdir(parents=True, exist_ok=True)
        for model, ts, _, usage in finals:
            g.totals.add(model, ts, usage)
        sub: list[str] = []
        if g.rng.random() < 0.25:  # a subagent transcript
            side_base = {"parentUuid": None, "userType": "external", "cwd": cwd, "sessionId": sid,
                         "version": "2.0.14", "gitBranch": "main", "agentId": g.uid()[:8]}  # fmt: skip
            for model, ts, mid, usage in g.rng.sample(finals, min(3, len(finals))):
                # a replay of a parent message under a new requestId: not a new request
                replay = {
                    **usage,
                    "cache_read_input_tokens": usage["cache_read_input_tokens"] + 1000,
                }
                sub.append(
                    g.assistant(side_base, ts, model, replay, mid, f"req_{g.uid()}", side=True)
                )
            for _ in range(g.rng.randint(2, 30)):
                _, ts, _, _ = g.rng.choice(finals)
                usage, model = g.usage(), "claude-haiku-4-5-20251001"
                sub.append(
                    g.assistant(
                        side_base, ts, model, usage, f"msg_{g.uid()}", f"req_{g.uid()}", side=True
                    )
                )
                g.totals.add(model, ts, usage)
        (folder / f"{sid}.jsonl").write_text("\n".join(lines) + "\n")
        written += sum(len(x) + 1 for x in lines)
        files += 1
        if sub:
            path = folder / sid / "subagents" / f"agent-{g.uid()[:8]}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(sub) + "\n")
            written += sum(len(x) + 1 for x in sub)
            files += 1
        if g.rng.random() < 0.05:  # a resumed session: copies of the last messages in a new file
            copies = [x for x in lines if '"type":"assistant"' in x][-5:]
            (folder / f"{g.uid()}.jsonl").write_text("\n".join(copies) + "\n")
            written += sum(len(x) + 1 for x in copies)
            files += 1
    t = g.totals
    expected = {
        "files": files, "bytes": written, "requests": t.requests,
        "input_tokens": t.input, "output_tokens": t.output,
        "cache_creation_tokens": t.cache_create, "cache_read_tokens": t.cache_read,
        "cost_usd": str(t.cost), "by_day": {d: str(c) for d, c in sorted(t.by_day.items())},
    }  # fmt: skip
    (out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--mb", type=float, default=400.0, help="approximate size of the tree in MiB")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, help="instead of --mb: this many files...")
    ap.add_argument(
        "--lines", type=int, default=1500, help="...of sessions of about this many lines"
    )
    args = ap.parse_args()
    expected = generate(
        args.out, args.mb, args.seed, args.files, args.lines if args.files else None
    )
    print(json.dumps({k: v for k, v in expected.items() if k != "by_day"}))


if __name__ == "__main__":
    main()

"""Prompt and response text, found in every vendor shape and dropped before anything is written.

SPEC §3: without `--keep-text`, no message, choice, content block, candidate, instruction, tool
argument or tool result reaches the database: not `requests`, not `attrs`, not `rejects`. A
stored reject keeps the rest of its line, each dropped text replaced by a marker that says how
many characters went (`[text removed: 1,234 characters]`).

A value is text by the key it sits under (TEXT_KEYS, or an OpenTelemetry attribute named in
TEXT_ATTRS / starting with TEXT_ATTR_PREFIXES, also as an OTLP `{"key", "value"}` pair). Under
such a key a value goes whole (a list of messages, a content block...), unless it holds no
string at all (a count, `null`, `[]`), which is kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

TEXT_KEYS = frozenset(
    {
        # OpenAI chat / Responses / completions; Anthropic Messages; Gemini
        "messages", "choices", "content", "contents", "candidates", "instructions", "prompt", "completion", "system", "systemInstruction",
        "system_instruction", "parts", "text", "output_text", "input_text", "refusal",
        "tool_calls", "function_call", "arguments", "tool_result", "tool_results",
        "reasoning_content", "thinking", "prompt_text", "response_text",
    }
)  # fmt: skip
TEXT_ATTRS = frozenset(
    {
        "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.prompt",
        "gen_ai.completion", "gen_ai.content.prompt", "gen_ai.content.completion",
        "gen_ai.content.revised_prompt", "input.value", "output.value",
        "traceloop.entity.input", "traceloop.entity.output",
    }
)  # fmt: skip
TEXT_ATTR_PREFIXES = (
    "gen_ai.prompt.", "gen_ai.completion.", "llm.prompts.", "llm.completions.",
    "llm.input_messages", "llm.output_messages",
)  # fmt: skip


# Keys that hold text unless their value is an object, which is looked into instead: a Bedrock
# `input` holds token counts beside its messages, a `response` its usage and ids; a string or a
# list under them (a Responses `output`, an `input` of messages) is text.
CONTAINER_KEYS = frozenset({"request", "response", "input", "output"})


def is_text_key(key: str) -> bool:
    return key in TEXT_KEYS or key in TEXT_ATTRS or key.startswith(TEXT_ATTR_PREFIXES)


def is_text(key: str, value: Any) -> bool:
    """Whether VALUE, under KEY, is text."""
    return is_text_key(key) or (key in CONTAINER_KEYS and not isinstance(value, dict))


def marker(chars: int) -> str:
    return f"[text removed: {chars:,} characters]"


def chars(value: Any) -> int:
    """The characters of text in VALUE: every string in it, keys of objects left out."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(chars(v) for v in value)
    if isinstance(value, dict):
        return sum(chars(v) for v in value.values())
    return 0


def scrub(value: Any, *, drop: bool = False) -> tuple[Any, int]:
    """VALUE with its text replaced by markers (DROP: text keys left out); and the characters removed."""
    if isinstance(value, list):
        out_list = []
        removed = 0
        for item in value:
            new, n = scrub(item, drop=drop)
            out_list.append(new)
            removed += n
        return out_list, removed
    if not isinstance(value, dict):
        return value, 0
    key = value.get("key")
    if isinstance(key, str) and "value" in value and is_text_key(key):
        n = chars(value["value"])  # an OTLP attribute: {"key": ..., "value": {"stringValue": ...}}
        if n:
            return {**value, "value": {"stringValue": marker(n)}}, n
    out: dict[str, Any] = {}
    removed = 0
    for k, v in value.items():
        if is_text(str(k), v):
            n = chars(v)
            if n:
                removed += n
                if not drop:
                    out[k] = marker(n)
                continue
        new, n = scrub(v, drop=drop)
        out[k] = new
        removed += n
    return out, removed


def scrub_line(line: str) -> str:
    """A line as a reject keeps it: the same text with each text value replaced by a marker.

    A JSON line is rewritten only when it held text (else it stays byte for byte); a line that
    does not parse (cut short, bad JSON) has the string, array or object after each text key
    replaced, up to the end of the line where it is not closed."""
    try:
        value = json.loads(line)
    except ValueError:
        return _scrub_broken(line)
    new, removed = scrub(value)
    return json.dumps(new, ensure_ascii=False) if removed else line


_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*')


def _scrub_broken(line: str) -> str:
    out: list[str] = []
    pos = 0
    while True:
        m = _KEY.search(line, pos)
        if m is None:
            out.append(line[pos:])
            return "".join(out)
        try:
            key = json.loads(f'"{m.group(1)}"')
        except ValueError:
            key = m.group(1)
        start = m.end()
        opener = line[start] if start < len(line) else ""
        text_here = is_text_key(key) or (key in CONTAINER_KEYS and opener in '"[')
        if not text_here or opener not in '"[{':
            out.append(line[pos:start])
            pos = start
            continue
        end = _value_end(line, start)
        out.append(line[pos:start])
        out.append(json.dumps(marker(end - start)))
        pos = end


def _value_end(line: str, start: int) -> int:
    """Where the JSON string, array or object at START ends (the line's end when it does not)."""
    depth = 0
    i = start
    in_string = False
    while i < len(line):
        c = line[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
                if depth == 0:
                    return i + 1
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(line)


def scrub_rejects(con: Any, table: str, where: str = "reason IS NOT NULL") -> None:
    """Replace the text in the rejected lines (column `line`, rows WHERE) of a staged table
    before they are stored. Rejects are few: each is read into Python and written back."""
    rows = con.execute(f"SELECT DISTINCT line FROM {table} WHERE {where}").fetchall()
    changes = [(new, old) for (old,) in rows if old is not None and (new := scrub_line(old)) != old]
    if changes:
        con.executemany(f"UPDATE {table} SET line = ? WHERE {where} AND line = ?", changes)

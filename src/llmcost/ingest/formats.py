"""The registry of input formats: each knows how to recognise a file and how to load it.

A format's `load` only parses: it turns the file into canonical records and hands them to the
store's writers. Adding a source means adding a module with a `Format` that registers itself here
(`register`); ingest/registry.py imports every such module and answers which formats there are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmcost.ingest.sources import ChunkReader, Source

if TYPE_CHECKING:
    from llmcost.store.writes import Counts


@dataclass
class Job:
    """One file being ingested: everything a format's `load` needs."""

    con: Any
    source: Source
    file_id: int
    reader: ChunkReader
    keep_text: bool = False
    on_bytes: Callable[[int], None] = field(default=lambda n: None)
    mapping: dict[str, str] = field(default_factory=dict)  # canonical field -> path (--map)


@dataclass(frozen=True)
class Format:
    name: str  # what --as takes and the summary shows
    kind: str  # dedupe scope: records with the same request_id and kind are the same record
    description: str
    sniff: Callable[[bytes, Source], bool]
    load: Callable[[Job], Counts]
    priority: int = 100  # lower sniffs first; the canonical log is the catch-all for JSON objects


REGISTRY: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    REGISTRY[fmt.name] = fmt
    return fmt


def first_records(head: bytes, limit: int = 5) -> list[Any]:
    """Up to `limit` parsed JSON values from the first lines of a head sample (a whole JSON document
    when the sample is one), skipping blank lines; a line that does not parse is left out."""
    text = head.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return [json.loads(stripped)]
        except (json.JSONDecodeError, RecursionError):
            pass
    out: list[Any] = []
    lines = text.split("\n")  # a bare CR inside a line does not end it
    # the last line of a head sample may be cut short
    for line in lines[:-1] if len(lines) > 1 and not text.endswith("\n") else lines:
        if line.strip():
            try:
                out.append(json.loads(line))
            # nested too deep for Python's reader: not a record either
            except (json.JSONDecodeError, RecursionError):
                continue
        if len(out) >= limit:
            break
    return out


def first_line(head: bytes) -> str:
    return head.decode("utf-8", errors="replace").lstrip("\ufeff").split("\n", 1)[0].strip("\r")

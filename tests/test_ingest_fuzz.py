"""Fuzz: arbitrary bytes and arbitrary JSON values between good lines never stop an ingest.

For every file: no exception, `read = loaded + rejected + duplicates`, and every good line is
loaded. Plain files try the direct path first; gzipped ones are read line by line.
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from llmcost.ingest import canonical, ingest_paths

_ids = itertools.count()
KEYS = sorted({k for paths in canonical.ALIASES.values() for k in paths} | {"usage", "x"})

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# objects made of the keys the parse reads, with any values: the typed checks' work
records = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)
junk_bytes = st.binary(max_size=200).map(lambda b: b.replace(b"\n", b""))


def _dump(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


bad_lines = st.one_of(
    junk_bytes,
    json_values.map(_dump),
    records.map(_dump),
    st.text(max_size=80).map(lambda t: t.replace("\n", "").encode("utf-8", "surrogatepass")),
)


def good_line(ts: int) -> tuple[str, bytes]:
    rid = f"good-{next(_ids)}"
    rec = {"request_id": rid, "timestamp": 1_700_000_000 + ts, "model": "gpt-4o",
           "input_tokens": 10 + ts, "output_tokens": ts}  # fmt: skip
    return rid, json.dumps(rec).encode()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.one_of(bad_lines, st.integers(0, 10_000)), min_size=1, max_size=30),
    crlf=st.booleans(),
    compress=st.booleans(),
)
# a line of the log that starts like the over-long line's placeholder is judged as the line it is
@example(lines=[b"\x00llmcost-oversize:"], crlf=False, compress=False)
@example(lines=[b"\x00llmcost-oversize:12x:{}", 3], crlf=True, compress=False)
def test_arbitrary_lines_never_stop_an_ingest(
    lines: list[Any], crlf: bool, compress: bool, con: Any, tmp_path: Path
) -> None:
    good: list[str] = []
    out: list[bytes] = []
    for item in [0, *lines]:  # one good line at least: the file's content is new
        if isinstance(item, int):
            rid, data = good_line(item)
            good.append(rid)
            out.append(data)
        else:
            out.append(item)
    data = (b"\r\n" if crlf else b"\n").join(out) + b"\n"
    path = tmp_path / f"fuzz-{next(_ids)}.jsonl"
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    summary = ingest_paths(con, [str(path)], as_format="requests")
    (f,) = summary.files
    assert f.read == f.loaded + f.rejected + f.duplicates
    stored = con.execute(
        "SELECT count(*) FROM requests WHERE request_id IN (SELECT unnest(?::VARCHAR[]))", [good]
    ).fetchone()[0]
    assert stored == len(good)
    # every line was counted: blank ones are not lines of the log
    nonblank = sum(1 for line in out if line.strip(b" \t\r\x0c"))
    assert f.read == nonblank, (f, nonblank)

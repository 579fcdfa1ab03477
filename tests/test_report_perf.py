"""The report's fast paths held to the plain ones they replace: JSON written in parts (a frame of
many rows in batches, straight to the output) is the same text as the document written whole; the
user concentration computed on a polars column is the same floats as the Python loop."""

from __future__ import annotations

import io
import json
import math
import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from llmcost import metrics, render
from llmcost.documents import OMIT, frame_dicts

# ---------------------------------------------------------------- concentration


def plain_concentration(costs: list[float]) -> dict[str, Any]:
    """The share of the top k% of users and the Gini coefficient, written out in plain Python."""
    xs = sorted((c for c in costs if c is not None), reverse=True)
    n, total = len(xs), sum(xs)
    out: dict[str, Any] = {"users": n}
    for p in (1, 5, 10, 20):
        k = max(1, math.ceil(p / 100 * n)) if n else 0
        out[f"top_{p}pct"] = sum(xs[:k]) / total if total > 0 else None
    asc = xs[::-1]
    weighted = sum((2 * i - n - 1) * x for i, x in enumerate(asc, start=1))
    out["gini"] = weighted / (n * total) if total > 0 else None
    return out


def test_concentration_of_a_column_is_the_python_sums() -> None:
    rnd = random.Random(21)
    cases: list[list[Any]] = [[], [None], [0.0], [-0.0, 0.0], [2.5], [1.0, 1.0, 1.0], [0.0] * 9]
    for _ in range(60):
        n = rnd.choice([2, 3, 7, 99, 100, 101, 2000])
        xs: list[Any] = [
            rnd.random() ** rnd.uniform(1, 6) * 10 ** rnd.uniform(-7, 3) for _ in range(n)
        ]
        xs += [None, 0.0, -0.0][: rnd.randrange(4)]
        if rnd.random() < 0.2:
            xs[0] = -xs[0]  # a negative total (a credit) is a user like another
        cases.append(xs)
    cases.append([rnd.random() ** 4 for _ in range(200_000)])
    for xs in cases:
        got = metrics.concentration_of(pl.Series(xs, dtype=pl.Float64))
        assert repr(got) == repr(plain_concentration(xs)) == repr(metrics.concentration(xs))
    # hand-computed: 4 users of 1, 2, 3 and 4 USD; top 1 %, 5 %, 10 % and 20 % are one user (4 of
    # 10 USD); Gini = (-3·1 - 1·2 + 1·3 + 3·4) / (4 · 10) = 10/40
    four = metrics.concentration_of(pl.Series([3.0, 1.0, None, 4.0, 2.0]))
    assert four == {
        "users": 4, "top_1pct": 0.4, "top_5pct": 0.4, "top_10pct": 0.4, "top_20pct": 0.4,
        "gini": 0.25,
    }  # fmt: skip


# ---------------------------------------------------------------- JSON in parts


def mixed_frame(n: int, seed: int) -> pl.DataFrame:
    rnd = random.Random(seed)
    return pl.DataFrame(
        {
            "user": [rnd.choice([f"u{i}", 'quo"te', "é\u2028", None]) for i in range(n)],
            "requests": [rnd.randrange(0, 10**6) for _ in range(n)],
            "cost_usd": [
                rnd.choice([rnd.random() * 10 ** rnd.uniform(-9, 9), None]) for _ in range(n)
            ],
            "ok": [rnd.choice([True, False, None]) for _ in range(n)],
            f"{OMIT}ok": [rnd.random() < 0.1 for _ in range(n)],
        }
    )


@pytest.mark.parametrize(("batch", "workers"), [(1, 2), (7, 1), (7, 3), (64, 2), (1000, 2)])
def test_a_frame_in_batches_is_the_json_of_its_rows(
    batch: int, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "JSON_BATCH", batch)
    monkeypatch.setattr(render, "JSON_WORKERS", workers)  # batches formatted at once, in order
    frame = mixed_frame(150, batch)
    for depth in (0, 2):
        parts = list(render.frame_json_parts(frame, depth))
        assert len(parts) == 2 + math.ceil(150 / batch)  # "[", one per batch, "]"
        expected = json.dumps(frame_dicts(frame), indent=2, ensure_ascii=False)
        expected = render.safe_text.json_text(expected).replace("\n", "\n" + "  " * depth)
        assert "".join(parts) == render.frame_json(frame, depth) == expected
    assert list(render.frame_json_parts(frame.head(0), 1)) == ["[]"]


class TwoFrames:
    """A document with two frames, one empty, text between and after them."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def document(self) -> dict[str, Any]:
        return {
            "a": "x",
            "rows": self.frame,
            "inner": {"none": self.frame.head(0), "n": 1.5},
            "z": [1],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "a": "x",
            "rows": frame_dicts(self.frame),
            "inner": {"none": [], "n": 1.5},
            "z": [1],
        }

    def tables(self) -> list[Any]:
        return []

    def headline(self) -> list[str]:
        return []


def test_json_streamed_to_the_output_is_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "JSON_BATCH", 16)
    result: Any = TwoFrames(mixed_frame(100, 3))
    whole = render.json_document(result)
    assert (
        whole
        == json.dumps(result.to_json(), indent=2, ensure_ascii=False).replace("\u2028", "\\u2028")
        + "\n"
    )
    assert render.render(result, "json") == whole
    out = io.StringIO()
    assert render.render(result, "json", stream=out) is None
    assert out.getvalue() == whole
    assert render.render(result, "json", tmp_path / "r.json", stream=out) is None
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == whole
    assert out.getvalue() == whole  # -o: nothing more on the stream
    # other formats are text as before, whatever the stream
    assert render.render(result, "table", stream=out) == render.render(result, "table")


def test_report_json_on_stdout_is_the_file(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    log = [
        {"request_id": f"r{i}", "timestamp": f"2026-09-{1 + i % 28:02d}T10:00:00Z",
         "model": "claude-haiku-4-5", "input_tokens": 100 + i, "output_tokens": 7 * i,
         "user_id": f"u{i % 13}", "feature": ["chat", "search"][i % 2]}
        for i in range(80)
    ]  # fmt: skip
    assert run_cli("ingest", "-q", str(jsonl(log)))[0] == 0
    code, out, err = run_cli("report", "--by", "user", "-f", "json")
    assert code == 0, err
    assert run_cli("report", "--by", "user", "-o", str(tmp_path / "r.json"))[0] == 0
    doc = json.loads(out)
    assert len(doc["rows"]) == 13 and doc["totals"]["requests"] == 80
    # the same document but for the time it was made
    again = (tmp_path / "r.json").read_text(encoding="utf-8")
    stamp = f'"generated_at": "{doc["generated_at"]}"'
    assert out.replace(stamp, "") == again.replace(
        f'"generated_at": "{json.loads(again)["generated_at"]}"', ""
    )


def test_an_error_half_way_leaves_the_output_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("the report of yesterday\n", encoding="utf-8")

    def parts() -> Any:
        yield '{\n  "schema": "llmcost.report/1",\n'
        raise RuntimeError("a batch failed")

    with pytest.raises(RuntimeError, match="a batch failed"):
        render.write_parts(parts(), target, None)
    assert target.read_text(encoding="utf-8") == "the report of yesterday\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]

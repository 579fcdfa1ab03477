"""--version, shell completion, examples in every --help, `llmcost init`, global options after the
command, the progress bar; and, in a real terminal (tmux), colour and the progress bar."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from llmcost import __version__, cli

LLMCOST = Path(sys.executable).parent / "llmcost"


def test_version(run_cli: Any) -> None:
    assert run_cli("--version") == (0, f"llmcost {__version__}\n", "")


def test_shell_completion_is_offered(run_cli: Any) -> None:
    _, out, _ = run_cli("--help")
    assert "--install-completion" in out and "--show-completion" in out
    if not LLMCOST.exists():
        pytest.skip("the llmcost script is not installed next to this Python")
    proc = subprocess.run([str(LLMCOST), "--show-completion", "bash"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "_LLMCOST_COMPLETE" in proc.stdout and "complete " in proc.stdout


def _commands() -> list[tuple[str, ...]]:
    import typer.main

    group = typer.main.get_command(cli.app)
    out: list[tuple[str, ...]] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        out += [(name, sub) for sub in subs] if subs else [(name,)]
    return out


@pytest.mark.parametrize("args", _commands())
def test_every_command_has_examples(run_cli: Any, args: tuple[str, ...]) -> None:
    code, out, _ = run_cli(*args, "--help")
    assert code == 0
    examples = out.split("Examples:", 1)
    assert len(examples) == 2, f"no examples in `llmcost {' '.join(args)} --help`"
    assert f"llmcost {args[-1]}" in examples[1] or f"llmcost {' '.join(args)}" in examples[1]


def test_help_is_fast() -> None:
    # CPU time of the process (user + system), the best of five: wall time on a busy machine
    # measures the other processes too
    best = min(_cpu_time([sys.executable, "-m", "llmcost", "--help"]) for _ in range(5))
    assert best < 0.25, f"llmcost --help took {best:.3f} s of CPU"


def _cpu_time(argv: list[str]) -> float:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, capture_output=True, check=True, timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_init_writes_a_working_config(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    code, out, err = run_cli("init")
    assert code == 0 and out == "" and "wrote llmcost.toml" in err
    doc = tomllib.loads((tmp_path / "llmcost.toml").read_text())
    assert set(doc) >= {"targets", "check", "scenarios"}
    assert "# [ingest.map]" in (tmp_path / "llmcost.toml").read_text()
    # every key is one the commands know: they run with it (exit 0 or 1, never 2)
    log = jsonl([{"request_id": "a", "timestamp": "2026-10-05T10:00:00Z", "model": "claude-haiku-4-5",
                  "input_tokens": 1000, "output_tokens": 10, "feature": "support-chat"}])  # fmt: skip
    assert run_cli("ingest", "-q", str(log))[0] == 0
    for args in (
        ["check"],
        ["report"],
        ["whatif", "--all"],
        ["whatif", "support-on-haiku", "--format", "json"],
    ):
        code, out, err = run_cli(*args)
        assert code in (0, 1), (args, err)
    assert json.loads(out)["scenario"]["levers"]["route_to"] == "haiku"
    code, _, err = run_cli("init")
    assert code == 2 and "already exists (use --force to replace it)" in err
    assert run_cli("init", "--force")[0] == 0


def test_global_options_after_the_command(run_cli: Any, jsonl: Any, tmp_path: Path) -> None:
    log = jsonl([{"request_id": "a", "timestamp": "2026-10-05T10:00:00Z", "model": "claude-haiku-4-5",
                  "input_tokens": 1000, "output_tokens": 0}])  # fmt: skip
    db = tmp_path / "other.duckdb"
    assert run_cli("ingest", "-q", str(log), "--db", str(db))[0] == 0
    assert db.exists()
    code, out, err = run_cli("report", "--format", "json", f"--db={db}")
    assert code == 0, err and json.loads(out)["totals"]["requests"] == 1
    assert cli.hoist_globals(["report", "--by", "feature", "--db", "x"]) == [
        "--db", "x", "report", "--by", "feature"
    ]  # fmt: skip
    assert cli.hoist_globals(["--db", "x", "ingest", "--", "--db"]) == [
        "--db",
        "x",
        "ingest",
        "--",
        "--db",
    ]


def test_progress_knows_the_size(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("x" * 100)
    (tmp_path / "logs" / "b.jsonl").write_text("y" * 50)
    assert cli.input_size([str(tmp_path / "logs")]) == (2, 150)
    assert cli.input_size([str(tmp_path / "logs"), "-"]) == (3, None)  # stdin: no total


# ---------------------------------------------------------------- a real terminal


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout


@pytest.fixture
def tmux(tmp_path: Path) -> Any:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    if not LLMCOST.exists():
        pytest.skip("the llmcost script is not installed next to this Python")
    name = f"llmcost-test-{os.getpid()}"
    socket = ["-L", name]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "CI", "COLUMNS", "TMUX")}

    def start(command: str, width: int = 100) -> None:
        subprocess.run(["tmux", *socket, "new-session", "-d", "-s", name, "-x", str(width), "-y", "40",
                        "-e", "TERM=xterm-256color", command], check=True, env=env, cwd=tmp_path, timeout=30)  # fmt: skip

    def capture(escapes: bool = False) -> str:
        return _tmux(*socket, "capture-pane", "-p", *(["-e"] if escapes else []), "-t", name)

    yield start, capture
    subprocess.run(["tmux", *socket, "kill-server"], capture_output=True, timeout=30)


def _wait(capture: Any, found: Any, seconds: float = 60.0, escapes: bool = False) -> str:
    deadline = time.monotonic() + seconds
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(escapes)
        if found(screen):
            return screen
        time.sleep(0.05)
    raise AssertionError(f"not seen in time; the screen was:\n{screen}")


def test_tmux_colour_on_a_terminal(tmux: Any, tmp_path: Path) -> None:
    start, capture = tmux
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"request_id": "a", "timestamp": "2026-10-05T10:00:00Z", "model": "mystery-9",
                               "input_tokens": 10, "output_tokens": 0}) + "\n")  # fmt: skip
    (tmp_path / "llmcost.toml").write_text("[check]\nmax_unpriced_share = 0.01\n")
    db = tmp_path / "t.duckdb"
    start(f"{LLMCOST} --db {db} ingest -q {log} >/dev/null && {LLMCOST} --db {db} check; sleep 30")
    screen = _wait(capture, lambda s: "max_unpriced_share" in s and "FAIL" in s.split("max_unpriced_share")[-1],
                   escapes=True)  # fmt: skip
    row = next(ln for ln in screen.splitlines() if "max_unpriced_share" in ln and "≤" in ln)
    assert "\x1b[" in row  # escapes around FAIL: red
    assert "\x1b[31m" in row or "\x1b[1;31m" in row or ";31m" in row


def test_tmux_progress_bar(tmux: Any, tmp_path: Path) -> None:
    start, capture = tmux
    # a log big enough for the bar to be seen: 150,000 lines (~30 MB)
    line = {"timestamp": "2026-10-05T10:00:00Z", "model": "claude-haiku-4-5", "input_tokens": 1000,
            "output_tokens": 10, "user_id": "u1", "feature": "chat", "padding": "x" * 80}  # fmt: skip
    with (tmp_path / "big.jsonl").open("w") as fh:
        for i in range(150_000):
            fh.write(json.dumps({"request_id": f"r{i}", **line}) + "\n")
    db = tmp_path / "t.duckdb"
    start(f"{LLMCOST} --db {db} ingest big.jsonl; sleep 30", width=120)

    def rate_shown(s: str) -> bool:  # the bar once bytes have moved, or the summary after it
        return any("ingesting 1 file" in ln and "/s" in ln for ln in s.splitlines()) or "total" in s

    screen = _wait(capture, rate_shown)
    if "ingesting 1 file" not in screen:
        pytest.skip("the ingest finished before the bar could be captured")
    bar = next(ln for ln in screen.splitlines() if "ingesting 1 file" in ln)
    assert "%" in bar and "MB" in bar and "/s" in bar  # percent, bytes, rate
    assert any(ch.isdigit() for ch in bar.split("/s")[-1])  # time left
    _wait(capture, lambda s: "total" in s)  # then the summary, the bar gone
    assert "ingesting 1 file" not in capture()


def test_each_file_is_announced(con: Any, tmp_path: Path) -> None:
    from llmcost.ingest import ingest_paths

    folder = tmp_path / "logs"
    folder.mkdir()
    for name in ("a", "b"):
        line = {"request_id": name, "timestamp": "2026-10-05T10:00:00Z", "model": "claude-haiku-4-5",
                "input_tokens": 1, "output_tokens": 1}  # fmt: skip
        (folder / f"{name}.jsonl").write_text(json.dumps(line) + "\n")
    seen: list[str] = []
    summary = ingest_paths(con, [str(folder)], on_file=lambda f: seen.append(Path(f.path).name))
    assert sorted(seen) == ["a.jsonl", "b.jsonl"] and len(summary.files) == 2


def test_tmux_a_line_per_file_of_a_folder(tmux: Any, tmp_path: Path) -> None:
    start, capture = tmux
    folder = tmp_path / "logs"
    folder.mkdir()
    for i in range(3):
        line = {"request_id": f"r{i}", "timestamp": "2026-10-05T10:00:00Z", "model": "claude-haiku-4-5",
                "input_tokens": 1, "output_tokens": 1}  # fmt: skip
        (folder / f"part-{i}.jsonl").write_text(json.dumps(line) + "\n")
    start(f"{LLMCOST} --db {tmp_path / 't.duckdb'} ingest logs >/dev/null; sleep 30", width=120)
    screen = _wait(capture, lambda s: s.count("1 loaded, 0 rejected, 0 duplicates") == 3)
    for i in range(3):
        assert f"logs/part-{i}.jsonl  requests  1 loaded" in screen

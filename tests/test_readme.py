"""The README's example output is the tool's real output on sample_logs/ (kept in sync by cog)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_output_matches_the_tool() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "--diff", str(ROOT / "README.md")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        "README.md is out of date with the tool's output; run `.venv/bin/cog -r README.md`\n"
        + result.stdout[-4000:]
        + result.stderr[-2000:]
    )

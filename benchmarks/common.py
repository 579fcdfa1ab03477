"""What the benchmark scripts share (they run as `python benchmarks/NAME.py`, so this imports plainly)."""

from __future__ import annotations

import sys
from pathlib import Path


def llmcost_cmd() -> list[str]:
    """The installed `llmcost` beside this Python, or the same entry point through `python -c`."""
    exe = Path(sys.executable).with_name("llmcost")
    return (
        [str(exe)]
        if exe.exists()
        else [sys.executable, "-c", "from llmcost.cli import main; main()"]
    )

"""What ships: the wheel carries the price table and the report templates; `import llmcost.cli` stays light."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("duckdb", "pyarrow", "polars", "jinja2", "tiktoken")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    wheels = list(out.glob("llmcost-*.whl"))
    assert len(wheels) == 1
    return zipfile.ZipFile(wheels[0])


def test_wheel_ships_the_price_table(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    bundled = {f"llmcost/data/pricing/{p.name}" for p in (REPO / "pricing").glob("*.toml")}
    assert bundled, "the repository has no pricing/*.toml"
    assert bundled <= names
    assert (
        wheel.read("llmcost/data/pricing/openai.toml")
        == (REPO / "pricing" / "openai.toml").read_bytes()
    )


def test_wheel_ships_the_templates(wheel: zipfile.ZipFile) -> None:
    templates = sorted(
        p.name for p in (REPO / "reports" / "templates").iterdir() if not p.name.startswith(".")
    )
    assert templates, "reports/templates is empty: nothing for hatch to ship"
    shipped = sorted(
        n.rsplit("/", 1)[1] for n in wheel.namelist() if n.startswith("llmcost/data/templates/")
    )
    assert [t for t in templates if t in shipped] == templates


def test_wheel_ships_the_code_and_entry_point(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert "llmcost/cli.py" in names and "llmcost/pricing.py" in names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "llmcost = llmcost.cli:main" in wheel.read(entry).decode()


def test_installed_layout_finds_the_shipped_data(wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    # unpack the wheel as site-packages would hold it, and ask config where the data is
    wheel.extractall(tmp_path)
    code = (
        "from llmcost import config; print(config.bundled_pricing_dir()); print(config.templates_dir());"
        "from llmcost import pricing; print(len(pricing.load().models))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(tmp_path), "PATH": ""}, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pricing_dir, templates_dir, models = proc.stdout.splitlines()
    assert Path(pricing_dir) == tmp_path / "llmcost" / "data" / "pricing"
    assert Path(templates_dir) == tmp_path / "llmcost" / "data" / "templates"
    assert int(models) > 10


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = f"import sys, llmcost.cli; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_help_runs_in_a_fresh_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "llmcost.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "ingest" in proc.stdout and "report" in proc.stdout and proc.stderr == ""

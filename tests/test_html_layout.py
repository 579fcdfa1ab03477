"""The HTML report as a browser lays it out (headless Chromium): no overlapping axis labels in any
chart, nothing wider than a 400 px screen, and the screenshots under docs/ (1400 and 400 px) made
from the sample data. Skipped, with the reason, when Chromium is absent; `.ci/run` installs it.
LLMCOST_UPDATE_GOLDEN=1 rewrites the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--hide-scrollbars"]  # fmt: skip

# Measures the page as laid out and writes the findings into <pre id="lc-out"> for --dump-dom.
PROBE = """
<script>
window.addEventListener('load', () => {
  const boxes = (el) => el.getBoundingClientRect();
  const overlaps = [];
  document.querySelectorAll('svg').forEach((svg, i) => {
    svg.querySelectorAll('g[class*="role-axis-label"]').forEach((group) => {
      const labels = [...group.querySelectorAll('text')].filter(t => t.textContent.trim() &&
        getComputedStyle(t).opacity !== '0' && t.getAttribute('opacity') !== '0');
      for (let a = 0; a < labels.length; a++) for (let b = a + 1; b < labels.length; b++) {
        const p = boxes(labels[a]), q = boxes(labels[b]);
        if (p.left < q.right - 0.5 && q.left < p.right - 0.5 && p.top < q.bottom - 0.5 && q.top < p.bottom - 0.5)
          overlaps.push([i, labels[a].textContent, labels[b].textContent]);
      }
    });
  });
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('main > *, section, table, .chart')].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.right > width + 0.5 && !el.closest('.scroll');
  }).map((el) => el.tagName + '.' + el.className);
  const cells = [...document.querySelectorAll('td, th')].filter((c) => {
    const r = c.getBoundingClientRect();
    return c.textContent.trim().length > 3 && r.width < 24;
  }).length;
  const out = document.createElement('pre');
  out.id = 'lc-out';
  out.textContent = JSON.stringify({overlaps, scrollWidth: document.documentElement.scrollWidth,
                                    width, wide, narrowCells: cells, svgs: document.querySelectorAll('svg').length});
  document.body.appendChild(out);
});
</script>
"""


def _chromium(page: Path, *extra: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    return proc.stdout


def _measure(html: Path, width: int) -> dict[str, Any]:
    """The report with the probe (the report's CSP forbids scripts: the probe page drops it)."""
    text = re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", html.read_text())
    probe = html.with_name(f"probe-{width}.html")
    probe.write_text(text.replace("</body>", PROBE + "</body>"))
    dom = _chromium(
        probe, f"--window-size={width},2000", "--virtual-time-budget=5000", "--dump-dom"
    )
    m = re.search(r'<pre id="lc-out">(.*?)</pre>', dom, re.S)
    assert m, "the probe did not run"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML report of the sample data (sample_logs/), as `make demo` writes it."""
    import sys

    folder = tmp_path_factory.mktemp("html")
    env = {**os.environ, "LLMCOST_DB": str(folder / "s.duckdb"), "LLMCOST_NOW": "2026-11-01T00:00:00Z",
           "NO_COLOR": "1"}  # fmt: skip
    env.pop("GITHUB_STEP_SUMMARY", None)
    (folder / "llmcost.toml").write_text(
        '[scenarios.support-on-haiku]\nfeature = ["support-chat"]\nroute_to = "haiku"\nshare = 0.5\n'
        '[scenarios.batch-reports]\nfeature = ["weekly-report"]\nbatch = true\n'
    )
    for args in (["ingest", "-q", str(ROOT / "sample_logs" / "logs"), str(ROOT / "sample_logs" / "revenue.csv")],
                 ["report", "--since", "2026-10-01", "--until", "2026-10-31", "-o", "report.html"]):  # fmt: skip
        proc = subprocess.run([sys.executable, "-m", "llmcost", *args], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    return folder / "report.html"


@pytest.mark.parametrize("width", [1400, 400])
def test_no_overlapping_axis_labels(sample_report: Path, width: int) -> None:
    found = _measure(sample_report, width)
    assert found["svgs"] >= 5
    assert found["overlaps"] == []


def test_nothing_overflows_a_400_px_screen(sample_report: Path) -> None:
    found = _measure(sample_report, 400)
    assert found["scrollWidth"] <= found["width"], found
    assert found["wide"] == []
    assert found["narrowCells"] == 0  # no column squeezed to a letter per line


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("width", [1400, 400])
def test_screenshots_in_docs(sample_report: Path, width: int, tmp_path: Path) -> None:
    shot = tmp_path / f"report-{width}.png"
    _chromium(sample_report, f"--window-size={width},2400", f"--screenshot={shot}")
    assert _png_size(shot) == (width, 2400)
    assert shot.stat().st_size > 20_000  # charts and tables, not a blank page
    committed = DOCS / f"report-{width}px.png"
    if os.environ.get("LLMCOST_UPDATE_GOLDEN"):
        shutil.copyfile(shot, committed)
    assert committed.is_file(), f"missing {committed}; run with LLMCOST_UPDATE_GOLDEN=1"
    assert _png_size(committed) == (width, 2400)

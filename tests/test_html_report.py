"""The HTML report: numbers by hand on a five-request fixture, hostile strings escaped (chart SVG
included), a self-contained file, and a real headless browser that renders the charts and makes no
request for the page."""

from __future__ import annotations

import html.parser
import json
import re
import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from llmcost import query

EVIL_FEATURE = '<script>alert("pwn")</script>'
EVIL_CUSTOMER = '"><img src=x onerror=alert(1)>'


def _req(
    rid: str, ts: str, feature: str, customer: str, user: str, inp: int, out: int, **extra: Any
) -> dict[str, Any]:
    return {"request_id": rid, "timestamp": ts, "model": "lc-test", "feature": feature, "customer_id": customer,
            "user_id": user, "input_tokens": inp, "output_tokens": out, **extra}  # fmt: skip


# $1 per 1M input, $2 per 1M output, $0.10 per 1M cache reads:
REQUESTS = [
    _req("a", "2026-10-05T09:00:00Z", "chat", "c1", "u1", 1_000_000, 0),  # $1.00
    _req("b", "2026-10-05T10:00:00Z", EVIL_FEATURE, EVIL_CUSTOMER, "u2", 2_000_000, 0),  # $2.00
    _req("c", "2026-10-06T09:00:00Z", "chat", "c1", "u1", 0, 1_000_000),  # $2.00
    # 500k uncached x $1 + 500k cache reads x $0.10 = $0.50 + $0.05 = $0.55
    _req("d", "2026-10-06T10:00:00Z", "chat", "c1", "u3", 1_000_000, 0, cache_read_tokens=500_000),
    _req(
        "e", "2026-10-06T11:00:00Z", "chat", "c1", "u1", 0, 0, cache_hit=True
    ),  # semantic cache hit: $0
]
REVENUE = f'customer_id,month,revenue_usd\nc1,2026-10,10.00\n"{EVIL_CUSTOMER.replace(chr(34), chr(34) * 2)}",2026-10,1.00\n'


@pytest.fixture
def loaded(tmp_path: Path, jsonl: Any, run_cli: Any, test_prices: Path) -> Path:
    jsonl(REQUESTS, "logs/requests.jsonl")
    (tmp_path / "revenue.csv").write_text(REVENUE)
    code, _, err = run_cli("ingest", "-q", "logs", "revenue.csv")
    assert code == 0, err
    (tmp_path / "llmcost.toml").write_text('[scenarios.cheap]\nfeature = "chat"\nbatch = true\n')
    return tmp_path


@pytest.fixture
def report_html(loaded: Path, run_cli: Any) -> str:
    code, out, err = run_cli(
        "--pricing",
        "prices.toml",
        "report",
        "--by",
        "feature",
        "--format",
        "html",
        "-o",
        "report.html",
    )
    assert code == 0, err
    assert out == ""
    return (loaded / "report.html").read_text(encoding="utf-8")


def _series(tmp_path: Path) -> dict[str, Any]:
    from llmcost import pricing
    from llmcost.series import series
    from llmcost.store import connect

    con = connect(tmp_path / "db" / "llmcost.duckdb")
    try:
        pricing.install(con, pricing.load([tmp_path / "prices.toml"]))
        return series(con, query.Window())
    finally:
        con.close()


def test_series_by_hand(loaded: Path) -> None:
    s = _series(loaded)
    assert s["bucket"] == "day"
    cells = {(p["bucket"], p["feature"]): p["cost_usd"] for p in s["cost_over_time"]}
    # 10-05: chat $1.00, the other feature $2.00; 10-06: chat $2.00 + $0.55 + $0 = $2.55
    assert cells == pytest.approx(
        {
            ("2026-10-05", "chat"): 1.0,
            ("2026-10-05", EVIL_FEATURE): 2.0,
            ("2026-10-06", "chat"): 2.55,
        }
    )
    feats = {f["feature"]: f for f in s["features"]}
    # chat: c1's revenue $10 (all of c1's requests are chat), cost $3.55 -> margin $6.45, 64.5 %
    assert feats["chat"]["revenue_usd"] == pytest.approx(10.0) and feats["chat"][
        "margin_pct"
    ] == pytest.approx(64.5)
    # the other: revenue $1, cost $2 -> margin -$1, -100 %
    assert feats[EVIL_FEATURE]["margin_usd"] == pytest.approx(-1.0) and feats[EVIL_FEATURE][
        "margin_pct"
    ] == pytest.approx(-100.0)
    d = s["distribution"]
    # user-months: u1 = 1.00 + 2.00 + 0 = 3.00, u2 = 2.00, u3 = 0.55 -> sorted 0.55, 2.00, 3.00
    # P50 = 2.00; P90 at rank 0.9*2 = 1.8: 2.00 + 0.8*1.00 = 2.80; P99 at 1.98: 2.98
    assert (d["p50"], d["p90"], d["p99"]) == pytest.approx((2.0, 2.8, 2.98))
    assert sum(b["n"] for b in d["bins"]) == 3
    # top 1 % and top 10 % of 3 users are both the top user: 3.00 / 5.55
    curve = {p["top_pct"]: p["share_pct"] for p in d["top_share_curve"]}
    assert curve[1.0] == pytest.approx(300 / 5.55) and curve[10.0] == pytest.approx(300 / 5.55)
    assert curve[100.0] == pytest.approx(100.0)
    # cache: 500k reads / 4M input tokens = 12.5 %; 1 semantic hit / 5 requests = 20 %
    assert len(s["cache"]) == 1
    assert s["cache"][0]["cache_read_pct"] == pytest.approx(12.5) and s["cache"][0][
        "semantic_hit_pct"
    ] == pytest.approx(20.0)
    assert s["models"] == [
        {"model": "lc-test", "tier": "small", "requests": 5, "cost_usd": pytest.approx(5.55)}
    ]


class _Elements(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]


def test_self_contained_and_escaped(report_html: str) -> None:
    p = _Elements()
    p.feed(report_html)
    # nothing that runs or fetches: no script, no external resource elements, no handlers, no links
    assert not {
        "script",
        "img",
        "iframe",
        "object",
        "embed",
        "link",
        "image",
        "use",
        "foreignobject",
    } & set(p.tags)
    assert not [
        a
        for a in p.attrs
        if a[1].startswith("on") or a[1] in {"src", "href", "xlink:href", "srcset", "action"}
    ]
    assert not re.search(r"url\((?!#)", report_html)
    assert "@import" not in report_html
    assert "Content-Security-Policy" in report_html and "default-src 'none'" in report_html
    # the hostile names are there, as text
    assert (
        "&lt;script&gt;alert(&#34;pwn&#34;)&lt;/script&gt;" in report_html
        or "&lt;script&gt;alert(&quot;pwn&quot;)" in report_html
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in report_html
    # inside the chart SVG too (the margin-by-feature axis labels the hostile feature)
    svgs = re.findall(r"<svg.*?</svg>", report_html, flags=re.S)
    assert len(svgs) >= 5
    assert any("&lt;script&gt;" in svg for svg in svgs)


def test_sections_and_numbers(report_html: str) -> None:
    text = re.sub(r"\s+", " ", report_html)
    assert "5 of 5 requests priced (100.00%)" in text
    for section in (
        "cost-over-time",
        "features",
        "under-water",
        "distribution",
        "models",
        "cache",
        "whatif",
    ):
        assert f'id="{section}"' in text
    assert "P90 $2.80" in text and "P99 $2.98" in text
    assert "$5.55" in text  # total cost in the model table
    assert "1 customer(s) cost more than they pay" in text
    # the scenario from llmcost.toml, in words
    assert "cheap" in text and "scope: feature in chat" in text and "through the batch API" in text
    assert "batch = True" not in text
    assert re.search(r"sha256 <code>[0-9a-f]{16}</code>", text)


def test_sanitize_svg_strips_active_content() -> None:
    from llmcost.report.charts import sanitize_svg

    hostile = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)">'
        '<script>alert(2)</script><foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>'
        '<a xlink:href="javascript:alert(3)"><text>link</text></a><image href="http://example.invalid/a.png"/>'
        '<rect style="fill:url(http://example.invalid/x)" fill="url(#grad)" width="1" height="1"/>'
        "<text>&lt;script&gt;alert(4)&lt;/script&gt;</text></svg>"
    )
    clean = sanitize_svg(hostile)
    for bad in (
        "onload",
        "<script",
        "foreignObject",
        "javascript:",
        "example.invalid",
        "<a ",
        "<image",
    ):
        assert bad not in clean
    assert 'fill="url(#grad)"' in clean  # same-document references stay
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in clean


def test_missing_keys_say_not_available() -> None:
    from llmcost.report.html import render_html

    class Bare:
        def to_json(self) -> dict[str, Any]:
            return {"schema": "llmcost.report/1"}

    out = render_html(Bare())
    for what in ("price coverage: not available", "cost over time: not available", "model mix: not available",
                 "previous period: not available", "what-if scenarios (none listed in llmcost.toml): not available"):  # fmt: skip
        assert what in out
    assert "<svg" not in out


def test_empty_database_renders(run_cli: Any, tmp_path: Path) -> None:
    from llmcost.store import connect

    connect(tmp_path / "db" / "llmcost.duckdb").close()
    code, _, err = run_cli("report", "--format", "html", "-o", "empty.html")
    assert code == 0, err
    out = (tmp_path / "empty.html").read_text()
    assert "<svg" not in out
    assert "charts: not available" in out and "cost over time: not available" in out


def test_markdown_report_golden(loaded: Path, run_cli: Any) -> None:
    import os

    code, out, _ = run_cli(
        "--pricing", "prices.toml", "report", "--by", "feature", "--format", "markdown"
    )
    assert code == 0
    out = re.sub(r"sha256 [0-9a-f]{12}", "sha256 <hash>", out)
    golden = Path(__file__).parent / "golden" / "markdown" / "report_by_feature.md"
    if os.environ.get("LLMCOST_UPDATE_GOLDEN"):
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in out and "<script>" not in out


def test_step_summary_is_capped(
    loaded: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcost.documents import Column, Table
    from llmcost.report.markdown import MAX_CHARS, summary_markdown

    summary = loaded / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = run_cli("--pricing", "prices.toml", "report", "--by", "feature")
    assert code == 0 and "chat" in out
    assert "## llmcost report" in summary.read_text() and "| chat |" in summary.read_text()

    class Big:
        def headline(self) -> list[str]:
            return ["big"]

        def to_json(self) -> dict[str, Any]:
            return {}

        def tables(self) -> list[Table]:
            return [
                Table(
                    "users",
                    [Column("user")],
                    [{"user": f"user-{i:06d}-" + "x" * 200} for i in range(10_000)],
                )
            ]

    text = summary_markdown(Big())
    # 25 rows of ~215 characters fit; the note says how many more rows the artifact has
    assert len(text) <= MAX_CHARS
    assert "first 25 of 10000 rows; 9975 more in the full report" in text
    assert text.count("| user-") == 25


# ---------------------------------------------------------------- a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps", "--no-pings",
    # fewer background fetches of the browser's own; each that remains must show in its net log
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
]  # fmt: skip


class _Recorder(BaseHTTPRequestHandler):
    """A loopback proxy that answers 404 to everything and remembers what was asked."""

    seen: list[str]

    def _record(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = _record

    def log_message(self, *args: Any) -> None:
        pass


def _browse(page: Path, *extra: str) -> tuple[str, list[str], list[dict[str, Any]]]:
    """Open `page` in headless Chromium with every request routed to a recording loopback proxy and
    a net log. Returns the DOM, the proxy's requests and the net log's URL requests."""
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as profile:
        netlog = Path(profile) / "net.json"
        cmd = [
            str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}/p", f"--proxy-server=http://127.0.0.1:{server.server_address[1]}",
            "--proxy-bypass-list=<-loopback>", f"--log-net-log={netlog}", *extra, page.resolve().as_uri(),
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        finally:
            server.shutdown()
            server.server_close()
        log = json.loads(netlog.read_text())
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    starts = [
        e["params"]
        for e in log["events"]
        if types.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
    ]
    return proc.stdout, seen, starts


def _from_page(starts: list[dict[str, Any]]) -> list[str]:
    """Requests the page made (their isolation key is the file:// page), not the browser's own."""
    return [
        s["url"]
        for s in starts
        if "file://" in s.get("network_isolation_key", "") or s.get("initiator") == "null"
    ]


@needs_chromium
def test_browser_control_page_is_caught(tmp_path: Path) -> None:
    # the harness must see a page that does fetch, or its silence on the report proves nothing
    page = tmp_path / "control.html"
    page.write_text(
        '<!doctype html><img src="http://example.invalid/p.png"><link rel=stylesheet href="https://example.invalid/s.css">'
    )
    _, seen, starts = _browse(page, "--dump-dom")
    assert "http://example.invalid/p.png" in _from_page(starts)
    assert "GET http://example.invalid/p.png" in seen


@needs_chromium
def test_browser_renders_charts_offline_and_keeps_script_as_text(
    report_html: str, loaded: Path
) -> None:
    dom, seen, starts = _browse(loaded / "report.html", "--dump-dom")
    assert _from_page(starts) == []
    # whatever reached the proxy was the browser's own traffic (its net log says so), none the page's
    browser_own = {re.sub(r"^https?://([^/:]+).*$", r"\1", s["url"]) for s in starts}
    assert all(re.sub(r"^\w+ (https?://)?([^/:]+).*$", r"\2", r) in browser_own for r in seen), seen
    # charts: inline SVGs with drawn marks (Vega gives every mark group a role-mark class)
    svgs = re.findall(r"<svg.*?</svg>", dom, flags=re.S)
    with_marks = [
        s
        for s in svgs
        if re.search(r'class="mark-(rect|line|symbol|rule)', s)
        and re.search(r"<path|<line|<rect", s)
    ]
    assert len(with_marks) >= 6, len(with_marks)
    # the hostile feature name and customer id are text in the DOM, not elements
    assert "<script" not in dom.lower()
    assert "<img" not in dom.lower()
    assert '&lt;script&gt;alert("pwn")&lt;/script&gt;' in dom
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom


@needs_chromium
def test_browser_screenshot(report_html: str, loaded: Path) -> None:
    shot = loaded / "shot.png"
    _browse(
        loaded / "report.html",
        f"--screenshot={shot}",
        "--window-size=1100,1600",
        "--hide-scrollbars",
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a blank page compresses to a few kB; charts and tables do not


def test_charts_render_without_network() -> None:
    # vl-convert carries Vega in its own engine: drawing a chart needs no network at all
    import sys

    unshare = shutil.which("unshare")
    probe = (
        subprocess.run([unshare or "unshare", "-n", "true"], capture_output=True, check=False)
        if unshare
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip("cannot run without a network here (unshare -n needs root or user namespaces)")
    code = (
        "from llmcost.report import charts; "
        "print(charts.to_svg(charts.model_mix([{'model': 'm', 'tier': 'small', 'cost_usd': 1.5}])))"
    )
    out = subprocess.run(
        [str(unshare), "-n", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("<svg") and 'class="mark-rect' in out.stdout

"""Charts for the HTML report: Vega-Lite specs rendered to SVG offline by vl-convert.

vl-convert embeds the Vega/Vega-Lite JavaScript in its own engine, so rendering needs no
browser and no network, and the report carries the finished SVG inline (no JS, no CDN).
Every SVG is then sanitised here: the report must not depend on the chart library escaping
user-provided labels correctly.
"""

from __future__ import annotations

import threading
from typing import Any

PALETTE = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#eeca3b",
    "#9d755d",
    "#bab0ac",
]
WIDTH = 760
HALF = 400
_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_FORBIDDEN_TAGS = {
    "script",
    "foreignobject",
    "iframe",
    "object",
    "embed",
    "image",
    "use",
    "a",
    "style",
}
_warm_lock = threading.Lock()
_warmed = False


def _base(data: list[dict[str, Any]], height: int = 220) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": WIDTH,
        "height": height,
        "data": {"values": data},
        "config": {
            "font": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
            "view": {"stroke": None},
            # labels are measured here but drawn by the reader's browser, whose font may be wider
            "padding": {"left": 40, "right": 40, "top": 5, "bottom": 5},
            "legend": {"labelLimit": 260},
            # labels that would collide are left out (greedy), with room for a wider browser font
            "axis": {
                "labelLimit": 220,
                "gridColor": "#eee",
                "labelOverlap": "greedy",
                "labelSeparation": 12,
            },
            "range": {"category": PALETTE},
        },
    }


def cost_over_time(points: list[dict[str, Any]], bucket: str) -> dict[str, Any]:
    spec = _base(points, 240)
    spec["mark"] = {"type": "bar"}
    spec["encoding"] = {
        "x": {"field": "bucket", "type": "temporal", "timeUnit": "yearmonthdate", "title": f"{bucket} (UTC)",
              "axis": {"format": "%b %d"}},
        "y": {"field": "cost_usd", "type": "quantitative", "aggregate": "sum", "title": "cost (USD)",
              "axis": {"format": "$,.2f"}},
        "color": {"field": "feature", "type": "nominal", "title": "feature", "sort": {"field": "order"}},
        "order": {"field": "order", "type": "quantitative"},
    }  # fmt: skip
    return spec


def margin_by_feature(rows: list[dict[str, Any]]) -> dict[str, Any]:
    spec = _base(rows, max(60, 26 * len(rows)))
    spec["mark"] = {"type": "bar"}
    spec["encoding"] = {
        "y": {"field": "feature", "type": "nominal", "sort": "-x", "title": None},
        "x": {"field": "margin_pct", "type": "quantitative", "title": "gross margin (%)"},
        "color": {
            "condition": {"test": "datum.margin_pct < 0", "value": "#e45756"},
            "value": "#54a24b",
        },
    }
    return spec


def user_distribution(bins: list[dict[str, Any]], marks: list[dict[str, Any]]) -> dict[str, Any]:
    """Histogram of cost per user-month (log x) with P50/P90/P99 rules, labels staggered downwards."""
    spec = _base([], 240)
    spec["width"] = HALF
    top = max((b["n"] for b in bins), default=1)
    marks = [{**m, "y": top * (1 - 0.15 * i)} for i, m in enumerate(marks)]
    x = {"field": "lo", "type": "quantitative", "scale": {"type": "log"}, "title": "cost per user-month (USD, log scale)",
         "axis": {"format": "$,.3~g"}}  # fmt: skip
    spec["layer"] = [
        {
            "data": {"values": bins},
            "mark": {
                "type": "rect",
                "color": PALETTE[0],
                "opacity": 0.85,
                "stroke": "#fff",
                "strokeWidth": 0.5,
            },
            "encoding": {
                "x": x,
                "x2": {"field": "hi"},
                "y": {"field": "n", "type": "quantitative", "title": "user-months"},
                "y2": {"datum": 0},
            },
        },
        {
            "data": {"values": marks},
            "mark": {"type": "rule", "color": "#e45756", "strokeWidth": 2, "strokeDash": [4, 3]},
            "encoding": {"x": {"field": "value", "type": "quantitative"}},
        },
        *[
            {
                "data": {"values": part},
                "mark": {
                    "type": "text",
                    "align": align,
                    "dx": dx,
                    "baseline": "top",
                    "color": "#b03030",
                    "fontWeight": "bold",
                },
                "encoding": {
                    "x": {"field": "value", "type": "quantitative"},
                    "y": {"field": "y", "type": "quantitative"},
                    "text": {"field": "label"},
                },
            }
            # the last label sits left of its rule so it is not cut at the right edge
            for part, align, dx in ((marks[:-1], "left", 4), (marks[-1:], "right", -4))
            if part
        ],
    ]
    del spec["data"]
    return spec


def top_share_curve(points: list[dict[str, Any]], marks: list[dict[str, Any]]) -> dict[str, Any]:
    spec = _base([], 240)
    spec["width"] = HALF
    x = {
        "field": "top_pct",
        "type": "quantitative",
        "title": "top % of users (by cost)",
        "scale": {"domain": [0, 100]},
    }
    y = {
        "field": "share_pct",
        "type": "quantitative",
        "title": "% of cost",
        "scale": {"domain": [0, 100]},
    }
    spec["layer"] = [
        {"data": {"values": [{"top_pct": 0, "share_pct": 0}, {"top_pct": 100, "share_pct": 100}]},
         "mark": {"type": "line", "color": "#bbb", "strokeDash": [3, 3]}, "encoding": {"x": x, "y": y}},
        {"data": {"values": points}, "mark": {"type": "line", "color": PALETTE[1], "strokeWidth": 2},
         "encoding": {"x": x, "y": y}},
        {"data": {"values": marks}, "mark": {"type": "point", "filled": True, "color": "#e45756", "size": 50},
         "encoding": {"x": x, "y": y}},
        {"data": {"values": marks}, "mark": {"type": "text", "align": "left", "dx": 6, "dy": 10},
         "encoding": {"x": x, "y": y, "text": {"field": "label"}}},
    ]  # fmt: skip
    del spec["data"]
    return spec


def model_mix(rows: list[dict[str, Any]]) -> dict[str, Any]:
    spec = _base(rows, max(60, 24 * len(rows)))
    spec["mark"] = {"type": "bar"}
    spec["encoding"] = {
        "y": {"field": "model", "type": "nominal", "sort": "-x", "title": None},
        "x": {"field": "cost_usd", "type": "quantitative", "title": "cost (USD)", "axis": {"format": "$,.2f"}},
        "color": {"field": "tier", "type": "nominal", "title": "tier",
                  "scale": {"domain": ["small", "mid", "frontier", "unpriced"],
                            "range": [PALETTE[2], PALETTE[0], PALETTE[1], "#999"]}},
    }  # fmt: skip
    return spec


def cache_rates(points: list[dict[str, Any]]) -> dict[str, Any]:
    spec = _base(points, 200)
    spec["mark"] = {"type": "line", "point": True}
    spec["encoding"] = {
        "x": {"field": "bucket", "type": "temporal", "timeUnit": "yearmonthdate", "title": "week (UTC)",
              "axis": {"format": "%b %d"}},
        "y": {"field": "rate_pct", "type": "quantitative", "title": "%"},
        "color": {"field": "series", "type": "nominal", "title": None},
    }  # fmt: skip
    return spec


def waterfall(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The cost bridge: the previous period's cost, each driver as a floating bar from the running total,
    then this period's cost. `steps`: label, usd, kind (total | up | down), in order."""
    bars, running = [], 0.0
    for i, st in enumerate(steps):
        if st["kind"] == "total":
            lo, hi, running = 0.0, st["usd"], st["usd"]
        else:
            lo, hi = running, running + st["usd"]
            running = hi
        bars.append(
            {
                "order": i,
                "label": st["label"],
                "lo": min(lo, hi),
                "hi": max(lo, hi),
                "usd": st["usd"],
                "kind": st["kind"],
            }
        )
    spec = _base(bars, 260)
    x = {
        "field": "label",
        "type": "nominal",
        "sort": {"field": "order"},
        "title": None,
        "axis": {"labelAngle": -30},
    }
    spec["layer"] = [
        {"mark": {"type": "bar"},
         "encoding": {"x": x, "y": {"field": "lo", "type": "quantitative", "title": "cost (USD)", "axis": {"format": "$,.2f"}},
                      "y2": {"field": "hi"},
                      "color": {"field": "kind", "type": "nominal", "legend": None,
                                "scale": {"domain": ["total", "up", "down"], "range": ["#888", "#e45756", "#54a24b"]}}}},
        {"mark": {"type": "text", "dy": -6, "fontSize": 10},
         "encoding": {"x": x, "y": {"field": "hi", "type": "quantitative"}, "text": {"field": "usd", "format": "$,.2f"}}},
    ]  # fmt: skip
    return spec


def warm_up() -> threading.Thread:
    """Start vl-convert's engine in the background (its first call costs about a second)."""

    def run() -> None:
        global _warmed
        with _warm_lock:
            if _warmed:
                return
            import vl_convert as vlc

            vlc.vegalite_to_svg(
                _base([{"a": 1}], 10)
                | {"mark": "point", "encoding": {"x": {"field": "a", "type": "quantitative"}}}
            )
            _warmed = True

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def to_svg(spec: dict[str, Any]) -> str:
    import vl_convert as vlc

    from llmcost.safe_text import chart_spec

    return sanitize_svg(vlc.vegalite_to_svg(chart_spec(spec)))


def sanitize_svg(svg: str) -> str:
    """Re-serialise the SVG keeping only inert content: no script, no event handlers, no external
    references. Text nodes are escaped by the serialiser, whatever the chart library emitted."""
    import xml.etree.ElementTree as ET

    ET.register_namespace("", _SVG_NS)
    ET.register_namespace("xlink", _XLINK_NS)
    root = ET.fromstring(svg)
    if _local(root.tag) != "svg":
        raise ValueError("chart renderer did not return an SVG document")
    _clean(root)
    root.set("role", "img")
    return ET.tostring(root, encoding="unicode")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _clean(elem: Any) -> None:
    for child in list(elem):
        if (
            not isinstance(child.tag, str)
            or _local(child.tag) in _FORBIDDEN_TAGS
            or not child.tag.startswith("{" + _SVG_NS)
        ):
            elem.remove(child)
            continue
        _clean(child)
    for name in list(elem.attrib):
        local = _local(name)
        value = elem.attrib[name]
        low = value.lower().replace(" ", "")
        # a url() that is not a same-document fragment could fetch something
        external = ("url(" in low and low.count("url(") != low.count("url(#")) or "@import" in low
        if (
            local.startswith("on")
            or local in {"href", "src"}
            or external
            or "javascript:" in value.lower()
        ):
            del elem.attrib[name]

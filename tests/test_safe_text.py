"""Hostile strings leave harmless: CSV formulas, terminal escapes, Markdown links, chart labels."""

from __future__ import annotations

import json

import pytest

from llmcost import safe_text


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\uff1dcmd"])
def test_csv_formula_starts_get_a_quote(cell: str) -> None:
    assert safe_text.csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["support-chat", "a=b", "", "x@y"])
def test_csv_other_cells_are_kept(cell: str) -> None:
    assert safe_text.csv_cell(cell) == cell


def test_terminal_escapes_controls_and_bidi() -> None:
    got = safe_text.terminal("a\x1b[31mred\x07\x00\n\x9b\u202eevil\u2066\ufeff")
    assert got == "a\\x1b[31mred\\x07\\x00\\x0a\\x9b\\u202eevil\\u2066\\ufeff"
    assert safe_text.terminal("café — 東京 ✓") == "café — 東京 ✓"


def test_markdown_links_images_and_html_are_inert() -> None:
    assert safe_text.markdown("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"
    assert safe_text.markdown("<img src=x>") == "&lt;img src=x&gt;"
    assert safe_text.markdown("a|b") == "a\\|b"
    assert safe_text.markdown("&#x202e;") == "&amp;#x202e;"
    # what a renderer links by itself becomes a code span, pipes still escaped
    assert (
        safe_text.markdown("![x](https://evil.example/p.png)")
        == "`![x](https://evil.example/p.png)`"
    )
    assert safe_text.markdown("see www.x.io|y") == "`see www.x.io\\|y`"
    assert safe_text.markdown("bob@example.com") == "`bob@example.com`"
    assert safe_text.markdown("a `b` c@d.io") == "``a `b` c@d.io``"


def test_json_text_stays_valid_json() -> None:
    doc = json.dumps({"f": "x\u202e\x9by"}, ensure_ascii=False)
    safe = safe_text.json_text(doc)
    assert "\u202e" not in safe and "\x9b" not in safe
    assert json.loads(safe) == {"f": "x\u202e\x9by"}


def test_chart_spec_strings_are_escaped_keys_kept() -> None:
    spec = {"data": {"values": [{"feature": "a\x1bb", "n": 1}]}, "mark": "bar"}
    assert safe_text.chart_spec(spec) == {
        "data": {"values": [{"feature": "a\\x1bb", "n": 1}]},
        "mark": "bar",
    }

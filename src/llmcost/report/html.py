"""One self-contained HTML file: inline CSS and SVG, no script, nothing fetched when opened."""

from __future__ import annotations

from typing import Any

from llmcost.config import templates_dir
from llmcost.errors import LlmcostError


def _env() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=True,  # every user-provided string is escaped; only sanitised SVG is marked safe
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _template(name: str) -> Any:
    from jinja2 import TemplateNotFound

    try:
        return _env().get_template(name)
    except TemplateNotFound:
        raise LlmcostError(
            f"HTML template {name} not found in {templates_dir()}",
            hint="reinstall llmcost; the wheel ships llmcost/data/templates",
        ) from None


def render_html(result: Any, title: str = "llmcost report") -> str:
    doc = result.to_json()
    if not str(doc.get("schema", "")).startswith("llmcost.report/"):
        return render_tables_html(result, title)
    from markupsafe import Markup

    from llmcost.report.context import build_context

    context = build_context(doc, title)
    for section in context["sections"].values():
        for key in ("svg", "curve_svg"):
            if section and section.get(key):
                section[key] = Markup(section[key])
    return str(_template("report.html.j2").render(**context))


def render_tables_html(result: Any, title: str) -> str:
    """Any other result (diff, check): its headline and its tables, escaped."""
    from llmcost.values import fmt_value

    tables = [
        {
            "title": t.title,
            "note": t.note,
            "columns": [{"title": c.title, "numeric": c.kind != "text"} for c in t.columns],
            "rows": [[fmt_value(r.get(c.key), c.kind) for c in t.columns] for r in t.rows],
        }
        for t in result.tables()
    ]
    return str(
        _template("tables.html.j2").render(title=title, headline=result.headline(), tables=tables)
    )

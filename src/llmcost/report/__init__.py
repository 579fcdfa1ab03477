"""The HTML report: a context built from the report's JSON document, Jinja2 templates, inline SVG charts."""

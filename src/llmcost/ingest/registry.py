"""The formats there are: every format module imported once (importing one registers it in
formats.REGISTRY), in the order they sniff. The loaders import formats.py; this module imports
the loaders, so the two never import each other.
"""

from __future__ import annotations

from llmcost.ingest.formats import REGISTRY, Format


def ordered() -> list[Format]:
    load_all()
    return sorted(REGISTRY.values(), key=lambda f: f.priority)


def get(name: str) -> Format | None:
    load_all()
    return REGISTRY.get(name)


_loaded = False


def load_all() -> None:
    """Import every format module once; importing one registers it."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil

    from llmcost.ingest import adapters, requests_log, revenue  # noqa: F401

    for info in pkgutil.iter_modules(adapters.__path__):
        importlib.import_module(f"{adapters.__name__}.{info.name}")

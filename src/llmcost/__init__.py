"""llmcost: cost analytics for teams that ship LLM features.

`llmcost.open(db)` returns a Store (see llmcost.api); nothing heavy is imported until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmcost.api import Document, Store

__version__ = "0.1.0"
__all__ = ["Document", "Store", "__version__", "open"]


def open(db: Any = None, **options: Any) -> Store:
    """The database DB as a Store: report(), whatif(), reconcile(), requests(). See llmcost.api.open."""
    from llmcost import api

    return api.open(db, **options)


def __getattr__(name: str) -> Any:
    if name in ("Document", "Store"):
        from llmcost import api

        return getattr(api, name)
    raise AttributeError(f"module 'llmcost' has no attribute {name!r}")

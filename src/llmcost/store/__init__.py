"""The DuckDB file: connection, numbered migrations, and the writes ingest makes."""

from llmcost.store.db import connect

__all__ = ["connect"]

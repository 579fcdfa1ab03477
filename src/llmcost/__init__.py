"""llmcost: cost analytics for teams that ship LLM features."""

__version__ = "0.1.0"

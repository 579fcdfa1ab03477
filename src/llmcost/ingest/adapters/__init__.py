"""One module per provider export or gateway log. Each registers a `Format` when imported."""

"""`llmcost init`: an annotated llmcost.toml to start from. No heavy imports (on the --help path)."""

from __future__ import annotations

from pathlib import Path

from llmcost.errors import LlmcostError

TEMPLATE = """\
# llmcost configuration. Every setting is optional; a command-line flag or an LLMCOST_* environment
# variable wins over this file. Read by every command from the current folder (or --config FILE);
# the same keys also work under [tool.llmcost] in pyproject.toml.

# The database (default .llmcost/llmcost.duckdb; relative paths are relative to this file).
# db = ".llmcost/llmcost.duckdb"

# Your own price files or folders, laid over the bundled table (negotiated rates, private models).
# pricing = ["prices/negotiated.toml"]

# Targets for the unit-economics summary of `llmcost report`: a metric outside its target is
# marked "miss". Keys are min_<metric> or max_<metric>.
[targets]
min_gross_margin_pct = 60              # (revenue - inference cost) / revenue, in %
max_cost_pct_of_revenue = 30           # inference cost as % of revenue
max_cost_per_active_user_usd = 2.00    # per user with a request in the period
# max_cost_per_successful_task_usd = 0.05
# min_prompt_cache_hit_rate_pct = 50   # cache reads / provider input tokens
# min_small_model_share_pct = 60       # requests on small-tier models

# Rules for `llmcost check` (a CI gate): it prints each rule with its value and exits 1 when one
# is breached or cannot be computed. Thresholds are inclusive.
[check]
min_margin_pct = 60                    # overall gross margin in the window, %
min_feature_margin_pct = 40            # the lowest margin of a feature that has revenue, %
max_p90_user_cost_usd = 25             # P90 of cost per active user-month
max_unpriced_share = 0.01              # unpriced requests / all requests (a new model never costs $0)
max_cost_growth_pct = 30               # the last full week vs the week before, %

# What-if scenarios: `llmcost whatif NAME` runs one, `llmcost whatif --all` compares them all, and
# the HTML report lists them. Scope: feature, model (lists allowed), where; levers as the flags.
[scenarios.support-on-haiku]
description = "route support chat to the small model"
feature = ["support-chat"]
route_to = "haiku"
share = 0.5                            # half of the scope, chosen by a hash of request_id

[scenarios.batch-reports]
description = "send the weekly report through the batch API"
feature = ["weekly-report"]
batch = true

[scenarios.cap-output]
description = "cut answers above 800 tokens"
max_output_tokens = 800

# Your log's own field names, mapped to the canonical ones (canonical field = dotted path in the
# line); `llmcost ingest --map FIELD=PATH` does the same for one run.
# [ingest.map]
# customer_id = "metadata.org"
# feature = "tags.feature"
# timestamp = "event.time"
"""


def write_config(path: Path, *, force: bool = False) -> Path:
    """Write TEMPLATE to `path`; an existing file is kept unless `force`."""
    if path.is_dir():
        raise LlmcostError(f"{path} is a folder", hint="give a file name, e.g. llmcost.toml")
    if path.exists() and not force:
        raise LlmcostError(f"{path} already exists", hint="use --force to replace it")
    if not path.parent.is_dir():
        raise LlmcostError(f"the folder {path.parent} does not exist", hint="create it first")
    try:
        path.write_text(TEMPLATE, encoding="utf-8")
    except OSError as exc:
        raise LlmcostError(f"cannot write {path}: {exc.strerror}") from None
    return path

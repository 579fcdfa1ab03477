# Two commands a newcomer needs: `make demo` and `make test`. Both set everything up from nothing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DB := .llmcost/llmcost.duckdb
SOURCES_DB := .llmcost/sources.duckdb

.PHONY: demo test drill lint bench sample clean

$(BIN)/llmcost: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

# The main job: the fictional company's request logs and revenue -> the P&L and a what-if, in the
# default database (.llmcost/llmcost.duckdb), so that a plain `llmcost report` afterwards shows them.
# Then every supported provider export and gateway log (sample_logs/providers/) into a second
# database, reported by model and reconciled against the billed cost for October 2026, the month
# that request logs and bills (openai_costs, anthropic_costs 2026-10) both cover.
demo: $(BIN)/llmcost
	rm -f $(DEMO_DB) $(SOURCES_DB)
	$(BIN)/llmcost ingest sample_logs/logs sample_logs/revenue.csv
	$(BIN)/llmcost report
	$(BIN)/llmcost report --by feature
	$(BIN)/llmcost whatif --route-to haiku --feature support-chat
	$(BIN)/llmcost whatif --suggest
	$(BIN)/llmcost explain
	-$(BIN)/llmcost prices check
	$(BIN)/llmcost report --format html -o .llmcost/report.html
	$(BIN)/llmcost export --format focus -o .llmcost/focus.csv --grain day
	$(BIN)/llmcost --db $(SOURCES_DB) ingest sample_logs/providers
	$(BIN)/llmcost --db $(SOURCES_DB) report --by provider,model
	$(BIN)/llmcost --db $(SOURCES_DB) reconcile --since 2026-10-01
	@echo "HTML report: .llmcost/report.html"

test: $(BIN)/llmcost
	$(BIN)/python -m pytest

# The reliability drills alone (real processes: kill -9, two writers, damaged files, a browser).
drill: $(BIN)/llmcost
	$(BIN)/python -m pytest tests/drills -q

lint: $(BIN)/llmcost
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy --strict src/llmcost
	$(BIN)/lint-imports --no-cache

bench: $(BIN)/llmcost
	$(BIN)/python benchmarks/run.py

# Regenerate the committed sample data (deterministic).
sample: $(BIN)/llmcost
	rm -rf sample_logs
	$(BIN)/llmcost synth sample_logs --requests 20000 --seed 7

clean:
	rm -rf $(VENV) .llmcost build dist

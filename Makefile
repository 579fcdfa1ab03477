# Two commands a newcomer needs: `make demo` and `make test`. Both set everything up from nothing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DB := .llmcost/demo.duckdb

.PHONY: demo test lint bench sample clean

$(BIN)/llmcost: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

demo: $(BIN)/llmcost
	rm -f $(DEMO_DB)
	$(BIN)/llmcost --db $(DEMO_DB) ingest sample_logs/
	$(BIN)/llmcost --db $(DEMO_DB) report
	$(BIN)/llmcost --db $(DEMO_DB) report --by feature

test: $(BIN)/llmcost
	$(BIN)/python -m pytest

lint: $(BIN)/llmcost
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy --strict src/llmcost

bench: $(BIN)/llmcost
	$(BIN)/python benchmarks/run.py

# Regenerate the committed sample data (deterministic).
sample: $(BIN)/llmcost
	rm -rf sample_logs
	$(BIN)/llmcost synth sample_logs --requests 20000 --seed 7

clean:
	rm -rf $(VENV) .llmcost build dist

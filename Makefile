PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck format clean bench bench-smoke

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/codexbot demo

test: $(STAMP) lint typecheck bench-smoke
	$(BIN)/pytest -q -n auto --dist loadscope

# The benchmarks of bench/ at full size (minutes; see bench/RESULTS.md). They run on
# a temporary SQLite file, or on DATABASE_URL when it names a database of their own.
BENCH_SCRIPTS := ingest backfill stats_latency digests slack_load adoption

bench: $(STAMP)
	@for name in $(BENCH_SCRIPTS); do $(BIN)/python bench/$$name.py || exit 1; done

# Each benchmark at a tiny size, always on a temporary SQLite file: proves they still run.
bench-smoke: $(STAMP)
	@for name in $(BENCH_SCRIPTS); do DATABASE_URL= $(BIN)/python bench/$$name.py --smoke || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy over bot/ and sync/ (settings in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) demo.db

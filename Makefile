# Two commands for a new user: `make demo` (the main job) and `make test` (the tests).
# Both set themselves up: a virtual environment with pinned installs, then the demo data.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DUCKDB_PATH ?= warehouse.duckdb
DEMO_CUSTOMERS ?= 5000

.PHONY: help demo test lint bench data build clean venv browser reliability

## help: list every target with what it does (this list)
help:
	@echo "make <target>, where <target> is one of:"
	@awk '/^## [a-z][a-z /-]*:/ { sub(/^## /, ""); print "  " $$0; next } \
	      /^## / { sub(/^## /, ""); print "      " $$0 }' $(MAKEFILE_LIST)

## venv: the virtual environment .venv with the pinned installs of requirements.lock
venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

## data: generate the demo Amperity tables into $(DUCKDB_PATH)
data: $(STAMP)
	$(BIN)/loader demo-data --customers $(DEMO_CUSTOMERS)

## build: dbt build (models, data tests, unit tests) on the default DuckDB profile
build: $(STAMP)
	$(BIN)/dbt build --profiles-dir . --project-dir .

## demo: data -> dbt build -> loader push to the bundled emulator -> delivery summary
demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

## browser: Debian's chromium, for the report's browser test (installed when missing, as root)
browser:
	@if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium (Debian package) for tests/results/test_report_browser.py"; \
		apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; \
	else \
		echo "chromium is missing and this is not root: the report's browser test is skipped"; \
		echo "(install it with: sudo apt-get install -y chromium)"; \
	fi

## test: the whole test suite (pytest's "no tests collected" counts as success)
test: $(STAMP) browser
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

## reliability: the whole kill suite (every crash point of six scenarios, random-instant kills),
## faults at 5-40 % on three seeds, then the mutants (tests/reliability/mutants.py) that must
## turn it red; figures in bench/out/reliability.json (docs/reliability.md quotes them)
reliability: $(STAMP)
	mkdir -p bench/out
	LOADER_RELIABILITY=full LOADER_RELIABILITY_REPORT=bench/out/reliability.json \
		$(BIN)/python -m pytest tests/reliability -q
	$(BIN)/python -m tests.reliability.mutants

## lint: ruff over the Python, sqlfluff over models and macros
lint: $(STAMP)
	$(BIN)/ruff check loader klaviyo_emulator tests bench scripts
	$(BIN)/sqlfluff lint models macros --disable-progress-bar

## bench: benchmarks (not tests); figures go to docs/benchmarks.md
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# --- Engines: PostgreSQL and Spark (docs/scale.md) ---------------------------------------------
# Engine-only packages (dbt-postgres, dbt-spark, pyspark, psycopg2) come from
# requirements-engines.lock, installed on top of the venv only by these targets.
ENGINES_STAMP := $(VENV)/.engines-installed
ENGINES ?= postgres,spark

.PHONY: engines-venv test-engines postgres-start postgres-stop spark-start spark-stop

## engines-venv: the engine-only packages of requirements-engines.lock on top of .venv
engines-venv: $(ENGINES_STAMP)

$(ENGINES_STAMP): $(STAMP) requirements-engines.lock
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-engines.lock
	touch $(ENGINES_STAMP)

## test-engines: install and start PostgreSQL and Spark, build the project on each, compare with
## DuckDB, test the loader's reader there, stop them (ENGINES=postgres or spark for one)
test-engines: $(ENGINES_STAMP)
	ENGINES=$(ENGINES) PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/engines/test.sh

## postgres-start / postgres-stop: a throwaway local cluster; `scripts/engines/postgres.sh env`
## prints its connection for DBT_TARGET=postgres
postgres-start:
	bash scripts/engines/postgres.sh start

postgres-stop:
	bash scripts/engines/postgres.sh stop

## spark-start / spark-stop: Java 17 and the local Spark state folder (.engines/spark)
spark-start: $(ENGINES_STAMP)
	bash scripts/engines/spark.sh start

spark-stop:
	bash scripts/engines/spark.sh stop

## clean: stop the engines and remove .venv, target, logs, benchmark output and DuckDB files
clean:
	-bash scripts/engines/postgres.sh stop
	rm -rf $(VENV) target logs .demo .engines bench/out *.duckdb *.duckdb.wal *.duckdb.push.lock *.duckdb.tmp

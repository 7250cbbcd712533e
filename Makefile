# The two commands a new user needs: `make run` (the demo) and `make test` (lint + types + tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test test-deps lint clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("StatPulse needs Python 3.11 or newer" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/statpulse demo --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Debian packages the tests start as real processes: PgBouncer (tests/pgbouncer.py), Caddy
# (tests/test_caddy_e2e.py) and Chromium (tests/web/browser.py, driven by Playwright).
test-deps:
	scripts/install-debian-packages pgbouncer caddy chromium

# Two worker processes (pytest-xdist): each is a test session of its own, with its own
# throwaway PostgreSQL databases and PgBouncer (tests/conftest.py); about half the wall time.
test: lint test-deps
	$(BIN)/pytest -n 2

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# Debian packages the benchmarks drive (bench/runner.py): a stock nginx and blackbox_exporter.
.PHONY: bench-deps
bench-deps:
	scripts/install-debian-packages 'nginx-light|nginx' prometheus-blackbox-exporter

# Lighthouse (npm, pinned by bench/package-lock.json) and the Debian Chromium it drives
# (bench/lighthouse.py).
.PHONY: bench-lighthouse-deps
bench-lighthouse-deps:
	scripts/install-debian-packages chromium nodejs
	command -v npm >/dev/null || scripts/install-debian-packages npm
	npm ci --prefix bench --no-audit --no-fund

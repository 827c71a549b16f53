# The two commands a newcomer needs: `make run` and `make test`.
# Both create the virtual environment from the lock file when it is missing or stale.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WORKERS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) + 1)' 2>/dev/null || echo auto)
# mkdocs-material prints a notice about its future on every build; the docs need no such line.
export NO_MKDOCS_2_WARNING := 1

.PHONY: run test lint typecheck check bench docs docs-build lock clean

$(STAMP): requirements-dev.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Onramp needs Python 3.11 or newer on PATH (python3.11, python3.12, ...)." >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/onramp run $(ARGS)

# The docs are built with --strict, so a broken link or anchor fails (their output is shown only
# on failure: mkdocs --quiet would also hide the warnings that --strict counts).
# The suite runs on one worker per core plus one (WORKERS=… to choose): a third of its time is
# spent waiting for processes, PostgreSQL and the disk, which an extra worker fills (on two
# cores: 5.1 min with three workers against 7-8 with two).
# mypy (20 s of one core) runs beside the suite, whose workers spend much of their time waiting
# for processes and the disk; its verdict is printed when the suite ends, and either failing
# fails the target. `make typecheck` runs it alone.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/onramp check
	site=$$(mktemp -d) && out=$$($(BIN)/mkdocs build --strict --site-dir "$$site" 2>&1); status=$$?; rm -rf "$$site"; [ $$status -eq 0 ] || echo "$$out"; exit $$status
	@types=$$(mktemp); $(BIN)/mypy bot flows adapters storage >"$$types" 2>&1 & typing=$$!; \
	echo "$(BIN)/pytest -q -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS)   (mypy beside it)"; \
	$(BIN)/pytest -q -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS); tested=$$?; \
	wait $$typing; typed=$$?; echo "$(BIN)/mypy bot flows adapters storage"; cat "$$types"; rm -f "$$types"; \
	[ $$tested -eq 0 ] && [ $$typed -eq 0 ]

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy bot flows adapters storage

check: $(STAMP)
	$(BIN)/onramp check

# The documentation site: served with live reload at http://127.0.0.1:8000, or built into site/.
docs: $(STAMP)
	$(BIN)/mkdocs serve

docs-build: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python bench/dispatch.py
	$(BIN)/python bench/webhooks.py

# Regenerate the lock files after changing dependency ranges in pyproject.toml.
lock:
	$(PYTHON) -m venv .lockenv && .lockenv/bin/pip install --quiet pip-tools
	.lockenv/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml
	.lockenv/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.lock pyproject.toml
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

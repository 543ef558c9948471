# One-command set-up: every target creates the virtualenv first, so `make demo` and
# `make test` work on a fresh machine with only Python and PyPI.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/conductor demo

# lint-imports checks the layout's contracts (pyproject.toml [tool.importlinter]): layers
# that import one way, private modules used only inside their package, no cycles.
lint: $(STAMP)
	$(BIN)/ruff check conductor agents tests benchmarks examples
	$(BIN)/ruff format --check conductor agents tests benchmarks examples
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The report's browser test needs Debian's Chromium. Installed when missing and when we
# may (root, apt-get); otherwise that one test is skipped with a message saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the report's browser test (apt-get)"; \
	    apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium not found and cannot install it: the browser test will be skipped"; \
	  fi; }

test: $(STAMP) browser lint typecheck
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py

clean:
	rm -rf $(VENV) .conductor .mypy_cache .pytest_cache .ruff_cache

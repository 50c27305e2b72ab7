# Two entry points, each usable on a fresh machine with Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: deck test test-fast clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.deck: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.deck

# Bytecode for the editable package, as pip writes it for an installed one: without it
# (PYTHONDONTWRITEBYTECODE set) every run compiles the tool's source again.
deck: $(VENV)/.deck
	@$(BIN)/python -m compileall -q generator
	$(BIN)/deck build

# The preview's tests drive Debian's Chromium (Playwright's own download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.test browser
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

# The edit loop (about 20 s): everything but the browser, anki, fuzz and slow tests.
test-fast: $(VENV)/.test
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q -m "not browser and not anki and not fuzz and not slow"

clean:
	rm -rf build $(VENV)

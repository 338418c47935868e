# Two promises: `make run` starts the assistant, `make test` runs the whole suite, both from a fresh clone.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || ls -d $$(pyenv root 2>/dev/null)/versions/3.11.*/bin/python3.11 2>/dev/null | tail -n 1)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: browser run test setup translations extract db content-check lint bench bench-alerts clean rasa eval

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: Python 3.11 is needed (python3.11 not on PATH, none under pyenv); set PYTHON=/path/to/python3.11" >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) translations

translations: $(STAMP)
	$(BIN)/pybabel compile --domain messages --directory locales --statistics 2>&1 | grep -v '^compiling' || true

# For editors of the interface texts: collect new msgids from app/ and merge them into every catalog.
extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k gettext -k N_ --no-location --sort-output --project=migrantinfo \
		--copyright-holder="Migrantinfo contributors" -o locales/messages.pot .
	$(BIN)/pybabel update -i locales/messages.pot -d locales --ignore-obsolete --no-fuzzy-matching

db: setup
	$(BIN)/migrantinfo db upgrade

content-check: setup
	$(BIN)/migrantinfo content check
	$(BIN)/migrantinfo content sources --check

# `make run ENGINE=rasa` also prepares Rasa (its Python 3.10 environment, a model when bot/ changed) and starts it.
run: db
	$(BIN)/migrantinfo serve

rasa: setup
	$(BIN)/migrantinfo rasa prepare

eval: setup
	$(BIN)/migrantinfo eval --engine $(if $(filter rasa,$(ENGINE)),both,embedded)

# The browser tests drive Debian's Chromium with Playwright (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else echo "error: the browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

test: setup content-check browser
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: setup
	$(BIN)/ruff check app tests bench bot
	$(BIN)/mypy

bench: db
	$(BIN)/python bench/webhook.py

bench-alerts: setup
	$(BIN)/python bench/alerts.py

clean:
	rm -rf $(VENV) var .pytest_cache

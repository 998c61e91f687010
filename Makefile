# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
# Re-install only when a requirements file changes.
RUN_STAMP  := $(VENV)/.run-$(shell cat requirements.txt | sha1sum | cut -c1-12)
DEV_STAMP  := $(VENV)/.dev-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
export PATH := $(BIN):$(PATH)
# The suite runs in parallel processes (pytest-xdist): most of its time is spent
# waiting on real servers, workers and killed processes, not on the CPU. Each
# process has its own test database and Redis database; the browser tests and
# the fault suite each stay in one process. PYTEST_WORKERS= runs it serially.
PYTEST_WORKERS ?= -n 3 --dist loadgroup

.PHONY: run test faults screenshots bench lint migrate schema admin install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

## run: web (gunicorn), worker (RQ with scheduler) and cron, on embedded
## PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set. Ctrl-C stops all.
run: install
	@echo "Starting web, worker and cron. Open http://127.0.0.1:$${PORT:-5000}/ once 'Listening at' shows. Ctrl-C stops everything."
	$(BIN)/python -m reliability.embedded -- sh -c 'flask --app wsgi db upgrade && exec python -m reliability.supervisor web worker cron'

## test: lint first, then the whole suite against real PostgreSQL and Redis
## (TEST_DATABASE_URL / TEST_REDIS_URL, else embedded servers). The browser
## tests need Chromium: found or installed first, else the run fails with a
## line saying how to get one (SKIP_BROWSER_TESTS=1 skips them on purpose).
test: lint
	@$(BIN)/python -m tests.browser.chromium --install >/dev/null
	$(BIN)/python -m pytest $(PYTEST_WORKERS)

## faults: only the fault suite (tests/faults, also part of `make test`): the real
## stack on its own embedded PostgreSQL and Redis, one fault injected per case.
faults: install-dev
	$(BIN)/python -m pytest -m faults tests/faults

## screenshots: the browser tests, saving the README's screenshots in docs/screenshots/.
screenshots: install-dev
	@$(BIN)/python -m tests.browser.chromium --install >/dev/null
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/browser

## bench: every benchmark, one line per figure, on DATABASE_URL / REDIS_URL
## when set, else on embedded servers in a temporary directory.
bench: install-dev
	$(BIN)/python -m bench

## lint: ruff's rules and formatting on the whole tree, mypy's type checks on
## the application packages (webapp, optimizer, jobs, reliability; see pyproject.toml).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

migrate: install
	$(BIN)/python -m reliability.embedded -- flask --app wsgi db upgrade

## schema: rewrite sql/schema.sql from the migrations (a scratch database on
## DATABASE_URL's server, else the embedded one, migrated then dumped and dropped).
schema: install
	$(BIN)/python -m reliability.embedded -- flask --app wsgi db schema

## admin: create the first admin (asks for email and password).
admin: install
	$(BIN)/python -m reliability.embedded -- flask --app wsgi users create-admin

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

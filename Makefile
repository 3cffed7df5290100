# Support Desk. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# Test processes (pytest-xdist); CI machines have 2 cores.
TEST_WORKERS ?= 2
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv browser run test lint format services services-down migrate seed shell bench screenshots compose-check clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,semantic]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP) ## Create the virtualenv and install the pinned dependencies

# Browser tests drive Debian's Chromium (Playwright's own download cannot work on these machines);
# the IMAP poller's tests run Debian's Dovecot as a throwaway server.
CHROMIUM ?= /usr/bin/chromium
DOVECOT ?= /usr/sbin/dovecot
browser: ## Install Debian's Chromium and Dovecot for the tests, when they are missing (needs root)
	@test -x $(CHROMIUM) -a -x $(DOVECOT) || { echo "Installing Debian's chromium and dovecot-imapd for the tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium dovecot-imapd; }

run: venv ## Set up and run the whole desk: database, Redis, web, worker, beat, demo data
	$(PY) -m supportdesk.launcher

test: venv browser ## Set up and run the whole test suite on PostgreSQL (embedded unless DATABASE_URL is set)
	$(PY) -m supportdesk.embedded exec -- $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: venv ## ruff, ruff format, mypy, import-linter, makemigrations --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	DJANGO_SETTINGS_MODULE=supportdesk.settings.test $(PY) manage.py makemigrations --check --dry-run

format: venv ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

services: venv ## Start the embedded PostgreSQL and Redis under var/ (they keep running)
	$(PY) -m supportdesk.embedded up

services-down: venv ## Stop the embedded PostgreSQL and Redis
	$(PY) -m supportdesk.embedded down

migrate: venv ## Apply migrations (start services first)
	$(PY) manage.py migrate

seed: venv ## Load the demo data (idempotent)
	$(PY) manage.py seed_demo

shell: venv ## Django shell
	$(PY) manage.py shell

bench: venv ## Load 100k tickets and measure the API (writes docs/benchmarks.md)
	$(PY) -m supportdesk.embedded exec -- $(PY) -m bench.run_all

screenshots: venv browser ## Regenerate docs/screenshots/ from the browser tests
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(PY) -m supportdesk.embedded exec -- $(PY) -m pytest -m e2e -n 1 -q

compose-check: ## Validate docker-compose.yml (needs Debian's docker-compose 1.29: apt-get install docker-compose)
	docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml is valid"

clean: services-down ## Stop services and remove var/ and the virtualenv
	rm -rf var $(VENV)

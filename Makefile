# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test lint install install-dev migrate clean browser nginx

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/flask db upgrade

## Serve on http://127.0.0.1:8000 (SQLite under instance/ unless DATABASE_URL is set).
run: migrate
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

## Debian's Chromium and ChromeDriver for tests/pages/test_browser.py (root, as in CI).
browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null \
		|| (apt-get update && apt-get install -y chromium chromium-driver)

## Debian's nginx and envsubst for tests/reliability/test_proxy.py, wrk for bench/ (root, as in CI).
nginx:
	command -v nginx >/dev/null && command -v envsubst >/dev/null && command -v wrk >/dev/null \
		|| (apt-get update && apt-get install -y nginx gettext-base wrk)

## The whole suite on real PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL).
test: install-dev browser nginx
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) instance .pytest_cache

# The two commands of the README: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Local development defaults; override in the environment or in .env.
export DEBUG ?= 1
export HF_HUB_OFFLINE := 1
ifneq (,$(wildcard .env))
include .env
export
endif

.PHONY: install run test lint format migrations-check bootstrap clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

bootstrap: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py bootstrap

run: bootstrap
	@echo "Serving http://127.0.0.1:$(PORT)/ (admin at /admin/, API at /api/)"
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: install
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache

# The two commands of the README: `make run` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Debian packages the tests drive: the browser for the page tests, PgBouncer for the integration tests, and
# docker-compose (v1; needs no engine) to validate docker-compose.yml against the compose schema. `make test`
# installs them as root with apt-get, and otherwise stops before any test with the one command to run.
TEST_DEBIAN_PACKAGES := chromium pgbouncer docker-compose
# Who needs them, in the message of a run without root.
NEEDED_BY := The tests
# The models load from site-packages; nothing may reach a hub at run time.
export HF_HUB_OFFLINE := 1

.PHONY: install run serve test lint format migrations-check bootstrap clean test-packages bench-serve

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Local settings for `python manage.py ...` in this checkout (DEBUG on, a fresh SECRET_KEY); never overwritten.
.env:
	$(PYTHON) moviesite/envfile.py $@

install: $(VENV)/.installed .env
	@# The ONNX query encoder, exported from the packaged model into .cache/onnx (ONNX_CACHE_DIR), once per
	@# model and toolchain; if it fails, queries use torch and the site still works.
	@$(BIN)/python manage.py build_query_encoder || echo "warning: no ONNX query encoder; queries will use torch" >&2

test-packages:
	@missing=""; for package in $(TEST_DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages for the tests:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "$(NEEDED_BY) need Debian packages:$$missing. Run as root: apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi

bootstrap: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py bootstrap

run: bootstrap
	@echo "Serving http://127.0.0.1:$(PORT)/ (admin at /admin/, API at /api/)"
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The production server (gunicorn as the Dockerfile runs it, moviesite/gunicorn.conf.py), DEBUG off, on PORT.
# On the embedded database unless DATABASE_URL is set. Plain HTTP on loopback: behind a TLS proxy, export
# SECURE_SSL_REDIRECT=1 SECURE_COOKIES=1 BEHIND_TLS_PROXY=1 and HOST=0.0.0.0.
serve: bootstrap
	DEBUG=0 $(BIN)/python manage.py collectstatic --no-input -v 0
	DEBUG=0 SECURE_SSL_REDIRECT=$${SECURE_SSL_REDIRECT:-0} SECURE_COOKIES=$${SECURE_COOKIES:-0} PORT=$(PORT) \
	  $(BIN)/gunicorn -c moviesite/gunicorn.conf.py moviesite.wsgi

# Throughput under wrk, side by side with 7691f98 (benchmarks/serve_load.py; needs ../shared/datasets).
bench-serve: install
	@$(MAKE) --no-print-directory test-packages TEST_DEBIAN_PACKAGES=wrk NEEDED_BY="The load benchmark"
	$(BIN)/python benchmarks/serve_load.py --warm --keep-answers

test: test-packages install
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

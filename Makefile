# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test test-infra api-fuzz docs lint format setup clean chromium pdf-libs image image-test

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.installed

## run: set up, migrate, create the demo accounts, serve everything (web app,
## API, admin, streaming AI) on one URL, http://127.0.0.1:$(PORT)
run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py dev_bootstrap
	@# One ASGI server for every route (QUIRE_SERVE=all, see gunicorn.conf.py):
	@# the same Django handler and middleware as production's two servers.
	QUIRE_SERVE=all $(BIN)/gunicorn -c gunicorn.conf.py

## chromium: Debian's Chromium for the browser tests (web/tests/browser), as root
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "WARNING: /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get): the browser tests will be skipped; run 'sudo apt-get install chromium'"; \
	fi

## pdf-libs: Debian's Pango for WeasyPrint (PDF export), as root, if missing
pdf-libs: setup
	@if $(BIN)/python -c "import weasyprint" >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's Pango for WeasyPrint (PDF export)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core >/dev/null; \
	else \
	  echo "WARNING: WeasyPrint cannot load Pango and it cannot be installed here (needs root and apt-get): PDF export will fail; run 'sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core'"; \
	fi

## test: set up, lint, check formatting, build the docs, run the whole suite
## (browser tests too), then the API fuzz run (api-fuzz)
test: setup chromium pdf-libs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mkdocs build --strict --quiet
	$(BIN)/hadolint Dockerfile
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=project.settings.test
	$(BIN)/pytest --postgresql-note=var/postgresql-not-run.txt $(PYTEST_ARGS)
	$(MAKE) --no-print-directory api-fuzz
	$(MAKE) --no-print-directory test-infra
	@# Last: the PostgreSQL-only tests a SQLite run skipped, and how to run them.
	@cat var/postgresql-not-run.txt 2>/dev/null || true

## api-fuzz: schemathesis against the served schema of a real server (gunicorn,
## QUIRE_SERVE=all) on a fresh database (PostgreSQL next to DATABASE_URL, else
## SQLite), with local-issuer tokens; under 3 minutes; reports in var/api-fuzz/
api-fuzz: setup
	$(BIN)/python .ci/api_fuzz.py

## test-infra: synthesize both CDK stages offline (needs Node.js), assert, cfn-lint
INFRA_VENV := infra/.venv
$(INFRA_VENV)/.installed: requirements-infra.txt
	@command -v node >/dev/null 2>&1 || { echo "node not found: the CDK synth (jsii) needs Node.js"; exit 1; }
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(INFRA_VENV)/bin/python -m pip install --quiet -r requirements-infra.txt
	@touch $@

test-infra: $(INFRA_VENV)/.installed
	cd infra && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/pytest -q

## docs: build docs/ into var/site (strict: a broken link fails)
docs: setup
	$(BIN)/mkdocs build --strict --quiet

## image: build the production image with podman (.ci/image/build.sh)
IMAGE ?= quire:latest
image:
	bash .ci/image/build.sh $(IMAGE)

## image-test: build the image, then smoke-test it against PostgreSQL on
## 127.0.0.1:5432 (.ci/image/smoke.py)
image-test: setup image
	CONTAINERS_CONF=$(CURDIR)/.ci/image/containers.conf $(BIN)/python .ci/image/smoke.py --image $(IMAGE)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(INFRA_VENV) infra/cdk.out var/ staticfiles/ .pytest_cache .ruff_cache

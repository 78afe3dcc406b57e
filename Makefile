# LeadFlow: `make run` (set up and run the demo), `make test` (set up, `make check`, then
# the suite), `make check` (lint, format, migrations, types), `make bench` (benchmarks;
# `make bench ONLY=intake` for one).
PORT ?= 8000
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test check lint format-check migrations-check typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# The demo: SQLite (WAL), kombu's filesystem broker, the sandbox CRMs, demo data.
# DATABASE_URL / CELERY_BROKER_URL, when set, are used instead.
run: export DEBUG ?= true
run: export SANDBOX_ENABLED ?= true
run: export LEADFLOW_PORT := $(PORT)
run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py demo_seed
	$(BIN)/honcho start -f Procfile

# The whole suite, on the local PostgreSQL + Redis when they answer (see
# scripts/local_services.py), with a real Celery worker and headless Chromium.
test: check
	@$(BIN)/python scripts/ensure_chromium.py
	@eval "$$($(BIN)/python scripts/local_services.py)"; \
	  echo "database: $${DATABASE_URL:-sqlite}  broker: $${CELERY_BROKER_URL:-filesystem}"; \
	  $(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	@eval "$$($(BIN)/python scripts/local_services.py)"; \
	  $(BIN)/python -m bench $(if $(ONLY),--only $(ONLY))

# What a reviewer checks, each runnable alone. Fails on the first that fails.
CODE := leadflow integrations tests scripts bench
# Settings enough to load the project (no service is reached; nothing here is a secret).
CHECK_ENV := DEBUG=false SECRET_KEY=check-only-0123456789abcdefghijklmnopqrstuvwxyz \
  FIELD_ENCRYPTION_KEYS=check-only SANDBOX_ENABLED=true DATABASE_URL=sqlite:///:memory: \
  CELERY_BROKER_URL=memory://

check: lint format-check migrations-check typecheck

lint: $(VENV)/.installed
	$(BIN)/ruff check $(CODE)

format-check: $(VENV)/.installed
	$(BIN)/ruff format --check $(CODE)

migrations-check: $(VENV)/.installed
	$(CHECK_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

typecheck: $(VENV)/.installed
	$(CHECK_ENV) $(BIN)/mypy

clean:
	rm -rf var staticfiles

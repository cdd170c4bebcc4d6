# Two commands: `make run` (set up and serve the demo) and `make test` (the whole suite).
# Needs only Python 3.11+, make and pip. Everything else goes into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed
# The Procfile's `web` server (uvicorn) on HOST:PORT, restarted when a Python file changes.
# Each request is logged once, by the app (restaurant.logs); uvicorn's access log would
# repeat it. `make -s serve-command` prints it (tests/restaurant/test_make_run.py runs it).
SERVE = $(BIN)/python -m uvicorn restaurant.asgi:application --host $(HOST) --port $(PORT) \
	--loop uvloop --http httptools --ws wsproto --ws-ping-interval 15 --ws-ping-timeout 30 \
	--no-access-log --reload --reload-dir orders --reload-dir realtime --reload-dir restaurant

.PHONY: run serve-command test install migrate seed check schema clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Local development: DEBUG on, SQLite and the in-memory channel layer unless DATABASE_URL /
# REDIS_URL say otherwise.
run: export DEBUG ?= 1
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Serving on http://$(HOST):$(PORT)/  (API docs /api/docs/, admin /admin/, kitchen /kitchen/)"
	$(SERVE)

serve-command:
	@echo $(SERVE)

# Two workers (pytest-xdist), a test file each at a time: CI has 2 cores. PYTEST_WORKERS=0
# runs in one process.
PYTEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

check: install
	DEBUG=1 $(BIN)/python manage.py check
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

schema: install
	DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file schema.yml

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache

# Quick start: `make run` (demo site + worker on http://127.0.0.1:8000) and `make test`.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
ADDR ?= 127.0.0.1:8000
STAMP := $(VENV)/.installed

.PHONY: run test venv lint lock clean

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

# Migrate, seed the demo study on an empty database, then serve the site and a Celery worker
# together; Ctrl-C stops both.
run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@trap 'kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency=1 -Q default,model & \
	$(PY) manage.py runserver $(ADDR)

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

# Re-pin: install requirements.in into a fresh venv, then write requirements.txt from it.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet -r requirements.in
	.venv-lock/bin/pip freeze --exclude-editable > requirements.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) var

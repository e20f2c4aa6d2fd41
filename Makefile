# Two set-up-and-go commands on a fresh machine (Python 3.11, package registries only):
#   make app    installs what the app needs, then runs it (streamlit run app.py)
#   make test   installs what the tests need (incl. Debian's Chromium and exiftool), checks the layers, runs the whole suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: app test install install-dev browser

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install $(PIP_QUIET) -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian packages the tests use: Chromium for the browser tests, exiftool (the reference metadata writer) for fixtures.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v exiftool >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver libimage-exiftool-perl >/dev/null; }

app: install
	HF_HUB_DISABLE_TELEMETRY=1 $(VENV)/bin/streamlit run app.py

# The layer contracts (.importlinter, ARCHITECTURE.md) first: an upward import fails before any test runs.
test: install-dev browser
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

# Two set-up-and-go commands on a fresh machine (Python 3.11, package registries only):
#   make app    installs what the app needs, then runs it (streamlit run app.py)
#   make test   installs what the tests need (incl. Debian's Chromium and exiftool), checks the layers, runs the whole suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check

.PHONY: app test install install-dev browser ocr-libs

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install $(PIP_QUIET) -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian packages the tests use: Chromium for the browser tests, exiftool (the reference metadata writer) for fixtures,
# DejaVu fonts (the OCR fixtures' words).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v exiftool >/dev/null && \
		test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver libimage-exiftool-perl fonts-dejavu-core >/dev/null; }

# Debian libraries OpenCV loads (rapidocr-onnxruntime, the OCR engine, requires opencv-python): libGL and GLib.
ocr-libs:
	@ldconfig -p | grep -q 'libGL.so.1 ' && ldconfig -p | grep -q 'libgthread-2.0.so.0 ' || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgl1 libglib2.0-0 >/dev/null; }

app: install ocr-libs
	HF_HUB_DISABLE_TELEMETRY=1 $(VENV)/bin/streamlit run app.py

# The layer contracts (.importlinter, ARCHITECTURE.md) first: an upward import fails before any test runs.
test: install-dev browser ocr-libs
	PYTHONPATH=. $(VENV)/bin/lint-imports --no-cache
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

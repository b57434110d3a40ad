# Service Desk. Quick start: `make run` (set up and run everything), `make test` (every test and check).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py

.PHONY: run test stop check pytest browser catalogues messages lint format clean mutation

run: $(VENV)/.installed catalogues
	DEBUG=$${DEBUG:-1} $(MANAGE) serve

stop: $(VENV)/.installed
	$(MANAGE) services down

test: $(VENV)/.installed-test catalogues browser
	$(MANAGE) services exec -- $(MAKE) --no-print-directory check pytest

# The quality gates; `make test` runs them with the embedded servers up.
check:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(MANAGE) makemigrations --check --dry-run
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy bench  # apart: bench/qa.py is a script named like the qa app

pytest:
	$(PY) -m pytest $(PYTEST_ARGS)

# Mutation testing of the refund policy, the SLA arithmetic and the credit tiering (README); not part of test.
mutation: $(VENV)/.installed-test catalogues
	$(PY) bench/mutation.py

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

catalogues: $(VENV)/.installed
	@$(MANAGE) compile_catalogues

# Debian's Chromium and a CJK font for the browser tests, and espeak-ng for the radio's audio and the
# speech-recognition test's recording, installed when missing (needs root).
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/espeak-ng ] && dpkg -s fonts-noto-cjk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Chromium, fonts-noto-cjk and espeak-ng for the browser and audio tests ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium fonts-noto-cjk espeak-ng >/dev/null) || echo "WARNING: could not install Chromium or espeak-ng; browser and audio tests will be skipped."; \
	else echo "WARNING: Chromium, fonts-noto-cjk or espeak-ng is missing and cannot be installed here (not root or no apt-get); browser tests will be skipped."; fi

# Re-extract translatable strings (needs GNU gettext); then translate locale/zh_Hans/LC_MESSAGES/django.po.
messages: $(VENV)/.installed
	$(MANAGE) makemessages --locale zh_Hans --ignore ".venv/*" --ignore "var/*" --no-obsolete

format: $(VENV)/.installed-test
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Stops the embedded servers, then deletes the virtualenv and every local file (database included).
clean:
	-test -x $(PY) && $(MANAGE) services down
	rm -rf $(VENV) var

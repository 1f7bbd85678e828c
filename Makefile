# Two commands work on a fresh machine (Python 3.11, Debian, no GPU):
#   make demo   creates .venv, installs torchworks, runs `torchworks quickstart` on bundled data
#   make test   creates .venv, installs with test extras, runs the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean system-packages

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/torchworks quickstart

test: $(STAMP) system-packages
	$(BIN)/python -m pytest -q

# Debian packages the tests use, installed here, never skipped: espeak-ng synthesises speech for the
# speech tests; chromium runs the web page in the browser test (driven by Playwright, no download)
system-packages:
	@command -v espeak-ng >/dev/null && command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng chromium >/dev/null; }

clean:
	rm -rf $(VENV) runs

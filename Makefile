# Two commands work on a fresh machine (Python 3.11, Debian, no GPU):
#   make demo   creates .venv, installs torchworks, runs `torchworks quickstart` on bundled data
#   make test   creates .venv, installs with test extras, runs the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean espeak

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/torchworks quickstart

test: $(STAMP) espeak
	$(BIN)/python -m pytest -q

# speech tests synthesise clips with espeak-ng (a Debian package): installed here, never skipped
espeak:
	@command -v espeak-ng >/dev/null || { apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null; }

clean:
	rm -rf $(VENV) runs

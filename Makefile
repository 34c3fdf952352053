# The README's two commands are `make site` and `make test`; everything else here serves them.
# Each target creates .venv on first use: CPU torch 2.13.0 if no torch is there yet, then rfs with its extras.

PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV)/bin)
STAMP := $(VENV)/.installed
MATHJAX := book/_static/mathjax/tex-mml-chtml.js
NBGRADER := PATH="$(BIN):$$PATH" JUPYTER_CONFIG_PATH="$(CURDIR)/autograder" $(BIN)/nbgrader
ASSIGNMENTS := ch02 ch03 ch04 ch05 ch06 ch07 ch08 appendix_c appendix_d appendix_e appendix_f
PORT ?= 8000

.PHONY: install site site-build mathjax test assignments lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[course,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# The lesson cache keys on the notebooks' code, not on the models and library they run: retrained models or a
# changed rfs clear it, and Sphinx's own record of the pages (.doctrees), so the lessons run again.
MODELS_STAMP := _build/.models-stamp
$(MODELS_STAMP): $(wildcard rfs/pocket/models/*/model.safetensors rfs/*.py)
	rm -rf _build/.jupyter_cache _build/.doctrees && mkdir -p _build && touch $@

# MathJax 3 from the npm registry, served by the site itself so math renders offline.
mathjax: $(MATHJAX)

$(MATHJAX):
	rm -rf build/mathjax && mkdir -p build/mathjax book/_static
	cd build/mathjax && npm pack --silent mathjax@3.2.2 >/dev/null && tar xzf mathjax-3.2.2.tgz
	rm -rf book/_static/mathjax && cp -r build/mathjax/package/es5 book/_static/mathjax

# Build the course site; lessons execute on the pocket models (cached in _build/.jupyter_cache). This is the
# one place lessons run: with -W a lesson cell that raises fails the build. Then each lesson's execution time.
site-build: install mathjax $(MODELS_STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/jupyter-book build . --toc book/_toc.yml --builder html -W -n --keep-going
	@$(BIN)/python .ci/lesson_times.py _build/.jupyter_cache

site: site-build
	@echo "Serving the course at http://localhost:$(PORT) (Ctrl-C stops)"
	$(BIN)/python -m http.server $(PORT) --directory _build/html

# Learner versions of the assignments: release/ (ignored) and the committed copies in book/assignments/.
assignments: install
	for a in $(ASSIGNMENTS); do $(NBGRADER) generate_assignment $$a --force --log-level=WARN || exit 1; \
	  mkdir -p book/assignments/$$a && cp release/$$a/$${a}_exercises.ipynb book/assignments/$$a/; done

# The whole test suite: the site build (it runs every lesson once, warnings as errors), unit tests with the
# site's rendered pages, assignments and autograder, the solution notebooks (nbmake), then the linter.
# Each pytest run lists its 15 slowest tests.
test: install site-build
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 tests
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 2 --nbmake --nbmake-timeout=600 --durations=15 solutions
	$(BIN)/ruff check .

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/rfs bench generate

clean:
	rm -rf _build build release gradebook.db

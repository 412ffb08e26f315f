# nlbtut task runner. The two commands of the README:
#   make book   build the executed book to HTML (offline, synthetic data, classroom-sized
#               training: NLBTUT_FAST=1; `make book-full` trains the full presets)
#   make test   lint + the whole test suite (includes executing every chapter
#               in fast mode and building the book with warnings as errors)
# Each creates or reuses .venv (Python 3.11) and installs what it needs.

PYTHON ?= python3.11
VENV ?= .venv
REF_VENV ?= .venv-ref
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
STAMP := $(VENV)/.nlbtut-installed
REF_STAMP := $(REF_VENV)/.nlbtut-ref-installed
PIP_FLAGS ?= --disable-pip-version-check --no-input -q

.PHONY: help venv ref-env book book-full test lint format data bench clean sync-notebooks

help:
	@echo "make book   - build the executed book, classroom-sized (HTML in _build/html)"
	@echo "make book-full - the same with the full training presets (HTML in _build/full)"
	@echo "make test   - lint, run the test suite, execute and build the book"
	@echo "make bench  - run the benchmarks in bench/ (slow)"

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade "pip>=24"
	$(BIN)/python -m pip install $(PIP_FLAGS) -c $(CONSTRAINTS) -e ".[book,dev,autolfads]"
	@touch $@

venv: $(STAMP)

# The official nlb-tools 0.0.4 in its own environment, for the parity tests.
$(REF_STAMP): requirements/reference.txt requirements/reference-py311.txt
	bash .ci/ref-env.sh $(REF_VENV)
	@touch $@

ref-env: $(REF_STAMP)

data: $(STAMP)
	$(BIN)/python -m nlbtut synth --preset mc_maze_small --out data/synthetic --seed 0

# The execution cache keys on the code only, so the two modes build into separate folders.
book: $(STAMP)
	NLBTUT_FAST=1 $(BIN)/jupyter-book build . -W -n --keep-going

book-full: $(STAMP)
	NLBTUT_FAST=0 $(BIN)/jupyter-book build . -W -n --keep-going --path-output _build/full

lint: $(STAMP)
	$(BIN)/ruff check nlbtut tests bench
	$(BIN)/ruff format --check nlbtut tests bench

format: $(STAMP)
	$(BIN)/ruff format nlbtut tests bench
	$(BIN)/ruff check --fix nlbtut tests bench

test: $(STAMP) $(REF_STAMP) lint
	NLBTUT_REF_PYTHON=$(CURDIR)/$(REF_VENV)/bin/python $(BIN)/python -m pytest

sync-notebooks: $(STAMP)
	$(BIN)/python -m nlbtut.booktools sync

bench: $(STAMP) $(REF_STAMP)
	$(BIN)/python bench/bench_tensors.py
	$(BIN)/python bench/bench_evaluate.py
	$(BIN)/python bench/bench_lfads.py speed --presets tiny cpu mc_maze_small --xla both
	$(BIN)/python bench/bench_lfads.py quality --preset cpu --dataset mc_maze_small

clean:
	rm -rf _build .pytest_cache .ruff_cache

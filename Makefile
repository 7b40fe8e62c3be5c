# Development tasks. `make test` is what CI runs (.ci/run) and what the README's quick start uses.
VENV ?= .venv
PY := $(VENV)/bin/python
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: venv build-dev test test-rust test-python lint bench bench-smoke demo fuzz reliability

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Test dependencies: ours, plus openpipe-art 0.5.18 (the reference the differential tests compare against).
venv: $(PY)
	$(PY) -m pip install -q maturin ruff "openpipe-art==0.5.18" numpy pyarrow

# Builds the extension in place and installs the `test` extra's dependencies with it.
build-dev: venv
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop -q --extras test

test-rust:
	cargo test -q

test-python: build-dev
	$(PY) -m pytest -q -p no:cacheprovider

test: test-rust test-python

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	$(VENV)/bin/ruff check python tests bench examples
	$(VENV)/bin/ruff format --check python tests bench examples

# The full comparison against openpipe-art 0.5.18 (release build, its own venv).
bench:
	$(MAKE) venv VENV=.venv-bench
	VIRTUAL_ENV=$(abspath .venv-bench) .venv-bench/bin/maturin develop -q --release
	.venv-bench/bin/python bench/compare.py

demo: build-dev
	$(PY) -m art_metrics demo

# Reliability figures side by side with the reference (README "Reliability"); fuzzing, bounded.
reliability: build-dev
	$(PY) bench/reliability.py
	$(PY) bench/bad_input.py
	$(PY) bench/leak.py

fuzz:
	scripts/fuzz.sh

# openpipe-art 0.5.23 needs Python >= 3.12: its own venv (.venv-0523, pyenv's 3.12 by default;
# PYTHON312=... to choose) with art_metrics built in, and its own differential suite.
.PHONY: venv-0523 test-0523
venv-0523:
	scripts/venv_0523.sh

test-0523: venv-0523
	.venv-0523/bin/python -m pytest -q -p no:cacheprovider tests/differential_0523

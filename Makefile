# Development tasks. `make test` is what CI runs (.ci/run) and what the README's quick start uses:
# cargo test, the Python 3.11 suite (openpipe-art 0.5.18) and the Python 3.12 suite against
# openpipe-art 0.5.23 (tests/differential_0523, its own venv .venv-0523).
VENV ?= .venv
PY := $(VENV)/bin/python
export LITELLM_LOCAL_MODEL_COST_MAP := True


.PHONY: venv prices-venv mlflow-venv build-dev stubtest test test-rust test-python test-0523 venv-0523 lint docs wheel-smoke ci bench bench-smoke demo fuzz reliability catalog

# The tests need Python >= 3.11 (openpipe-art 0.5.18 requires it); the package itself, 3.9.
$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip  # `--group` (PEP 735) needs pip >= 25.1

# pyproject's dependency group `dev`: maturin, ruff and the test dependencies, among them
# openpipe-art 0.5.18 (the reference the differential tests compare against).
venv: $(PY)
	$(PY) -m pip install -q --group dev

# The price catalog's pinned sources (scripts/gen_catalog.py refuses other versions): the
# test that regenerates crates/art-metrics-core/src/pricing/catalog.json and compares runs with this interpreter.
PRICES_VENV ?= .venv-prices
$(PRICES_VENV)/bin/python:
	python3 -m venv $(PRICES_VENV)
	$(PRICES_VENV)/bin/python -m pip install -q genai-prices==0.2.5 litellm==1.110.2

prices-venv: $(PRICES_VENV)/bin/python

# A real MLflow tracking server for tests/test_sinks_mlflow.py: pyproject's `mlflow-server`
# group (the full mlflow package) in its own venv, out of the tests' (the tests talk to it
# with the `mlflow-skinny` client that `art-metrics[mlflow]` installs).
MLFLOW_VENV ?= .venv-mlflow
$(MLFLOW_VENV)/bin/mlflow:
	python3 -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install -q --upgrade pip  # `--group` needs pip >= 25.1
	$(MLFLOW_VENV)/bin/python -m pip install -q --group mlflow-server

mlflow-venv: $(MLFLOW_VENV)/bin/mlflow

# Regenerates crates/art-metrics-core/src/pricing/catalog.json from the pinned sources (prints every decision).
catalog: prices-venv
	$(PRICES_VENV)/bin/python scripts/gen_catalog.py

# Builds the extension in place.
build-dev: venv
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop -q --features test-hooks

test-rust:
	cargo test -q --workspace

# The builds above have the test hooks: a test marked `test_hooks` is never skipped here
# (tests/conftest.py refuses to run instead).
export ART_METRICS_REQUIRE_TEST_HOOKS := 1

# pytest's temporary files live under the checkout (.pytest-tmp/), not in /tmp/pytest-of-<user>
# that every pytest run on the machine shares (another run's leftovers cannot break ours).
PYTEST_TMP := $(abspath .pytest-tmp)

test-python: build-dev prices-venv mlflow-venv
	mkdir -p $(PYTEST_TMP)
	ART_METRICS_PRICES_PYTHON=$(abspath $(PRICES_VENV))/bin/python \
	ART_METRICS_MLFLOW_SERVER=$(abspath $(MLFLOW_VENV))/bin/mlflow \
	$(PY) -m pytest -q -p no:cacheprovider --basetemp=$(PYTEST_TMP)/py311

test: test-rust test-python test-0523

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	# The core crate stays free of Python: no PyO3 anywhere in its dependency tree.
	! cargo tree -p art_metrics_core -e normal,build | grep -qi pyo3
	$(VENV)/bin/ruff check python tests bench examples docs/griffe_rst.py
	$(VENV)/bin/ruff format --check python tests bench examples docs/griffe_rst.py
	$(VENV)/bin/mypy  # --strict on python/art_metrics and its stub: [tool.mypy] in pyproject.toml
	$(MAKE) stubtest
	$(MAKE) docs

# The stub (_core.pyi) against the built extension (make wheel-smoke also checks it against a
# wheel built without the test hooks).
stubtest: build-dev
	$(PY) -m mypy.stubtest art_metrics._core

# The documentation site (docs/mkdocs.yml, pages in docs/pages/) into target/site. --strict: a
# broken link or anchor, a page missing from the nav or an API name griffe cannot find fails.
# griffe reads python/art_metrics and _core.pyi as source: no build of the extension needed.
docs:
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict -f docs/mkdocs.yml -d $(abspath target/site)

# A wheel for every CPython 3.9-3.13 found here, each installed and imported in a clean venv
# (dev profile; WHEEL_PROFILE=release for release wheels).
wheel-smoke: venv
	scripts/wheel_smoke.sh $(VENV)/bin/maturin

# Everything CI runs: lint, test, wheel-smoke, in a fresh .venv-ci.
ci:
	.ci/run

# The full comparison against openpipe-art 0.5.18 (release build, its own venv), a
# 200,000-step run through summary and report (bench/bigrun.py), and Model.log with the
# W&B, MLflow and TensorBoard reporters against none (bench/sinks.py).
bench:
	$(MAKE) venv VENV=.venv-bench
	VIRTUAL_ENV=$(abspath .venv-bench) .venv-bench/bin/maturin develop -q --release --features test-hooks
	# Every script runs, then the target fails if any missed a goal.
	status=0; \
	.venv-bench/bin/python bench/compare.py || status=1; \
	.venv-bench/bin/python bench/sdk.py || status=1; \
	.venv-bench/bin/python bench/workers.py || status=1; \
	.venv-bench/bin/python bench/bigrun.py || status=1; \
	.venv-bench/bin/python bench/sinks.py || status=1; \
	exit $$status

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
VENV_0523 ?= .venv-0523
venv-0523:
	VENV=$(VENV_0523) scripts/venv_0523.sh

test-0523: venv-0523
	mkdir -p $(PYTEST_TMP)
	$(VENV_0523)/bin/python -m pytest -q -p no:cacheprovider --basetemp=$(PYTEST_TMP)/py312 tests/differential_0523

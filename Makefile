# Every target sets itself up on a machine that has only Python 3.11 and pip.
PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen
export UV_PYTHON := $(PYTHON)

.PHONY: setup demo demo-batch test lint typecheck firmware-check pytest bench bench-season fuzz clean

.venv/.synced: uv.lock pyproject.toml packages/*/pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --root-user-action=ignore uv
	$(UV) sync --all-packages --frozen --quiet
	@touch $@

# The firmware's MicroPython-VM test needs Node and MicroPython's WebAssembly port (npm);
# without npm that one test skips (and fails under REQUIRE_SERVICES=1, as in CI).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the MicroPython VM test will skip"; fi

setup: .venv/.synced node_modules/.installed

## demo: the fleet platform live in its web console: Mosquitto, a simulated greenhouse with
## injected faults, ingestion with live fluxes and alarms, and the console; open the printed
## address; Ctrl-C stops everything (fluxfleet live-demo --help for its options)
demo: setup
	@$(RUN) fluxfleet live-demo

## demo-batch: each package's batch `demo` command (soilflux, fluxfleet, amrr), one after another
demo-batch: setup
	@for pkg in soilflux fluxfleet amrr; do \
	  echo "=== $$pkg"; \
	  if $(RUN) $$pkg demo --help >/dev/null 2>&1; then $(RUN) $$pkg demo || exit 1; \
	  else $(RUN) $$pkg --help; fi; \
	done

## test: lint, type check, firmware compile check, then every package's tests
test: lint typecheck firmware-check pytest

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: setup
	$(RUN) mypy packages/soilflux/src packages/amrr/src packages/fluxfleet/src testsupport

firmware-check: setup
	$(RUN) python tools/check_firmware.py

pytest: setup
	$(RUN) pytest

## fuzz: the property tests with random seeds, FUZZ_RUNS times (CI runs them derandomised),
## then 100,000 hostile payloads through the ingestor (not in CI: minutes).
## Run it before you stop; pin every failure it finds with @example in its test.
FUZZ_RUNS ?= 5
FUZZ_EXAMPLES ?= 1000
fuzz: setup
	@files=$$(grep -rl --include='test_*.py' '@given' tests packages); \
	for i in $$(seq 1 $(FUZZ_RUNS)); do \
	  echo "=== fuzz run $$i of $(FUZZ_RUNS)"; \
	  HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(RUN) pytest -q -x \
	    -m "not service" $$files || exit 1; \
	done
	@echo "=== 100,000 hostile payloads through the ingestor (a new seed; FUZZ_SEED=N repeats one)"
	$(RUN) pytest -q -x -s packages/fluxfleet/tests/fuzz/fuzz_ingest_100k.py

## bench: run every benchmark script and print its table (BENCH=... to choose some), except
## the season store, which loads 180 days into both backends (hours, ~60 GB): make bench-season
BENCH ?= $(filter-out benchmarks/season_store.py,$(wildcard benchmarks/*.py))
bench: setup
	@for script in $(BENCH); do echo "=== $$script"; $(RUN) python $$script || exit 1; done

bench-season: setup
	$(RUN) python benchmarks/season_store.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache

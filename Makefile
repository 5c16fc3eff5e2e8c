# superoffice-emulator: `make run` serves the emulator, `make test` runs every check.
# Every install takes its packages from the lock in requirements/ (see its README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
PIP := $(BIN)/python -m pip --quiet
LOCK := requirements/runtime.txt requirements/pytest.txt requirements/dev.txt requirements/build.txt

.PHONY: install install-runtime node-client run test test-latest lint format typecheck pytest bench lock dist docker clean

$(BIN)/python:
	@echo "== creating the virtual environment $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)

# The project, editable, with its bytecode written as pip writes a wheel's: a start then reads it
# instead of compiling every module (an editable install writes none, and where PYTHONDONTWRITEBYTECODE
# is set Python never does). A module edited later is compiled again as it is imported.
INSTALL_SELF = $(PIP) install --no-build-isolation --no-deps -e . && $(BIN)/python -m compileall -q superoffice_emulator

# The runtime alone (make run): the locked runtime packages and the project, no test tools.
$(VENV)/.runtime: pyproject.toml requirements/runtime.txt requirements/build.txt | $(BIN)/python
	@echo "== installing the locked runtime packages (requirements/runtime.txt)"
	@$(PIP) install --require-hashes -r requirements/build.txt -r requirements/runtime.txt
	@echo "== installing superoffice-emulator itself (editable)"
	@$(INSTALL_SELF)
	@touch $@

# Everything the tests need (make test): runtime + the test, browser and postgres extras.
$(VENV)/.installed: pyproject.toml requirements/dev.txt requirements/build.txt | $(BIN)/python
	@echo "== installing the locked packages for the tests (requirements/dev.txt)"
	@$(PIP) install --require-hashes -r requirements/build.txt -r requirements/dev.txt
	@echo "== installing superoffice-emulator itself (editable)"
	@$(INSTALL_SELF)
	@touch $@ $(VENV)/.runtime

install-runtime: $(VENV)/.runtime

install: $(VENV)/.installed

# make run [HOST=...] [PORT=...] [ARGS="--workers 2 ..."]: every EMULATOR_* variable is honoured as it is
# set; HOST= and PORT= on make's command line are --host and --port, unless EMULATOR_HOST or
# EMULATOR_PORT is set, which they never override.
RUN_OPTIONS = $(if $(and $(filter command line,$(origin HOST)),$(if $(EMULATOR_HOST),,1)),--host $(HOST)) \
              $(if $(and $(filter command line,$(origin PORT)),$(if $(EMULATOR_PORT),,1)),--port $(PORT))

run: install-runtime
	@$(if $(and $(filter command line,$(origin HOST)),$(EMULATOR_HOST)),echo "== EMULATOR_HOST=$(EMULATOR_HOST) is set: it wins over HOST=$(HOST)")
	@$(if $(and $(filter command line,$(origin PORT)),$(EMULATOR_PORT)),echo "== EMULATOR_PORT=$(EMULATOR_PORT) is set: it wins over PORT=$(PORT)")
	@echo "== the CLI is $(BIN)/superoffice-emulator (its --help lists the commands; . $(BIN)/activate puts it on PATH)"
	@SUPEROFFICE_EMULATOR_MAKE_RUN=1 $(BIN)/superoffice-emulator serve $(strip $(RUN_OPTIONS)) $(ARGS)

lint: install
	$(BIN)/ruff check superoffice_emulator contract tests scripts benchmarks
	$(BIN)/ruff format --check superoffice_emulator contract tests scripts benchmarks

format: install
	$(BIN)/ruff format superoffice_emulator contract tests scripts benchmarks
	$(BIN)/ruff check --fix superoffice_emulator contract tests scripts benchmarks

typecheck: install
	$(BIN)/mypy

# SuperOffice's TypeScript client for tests/test_rest_node.py, from tests/node/package-lock.json:
# installed (npm ci) where npm is, whenever node_modules is missing or older than the lock.
NODE_CLIENT := tests/node/node_modules/.package-lock.json

$(NODE_CLIENT): tests/node/package-lock.json
	@echo "== npm ci in tests/node (@superoffice/webapi, for tests/test_rest_node.py)"
	@cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node-client:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) -s --no-print-directory $(NODE_CLIENT); \
	else echo "== npm is missing, so tests/test_rest_node.py skips: apt-get install -y nodejs npm adds it"; fi

pytest: install node-client
	$(BIN)/python -m pytest

test: lint typecheck pytest

# The suite on the newest releases of every dependency, in a venv of its own: drift, seen on purpose.
test-latest:
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip --quiet install --upgrade pip
	.venv-latest/bin/python -m pip --quiet install --upgrade --upgrade-strategy eager -e '.[test,browser,postgres]'
	.venv-latest/bin/ruff check superoffice_emulator contract tests scripts benchmarks
	.venv-latest/bin/mypy
	EMULATOR_UNLOCKED=1 .venv-latest/bin/python -m pytest

# Resolve the lock anew from pyproject.toml (uv's resolver, one universal lock for 3.11 to 3.13).
lock:
	[ -x .venv-lock/bin/uv ] || { $(PYTHON) -m venv .venv-lock && .venv-lock/bin/python -m pip --quiet install 'uv==$(UV_VERSION)'; }
	.venv-lock/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet \
	  --extra test --extra browser --extra postgres --extra pytest -o requirements/dev.txt
	.venv-lock/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet \
	  --constraint requirements/dev.txt -o requirements/runtime.txt
	.venv-lock/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet \
	  --extra pytest --constraint requirements/dev.txt -o requirements/pytest.txt
	.venv-lock/bin/uv pip compile requirements/build.in --universal --python-version 3.11 --generate-hashes --quiet \
	  -o requirements/build.txt

# The wheel and the sdist in dist/, built from the locked backend.
dist: install-runtime
	rm -rf dist
	$(BIN)/python -m pip wheel --quiet --no-build-isolation --no-deps -w dist .
	$(BIN)/python -c "import setuptools.build_meta as b; b.build_sdist('dist')" >/dev/null
	@ls dist

bench: install
	$(BIN)/python -m benchmarks

docker:
	docker build -f docker/Dockerfile -t superoffice-emulator .

clean:
	rm -rf $(VENV) .venv-latest build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

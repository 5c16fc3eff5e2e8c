# superoffice-emulator: `make run` serves the emulator, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
EXTRAS ?= test,browser

.PHONY: install run test lint format typecheck pytest bench docker clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/superoffice-emulator serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check emulator tests scripts benchmarks
	$(BIN)/ruff format --check emulator tests scripts benchmarks

format: install
	$(BIN)/ruff format emulator tests scripts benchmarks
	$(BIN)/ruff check --fix emulator tests scripts benchmarks

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python -m benchmarks

docker:
	docker build -f docker/Dockerfile -t superoffice-emulator .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

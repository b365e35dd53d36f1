# The two commands of the README: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format bench eval eval-public clean

$(BIN)/insightloop: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

demo: $(BIN)/insightloop  ## run the pipeline on samples/ with embedded defaults
	$(BIN)/insightloop demo

# The report's browser test drives Debian's Chromium (never a browser a tool downloads).
# Installed when missing, where apt-get exists; elsewhere the test skips unless CI is set.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
/usr/bin/chromium:
	@if command -v apt-get >/dev/null 2>&1; then \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else echo "no apt-get: install Chromium yourself, or the report's browser test skips"; fi

test: $(BIN)/insightloop node_modules/.package-lock.json /usr/bin/chromium  ## lint, then the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(BIN)/insightloop
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(BIN)/insightloop
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: $(BIN)/insightloop  ## 1M-row ingest benchmark (see docs/benchmarks.md)
	$(BIN)/python bench/ingest_bench.py

EVAL_DATA ?= ../shared/eval
eval: $(BIN)/insightloop  ## score the local classifier on the in-repo sets; gate on eval/baselines
	$(BIN)/insightloop eval adversarial banking77-slice mams-acsa-slice --gate

eval-public: $(BIN)/insightloop  ## the public datasets, read from EVAL_DATA (see eval/README.md)
	$(BIN)/insightloop eval semeval2014-restaurants mams-acsa banking77 semeval2015-laptops \
		amazon-alexa-reviews womens-clothing-reviews --data-dir $(EVAL_DATA)

clean:
	rm -rf $(VENV) node_modules .insightloop .pytest_cache .ruff_cache

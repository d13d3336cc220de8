# linecrm — every target installs what it needs into .venv / node_modules first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# The LIFF pages (web/liff): npm ci from the lock file, then a Vite build into the
# liff_login function's asset folder (gitignored; served at /liff/assets/).
LIFF_DIR := web/liff
LIFF_NODE_STAMP := $(LIFF_DIR)/node_modules/.installed
LIFF_BUILD := functions/liff_login/liff_assets/.vite/manifest.json
LIFF_SOURCES := $(wildcard $(LIFF_DIR)/src/*) $(LIFF_DIR)/vite.config.ts $(LIFF_DIR)/tsconfig.json
# The browser tests' chromium and CJK fonts, from Debian (never Playwright's downloads).
BROWSER_PACKAGES := chromium fonts-noto-cjk
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: dev test lint format synth bench pr clean install openapi liff browser

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "linecrm needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(LIFF_NODE_STAMP): $(LIFF_DIR)/package.json $(LIFF_DIR)/package-lock.json
	cd $(LIFF_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(LIFF_BUILD): $(LIFF_NODE_STAMP) $(LIFF_SOURCES)
	cd $(LIFF_DIR) && npm run --silent build -- --logLevel warn

liff: $(LIFF_BUILD)

# Quiet and quick when the packages are there already.
browser:
	@missing=$$(for package in $(BROWSER_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q 'install ok installed' || echo $$package; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing" $$missing "from Debian for the browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

install: $(STAMP)

dev: $(STAMP) $(LIFF_BUILD)
	$(PY) -m linecrm_local.dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) lint $(LIFF_BUILD) browser
	$(BIN)/pytest

synth: $(STAMP) $(NODE_STAMP) $(LIFF_BUILD)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx cdk synth --quiet

openapi: $(STAMP)
	$(PY) -m linecrm_local.openapi

bench: $(STAMP)
	$(PY) -m benchmarks

pr: test synth bench

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
	rm -rf $(LIFF_DIR)/node_modules functions/liff_login/liff_assets

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
# The analytics dashboard (web/dashboard, Apache ECharts): npm ci from its lock file, then
# a Vite build into the admin function's asset folder (gitignored; served at
# /admin/dashboard/assets/, the page at /admin/dashboard).
DASHBOARD_DIR := web/dashboard
DASHBOARD_NODE_STAMP := $(DASHBOARD_DIR)/node_modules/.installed
DASHBOARD_BUILD := functions/admin/dashboard_assets/.vite/manifest.json
DASHBOARD_SOURCES := $(wildcard $(DASHBOARD_DIR)/src/*) $(DASHBOARD_DIR)/vite.config.ts $(DASHBOARD_DIR)/tsconfig.json
# The admin console (web/console: React + Mantine, docs/console.md): npm ci from its lock
# file, types generated from docs/admin-openapi.json, tsc, then a Vite build into
# web/console/dist/ (gitignored), which the local gateway serves at /console/ and the
# CDK deploys to the console bucket.
CONSOLE_DIR := web/console
CONSOLE_NODE_STAMP := $(CONSOLE_DIR)/node_modules/.installed
CONSOLE_BUILD := $(CONSOLE_DIR)/dist/index.html
CONSOLE_SOURCES := $(filter-out %/schema.d.ts,$(shell find $(CONSOLE_DIR)/src -type f)) \
	$(CONSOLE_DIR)/index.html $(CONSOLE_DIR)/vite.config.ts $(CONSOLE_DIR)/tsconfig.json docs/admin-openapi.json
# The browser tests' chromium and CJK fonts, from Debian (never Playwright's downloads).
BROWSER_PACKAGES := chromium fonts-noto-cjk
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: dev test lint format synth bench pr clean install openapi liff dashboard console console-test browser

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

$(DASHBOARD_NODE_STAMP): $(DASHBOARD_DIR)/package.json $(DASHBOARD_DIR)/package-lock.json
	cd $(DASHBOARD_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(DASHBOARD_BUILD): $(DASHBOARD_NODE_STAMP) $(DASHBOARD_SOURCES)
	cd $(DASHBOARD_DIR) && npm run --silent build -- --logLevel warn

dashboard: $(DASHBOARD_BUILD)

$(CONSOLE_NODE_STAMP): $(CONSOLE_DIR)/package.json $(CONSOLE_DIR)/package-lock.json
	cd $(CONSOLE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONSOLE_BUILD): $(CONSOLE_NODE_STAMP) $(CONSOLE_SOURCES)
	cd $(CONSOLE_DIR) && npm run --silent build -- --logLevel warn

console: $(CONSOLE_BUILD)

# The console's unit tests (vitest: the catalogues, the preview, the idempotency keys).
console-test: $(CONSOLE_NODE_STAMP)
	cd $(CONSOLE_DIR) && npm run --silent gen && npx vitest run

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

dev: $(STAMP) $(LIFF_BUILD) $(DASHBOARD_BUILD) $(CONSOLE_BUILD)
	$(PY) -m linecrm_local.dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) lint $(LIFF_BUILD) $(DASHBOARD_BUILD) $(CONSOLE_BUILD) console-test browser
	$(BIN)/pytest

synth: $(STAMP) $(NODE_STAMP) $(LIFF_BUILD) $(DASHBOARD_BUILD) $(CONSOLE_BUILD)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx cdk synth --quiet

openapi: $(STAMP)
	$(PY) -m linecrm_local.openapi

bench: $(STAMP)
	$(PY) -m benchmarks

pr: test synth bench

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
	rm -rf $(LIFF_DIR)/node_modules functions/liff_login/liff_assets
	rm -rf $(DASHBOARD_DIR)/node_modules functions/admin/dashboard_assets
	rm -rf $(CONSOLE_DIR)/node_modules $(CONSOLE_DIR)/dist $(CONSOLE_DIR)/src/api/schema.d.ts

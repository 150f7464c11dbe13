# meso360 — run `make help` for the targets. CI (.ci/run) calls `make test`, as a person would.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .cache/stamps
# Debian packages for development and tests beyond the package build (the build dependencies come from
# debian/control alone, installed by $(STAMPS)/build-deps): compilers for the venv, OpenSSH for the tunnel tests,
# the browsers, lintian, and the container tools of the end-to-end test; dbus-daemon for the private bus of the
# unit-state tests (tests/integration/fake_systemd.py).
# prometheus for its promtool, which checks the /metrics exposition (tests/integration/test_metrics.py).
# rsync for its rrsync and client (tests/integration/test_fleet_authorize.py).
# prometheus-alertmanager (amtool) and prometheus-node-exporter for the meso360-base tests (tests/integration/test_base_*).
APT_PACKAGES := gcc pkg-config libsystemd-dev openssh-server openssh-client \
	chromium chromium-driver firefox-esr \
	lintian devscripts fakeroot \
	systemd-container debootstrap \
	dbus-daemon \
	prometheus prometheus-alertmanager prometheus-node-exporter \
	rsync

.PHONY: help
help: ## show this help
	@grep -hE '^[a-z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# apt-get waits up to 5 min for the dpkg lock that another apt (unattended-upgrades, a second make) holds.
APT_GET := apt-get -o DPkg::Lock::Timeout=300

# Re-run when the Makefile (APT_PACKAGES) changes: apt-get skips what is installed already.
$(STAMPS)/apt: Makefile | $(STAMPS)/build-deps
	@mkdir -p $(STAMPS)
	@if [ "$$(id -u)" = 0 ]; then \
		echo ">> installing Debian packages"; \
		DEBIAN_FRONTEND=noninteractive $(APT_GET) update -qq && \
		DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null && \
		{ command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq npm >/dev/null; }; \
	else \
		echo ">> not root: assuming these Debian packages are installed: $(APT_PACKAGES)"; \
	fi
	@touch $@

# Build-Depends of debian/control, the one list (`apt-get build-dep` reads it, with build-essential); re-run when it
# changes. Not root: dpkg-checkbuilddeps says what is missing (only `make deb` needs it).
$(STAMPS)/build-deps: debian/control
	@mkdir -p $(STAMPS)
	@if [ "$$(id -u)" = 0 ]; then \
		echo ">> installing the build dependencies of debian/control"; \
		DEBIAN_FRONTEND=noninteractive $(APT_GET) update -qq && \
		DEBIAN_FRONTEND=noninteractive $(APT_GET) build-dep -y -qq --no-install-recommends ./ >/dev/null; \
	else \
		PATH=$(DEB_PATH) dpkg-checkbuilddeps || echo ">> not root: make deb needs these; install them as root: make deps"; \
	fi
	@touch $@

.PHONY: deps
deps: $(STAMPS)/build-deps $(STAMPS)/apt ## install the Debian packages needed to develop, test and build

$(BIN)/activate: pyproject.toml requirements-dev.txt | $(STAMPS)/apt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	@touch $@

# puppeteer-core for the Firefox browser test (drives the Debian firefox-esr over WebDriver BiDi), at the versions
# pinned in tests/js/package-lock.json; from the npm registry, never a browser download.
JS_DEPS := tests/js/node_modules/.installed
$(JS_DEPS): tests/js/package.json tests/js/package-lock.json | $(STAMPS)/apt
	cd tests/js && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: jsdeps
jsdeps: $(JS_DEPS) ## install the pinned npm packages of the browser tests into tests/js/node_modules

# uPlot for the web pages, from the npm registry at the version and sha512 pinned in the script.
UPLOT := meso360/web/static/vendor/uPlot.iife.min.js
$(UPLOT): scripts/fetch_assets.sh
	scripts/fetch_assets.sh
	@touch $@

# The track map's topojson-client and us-atlas (Census Bureau state and county boundaries), by the same script.
MAP_ASSETS := meso360/web/static/vendor/topojson-client.min.js meso360/web/static/vendor/us-atlas-counties-10m.json
$(MAP_ASSETS): $(UPLOT)
	test -f $@ || scripts/fetch_assets.sh
	@touch $@

.PHONY: assets
assets: $(UPLOT) $(MAP_ASSETS) ## fetch the pinned, checksum-verified uPlot and map data into meso360/web/static/vendor/ (build time only)

.PHONY: venv
venv: $(BIN)/activate assets jsdeps ## create .venv with meso360 and the test tools

.PHONY: demo
demo: venv ## run the logger simulator and the daemons in the foreground (Ctrl-C stops all)
	$(BIN)/python scripts/demo.py

.PHONY: lint
lint: venv ## ruff check and format check
	$(BIN)/ruff check meso360 tests scripts
	$(BIN)/ruff format --check meso360 tests scripts

.PHONY: unit
# Workers (pytest-xdist): the tests mostly wait on the simulator's 1 Hz rows, so 3 share the 2 cores well.
PYTEST_WORKERS ?= 3
unit: venv ## unit and integration tests (real simulator, sshd, browser on loopback)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --durations=25

.PHONY: test
test: lint unit e2e e2e-fleet ## set up everything and run every test (e2e, e2e-fleet: the .debs in booted containers)
	@echo ">> all tests passed"

# Built from a temporary copy of the tracked and new (not ignored) files, so the checkout
# stays clean; dpkg-buildpackage writes next to that copy. lintian must report nothing.
# The Debian tool chain with Debian's python3, whatever python3 is first on the caller's PATH.
DEB_PATH := /usr/sbin:/usr/bin:/sbin:/bin
.PHONY: deb
deb: $(STAMPS)/build-deps $(STAMPS)/apt assets ## build dist/meso360_<version>_all.deb (dpkg-buildpackage, then lintian)
	@set -euo pipefail; build=$$(mktemp -d); trap 'rm -rf "$$build"' EXIT; mkdir "$$build/src"; \
	git ls-files -z --cached --others --exclude-standard \
		| tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$$build/src"; \
	if [ -d meso360/web/static/vendor ]; then mkdir -p "$$build/src/meso360/web/static" && cp -a meso360/web/static/vendor "$$build/src/meso360/web/static/"; fi; \
	echo ">> dpkg-buildpackage in $$build (log: dist/build.log)"; mkdir -p dist; \
	(cd "$$build/src" && PATH=$(DEB_PATH) dpkg-buildpackage -b -us -uc) > dist/build.log 2>&1 || { tail -40 dist/build.log; exit 1; }; \
	deb=$$(ls "$$build"/meso360_*_all.deb); cp "$$deb" dist/; echo ">> dist/$$(basename $$deb)"; \
	base=$$(ls "$$build"/meso360-base_*_all.deb); cp "$$base" dist/; echo ">> dist/$$(basename $$base)"; \
	echo ">> lintian"; lintian --fail-on error,warning --info "$$build"/meso360_*.changes

# Needs root, systemd-nspawn and the Debian mirror (base root cached in /var/cache/meso360-e2e).
# E2E_PREVIOUS_REF: the last commit whose package ran every daemon as one user (meso360); the e2e upgrades from
# that package (built once, cached) and checks that its files change owner.
E2E_PREVIOUS_REF ?= fa5e38a9f43a694ab7f240e80fc410214914afaf
.PHONY: e2e
e2e: deb ## end-to-end test of the .deb in a booted Debian 12 container (systemd-nspawn)
	MESO360_E2E_DEB=dist/meso360_$$(dpkg-parsechangelog -SVersion)_all.deb MESO360_E2E_PREVIOUS_REF=$(E2E_PREVIOUS_REF) \
		scripts/e2e.sh

# A base and three vehicles, each a booted container, networked only among themselves (scripts/e2e_fleet.sh; root, as e2e).
# venv: the fleet page is checked in the host's chromium with the checkout's Playwright.
E2E_FLEET := MESO360_E2E_DEB=dist/meso360_$$(dpkg-parsechangelog -SVersion)_all.deb \
	MESO360_E2E_BASE_DEB=dist/meso360-base_$$(dpkg-parsechangelog -SVersion)_all.deb scripts/e2e_fleet.sh
.PHONY: e2e-fleet
e2e-fleet: deb venv ## end-to-end test of a fleet: base + 3 vehicles in containers (sync, tunnel outage, Prometheus, alerts)
	$(E2E_FLEET)

# The same on the packages already in dist/ (after make deb; one make run builds deb once for every target needing it).
.PHONY: e2e-fleet-nodeb
e2e-fleet-nodeb: venv ## make e2e-fleet on the .debs already in dist/ (no build)
	$(E2E_FLEET)

.PHONY: bench
bench: venv ## measure latency, throughput, CPU and memory (numbers for the issue notes)
	$(BIN)/python scripts/bench_ingest.py
	$(BIN)/python scripts/bench_web.py
	$(BIN)/python scripts/bench_base_web.py

.PHONY: clean
clean: ## remove the venv, build output and caches
	rm -rf $(VENV) dist build .cache *.egg-info .pytest_cache .ruff_cache demo-data test-artifacts tests/js/node_modules

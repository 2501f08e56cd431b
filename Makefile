# earshot: two commands on a fresh machine.
#   make demo   installs everything into .venv, then runs the whole pipeline offline on the demo market
#   make test   installs everything into .venv, then runs the test suite
# Both install only when pyproject.toml or constraints.txt changed since the last install.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install browser postgres lint constraints clean

demo: $(STAMP)
	$(BIN)/earshot demo

test: $(STAMP) browser postgres
	$(BIN)/pytest

# Headless Chromium for the browser tests (tests/browser.py): Debian's chromium and chromium-driver, installed
# with apt-get only when missing, through sudo only when not root. `make test BROWSER=skip` leaves them out:
# the browser tests then skip themselves (or fail, under EARSHOT_REQUIRE_BROWSER=1 as in CI).
BROWSER ?= install
browser:
ifneq ($(BROWSER),skip)
	@if { command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null 2>&1 \
	  && command -v chromedriver >/dev/null 2>&1; then exit 0; fi; \
	fail() { echo "make: the browser tests need headless Chromium and it could not be installed: $$1." >&2; \
	  echo "  Install chromium and chromedriver (Debian: apt-get install chromium chromium-driver)," >&2; \
	  echo "  or run 'make test BROWSER=skip' to skip the browser tests." >&2; exit 1; }; \
	command -v apt-get >/dev/null 2>&1 || fail "apt-get not found"; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	  else fail "not root, and sudo not found"; fi; \
	echo "Installing headless Chromium for the browser tests: apt-get install chromium chromium-driver"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || fail "apt-get update failed"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
	  || fail "apt-get install chromium chromium-driver failed"; \
	command -v chromedriver >/dev/null 2>&1 || fail "chromedriver is still not on PATH after the install"
endif

# PostgreSQL's server binaries for the DuckLake tests (tests/test_ducklake.py starts its own server on 127.0.0.1
# in a temporary folder; nothing is configured system-wide): Debian's postgresql, installed with apt-get only when
# missing, through sudo only when not root. `make test POSTGRES=skip` leaves it out: those tests then skip
# themselves (or fail, under EARSHOT_REQUIRE_POSTGRES=1 as in CI).
POSTGRES ?= install
postgres:
ifneq ($(POSTGRES),skip)
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then exit 0; fi; \
	fail() { echo "make: the DuckLake tests need PostgreSQL's server binaries and they could not be installed: $$1." >&2; \
	  echo "  Install them (Debian: apt-get install postgresql)," >&2; \
	  echo "  or run 'make test POSTGRES=skip' to skip the DuckLake tests." >&2; exit 1; }; \
	command -v apt-get >/dev/null 2>&1 || fail "apt-get not found"; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	  else fail "not root, and sudo not found"; fi; \
	echo "Installing PostgreSQL for the DuckLake tests: apt-get install postgresql"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || fail "apt-get update failed"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql || fail "apt-get install postgresql failed"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || fail "initdb is still missing after the install"
endif

install: $(STAMP)

# torch is pinned to 2.13.0: its CPU build; an unpinned torch would pull several GB of CUDA packages.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-resolve every dependency from pyproject.toml in a scratch environment and pin the result.
constraints:
	rm -rf .venv-resolve && $(PYTHON) -m venv .venv-resolve
	.venv-resolve/bin/python -m pip install --quiet --upgrade pip
	.venv-resolve/bin/python -m pip install --quiet "torch==2.13.0" -e ".[dev]"
	{ sed -n '1,3p' constraints.txt; .venv-resolve/bin/pip freeze --exclude-editable \
	  | grep -v -E '^(earshot|pip|setuptools|wheel)==' | sed 's/^torch==2.13.0+cpu$$/torch==2.13.0/'; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .venv-resolve

clean:
	rm -rf $(VENV) data

# earshot: two commands on a fresh machine.
#   make demo   installs everything into .venv, then runs the whole pipeline offline on the demo market
#   make test   installs everything into .venv, then runs the test suite
# Both install only when pyproject.toml or constraints.txt changed since the last install.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint constraints clean

demo: $(STAMP)
	$(BIN)/earshot demo

test: $(STAMP)
	$(BIN)/pytest

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

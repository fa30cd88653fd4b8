# mycarenet-dental — set-up, tests, demo, benchmarks. Every target installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
STAMP  := $(VENV)/.installed

.PHONY: all test demo bench lint clean venv system-deps dist docs

all: test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Debian packages the tests use (xmlsec1: independent signature check). Installed when missing.
system-deps:
	@command -v xmlsec1 >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xmlsec1 >/dev/null) \
	      || echo "warning: could not install xmlsec1; its tests will be skipped"; \
	  else echo "warning: xmlsec1 missing and not root; its tests will be skipped"; fi; }
	@command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "warning: could not install postgresql; the shared-store tests will be skipped"; \
	  else echo "warning: PostgreSQL missing and not root; the shared-store tests will be skipped"; fi; }

$(STAMP): $(PY) pyproject.toml $(PLUGINS) tests/example_plugin/pyproject.toml
	$(PIP) install -q -e '.[test,simulator,postgresql,docs]'
	@for p in $(dir $(PLUGINS)) tests/example_plugin/; do echo "installing $$p"; $(PIP) install -q --no-deps -e $$p || exit 1; done
	$(PIP) check >/dev/null || $(PIP) check
	touch $(STAMP)

venv: $(STAMP)

test: system-deps $(STAMP)
	$(PY) -m pytest tests

# The demo runs in a venv of its own, as a vendor's: the core and the shipped plugins, without the
# test-only example plugin (tests/example_plugin) that $(VENV) carries for the test suite.
DEMO_VENV  ?= .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed

$(DEMO_STAMP): pyproject.toml $(PLUGINS)
	test -x $(DEMO_VENV)/bin/python || $(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install -q -e '.[simulator]'
	@for p in $(dir $(PLUGINS)); do $(DEMO_VENV)/bin/python -m pip install -q --no-deps -e $$p || exit 1; done
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(DEMO_VENV)/bin/mycarenet-dental demo

# The peer stack of bench/bench_peer.py (the [bench] extra). python-xmlsec ships manylinux wheels; where it must be
# built from source it needs libxmlsec1-dev and pkg-config, installed here when missing (as root, Debian).
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) pyproject.toml
	@$(PIP) install -q -e '.[bench]' || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxmlsec1-dev pkg-config >/dev/null \
	      && $(PIP) install -q -e '.[bench]'; \
	  else false; fi; } || echo "warning: the [bench] extra could not be installed; the peer rows will be skipped"
	@$(PY) -c "import zeep, xmlsec" 2>/dev/null && touch $(BENCH_STAMP) || true

bench: $(STAMP) $(BENCH_STAMP)
	$(PY) bench/run.py

# Every wheel and sdist (core + each plugin) into dist/: `pip install --find-links dist mycarenet-dental-tariff`.
# python -m build builds the sdist, then the wheel from it (a file missing from the sdist shows); without
# isolation, with the backend of the test extra: ~2 s a project instead of ~7 s (a build venv each).
dist: $(STAMP)
	rm -rf dist
	@for p in . $(dir $(PLUGINS)); do $(PY) -m build --no-isolation -q --outdir dist $$p >/dev/null || exit 1; done
	@ls dist

lint: $(STAMP)
	$(VENV)/bin/ruff check core plugins tests bench examples docs/hooks

# The documentation site into site/ (mkdocs.yml; pages generated from the code by docs/hooks/generate.py).
# Files generated into docs/ before the build (e.g. docs/openapi.json): anywhere in this Makefile,
# `DOCS_INPUTS += docs/openapi.json` and a rule that makes it; they are made first (read at run time).
DOCS_INPUTS :=
docs: $(STAMP)
	$(if $(strip $(DOCS_INPUTS)),$(MAKE) $(DOCS_INPUTS))
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) $(DEMO_VENV) build dist site *.egg-info core/*.egg-info plugins/*/*.egg-info

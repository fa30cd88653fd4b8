# mycarenet-dental — set-up, tests, demo, benchmarks. Every target installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
PLUGINS := $(sort $(wildcard plugins/*/pyproject.toml))
STAMP  := $(VENV)/.installed

.PHONY: all test demo bench lint clean venv system-deps

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
	@# the gateway's tests: headless Chromium screenshots the status page, Node drives the API (issue 17)
	@for tool in chromium:chromium node:nodejs; do cmd=$${tool%%:*}; pkg=$${tool##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null) \
	        || echo "warning: could not install $$pkg; its gateway tests will be skipped"; \
	    else echo "warning: $$cmd missing and not root; its gateway tests will be skipped"; fi; }; done

$(STAMP): $(PY) pyproject.toml $(PLUGINS) tests/example_plugin/pyproject.toml
	$(PIP) install -q -e '.[test,simulator]'
	@for p in $(dir $(PLUGINS)) tests/example_plugin/; do echo "installing $$p"; $(PIP) install -q --no-deps -e $$p || exit 1; done
	$(PIP) check >/dev/null || $(PIP) check
	touch $(STAMP)

venv: $(STAMP)

test: system-deps $(STAMP)
	$(PY) -m pytest tests

demo: $(STAMP)
	$(VENV)/bin/mycarenet-dental demo

bench: $(STAMP)
	$(PY) bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check core plugins tests bench examples

clean:
	rm -rf $(VENV) build *.egg-info core/*.egg-info plugins/*/*.egg-info

# The gateway's OpenAPI contract (issue 17), generated from the loaded plugins' routes for the docs site.
DOCS_INPUTS += docs/openapi.json
.PHONY: docs-openapi
docs-openapi: docs/openapi.json
docs/openapi.json: $(STAMP) $(wildcard core/mycarenet_dental/gateway/*.py) $(wildcard plugins/*/mycarenet_dental_*/routes.py)
	$(VENV)/bin/mycarenet-dental gateway openapi --out $@

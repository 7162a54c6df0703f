# Two commands: `make demo` and `make test`. Both create .venv if it is missing and install the project.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast system-packages clean

$(STAMP): pyproject.toml setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/edgeship optimize examples/digits.yaml

# The device tests need sshd, qemu-user-static, mmdebstrap, Docker and Chromium: installed when root, otherwise
# one line says which are missing; the summary at the end counts what ran and skipped per marker.
system-packages:
	scripts/system-packages

# Two pytest workers: much of the suite waits (downloads, subprocesses, servers starting), so the second core
# would sit idle. A test file is one unit of work and the device tests are one (tests/support/xdist_units.py). TEST_WORKERS=0
# runs everything in one process.
TEST_WORKERS ?= 2
PYTEST := $(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --no-loadscope-reorder

test: $(STAMP) system-packages
	$(PYTEST)

# Unit and integration tests: no end-to-end optimize run, no device servers.
test-fast: $(STAMP)
	$(PYTEST) -m "not slow and not ssh and not docker and not arm64"

clean:
	rm -rf runs .pytest_cache

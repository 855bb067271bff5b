# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Two installs: `make demo` needs only corocrawl's runtime dependencies;
# `make test` adds the dev tools (pytest, mypy, ruff, playwright, redis ...).
RUNTIME_STAMP := $(VENV)/.runtime-stamp
STAMP         := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest bench bench-memory bench-store bench-redis bench-broad clean

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "corocrawl needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -e .
	@touch $@

# The dev install includes the runtime one, so it satisfies `make demo` too.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@ $(RUNTIME_STAMP)

demo: $(RUNTIME_STAMP)
	$(VENV)/bin/corocrawl demo

test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q

# Long benchmarks; figures go to docs/benchmarks.md. See bench/run.py --help.
bench: $(STAMP)
	$(PY) bench/run.py

bench-memory: $(STAMP)
	$(PY) bench/run.py --memory-only --only corocrawl,corocrawl-api,bare

bench-store: $(STAMP)
	$(PY) bench/bench_frontier.py
	$(PY) bench/bench_persistence.py --movies 3000 --rounds 3

bench-redis: $(STAMP)
	$(PY) bench/bench_redis.py

# Many hosts on loopback: scheduling, Crawl-delay, memory and sockets per host.
# Minutes to an hour on main's engine; see bench/broad/run.py --help for smaller runs.
bench-broad: $(STAMP)
	$(PY) bench/broad/run.py

clean:
	rm -rf $(VENV) build *.egg-info

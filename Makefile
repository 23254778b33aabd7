# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VIDEO ?=
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install system-deps browser-deps postgres-deps demo lint test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==24.3.1 wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: system-deps $(STAMP)

# MediaPipe needs libGL and GLib at run time; pyworld compiles with gcc; flite speaks the flite stock
# voices. Installed only when missing.
system-deps:
	@bash scripts/system_deps.sh

# Debian's chromium for the portal's browser tests (playwright drives it; no browser download).
browser-deps: $(STAMP)
	@PY=$(PY) bash scripts/browser_deps.sh

# Debian's PostgreSQL server binaries: tests/service/test_postgres.py starts a throwaway server with them.
postgres-deps:
	@bash scripts/postgres_deps.sh

# Builds the stock Faces once (and VIDEO's Face), renders a sample video of each, serves the portal.
demo: install
	@PORT="$(PORT)" bash scripts/demo.sh "$(VIDEO)"

# Lint and type-check first (a new type error fails CI), then the suite.
# pytest exits 5 when it collects no tests: that is not a failure of the suite.
test: install browser-deps postgres-deps lint
	$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

# ruff (style and import order) over src, tests and bench; mypy over the package (config in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy scripts/train_lipsync.py

# Speed and quality, each printing a table and writing bench/results/NAME.json (several minutes).
bench: install
	$(PY) bench/track_speed.py
	$(PY) bench/speech.py
	$(PY) bench/render_speed.py
	$(PY) bench/fidelity.py
	$(PY) bench/motion.py
	$(PY) bench/voices.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache

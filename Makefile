# Two commands: `make run` serves the portal, `make test` runs the whole suite.
# Every step is idempotent and skipped when its inputs have not changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: run test setup db vendor translations translations-update lint bench clean

# Local commands run in debug unless told otherwise: the app refuses the development secret
# outside debug (set SECRET_KEY and FLASK_DEBUG=0 for anything else).
FLASK := FLASK_DEBUG=$${FLASK_DEBUG-1} $(BIN)/flask

run: setup db
	$(FLASK) seed-demo --if-empty
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: $(VENV)/.installed static/vendor/.installed translations

# Python packages: reinstalled only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Front-end packages from the npm registry (lock file), copied into static/vendor.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

static/vendor/.installed: node_modules/.package-lock.json
	rm -rf static/vendor
	mkdir -p static/vendor/htmx static/vendor/bootstrap-italia static/vendor/axe-core
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx/
	cp -r node_modules/bootstrap-italia/dist/css node_modules/bootstrap-italia/dist/js \
	      node_modules/bootstrap-italia/dist/svg node_modules/bootstrap-italia/dist/fonts \
	      static/vendor/bootstrap-italia/
	cp node_modules/axe-core/axe.min.js static/vendor/axe-core/
	touch $@

# Compiled translations (build output, not committed).
TRANSLATIONS_PO := $(wildcard portal/translations/*/LC_MESSAGES/messages.po)
TRANSLATIONS_MO := $(TRANSLATIONS_PO:.po=.mo)
translations: $(TRANSLATIONS_MO)
portal/translations/%/LC_MESSAGES/messages.mo: portal/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile -d portal/translations -l $* >/dev/null

# Re-extract every string (msgids are the Italian text) and merge them into each catalogue;
# then translate the new empty entries in portal/translations/<lang>/LC_MESSAGES/messages.po.
translations-update: $(VENV)/.installed
	pot=$$(mktemp) && \
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --sort-output --add-location=file \
	    --ignore-dirs '.* __pycache__ node_modules' --project 'Rete dei Comuni Amici della Famiglia' \
	    -o $$pot . && \
	$(BIN)/pybabel update -i $$pot -d portal/translations --no-fuzzy-matching --ignore-obsolete; \
	status=$$?; rm -f $$pot; exit $$status
	$(MAKE) translations

db: setup
	$(FLASK) db upgrade

lint: setup
	$(BIN)/ruff check portal tests bench

# Benchmark (bench/README.md): `make bench BENCH_DB=postgresql BENCH_ARGS="--only comune"`.
# Generates the database once (again when the bench modules, sizes or migrations change),
# then loads it.
BENCH_DB ?= sqlite
BENCH_ARGS ?=
bench: setup
	@command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install -y wrk"; exit 1; }
	$(BIN)/python -m bench.generate --db $(BENCH_DB) --if-missing
	$(BIN)/python -m bench.run --db $(BENCH_DB) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache

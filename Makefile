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

setup: $(VENV)/.installed static/vendor/.installed static/build/manifest.json translations

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
	mkdir -p static/vendor/htmx static/vendor/bootstrap-italia/fonts static/vendor/axe-core
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx/
	cp -r node_modules/bootstrap-italia/dist/svg static/vendor/bootstrap-italia/
	# the fonts the stylesheet declares (css/portal.css), as woff2, with their licences
	for font in Titillium_Web Lora; do \
	    mkdir -p static/vendor/bootstrap-italia/fonts/$$font && \
	    cp node_modules/bootstrap-italia/dist/fonts/$$font/*.woff2 node_modules/bootstrap-italia/dist/fonts/$$font/*.txt \
	       static/vendor/bootstrap-italia/fonts/$$font/ || exit 1; \
	done
	cp node_modules/axe-core/axe.min.js static/vendor/axe-core/
	touch $@

# The stylesheet: Bootstrap Italia's Sass sources, only the components the pages use, and our
# own CSS (static/scss/portal.scss), compiled into static/build (not committed).
static/build/portal.css: $(wildcard static/scss/*.scss static/css/*.css) node_modules/.package-lock.json
	mkdir -p static/build
	node_modules/.bin/sass --load-path=node_modules --no-source-map --style=compressed \
	    --silence-deprecation=import --quiet-deps static/scss/portal.scss $@

# Every static file copied under a name that holds its content's hash, gzip and brotli copies,
# and the manifest url_for reads (portal/assets.py): served with a long cache lifetime.
# The icons the templates name are cut out of Bootstrap Italia's sprite first (build/icons.svg).
static/build/manifest.json: static/build/portal.css static/vendor/.installed $(VENV)/.installed \
		$(wildcard static/css/*.css static/js/*.js static/*.svg templates/*.html templates/*/*.html) \
		portal/assets.py
	$(BIN)/python -m portal.assets static templates

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
	rm -rf $(VENV) node_modules static/vendor static/build .pytest_cache

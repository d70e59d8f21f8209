# Two commands (see README.md):
#   make book   set up, execute every notebook on the bundled tiny data, build the HTML book
#   make test   set up, lint, unit tests + nbval over the notebooks (under other numerics
#               than those that stored the outputs), and strict builds of the stored book
#               in both editions (English, Chinese)
# and a fast one for contributors:
#   make check  lint and the unit tests, no chapter executed (under 2 minutes)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Exact versions of every package (pip constraints); `make lock` regenerates it.
CONSTRAINTS := constraints.txt
# Where a pre-seeded Keras cache may lie (read-only); its files are verified and copied
# into a cache the project owns, so nothing is ever written into it.
KERAS_SEED_DIR ?= ../shared/keras-cache

export KERAS_HOME := $(CURDIR)/.cache/keras
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONHASHSEED := 0
# No progress bars in what notebooks store or nbval compares (they carry timings).
export TQDM_DISABLE := 1

# The stored outputs and the test run use different numerics, a stand-in for another
# reader's machine. `make notebooks` stores the outputs without oneDNN kernels (the
# portable Eigen ones) on every core; `make nbval` re-runs the notebooks with oneDNN
# kernels (TensorFlow's default on x86, and faster), one thread for TensorFlow's ops and
# for BLAS in each of its two workers.
STORE_NUMERICS := TF_ENABLE_ONEDNN_OPTS=0
TEST_NUMERICS := TF_ENABLE_ONEDNN_OPTS=1 TF_NUM_INTRAOP_THREADS=1 OMP_NUM_THREADS=1 \
	OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# `make book` executes a copy of the book's sources, so the working tree stays as it is.
BOOK_SOURCES := _config.yml _toc.yml _ext book notebooks results locales
STAGE := _build/source

STAMP := $(VENV)/.installed
# The installer: uv, from PyPI, installs the same pinned packages as pip in about a
# quarter of the time (it downloads and unpacks in parallel, and compiles no bytecode).
UV := uv==0.13.9
# Python writes the bytecode of each module it imports, once, into .venv: where
# PYTHONDONTWRITEBYTECODE is set, every kernel would otherwise compile TensorFlow's
# sources again on import (pip compiles every package at install time instead).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: book test check setup lock keras-cache fashion-mnist data notebooks html check-html \
	html-zh check-html-zh catalogues lint nbval durations clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; found " + sys.version.split()[0] + ". Run: make PYTHON=/path/to/python3.11 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(UV)
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -c $(CONSTRAINTS) \
		-e ".[book,test,export]"
	touch $(STAMP)

# Re-resolves pyproject.toml's ranges in a fresh environment and pins the result.
lock:
	rm -rf _build/lock-venv
	$(PYTHON) -m venv _build/lock-venv
	_build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	_build/lock-venv/bin/python -m pip install --quiet -e ".[book,test,export]"
	sed -n '/^#/p' $(CONSTRAINTS) > _build/constraints.new
	_build/lock-venv/bin/python -m pip freeze --exclude-editable >> _build/constraints.new
	mv _build/constraints.new $(CONSTRAINTS)
	rm -rf _build/lock-venv
	@echo "Pinned $$(grep -vc '^#' $(CONSTRAINTS)) packages in $(CONSTRAINTS); update environment.yml's pins to match."

keras-cache: $(STAMP)
	$(BIN)/python -m tlhelpers.downloads seed-keras-cache "$(KERAS_SEED_DIR)"

# All of Fashion-MNIST offline, from Debian's package (MIT); elsewhere the code falls
# back to keras.datasets, which downloads.
FASHION_MNIST_DIR := /usr/share/datasets/fashion-mnist
fashion-mnist:
	@if [ -d $(FASHION_MNIST_DIR) ]; then echo "Fashion-MNIST: $(FASHION_MNIST_DIR)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; \
	else echo "Fashion-MNIST: $(FASHION_MNIST_DIR) is missing and apt-get is not usable here;" \
		"keras.datasets will download it on first use (needs internet)."; fi

data: keras-cache fashion-mnist

# The main job: a copy of the sources, every notebook executed in it, built into HTML.
book: data
	rm -rf $(STAGE)
	mkdir -p $(STAGE)
	cp -R $(BOOK_SOURCES) $(STAGE)/
	rm -f $(STAGE)/notebooks/*.failed.ipynb
	$(BIN)/python -m tlhelpers.runner --jobs 2 $(STAGE)/notebooks/*.ipynb
	$(BIN)/jupyter-book build $(STAGE) --path-output . --all -W -n --keep-going
	@echo
	@echo "The book is built from freshly executed notebooks. Open: file://$(CURDIR)/_build/html/index.html"

# Maintainers: re-execute the notebooks in place, refreshing the outputs they store.
notebooks: data
	$(STORE_NUMERICS) $(BIN)/python -m tlhelpers.runner notebooks/*.ipynb

# The book from the outputs stored in the notebooks, without executing anything.
html: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo
	@echo "The book is built from the stored outputs. Open: file://$(CURDIR)/_build/html/index.html"

# The same strict build, into a folder of its own (a test run leaves _build/html alone).
check-html: $(STAMP)
	$(BIN)/jupyter-book build . --path-output _build/check --all -W -n --keep-going

# The Chinese edition, from the same stored outputs (no notebook runs), its prose from
# locales/zh_CN: the configuration is _config.yml with the language (and title) changed.
ZH_CONFIG := _build/zh/_config.yml
$(ZH_CONFIG): _config.yml $(STAMP)
	mkdir -p _build/zh
	$(BIN)/python -c "import yaml, sys; c = yaml.safe_load(open('_config.yml')); \
		c['title'] = '用 TensorFlow 与 Keras 3 做迁移学习'; \
		c['sphinx']['config']['language'] = 'zh_CN'; \
		c['sphinx']['local_extensions'] = {'edition_switch': '$(CURDIR)/_ext'}; \
		yaml.safe_dump(c, open('$(ZH_CONFIG)', 'w'), allow_unicode=True)"

# ... and _toc.yml with the parts' captions from locales/zh_CN/toc.yml.
ZH_TOC := _build/zh/_toc.yml
$(ZH_TOC): _toc.yml locales/zh_CN/toc.yml $(STAMP)
	mkdir -p _build/zh
	$(BIN)/python -c "import yaml; t = yaml.safe_load(open('_toc.yml')); \
		zh = yaml.safe_load(open('locales/zh_CN/toc.yml')); \
		[p.update(caption=zh[p['caption']]) for p in t['parts']]; \
		yaml.safe_dump(t, open('$(ZH_TOC)', 'w'), allow_unicode=True, sort_keys=False)"

html-zh: $(ZH_CONFIG) $(ZH_TOC)
	$(BIN)/jupyter-book build . --config $(ZH_CONFIG) --toc $(ZH_TOC) --path-output _build/zh \
		--all -W -n --keep-going
	rm -rf _build/html-zh && cp -R _build/zh/_build/html _build/html-zh
	@echo
	@echo "The Chinese edition: file://$(CURDIR)/_build/html-zh/index.html"

# The same strict build of the Chinese edition, into a folder of its own.
check-html-zh: $(ZH_CONFIG) $(ZH_TOC)
	$(BIN)/jupyter-book build . --config $(ZH_CONFIG) --toc $(ZH_TOC) --path-output \
		_build/check-zh --all -W -n --keep-going

# Maintainers: the English messages of every page (_build/gettext/*.pot), and the Chinese
# catalogues brought up to date with them (new messages empty, changed ones fuzzy).
catalogues: $(STAMP)
	rm -rf _build/gettext-build
	$(BIN)/jupyter-book build . --builder custom --custom-builder gettext \
		--path-output _build/gettext-build --all
	rm -rf _build/gettext && cp -R _build/gettext-build/_build/gettext _build/gettext
	$(BIN)/sphinx-intl update -p _build/gettext -l zh_CN -d locales

lint: $(STAMP)
	$(BIN)/ruff check .

# Two workers, one per core (each on one thread); a notebook stays on one worker. The
# longest files start first (the order conftest.py gives from tests/durations.json; xdist
# keeps it). conftest.py applies nbval's sanitizers and the kernels' environment itself,
# so that `pytest --nbval notebooks/` works as typed too.
NBVAL := $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -rxX \
	--nbval tests notebooks
nbval: data
	$(TEST_NUMERICS) $(NBVAL) --durations=8

test: lint nbval check-html check-html-zh

# Contributors' fast loop: lint and the unit tests, without executing a chapter or a
# command end to end (make test runs those).
check: lint data
	$(TEST_NUMERICS) $(BIN)/python -m pytest -n 2 -m "not chapters and not commands and not slow" \
		--durations=5 tests

# Maintainers: measure how long each test file and notebook takes under the test
# numerics, for the order of `make nbval` (commit tests/durations.json).
durations: data
	$(TEST_NUMERICS) $(NBVAL) --record-durations tests/durations.json

clean:
	rm -rf _build .cache

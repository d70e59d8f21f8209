# Two commands (see README.md):
#   make book   set up, execute every notebook on the bundled tiny data, build the HTML book
#   make test   set up, run the unit tests, nbval over the notebooks, and a strict book build

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where a pre-seeded Keras cache may lie (read-only); its files are verified and copied
# into a cache the project owns, so nothing is ever written into it.
KERAS_SEED_DIR ?= ../shared/keras-cache

export KERAS_HOME := $(CURDIR)/.cache/keras
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONHASHSEED := 0

STAMP := $(VENV)/.installed

.PHONY: book test setup keras-cache fashion-mnist data notebooks html lint nbval clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; found " + sys.version.split()[0] + ". Run: make PYTHON=/path/to/python3.11 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

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

notebooks: data
	$(BIN)/python -m tlhelpers.runner notebooks/*.ipynb

html: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo
	@echo "The book is built. Open: file://$(CURDIR)/_build/html/index.html"

book: notebooks html

lint: $(STAMP)
	$(BIN)/ruff check .

nbval: data
	$(BIN)/python -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg tests notebooks

test: lint nbval html

clean:
	rm -rf _build .cache

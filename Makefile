# Set-up and the two main jobs. `make demo` and `make test` work on a fresh machine: they create
# .venv and install livestyle with its extras at the versions in constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[train,dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job: restyle the bundled photo with a painting using the shipped weights (CPU is fine).
demo: $(STAMP)
	mkdir -p out
	$(BIN)/livestyle stylize data/photos/coffee.jpg data/paintings/1831_hokusai_the_great_wave_off_kanagawa.jpg -o out/demo_stylized.png
	@echo "wrote out/demo_stylized.png"

# The test suite (what CI runs). Slow training/benchmark tests are excluded; see test-slow.
test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/stnet_bench.py

clean:
	rm -rf out .pytest_cache

# Set-up and the two main jobs. `make demo` and `make test` work on a fresh machine: they create
# .venv and install livestyle with its extras at the versions in constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime

.PHONY: install system-deps demo test test-slow bench clean

# Debian packages: FluidSynth + a General MIDI soundfont render the MVNet starter set's scores;
# PortAudio is the microphone of `livestyle live`. Installed when missing and we are root (CI,
# fresh machines); otherwise say what to install.
SYSTEM_PACKAGES := fluidsynth fluid-soundfont-gm libportaudio2
system-deps:
	@if ! command -v fluidsynth >/dev/null || [ ! -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || ! ldconfig -p | grep -q libportaudio.so.2; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	  else echo "note: install $(SYSTEM_PACKAGES) (Debian/Ubuntu) for the MVNet starter set and the live microphone"; fi; \
	fi

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[train,dev,control,ndi,vis2mus]'
	touch $(STAMP) $(RUNTIME_STAMP)

# The runtime alone (render/live/stylize/visualize/bench/doctor): no torch, about 0.7 GB.
$(RUNTIME_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	touch $(RUNTIME_STAMP)

install: $(STAMP)

# The main job: the bundled clip restyled by its own music with the shipped weights, audio muxed
# back (256 lines high so a 2-core CPU finishes in a few minutes). Also a single-image example.
# Installs the runtime only; `make test` (and training) add torch and the rest.
demo: $(RUNTIME_STAMP)
	mkdir -p out
	$(BIN)/livestyle render data/video/big_buck_bunny_cut_10s.mp4 -o out/demo.mp4 --height 256
	$(BIN)/livestyle stylize data/photos/coffee.jpg data/paintings/1831_hokusai_the_great_wave_off_kanagawa.jpg -o out/demo_stylized.png
	@echo "wrote out/demo.mp4 and out/demo_stylized.png"

# The test suite (what CI runs). Slow training/benchmark tests are excluded; see test-slow.
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/stnet_bench.py

clean:
	rm -rf out .pytest_cache

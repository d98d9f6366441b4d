# Two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_WORKDIR ?= workdirs/default
PYTEST_ARGS ?=
# Test files are spread over this many processes (pytest-xdist; each file stays in one): 9 min instead of 13 on 2 cores.
PYTEST_WORKERS ?= 2

.PHONY: venv test demo bench clean-demo

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	# Install quirk: tinysoundfont declares a dependency on pyaudio (playback only, which we never use),
	# and pyaudio fails to build without portaudio headers, so it goes in without its dependencies. It is not in
	# pyproject.toml's dependencies for the same reason; building scorebank without it is a one-line error.
	$(PY) -m pip install -q --no-deps "tinysoundfont>=0.3.7"
	# musicnn 0.1.0 (ISC) ships the pretrained TF1 checkpoints that mirjax.models.musicnn_weights reads in place;
	# its pin numpy < 1.17 is stale, so it too goes in without its dependencies.
	$(PY) -m pip install -q --no-deps "musicnn==0.1.0"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m mirjax data build scorebank/default
	$(PY) train.py --config configs/default.py --workdir $(DEMO_WORKDIR)
	$(PY) eval.py --config configs/default.py --workdir $(DEMO_WORKDIR)

bench: $(STAMP)
	$(PY) bench/bench_frontend.py
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_structures.py --setting msd --sizes 1M

clean-demo:
	rm -rf $(DEMO_WORKDIR)

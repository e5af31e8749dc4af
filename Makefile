# Two commands are the whole set-up: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch and torchvision from the same wheel source (one wheel source keeps their ABI matched); the CUDA build also runs on CPU.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test lint format clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PINS)
	$(PY) -m pip install --quiet -e '.[test,onnx,tensorboard]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) train.py experiment=quickstart

# one worker per core (pytest-xdist): every test is single-threaded, so two cores halve the wall time
test: $(STAMP)
	$(PY) -m pytest -q -n auto

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) outputs .pytest_cache

# protege — the two commands: `make demo` (the main job) and `make test` (every test).
# Both set up the machine (Debian -dev packages, .venv with torch) and build when needed.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

VENV    ?= .venv
PY      := $(VENV)/bin/python
BUILD   ?= build/wheel
INSTALL ?= build/install
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
# CUDA kernels are compiled when nvcc is present and torch is a CUDA build (CUDA=OFF to skip).
NVCC    ?= $(shell ls /usr/local/cuda/bin/nvcc 2>/dev/null || command -v nvcc 2>/dev/null)
CUDA    ?= $(shell [ -n "$(NVCC)" ] && $(PY) -c "import torch,sys;sys.exit(0 if torch.version.cuda else 1)" 2>/dev/null && echo ON || echo OFF)
PYTEST_ARGS ?=

export CMAKE_BUILD_PARALLEL_LEVEL := $(JOBS)

.PHONY: help setup build test test-cpp test-python test-package docs stubs demo demo-quick demo-answers bench format lint clean

help:
	@echo "make demo    distil a 1 M-parameter student on the built-in arithmetic world (sets up and builds first)"
	@echo "make demo-quick    the same pipeline at about half the size;  make demo-answers  check the sample rationales"
	@echo "make test    build, then run the C++ (ctest), Python (pytest) and package tests"
	@echo "make bench   run the CPU benchmarks (tables + JSON under benchmarks/results/)"
	@echo "make docs    build the reference site into build/site (mkdocs --strict: a warning fails)"
	@echo "make format  clang-format the C++ sources;  make lint  clang-tidy + ruff"

setup:
	@bash tools/setup.sh

build: setup
	@echo "[build] protege (CUDA=$(CUDA)) into $(BUILD)"
	@start=$$(date +%s); \
	$(PY) -m pip install --no-build-isolation --no-deps -q --disable-pip-version-check \
	  -Cbuild-dir=$(BUILD) -Ccmake.build-type=Release \
	  -Ccmake.define.PROTEGE_BUILD_TESTS=ON \
	  -Ccmake.define.PROTEGE_ENABLE_TORCH=ON \
	  -Ccmake.define.PROTEGE_ENABLE_CUDA=$(CUDA) \
	  $(if $(filter ON,$(CUDA)),-Ccmake.define.CMAKE_CUDA_COMPILER=$(NVCC)) \
	  . && echo "[build] done in $$(( $$(date +%s) - start ))s"

test: build
	@$(MAKE) --no-print-directory test-cpp test-python test-package

test-cpp:
	@echo "[test] C++ (ctest)"
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) 2>&1 | tail -n 15

test-python:
	@echo "[test] Python (pytest)"
	@$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/python

test-package:
	@echo "[test] package (install + find_package consumer + import without torch)"
	@bash tests/package/run.sh "$(PY)" "$(BUILD)" "$(INSTALL)"

# The main job: feedback-driven distillation on the built-in arithmetic world (docs/demo.md);
# about 9 min on 2 cores (558 s measured), writes demo-output/report.md, report.json and PNG plots.
demo: build
	@$(VENV)/bin/protege demo -o demo-output

# A smaller run of the same pipeline (about half the time).
demo-quick: build
	@$(VENV)/bin/protege demo --quick -o demo-output

# Answer checking on the included sample rationales (examples/data/).
demo-answers: build
	@$(VENV)/bin/protege answers check examples/data/gsm8k_rationales.jsonl \
	  --text-field completion --gold-field gold -o demo-output/checked.jsonl

# The reference site (mkdocs.yml): guides from docs/*.md, API pages from the docstrings; warnings fail.
# tests/python/test_docs_site.py runs the same build in make test.
docs: setup
	@$(PY) -m mkdocs build --strict --quiet -d build/site && echo "[docs] site in build/site/index.html"

# Type stubs of the compiled module (python/protege/_core/*.pyi), regenerated from the build;
# tests/python/test_docs_site.py fails when they are stale.
stubs: build
	@rm -rf build/stubs && $(PY) -m pybind11_stubgen protege._core -o build/stubs --numpy-array-remove-parameters \
	  && rm -rf python/protege/_core && cp -r build/stubs/protege/_core python/protege/_core && echo "[stubs] python/protege/_core/"

bench: build
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

format: setup
	@$(VENV)/bin/pip install -q --disable-pip-version-check clang-format >/dev/null
	@$(VENV)/bin/clang-format -i $$(git ls-files '*.hpp' '*.cpp' '*.cu' '*.cuh')

lint: build
	@$(VENV)/bin/pip install -q --disable-pip-version-check ruff clang-tidy >/dev/null
	@$(VENV)/bin/ruff check python tests benchmarks
	@$(VENV)/bin/clang-tidy -p $(BUILD) --quiet $$(git ls-files 'src/core/*.cpp') 2>/dev/null | tail -n 40

clean:
	rm -rf build

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

.PHONY: help setup build test test-cpp test-python test-package docs cpp-docs stubs demo demo-quick demo-answers bench format lint clean

help:
	@echo "make demo    distil a 1 M-parameter student on the built-in arithmetic world (sets up and builds first)"
	@echo "make demo-quick    the same pipeline at about half the size;  make demo-answers  check the sample rationales"
	@echo "make test    build, then run the C++ (ctest), Python (pytest) and package tests"
	@echo "make bench   run the CPU benchmarks (tables + JSON under benchmarks/results/)"
	@echo "make docs    build the reference site into build/site (mkdocs --strict: a warning fails)"
	@echo "make cpp-docs regenerate docs/reference/cpp.md from the /// comments of the C++ headers"
	@echo "make format  clang-format the C++ sources;  make lint  clang-tidy + ruff"
	@echo "make sanitize  C++ tests under ASan+UBSan (clang);  make fuzz  each libFuzzer harness for FUZZ_SECONDS (60)"

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
# about 8 min on 2 cores (458 s measured: 7 min 38 s wall, 734 s CPU), writes demo-output/report.md, report.json and PNG plots.
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
# tests/python/test_docs_site.py runs the same build in make test. No --quiet: with it (mkdocs 1.6.1)
# the docstring warnings of mkdocstrings (griffe) are not counted and --strict lets them pass.
docs: setup cpp-docs
	@$(PY) -m mkdocs build --strict -d build/site && echo "[docs] site in build/site/index.html"

# The C++ API page (docs/reference/cpp.md), generated from the /// comments of include/protege/;
# tests/python/test_cpp_api_docs.py fails when it is stale.
cpp-docs:
	@python3 tools/cpp_api_docs.py -o docs/reference/cpp.md && echo "[cpp-docs] docs/reference/cpp.md"

# Type stubs of the compiled module (python/protege/_core/*.pyi), regenerated from the build;
# tests/python/test_docs_site.py fails when they are stale.
stubs: build
	@rm -rf build/stubs && $(PY) -m pybind11_stubgen protege._core -o build/stubs --numpy-array-remove-parameters \
	  && rm -rf python/protege/_core && cp -r build/stubs/protege/_core python/protege/_core && echo "[stubs] python/protege/_core/"

# Sanitizers and fuzzing (docs/reliability.md): one Clang build of the core with ASan+UBSan
# (-fno-sanitize-recover) and libFuzzer coverage in $(SAN_BUILD), configured from tests/fuzz.
# `make sanitize` runs the Catch2 tests on it; `make fuzz` runs each libFuzzer harness for
# FUZZ_SECONDS on its committed seed corpus (new inputs go to $(SAN_BUILD)/corpus, crashes to
# $(SAN_BUILD)/crash-*). No torch, no Python.
SAN_BUILD    ?= build/sanitize
FUZZ_SECONDS ?= 60
FUZZERS      := answers jsonl_pairs curriculum sampler
SAN_ENV      := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# libFuzzer's link lists libstdc++ before the shared ASan runtime; malloc still resolves to ASan's.
FUZZ_ENV     := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
.PHONY: sanitize fuzz sanitize-configure

sanitize-configure: setup
	@command -v clang++ >/dev/null || { echo "[sanitize] clang++ missing: run tools/setup.sh (installs clang)"; exit 1; }
	@PATH="$(abspath $(VENV))/bin:$$PATH" cmake -S tests/fuzz -B $(SAN_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null

sanitize: sanitize-configure
	@echo "[sanitize] core + C++ tests with ASan+UBSan (clang) in $(SAN_BUILD)"
	@start=$$(date +%s); PATH="$(abspath $(VENV))/bin:$$PATH" cmake --build $(SAN_BUILD) --target protege_tests -j $(JOBS); \
	cd $(SAN_BUILD)/protege && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) 2>&1 | tail -n 15; \
	echo "[sanitize] done in $$(( $$(date +%s) - start ))s"

fuzz: sanitize-configure
	@echo "[fuzz] libFuzzer + ASan+UBSan (clang): $(FUZZERS), $(FUZZ_SECONDS)s each"
	@PATH="$(abspath $(VENV))/bin:$$PATH" cmake --build $(SAN_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZERS))
	@for h in $(FUZZERS); do \
	  mkdir -p $(SAN_BUILD)/corpus/$$h; \
	  if $(FUZZ_ENV) $(SAN_BUILD)/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	      -artifact_prefix=$(SAN_BUILD)/crash-$$h- -print_final_stats=1 \
	      $(SAN_BUILD)/corpus/$$h tests/fuzz/corpus/$$h > $(SAN_BUILD)/fuzz_$$h.log 2>&1; then \
	    echo "[fuzz] $$h: $$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' $(SAN_BUILD)/fuzz_$$h.log | grep -o '[0-9]*$$') runs, no failure"; \
	  else tail -n 40 $(SAN_BUILD)/fuzz_$$h.log; echo "[fuzz] $$h FAILED (reproducer: $(SAN_BUILD)/crash-$$h-*)"; exit 1; fi; \
	done

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

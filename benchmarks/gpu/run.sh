#!/usr/bin/env bash
# One command for a machine with a GPU: builds what the CUDA tests and the benchmark need (the
# protege Python package with the libtorch op library and the CUDA kernels, against the torch
# installed there), runs the CUDA test grid for both row backends and the GPU loss benchmark, and
# leaves every log, JUnit XML and JSON in one folder.
#
# The machine needs: a CUDA build of torch, nvcc, cmake, ninja, pybind11, scikit-build-core. What
# else it needs comes from carry/ (made here by benchmarks/gpu/carry.sh): the Debian -dev packages
# (Eigen, nlohmann_json, fmt, Catch2) unpacked, and wheels of liger-kernel and pytest. No network.
#
# Usage:  [OUT=dir] [PROTEGE_COMMIT=sha] benchmarks/gpu/run.sh [--dry-run]
#   OUT             result folder (default build/gpu-run); everything is written under it
#   PROTEGE_COMMIT  the commit being measured, when the tree has no .git (recorded in env.json)
#   CARRY           the carry folder (default <repo>/carry)
#   PYTHON          interpreter with torch (default python3)
#   STEPS           subset of "build test bench" (default all three)
#   BENCH_ARGS      extra arguments of benchmarks/bench_losses_gpu.py
#   --dry-run       check the prerequisites and print every command without running them
# Exit status: 0 when every step passed; 1 otherwise (all steps still run; see summary.txt).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
OUT=${OUT:-$root/build/gpu-run}
CARRY=${CARRY:-$root/carry}
PY=${PYTHON:-python3}
STEPS=${STEPS:-build test bench}
BENCH_ARGS=${BENCH_ARGS:-}
VENV=$root/build/gpu-venv
mkdir -p "$OUT"
: >"$OUT/commands.log"
status=0
summary() {
  local tag=""
  [ "$DRY" = 1 ] && tag="(dry-run) "
  echo "$tag$1" | tee -a "$OUT/summary.txt"
}
: >"$OUT/summary.txt"
run() {  # run <log> <cmd...>: logs the command, runs it unless --dry-run
  local log=$1
  shift
  echo "+ $*" >>"$OUT/commands.log"
  if [ "$DRY" = 1 ]; then
    echo "[dry-run] $*"
    return 0
  fi
  "$@" >>"$OUT/$log" 2>&1
}

# ---- prerequisites ---------------------------------------------------------------------------
missing=()
need_file() { [ -e "$1" ] || missing+=("$2 ($1)"); }
need_file "$CARRY/root/usr/include/eigen3/Eigen/Core" "Eigen headers from carry/"
need_file "$CARRY/root/usr/include/nlohmann/json.hpp" "nlohmann_json from carry/"
need_file "$CARRY/root/usr/include/fmt/format.h" "fmt headers from carry/"
compgen -G "$CARRY/root/usr/lib/*/libfmt.so.9*" >/dev/null || missing+=("libfmt.so.9 from carry/")
compgen -G "$CARRY/wheels/liger_kernel-*.whl" >/dev/null || missing+=("liger-kernel wheel in carry/wheels")
compgen -G "$CARRY/wheels/pytest-*.whl" >/dev/null || missing+=("pytest wheel in carry/wheels")
command -v "$PY" >/dev/null || missing+=("python ($PY)")
for tool in cmake ninja; do
  command -v "$tool" >/dev/null || "$PY" -c "import $tool" 2>/dev/null || missing+=("$tool")
done
NVCC=${NVCC:-$(ls /usr/local/cuda/bin/nvcc 2>/dev/null || command -v nvcc || true)}
[ -n "$NVCC" ] || missing+=("nvcc")
"$PY" -c "import torch, sys; sys.exit(0 if torch.version.cuda else 1)" 2>/dev/null || missing+=("a CUDA build of torch")
"$PY" -c "import pybind11, scikit_build_core" 2>/dev/null || missing+=("pybind11 and scikit-build-core")
if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do summary "missing: $m"; done
  summary "what carry/ lacks comes from benchmarks/gpu/carry.sh (run it where there is network access)"
  [ "$DRY" = 1 ] || exit 1
  status=1
else
  summary "prerequisites: ok (carry: $CARRY, nvcc: $NVCC)"
fi
libdir=$(dirname "$(compgen -G "$CARRY/root/usr/lib/*/libfmt.so.9*" | head -n 1)" 2>/dev/null || echo "$CARRY/root/usr/lib")
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CMAKE_PREFIX_PATH="$CARRY/root/usr${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}"
export CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-$(nproc)}

# ---- environment record ----------------------------------------------------------------------
commit=${PROTEGE_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
if [ "$DRY" = 0 ]; then
  nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || true
  "$NVCC" --version >"$OUT/nvcc.txt" 2>&1 || true
fi
"$PY" - "$OUT/env.json" "$commit" <<'PYEOF' || summary "env.json: could not be written"
import json, platform, sys
out, commit = sys.argv[1], sys.argv[2]
info = {"commit": commit, "python": platform.python_version()}
try:
    import torch
    info.update(torch=torch.__version__, cuda=torch.version.cuda, cuda_available=torch.cuda.is_available())
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(device=p.name, capability=f"{p.major}.{p.minor}", memory_gb=round(p.total_memory / 2**30, 1))
except Exception as e:  # recorded, never fatal
    info["torch_error"] = repr(e)
json.dump(info, open(out, "w"), indent=2)
PYEOF

# ---- build -----------------------------------------------------------------------------------
PYV=$VENV/bin/python
if [[ " $STEPS " == *" build "* ]]; then
  start=$(date +%s)
  # --without-pip: the venv uses the pip (and torch, pybind11, scikit-build-core) of the base
  # interpreter. An interpreter that is itself a venv is used as it is.
  mkvenv=(run build.log "$PY" -m venv --without-pip --system-site-packages "$VENV")
  if "$PY" -c "import sys; sys.exit(0 if sys.prefix != sys.base_prefix else 1)" 2>/dev/null; then
    VENV=$(dirname "$(dirname "$PY")")
    PYV=$PY
    mkvenv=(true)
  fi
  if "${mkvenv[@]}" \
     && run build.log "$PYV" -m pip install -q --no-index --no-deps "$CARRY"/wheels/*.whl \
     && run build.log "$PYV" -m pip install -v --no-build-isolation --no-deps --no-index \
          -Cbuild-dir=build/gpu-wheel -Ccmake.build-type=Release \
          -Ccmake.define.PROTEGE_ENABLE_TORCH=ON -Ccmake.define.PROTEGE_ENABLE_CUDA=ON \
          -Ccmake.define.CMAKE_CUDA_COMPILER="$NVCC" -Ccmake.define.PROTEGE_BUILD_TESTS=OFF . ; then
    summary "build: ok in $(( $(date +%s) - start )) s (log: build.log)"
  else
    summary "build: FAILED (log: build.log)"
    status=1
  fi
fi

# ---- CUDA test grid, both backends -----------------------------------------------------------
if [[ " $STEPS " == *" test "* ]]; then
  for backend in aten native; do
    start=$(date +%s)
    if PROTEGE_TORCH_BACKEND=$backend run "pytest-$backend.log" "$PYV" -m pytest -q -p no:cacheprovider -rs \
         --junitxml="$OUT/pytest-$backend.xml" tests/python/test_kernels_*.py; then
      summary "tests ($backend): ok in $(( $(date +%s) - start )) s: $(tail -n 1 "$OUT/pytest-$backend.log" 2>/dev/null)"
    else
      summary "tests ($backend): FAILED: $(tail -n 1 "$OUT/pytest-$backend.log" 2>/dev/null) (log: pytest-$backend.log)"
      status=1
    fi
  done
fi

# ---- benchmark -------------------------------------------------------------------------------
if [[ " $STEPS " == *" bench "* ]]; then
  start=$(date +%s)
  # shellcheck disable=SC2086
  if PROTEGE_COMMIT=$commit run bench.log "$PYV" benchmarks/bench_losses_gpu.py --out "$OUT/bench_losses_gpu.json" $BENCH_ARGS; then
    summary "benchmark: ok in $(( $(date +%s) - start )) s (bench_losses_gpu.json, log: bench.log)"
  else
    summary "benchmark: FAILED (log: bench.log)"
    status=1
  fi
fi

summary "result folder: $OUT"
exit $status

#!/usr/bin/env bash
# Package tests, one per install route: (1) install the C++ SDK from the build tree and build + run
# examples/cpp with find_package(protege CONFIG REQUIRED) and a libtorch consumer with COMPONENTS torch;
# (2) plain CMake, core only, from the source tree; (3) the pip route (tests/package/wheel.sh);
# (4) `import protege` in a fresh venv without torch.
set -euo pipefail
PY=${1:-.venv/bin/python}
BUILD=${2:-build/wheel}
PREFIX=${3:-build/install}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
CMAKE="$(dirname "$PY")/cmake"
[ -x "$CMAKE" ] || CMAKE=cmake
pass=0; fail=0
ok() { echo "  ok: $1"; pass=$((pass + 1)); }
bad() { echo "  FAILED: $1"; fail=$((fail + 1)); }

rm -rf "$PREFIX" build/example
if "$CMAKE" --install "$BUILD" --prefix "$PREFIX" --component sdk >/dev/null; then ok "cmake --install (sdk)"; else bad "cmake --install"; fi
[ -f "$PREFIX/lib/cmake/protege/protege-config.cmake" ] && [ -f "$PREFIX/lib/cmake/protege/protege-config-version.cmake" ] \
  && ok "protege-config.cmake + version file installed" || bad "config files missing"
if "$CMAKE" -S examples/cpp -B build/example -DCMAKE_PREFIX_PATH="$root/$PREFIX" -DCMAKE_BUILD_TYPE=Release >/dev/null \
   && "$CMAKE" --build build/example >/dev/null; then ok "examples/cpp builds against the installed package"; else bad "examples/cpp build"; fi
if build/example/check_answers; then ok "examples/cpp runs"; else bad "examples/cpp run"; fi

# libtorch consumer: find_package(protege CONFIG REQUIRED COMPONENTS torch) finds Torch by itself,
# and the installed libprotege_torch finds libtorch through its install RPATH: the consumer runs
# with no LD_LIBRARY_PATH at all
torch_lib=$("$PY" -c "import torch, os; print(os.path.realpath(os.path.join(os.path.dirname(torch.__file__), 'lib')))")
installed_torch_lib=$(ls "$PREFIX"/lib/libprotege_torch.so.*.*.* 2>/dev/null | head -n 1)
rpath_dirs() {  # the RUNPATH/RPATH entries of $1, each resolved like the loader does
  readelf -d "$1" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p' | tr ':' '\n' | while read -r d; do
    if [ -d "$d" ]; then (cd "$d" && pwd -P); fi; done
}
if [ -n "$installed_torch_lib" ] && rpath_dirs "$installed_torch_lib" | grep -qxF "$torch_lib"; then
  ok "installed libprotege_torch has an install RPATH to $torch_lib"
else bad "installed libprotege_torch (${installed_torch_lib:-missing}): no RPATH to $torch_lib"; fi
rm -rf build/example-torch
if "$CMAKE" -S tests/package/torch_consumer -B build/example-torch -DCMAKE_PREFIX_PATH="$root/$PREFIX" \
     -DCMAKE_BUILD_TYPE=Release >build/example-torch.log 2>&1 && "$CMAKE" --build build/example-torch >>build/example-torch.log 2>&1 \
   && env -u LD_LIBRARY_PATH build/example-torch/torch_consumer
then ok "COMPONENTS torch consumer builds and runs (no find_package(Torch), no LD_LIBRARY_PATH)"
else bad "COMPONENTS torch consumer (log: build/example-torch.log)"; fi

# plain CMake from the source tree, core only: configure, build, install, consume
rm -rf build/pkg-core-install build/example-core
if "$CMAKE" -S . -B build/pkg-core -DPROTEGE_ENABLE_TORCH=OFF -DPROTEGE_ENABLE_PYTHON=OFF -DPROTEGE_BUILD_TESTS=OFF \
     -DCMAKE_BUILD_TYPE=Release >build/pkg-core.log 2>&1 && "$CMAKE" --build build/pkg-core -j "${JOBS:-2}" >>build/pkg-core.log 2>&1 \
   && "$CMAKE" --install build/pkg-core --prefix build/pkg-core-install >>build/pkg-core.log 2>&1 \
   && "$CMAKE" -S examples/cpp -B build/example-core -DCMAKE_PREFIX_PATH="$root/build/pkg-core-install" >>build/pkg-core.log 2>&1 \
   && "$CMAKE" --build build/example-core >>build/pkg-core.log 2>&1 && build/example-core/check_answers >/dev/null
then ok "plain CMake core-only build + install + examples/cpp"; else bad "plain CMake core-only route (log: build/pkg-core.log)"; fi
# ... and asking that install for COMPONENTS torch fails at configure time, saying why
rm -rf build/example-core-torch
if "$CMAKE" -S tests/package/torch_consumer -B build/example-core-torch -DCMAKE_PREFIX_PATH="$root/build/pkg-core-install" \
     >build/example-core-torch.log 2>&1; then bad "COMPONENTS torch against a core-only install configured"
elif grep -q "component torch: this protege was built without libtorch" build/example-core-torch.log; then
  ok "COMPONENTS torch against a core-only install fails naming the reason"
else bad "COMPONENTS torch against a core-only install: no reason given (build/example-core-torch.log)"; fi

# pip route: sdist + wheel, the wheel in a fresh venv running the README example
if bash tests/package/wheel.sh "$PY" "$BUILD"; then ok "pip route (python -m build, fresh venv, README example)"
else bad "pip route (tests/package/wheel.sh)"; fi

# CUDA builds of torch: configure with CUDA off (no toolkit) and with a toolkit whose libnvrtc is found;
# the GPU runner's dry run (tests/package/torch_cuda_config.sh, tests/package/gpu_run_dry.sh)
if bash tests/package/torch_cuda_config.sh "$PY"; then ok "CUDA-torch configure (CUDA off / libnvrtc found)"
else bad "CUDA-torch configure (tests/package/torch_cuda_config.sh)"; fi
if bash tests/package/gpu_run_dry.sh "$PY"; then ok "benchmarks/gpu/run.sh --dry-run"
else bad "benchmarks/gpu/run.sh --dry-run (tests/package/gpu_run_dry.sh)"; fi

# import protege without torch: a bare venv + a copy of the installed package
site=$("$PY" -c "import protege, os; print(os.path.dirname(os.path.dirname(protege.__file__)))")
notorch=build/venv-notorch
[ -x "$notorch/bin/python" ] || python3 -m venv "$notorch"
rm -rf build/notorch-pkg && mkdir -p build/notorch-pkg && cp -r "$site/protege" build/notorch-pkg/
if PYTHONPATH=build/notorch-pkg "$notorch/bin/python" - <<'PYEOF'
import importlib.util, sys
assert importlib.util.find_spec("torch") is None, "this venv must not have torch"
import protege
from protege import answers
assert answers.check("so #### 72", "72") is answers.Outcome.correct
assert "torch" not in sys.modules
try:
    import protege.torch  # noqa: F401
except ImportError as e:
    print("  (protege.torch without torch raises ImportError:", type(e).__name__ + ")")
else:
    raise SystemExit("protege.torch imported without torch")
print("  protege", protege.__version__, "imports without torch")
PYEOF
then ok "import protege works without torch"; else bad "import protege without torch"; fi

echo "package: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

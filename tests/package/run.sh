#!/usr/bin/env bash
# Package tests: (1) install the C++ SDK from the build tree and build + run examples/cpp with
# find_package(protege CONFIG REQUIRED); (2) `import protege` in a fresh venv without torch.
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

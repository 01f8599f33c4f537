#!/usr/bin/env bash
# The CPU-side logic of benchmarks/gpu/run.sh (the one-command GPU runner): with --dry-run it checks
# the prerequisites, names what is missing from a carry folder, records env.json and prints every
# command (the build with CUDA on, the kernel test grid for both backends, the benchmark) without
# running them.
set -euo pipefail
PY=${1:-.venv/bin/python}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
pass=0; fail=0
ok() { echo "  ok: $1"; pass=$((pass + 1)); }
bad() { echo "  FAILED: $1"; fail=$((fail + 1)); }
out=build/pkg-gpu-dry
rm -rf "$out" && mkdir -p "$out/empty-carry"
rc=0
OUT="$root/$out/run" CARRY="$root/$out/empty-carry" PYTHON="$PY" PROTEGE_COMMIT=0123abc \
  bash benchmarks/gpu/run.sh --dry-run >"$out/dry.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && ok "run.sh --dry-run with an empty carry folder exits 1" || bad "run.sh --dry-run exit status $rc, expected 1"
grep -q "missing: Eigen headers from carry/" "$out/run/summary.txt" && grep -q "missing: liger-kernel wheel" "$out/run/summary.txt" \
  && ok "an empty carry folder is reported item by item" || bad "missing carry items not reported ($out/run/summary.txt)"
grep -q "pytest-aten.xml .*tests/python/test_kernels_" "$out/run/commands.log" \
  && grep -q "pytest-native.xml .*tests/python/test_kernels_" "$out/run/commands.log" \
  && grep -q "PROTEGE_ENABLE_CUDA=ON" "$out/run/commands.log" \
  && grep -q "bench_losses_gpu.py --out $root/$out/run/bench_losses_gpu.json" "$out/run/commands.log" \
  && ok "the build (CUDA on), both backends' test grids and the benchmark are planned into one folder" \
  || bad "planned commands incomplete ($out/run/commands.log)"
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['commit']=='0123abc' and 'torch' in d, d" \
  "$out/run/env.json" && ok "env.json records the commit and torch" || bad "env.json"
echo "gpu runner dry run: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

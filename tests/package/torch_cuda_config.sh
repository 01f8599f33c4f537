#!/usr/bin/env bash
# Configure tests against the installed CUDA build of torch (the GPU machines' and most pip users'):
#   (1) PROTEGE_ENABLE_CUDA=OFF with an unusable `nvcc` first on PATH (a wrapper outside any
#       toolkit): the project configures with torch + Python, and a small ATen program builds and
#       runs through cmake/torch.cmake (no CUDA toolkit needed);
#   (2) PROTEGE_ENABLE_CUDA=ON with a toolkit whose libnvrtc is found, and a torch CMake package
#       whose Caffe2/public/cuda.cmake looks for Python (Interpreter only) when it finds libnvrtc, as
#       torch 2.11 does (when the installed torch does not, a copy of its CMake package with that
#       call added is used, next to symlinks of its lib/ and include/): the project configures with
#       the pybind11 module, and the CUDA kernels compile.
# Usage: tests/package/torch_cuda_config.sh [python] (prints "ok:" / "FAILED:" lines; exit 1 on failure)
set -euo pipefail
PY=${1:-.venv/bin/python}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")
CMAKE="$(dirname "$PY")/cmake"
[ -x "$CMAKE" ] || CMAKE=cmake
GEN=()
command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
[ -x "$(dirname "$PY")/ninja" ] && GEN=(-G Ninja -DCMAKE_MAKE_PROGRAM="$(dirname "$PY")/ninja")
pass=0; fail=0
ok() { echo "  ok: $1"; pass=$((pass + 1)); }
bad() { echo "  FAILED: $1"; fail=$((fail + 1)); }

cuda=$("$PY" -c "import torch; print(torch.version.cuda or '')")
if [ -z "$cuda" ]; then
  echo "  (torch is a CPU build: the CUDA-torch configure tests do not apply here)"
  echo "torch CUDA config: 0 passed, 0 failed"
  exit 0
fi
out=build/pkg-torch-cuda
mkdir -p "$out"

# (1) CUDA OFF, a fake nvcc wrapper first on PATH (FindCUDA would take its parent as the toolkit).
fake="$root/$out/fake-nvcc/bin"
mkdir -p "$fake"
printf '#!/bin/sh\necho "nvcc wrapper without a toolkit" >&2\nexit 1\n' >"$fake/nvcc"
chmod +x "$fake/nvcc"
rm -rf "$out/off" "$out/off-aten"
if PATH="$fake:$PATH" "$CMAKE" -S . -B "$out/off" "${GEN[@]}" -DPROTEGE_ENABLE_TORCH=ON -DPROTEGE_ENABLE_CUDA=OFF \
     -DPROTEGE_ENABLE_PYTHON=ON -DPROTEGE_BUILD_TESTS=OFF -DPython3_EXECUTABLE="$PY" >"$out/off.log" 2>&1; then
  ok "CUDA OFF against torch $cuda (CUDA build), nvcc wrapper on PATH: project configures with torch + Python"
else
  bad "CUDA OFF configure (log: $out/off.log)"
fi
if PATH="$fake:$PATH" "$CMAKE" -S tests/package/torch_cpu_only -B "$out/off-aten" "${GEN[@]}" -DPROTEGE_SOURCE_DIR="$root" \
     -DPython3_EXECUTABLE="$PY" -DCMAKE_BUILD_TYPE=Release >"$out/off-aten.log" 2>&1 \
   && "$CMAKE" --build "$out/off-aten" >>"$out/off-aten.log" 2>&1 && "$out/off-aten/aten_log_softmax" >>"$out/off-aten.log" 2>&1; then
  ok "CUDA OFF: an ATen program builds and runs through cmake/torch.cmake"
else
  bad "CUDA OFF ATen program (log: $out/off-aten.log)"
fi

# (2) CUDA ON with libnvrtc found and a torch config that runs find_package(Python COMPONENTS Interpreter).
nvcc_bin=${NVCC:-$(ls /usr/local/cuda/bin/nvcc 2>/dev/null || command -v nvcc || true)}
if [ -z "$nvcc_bin" ]; then
  echo "  (no nvcc: the CUDA ON configure test needs a toolkit; it runs wherever nvcc exists)"
else
  nvcc_real=$(readlink -f "$nvcc_bin")
  tk_real=$(dirname "$(dirname "$nvcc_real")")
  tk="$root/$out/toolkit"
  nvrtc_lib=$(ls "$tk_real"/lib64/libnvrtc.so "$tk_real"/targets/*/lib/libnvrtc.so 2>/dev/null | head -n 1 || true)
  if [ -n "$nvrtc_lib" ]; then
    tk="$tk_real"  # a full toolkit: its own libnvrtc
  else  # a minimal toolkit: a copy made of symlinks plus the torch wheel's libnvrtc
    site=$("$PY" -c "import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))")
    wheel_nvrtc=$(ls "$site"/nvidia/cu*/lib/libnvrtc.so.* "$site"/nvidia/cuda_nvrtc/lib/libnvrtc.so.* 2>/dev/null \
                  | grep -v -e builtins -e alt | head -n 1 || true)
    rm -rf "$tk" && mkdir -p "$tk/lib64"
    for e in "$tk_real"/*; do [ "$(basename "$e")" = lib64 ] || ln -s "$e" "$tk/$(basename "$e")"; done
    for e in "$(readlink -f "$tk_real/lib64")"/*; do ln -s "$e" "$tk/lib64/$(basename "$e")"; done
    [ -n "$wheel_nvrtc" ] && ln -s "$wheel_nvrtc" "$tk/lib64/libnvrtc.so"
  fi
  tdir=$("$PY" -c "import torch, os; print(os.path.dirname(torch.__file__))")
  torch_cmake_dir="$tdir/share/cmake"
  if ! grep -q "find_package(Python" "$tdir/share/cmake/Caffe2/public/cuda.cmake"; then
    emu="$root/$out/torch-2.11-config/torch"
    rm -rf "$(dirname "$emu")" && mkdir -p "$emu/share"
    ln -s "$tdir/lib" "$emu/lib" && ln -s "$tdir/include" "$emu/include"
    cp -r "$tdir/share/cmake" "$emu/share/cmake"
    # What torch 2.11's cuda.cmake does once it has found libnvrtc (to hash it with Python).
    sed -i 's|^set(CUDA_NVRTC_LIB "${CUDA_nvrtc_LIBRARY}" CACHE FILEPATH "")|&\nif(CUDA_NVRTC_LIB)\n  find_package(Python COMPONENTS Interpreter)\nendif()|' \
      "$emu/share/cmake/Caffe2/public/cuda.cmake"
    grep -q "find_package(Python COMPONENTS Interpreter)" "$emu/share/cmake/Caffe2/public/cuda.cmake" \
      || bad "could not add find_package(Python) to the copy of cuda.cmake"
    torch_cmake_dir="$emu/share/cmake"
  fi
  rm -rf "$out/on"
  if "$CMAKE" -S . -B "$out/on" "${GEN[@]}" -DPROTEGE_ENABLE_TORCH=ON -DPROTEGE_ENABLE_CUDA=ON -DPROTEGE_ENABLE_PYTHON=ON \
       -DPROTEGE_BUILD_TESTS=OFF -DPython3_EXECUTABLE="$PY" -DCMAKE_CUDA_COMPILER="$tk/bin/nvcc" \
       -DCUDA_TOOLKIT_ROOT_DIR="$tk" -DTorch_DIR="$torch_cmake_dir/Torch" -DCaffe2_DIR="$torch_cmake_dir/Caffe2" \
       >"$out/on.log" 2>&1; then
    if grep -q "^CUDA_NVRTC_LIB:FILEPATH=.*libnvrtc" "$out/on/CMakeCache.txt" && grep -q "^Caffe2_DIR:[A-Z]*=$torch_cmake_dir/Caffe2\$" "$out/on/CMakeCache.txt"; then
      ok "CUDA ON, libnvrtc found, torch config looks for Python: project configures with the pybind11 module"
    else
      bad "CUDA ON configured but libnvrtc or torch's Python lookup was not exercised (log: $out/on.log)"
    fi
    if "$CMAKE" --build "$out/on" --target protege_cuda_kernels >>"$out/on.log" 2>&1; then
      ok "CUDA ON: the CUDA kernels compile (sm_80, sm_90, compute_90)"
    else
      bad "CUDA ON kernel build (log: $out/on.log)"
    fi
  else
    bad "CUDA ON configure with libnvrtc (log: $out/on.log)"
  fi
fi

echo "torch CUDA config: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

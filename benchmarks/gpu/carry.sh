#!/usr/bin/env bash
# Fills carry/ (git-ignored, at the repository root) with what the GPU machines lack and cannot
# download (they have no network): the Debian -dev packages of the core's dependencies, unpacked
# (Eigen, nlohmann_json, fmt + its shared library, Catch2), and wheels of liger-kernel (the
# comparison provider of benchmarks/bench_losses_gpu.py) and pytest with its pure-Python
# dependencies. benchmarks/gpu/run.sh points CMake, the loader and pip at it.
# Usage: benchmarks/gpu/carry.sh [dest]   (default: <repo>/carry; about 15 MB)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/carry}
PY=${PYTHON:-$root/.venv/bin/python}
[ -x "$PY" ] || PY=python3
rm -rf "$dest"
mkdir -p "$dest/debs" "$dest/root" "$dest/wheels"
debs=(libeigen3-dev nlohmann-json3-dev libfmt-dev libfmt9 catch2)
(cd "$dest/debs" && apt-get download "${debs[@]}")
for d in "$dest"/debs/*.deb; do dpkg -x "$d" "$dest/root"; done
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$dest/wheels" liger-kernel pytest pluggy iniconfig packaging
# The docs of the unpacked packages are not needed.
rm -rf "$dest/root/usr/share/doc" "$dest/root/usr/share/man"
{
  echo "# carry/ made by benchmarks/gpu/carry.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for d in "$dest"/debs/*.deb; do echo "deb $(basename "$d") $(sha256sum "$d" | cut -d' ' -f1)"; done
  for w in "$dest"/wheels/*.whl; do echo "wheel $(basename "$w") $(sha256sum "$w" | cut -d' ' -f1)"; done
} >"$dest/MANIFEST"
rm -rf "$dest/debs"
du -sh "$dest"
cat "$dest/MANIFEST"

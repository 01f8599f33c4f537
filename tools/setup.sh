#!/usr/bin/env bash
# Idempotent machine + venv setup for protege.
# Installs Debian -dev packages (Eigen, nlohmann_json, fmt, Catch2), creates .venv with
# torch (the CUDA build on disk by default, PROTEGE_TORCH to override) and the build/test tools.
# Safe to run repeatedly: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${PROTEGE_VENV:-.venv}
TORCH_SPEC=${PROTEGE_TORCH:-torch==2.14.1}
PY=${PYTHON:-python3}
STAMP="$VENV/.protege-setup-v4"

apt_pkgs=(libeigen3-dev nlohmann-json3-dev libfmt-dev catch2 clang)  # clang: make sanitize / make fuzz
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$TORCH_SPEC" ]; then
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
fi
PIP=(pip_quiet install -q --disable-pip-version-check)
# pip warns once per missing local-index folder; keep real errors, drop that noise.
pip_quiet() { "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
echo "[setup] installing build tools"
"${PIP[@]}" --upgrade "pip>=24" 
"${PIP[@]}" "scikit-build-core>=0.10" "pybind11>=2.12" "cmake>=3.24" ninja numpy pytest "httpx>=0.27" \
  "pytest-timeout" nbclient nbformat ipykernel matplotlib datasets transformers accelerate ray "trl>=1.16,<2" \
  build "mkdocs>=1.6" "mkdocstrings[python]>=0.26" pybind11-stubgen mypy
echo "[setup] installing $TORCH_SPEC (from the local wheel when present)"
"${PIP[@]}" "$TORCH_SPEC"
echo "$TORCH_SPEC" > "$STAMP"
echo "[setup] done"

#!/usr/bin/env bash
# The pip route, as a user outside the repository takes it:
#   (1) `python -m build --sdist` makes an sdist that holds every tracked file the build needs;
#   (2) `python -m build --wheel --no-isolation` makes a wheel against the torch in the environment
#       (reusing the build tree BUILD, so this costs a re-link, not a rebuild);
#   (3) the wheel installs into a fresh venv that sees torch but no protege, and the README's
#       "30 seconds in Python" example and `protege --version` run there, outside the repository.
# Prints "ok: ..." / "FAILED: ..." lines; exits non-zero on the first failure.
set -euo pipefail
PY=${1:-.venv/bin/python}
BUILD=${2:-build/wheel}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dist=build/dist
rm -rf "$dist" && mkdir -p "$dist"

# (1) sdist: every tracked file of the build inputs is inside
"$PY" -m build --sdist --outdir "$dist" . >/dev/null 2>&1
sdist=$(ls "$dist"/protege-*.tar.gz)
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  missing=$("$PY" - "$sdist" <<'PYEOF'
import subprocess, sys, tarfile
names = {n.split("/", 1)[1] for n in tarfile.open(sys.argv[1]).getnames() if "/" in n}
tracked = subprocess.run(["git", "ls-files", "CMakeLists.txt", "pyproject.toml", "LICENSE", "README.md",
                          "cmake", "include", "src", "python"], capture_output=True, text=True, check=True).stdout.split()
print(" ".join(sorted(set(tracked) - names)))
PYEOF
)
  [ -z "$missing" ] || { echo "  FAILED: sdist lacks: $missing"; exit 1; }
fi
echo "  ok: sdist $(basename "$sdist") holds every tracked build input"

# (2) wheel built against the environment's torch, in the existing build tree
"$PY" -m build --wheel --no-isolation --outdir "$dist" \
  -Cbuild-dir="$BUILD" -Ccmake.build-type=Release \
  -Ccmake.define.PROTEGE_BUILD_TESTS=ON -Ccmake.define.PROTEGE_ENABLE_TORCH=ON . >build/dist-wheel.log 2>&1 \
  || { echo "  FAILED: python -m build --wheel (log: build/dist-wheel.log)"; exit 1; }
wheel=$(ls "$dist"/protege-*.whl)
echo "  ok: wheel $(basename "$wheel")"

# (3) fresh venv: protege only from the wheel; torch visible through a .pth to the build
#     environment's site-packages (no download), which sys.path lists after the venv's own
venv=build/venv-wheel
rm -rf "$venv" && python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --no-deps --no-index --disable-pip-version-check "$wheel"
torch_site=$("$PY" -c "import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))")
vsite=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$torch_site" > "$vsite/zz-torch-from-build-env.pth"  # after the venv's own site-packages on sys.path
work=$(mktemp -d)
awk '/^## 30 seconds in Python/{f=1} f&&/^```python/{g=1;next} g&&/^```/{exit} g{print}' README.md > "$work/readme_example.py"
[ -s "$work/readme_example.py" ] || { echo "  FAILED: no python block under '## 30 seconds in Python' in README.md"; exit 1; }
(cd "$work" && "$root/$venv/bin/python" - "$root/$venv" <<'PYEOF'
import os, runpy, sys
import protege
venv = os.path.realpath(sys.argv[1])
assert os.path.realpath(protege.__file__).startswith(venv), f"protege imported from {protege.__file__}, not the wheel"
runpy.run_path("readme_example.py", run_name="__main__")
import protege.torch  # the wheel carries the op library
print("  (README example ran with protege", protege.__version__, "from", os.path.dirname(protege.__file__) + ")")
PYEOF
)
echo "  ok: README Python example runs from the installed wheel"
want=$(sed -n 's/^project(protege VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
got=$("$venv/bin/protege" --version)
[ "$got" = "protege $want" ] || { echo "  FAILED: protege --version printed '$got', CMakeLists.txt says $want"; exit 1; }
echo "  ok: protege --version = $want (the version in CMakeLists.txt)"
rm -rf "$work"

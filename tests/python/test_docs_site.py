"""The reference site, the docstring examples and the type stubs.

* ``mkdocs build --strict`` (what ``make docs`` runs) succeeds — a warning fails it — and the API pages
  hold the public functions;
* the ``Example:`` sections of the public docstrings run as doctests;
* every declaration in ``python/protege/_core/*.pyi`` is what pybind11-stubgen generates from the built module;
* mypy, with those stubs and ``py.typed``, finds no error in the Python of ``examples/`` (the notebook's
  code cells) and of the docs' examples.
"""
import ast
import doctest
import glob
import importlib
import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

STUBS = os.path.join(ROOT, "python", "protege", "_core")


def _tool(module):
    """Fails (not skips) when a docs tool is missing: tools/setup.sh installs them."""
    assert importlib.util.find_spec(module) is not None, f"{module} is not installed (tools/setup.sh installs it)"


def test_mkdocs_strict_build(tmp_path):
    _tool("mkdocs")
    _tool("mkdocstrings")
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "WARNING" not in res.stderr, res.stderr
    want = {
        "protege": ["protege.InvalidArgument", "protege.ParseError", "protege.enable_logging"],
        "answers": ["protege.answers.check_batch", "protege.answers.CheckResult", "protege.answers.reward"],
        "pairs": ["protege.pairs.build", "protege.pairs.PairResult", "protege.pairs.ingest_judgments"],
        "curriculum": ["protege.curriculum.Planner", "protege.curriculum.rebalance", "protege.curriculum.Sampler"],
        "torch": ["protege.torch.fused_linear_distill_loss", "protege.torch.preference_loss"],
        "cli": ["protege.cli.main"],
    }
    for page, ids in want.items():
        html = (site / "reference" / page / "index.html").read_text(encoding="utf-8")
        for ident in ids:
            assert f'id="{ident}"' in html, f"reference/{page}: {ident} is not documented"


@pytest.mark.parametrize("module", ["protege.answers", "protege.pairs", "protege.curriculum"])
def test_docstring_examples(module):
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(mod, module) if t.examples]
    assert tests, f"{module}: no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    res = runner.summarize(verbose=False)
    assert res.failed == 0, f"{module}: {res.failed} of {res.attempted} docstring examples failed"


def _public_functions(module):
    mod = importlib.import_module(module)
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if callable(obj) and getattr(obj, "__module__", "") == module and not isinstance(obj, type):
            yield name, obj


@pytest.mark.parametrize("module", ["protege.answers", "protege.pairs"])
def test_public_functions_have_complete_docstrings(module):
    for name, fn in _public_functions(module):
        doc = fn.__doc__ or ""
        for section in ("Args:", "Returns:", "Examples:"):
            assert section in doc, f"{module}.{name}: docstring has no {section} section"


def _shape(node):
    """What a stub declaration promises: a function's parameter names and defaults, a class's bases and
    members (recursively); annotations are left out (they follow pybind11's type casters)."""
    if isinstance(node, ast.FunctionDef):
        a = node.args
        return ("def", [x.arg for x in a.posonlyargs + a.args], [x.arg for x in a.kwonlyargs],
                [ast.dump(d) for d in a.defaults], bool(a.vararg), bool(a.kwarg))
    if isinstance(node, ast.ClassDef):
        members = sorted((getattr(b, "name", ""), str(_shape(b))) for b in node.body if hasattr(b, "name"))
        return ("class", [ast.dump(b) for b in node.bases], members)
    return ("value",)


def _promises_hold(stub, built):
    """A stub declaration holds when the built one has the same kind and, for a function, the stub's
    parameters as a prefix with the same defaults (a newer optional parameter only makes the stub
    incomplete); for a class, the same bases and each declared member holding."""
    if stub[0] != built[0]:
        return False
    if stub[0] == "def":
        _, pos, kw, defaults, var, varkw = stub
        _, bpos, bkw, bdefaults, bvar, bvarkw = built
        extra = len(bpos) - len(pos)
        return (bpos[:len(pos)] == pos and set(kw) <= set(bkw) and extra >= 0
                and bdefaults[:len(bdefaults) - extra] == defaults and (var, varkw) == (bvar, bvarkw))
    if stub[0] == "class":
        members = dict(built[2])
        return stub[1] == built[1] and all(n in members for n, _ in stub[2])
    return True


def _symbols(path):
    """Top-level declarations of a stub file: name -> shape (imports and __all__ left out)."""
    out = {}
    for node in ast.parse(open(path, encoding="utf-8").read()).body:
        name = getattr(node, "name", None)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
        if name and name not in ("__all__", "__version__"):
            out.setdefault(name, []).append(_shape(node))  # overloads keep every variant
    return out


def test_stubs_match_the_built_module(tmp_path):
    """Every declaration in python/protege/_core/*.pyi is what pybind11-stubgen generates from the built
    module today (a stub never describes a function that is not there, or with another signature)."""
    _tool("pybind11_stubgen")
    res = subprocess.run([sys.executable, "-m", "pybind11_stubgen", "protege._core", "-o", str(tmp_path),
                          "--numpy-array-remove-parameters"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    committed = sorted(glob.glob(os.path.join(STUBS, "*.pyi")))
    assert {os.path.basename(f) for f in committed} >= {"__init__.pyi", "answers.pyi", "pairs.pyi", "curriculum.pyi"}
    checked = 0
    for path in committed:
        fresh_path = tmp_path / "protege" / "_core" / os.path.basename(path)
        assert fresh_path.exists(), f"{os.path.basename(path)}: the built module has no such submodule"
        fresh = _symbols(fresh_path)
        for name, shapes in _symbols(path).items():
            where = f"_core/{os.path.basename(path)}: {name}"
            assert name in fresh, f"{where} is not in the built module (make stubs)"
            for shape in shapes:
                assert any(_promises_hold(shape, f) for f in fresh[name]), f"{where} is stale (make stubs)"
            checked += 1
    assert checked >= 50


def _doc_examples(tmp_path):
    """The docs' and examples' Python as files for mypy: one per README/docs page, one per notebook."""
    files = []
    pages = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))) + [os.path.join(ROOT, "README.md")]
    for page in pages:
        blocks = re.findall(r"```python\n(.*?)```", open(page, encoding="utf-8").read(), re.S)
        if blocks:
            path = tmp_path / f"doc_{os.path.basename(page)[:-3]}.py"
            path.write_text("\n".join(blocks), encoding="utf-8")
            files.append(str(path))
    for nb in sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.ipynb"), recursive=True)):
        cells = json.load(open(nb, encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        code = "\n".join(line for line in code.splitlines() if not line.startswith(("%", "!")))  # IPython magics
        path = tmp_path / f"nb_{os.path.basename(nb)[:-6]}.py"
        path.write_text(code, encoding="utf-8")
        files.append(str(path))
    files += sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.py"), recursive=True))
    return files


def test_mypy_over_examples(tmp_path):
    _tool("mypy")
    files = _doc_examples(tmp_path)
    assert len(files) >= 6
    # each page's blocks run as one script, so a name may be re-bound to a new type (--allow-redefinition)
    res = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--hide-error-context",
                          "--ignore-missing-imports", "--follow-imports=silent", "--allow-redefinition",
                          "--cache-dir", str(tmp_path / "cache"), *files],
                         capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr

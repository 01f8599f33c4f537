"""The reference site, the docstring examples and the type stubs.

* ``mkdocs build --strict`` (what ``make docs`` runs) succeeds — a warning fails it — and the API pages
  hold the public functions;
* the ``Example:`` sections of the public docstrings run as doctests;
* ``python/protege/_core/*.pyi`` is what pybind11-stubgen generates from the built module: every submodule
  and binding declared, with the built signatures (``make stubs`` regenerates them);
* mypy, with those stubs and ``py.typed``, finds no error in the Python of ``examples/`` (the notebook's
  code cells) and of the docs' examples.
"""
import ast
import doctest
import glob
import importlib
import inspect
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


# DocTestFinder takes an object from the module its __module__ names, so packages that re-export are listed
# by their submodules (protege.curriculum renames its helpers' __module__, so it finds them itself);
# protege.demo.pipeline is left out: its example runs the whole tiny demo (~25 s).
@pytest.mark.parametrize("module", [
    "protege.answers", "protege.pairs", "protege.curriculum", "protege.demo.report",
    "protege.torch.functional", "protege.torch.sparse", "protege.torch.losses",
    "protege.torch._backend", "protege.torch._loader", "protege.teachers.batch", "protege.teachers._protocol",
    "protege.teachers.store", "protege.teachers.pack", "protege.teachers._journal", "protege.teachers._retry",
    "protege.hf.loss", "protege.hf.data", "protege.hf._model", "protege.demo.teacher",
])
def test_docstring_examples(module):
    if module.startswith("protege.hf") or module == "protege.teachers.pack":
        pytest.importorskip("transformers", reason=f"{module}'s examples need transformers")
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
    """The functions a module exports in ``__all__`` that are defined in it or in one of its submodules
    (re-exports from a package's private modules count; pybind11 builtins and classes do not). A function
    without parameters needs no ``Args:`` section."""
    mod = importlib.import_module(module)
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        owner = getattr(obj, "__module__", "") or ""
        if callable(obj) and not isinstance(obj, type) and (owner == module or owner.startswith(module + ".")):
            yield name, obj


DOCUMENTED_MODULES = ["protege", "protege.answers", "protege.pairs", "protege.torch", "protege.curriculum",
                      "protege.teachers", "protege.hf", "protege.demo.teacher", "protege.demo.pipeline"]


@pytest.mark.parametrize("module", DOCUMENTED_MODULES)
def test_public_functions_have_complete_docstrings(module):
    if module == "protege.hf":
        pytest.importorskip("transformers", reason="protege.hf needs transformers")
    functions = list(_public_functions(module))
    assert functions, f"{module}: no public function found to check"
    missing = []
    for name, fn in functions:
        sections = ("Args:", "Returns:", "Examples:") if inspect.signature(fn).parameters else ("Returns:", "Examples:")
        missing += [f"{module}.{name}: docstring has no {s} section" for s in sections if s not in (fn.__doc__ or "")]
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("module", ["protege.torch"])
def test_public_classes_have_complete_docstrings(module):
    """The loss modules document their constructor arguments, what ``forward`` returns and an example."""
    mod = importlib.import_module(module)
    classes = [(n, getattr(mod, n)) for n in getattr(mod, "__all__", []) if isinstance(getattr(mod, n), type)
               and getattr(mod, n).__module__.startswith(module + ".")]
    assert classes, f"{module}: no public class found to check"
    missing = [f"{module}.{name}: docstring has no {s} section" for name, cls in classes
               for s in ("Args:", "Returns:", "Examples:") if s not in (cls.__doc__ or "")]
    assert not missing, "\n".join(missing)


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
    """python/protege/_core/*.pyi is what pybind11-stubgen generates from the built module today: every
    submodule has its stub file, every binding (function, class, constant) is declared, and each
    declaration has the built signature (names, defaults) and, for a class, the built members. A binding
    added, removed or changed without regenerating the stubs fails here, asking for ``make stubs``."""
    _tool("pybind11_stubgen")
    res = subprocess.run([sys.executable, "-m", "pybind11_stubgen", "protege._core", "-o", str(tmp_path),
                          "--numpy-array-remove-parameters"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    fresh_dir = tmp_path / "protege" / "_core"
    committed = {os.path.basename(f) for f in glob.glob(os.path.join(STUBS, "*.pyi"))}
    built = {os.path.basename(f) for f in glob.glob(os.path.join(fresh_dir, "*.pyi"))}
    assert {"__init__.pyi", "answers.pyi", "pairs.pyi", "curriculum.pyi", "io.pyi"} <= built, sorted(built)
    problems = [f"_core/{f}: the built module has no such submodule" for f in sorted(committed - built)]
    problems += [f"_core/{f}: no stub file for this submodule" for f in sorted(built - committed)]
    checked = 0
    for name in sorted(committed & built):
        have, want = _symbols(os.path.join(STUBS, name)), _symbols(fresh_dir / name)
        for sym in sorted(set(have) | set(want)):
            where = f"_core/{name}: {sym}"
            if sym not in want:
                problems.append(f"{where} is declared but not in the built module")
            elif sym not in have:
                problems.append(f"{where} is in the built module but has no stub")
            elif sorted(map(str, have[sym])) != sorted(map(str, want[sym])):
                problems.append(f"{where}: the stub's signature or members differ from the built module's")
            checked += 1
    assert not problems, "stale stubs, run `make stubs` after `make build`:\n  " + "\n  ".join(problems)
    assert checked >= 50


def test_every_paper_the_docs_name_is_linked_from_the_index():
    """docs/index.md links each arXiv paper that a docs page, the README or CITATION.cff names."""
    pages = glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)
    pages += [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "CITATION.cff")]
    index = open(os.path.join(ROOT, "docs", "index.md"), encoding="utf-8").read()
    named = {}
    for page in pages:
        for ident in re.findall(r"(?i)(?:arxiv[\s:]*|arxiv\.org/abs/|10\.48550/arxiv\.)(\d{4}\.\d{4,5})", open(page, encoding="utf-8").read()):
            named.setdefault(ident, os.path.relpath(page, ROOT))
    assert len(named) >= 10, sorted(named)
    missing = {i: p for i, p in named.items() if f"https://arxiv.org/abs/{i}" not in index}
    assert not missing, f"papers named in the docs but not linked from docs/index.md: {missing}"


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

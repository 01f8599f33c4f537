"""The reference site, the docstring examples and the type stubs.

* ``mkdocs build --strict`` (what ``make docs`` runs) succeeds — a warning fails it — and the API pages
  hold the public functions;
* the ``Example:`` sections of the public docstrings run as doctests;
* every public function and class has a complete docstring: arguments (or a class's fields), returns, an
  example that runs; an exception says when it is raised and what it derives from;
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
# by their submodules (protege.curriculum renames its helpers' __module__, so it finds them itself;
# protege._core holds the error classes); protege.demo.pipeline is left out: its example runs the whole
# tiny demo (~25 s).
DOCTEST_MODULES = [
    "protege._core", "protege.answers", "protege.pairs", "protege.curriculum", "protege.cli",
    "protege.torch.functional", "protege.torch.sparse", "protege.torch.losses",
    "protege.torch._backend", "protege.torch._loader", "protege.teachers.batch", "protege.teachers._protocol",
    "protege.teachers.store", "protege.teachers.pack", "protege.teachers._journal", "protege.teachers._retry",
    "protege.teachers.openai_compat", "protege.teachers.vllm_offline", "protege.teachers.dataset",
    "protege.hf.loss", "protege.hf.data", "protege.hf._model", "protege.hf.distill_trainer",
    "protege.hf.preference_trainer", "protege.hf.reward", "protege.hf.sparse_loss", "protege.hf.trl_adapters",
    "protege.hf.memory", "protege.demo.teacher", "protege.demo.report", "protege.demo.world", "protege.demo.models",
    "protege.demo.config", "protege.demo.training", "protege.demo.ablation",
]
# what a module's examples import beyond protege's own requirements
EXAMPLE_NEEDS = {"protege.teachers.store": "transformers", "protege.teachers.pack": "transformers",
                 "protege.teachers.openai_compat": "httpx", "protege.teachers.dataset": "torch",
                 "protege.hf.trl_adapters": "trl", "protege.demo.report": "matplotlib",
                 "protege.demo.models": "torch", "protege.demo.config": "torch", "protege.demo.training": "torch",
                 "protege.demo.ablation": "torch"}


@pytest.mark.parametrize("module", DOCTEST_MODULES)
def test_docstring_examples(module):
    need = EXAMPLE_NEEDS.get(module, "transformers" if module.startswith("protege.hf") else None)
    if need:
        pytest.importorskip(need, reason=f"{module}'s examples need {need}")
    mod = importlib.import_module(module)
    for name in getattr(mod, "__all__", []):  # a lazily built export (CurriculumCallback) joins the module
        try:
            getattr(mod, name)
        except ImportError:  # its optional dependency is missing: no example to run
            pass
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(mod, module) if t.examples]
    assert tests, f"{module}: no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    res = runner.summarize(verbose=False)
    assert res.failed == 0, f"{module}: {res.failed} of {res.attempted} docstring examples failed"


def _public_modules():
    """protege and each of its public submodules (no part of the dotted name starts with ``_``), from the source
    tree, so a new module is checked without being listed here."""
    base = os.path.join(ROOT, "python")
    names = []
    for path in sorted(glob.glob(os.path.join(base, "protege", "**", "*.py"), recursive=True)):
        parts = os.path.relpath(path, base)[:-3].split(os.sep)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(p.startswith("_") for p in parts):
            names.append(".".join(parts))
    return names


def _exported_names(mod):
    """``__all__``, or, for a module without one, the public classes and functions it defines."""
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, v in vars(mod).items() if not n.startswith("_") and (isinstance(v, type)
                 or inspect.isfunction(v)) and v.__module__ == mod.__name__]
    return names


def _fields(cls):
    """Field names a result class must document: dataclass fields, NamedTuple fields, enum members."""
    import dataclasses
    import enum

    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return list(cls._fields)
    if issubclass(cls, enum.Enum):
        return list(cls.__members__)
    return []


# modules whose docstring examples test_docstring_examples runs (a class is found by its defining module)
DOCTESTED = set(DOCTEST_MODULES)


def _class_problems(qualname, cls):
    """What a public class's docstring lacks. Exceptions: when they are raised and each base class by name.
    Other classes: ``Args:`` (constructor arguments) or ``Attributes:`` (fields), and ``Examples:`` with a
    ``>>>`` example; dataclasses, NamedTuples and enums an entry for every field or member."""
    doc = cls.__doc__ or ""
    if not doc.strip():
        return [f"{qualname}: no docstring"]
    out = []
    if issubclass(cls, BaseException):
        if not re.search(r"(?i)\braised?\b", doc):
            out.append(f"{qualname}: docstring does not say when it is raised")
        out += [f"{qualname}: docstring does not name its base class {b.__name__}" for b in cls.__bases__
                if not re.search(rf"\b{b.__name__}\b", doc)]
    else:
        if "Args:" not in doc and "Attributes:" not in doc:
            out.append(f"{qualname}: docstring has neither an Args: nor an Attributes: section")
        if "Examples:" not in doc or ">>>" not in doc.split("Examples:", 1)[-1]:
            out.append(f"{qualname}: docstring has no Examples: section with a >>> example")
        out += [f"{qualname}: docstring does not document the field {f!r}" for f in _fields(cls)
                if not re.search(rf"(?m)^\s*{f}(\s*\([^)]*\))?:", doc)]
    if ">>>" in doc and cls.__module__ not in DOCTESTED:
        out.append(f"{qualname}: its examples do not run (add {cls.__module__} to test_docstring_examples)")
    return out


def _exports():
    """``(module, exported names)`` of every public module, and the modules or names that cannot be
    imported here (an optional dependency such as transformers or vllm is missing)."""
    out, unavailable = [], []
    for module in _public_modules():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            assert e.name and not e.name.startswith("protege"), f"{module}: {e}"
            unavailable.append(f"{module} (needs {e.name})")
            continue
        objs = []
        for name in _exported_names(mod):
            try:
                objs.append((name, getattr(mod, name)))  # lazy exports import their dependencies here
            except ModuleNotFoundError as e:
                assert e.name and not e.name.startswith("protege"), f"{module}.{name}: {e}"
                unavailable.append(f"{module}.{name} (needs {e.name})")
        out.append((module, objs))
    return out, unavailable


def test_public_functions_have_complete_docstrings():
    """Every function a public module exports (``__all__``; without one, the public functions it defines) and
    defines in it or in one of its submodules (re-exports from a package's private modules count; pybind11
    builtins do not): ``Args:`` (when it has parameters), ``Returns:`` and ``Examples:``. All the gaps are
    listed together."""
    exports, unavailable = _exports()
    checked, missing = {}, []
    for module, objs in exports:
        for name, fn in objs:
            owner = getattr(fn, "__module__", "") or ""
            if (not callable(fn) or isinstance(fn, type) or not (owner == module or owner.startswith(module + "."))
                    or fn in checked):
                continue
            checked[fn] = f"{module}.{name}"
            sections = ("Args:", "Returns:", "Examples:") if inspect.signature(fn).parameters else ("Returns:", "Examples:")
            missing += [f"{checked[fn]}: docstring has no {s} section" for s in sections if s not in (fn.__doc__ or "")]
    assert not missing, f"{len(missing)} incomplete function docstrings:\n" + "\n".join(missing)
    if unavailable:
        pytest.skip("checked %d functions; not importable here: %s" % (len(checked), ", ".join(unavailable)))
    assert len(checked) >= 100, sorted(checked.values())


def test_class_rule_names_each_gap():
    """The class rule itself: a result class missing a field entry and an example, an exception that says
    neither when it is raised nor its base, and a complete class (no problem)."""
    import dataclasses

    @dataclasses.dataclass
    class Result:
        """A result.

        Attributes:
            kept (int): rows kept.
        """

        kept: int
        dropped: int

    class Failed(ValueError):
        """Something went wrong."""

    class Fine:
        """Fine.

        Args:
            x (int): a number.

        Examples:
            >>> 1 + 1
            2
        """

    Fine.__module__ = "protege.answers"  # a doctested module
    assert _class_problems("m.Result", Result) == [
        "m.Result: docstring has no Examples: section with a >>> example",
        "m.Result: docstring does not document the field 'dropped'"]
    assert _class_problems("m.Failed", Failed) == ["m.Failed: docstring does not say when it is raised",
                                                   "m.Failed: docstring does not name its base class ValueError"]
    assert _class_problems("m.Fine", Fine) == []
    Fine.__module__ = "protege.nowhere"
    assert _class_problems("m.Fine", Fine) == [
        "m.Fine: its examples do not run (add protege.nowhere to test_docstring_examples)"]


def test_public_classes_have_complete_docstrings():
    """Every class a public module exports (``__all__``; pybind11 bindings in ``protege._core`` included):
    constructor arguments or fields, every field of a result class, a runnable example; an exception says
    when it is raised and what it derives from. All the classes that fall short are listed together."""
    exports, unavailable = _exports()
    checked, problems = {}, []
    for module, objs in exports:
        for name, cls in objs:
            if isinstance(cls, type) and (cls.__module__ or "").split(".")[0] == "protege" and cls not in checked:
                checked[cls] = f"{module}.{name}"
                problems += _class_problems(checked[cls], cls)
    assert not problems, f"{len(problems)} incomplete class docstrings:\n" + "\n".join(problems)
    if unavailable:
        pytest.skip("checked %d classes; not importable here: %s" % (len(checked), ", ".join(unavailable)))
    assert len(checked) >= 60, sorted(checked.values())


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

"""The package itself: version, error classes and their mapping from C++, logging."""
import pytest

import protege
from protege import _core


def test_version_is_the_cmake_project_version(root):
    import re

    text = open(f"{root}/CMakeLists.txt").read()
    assert protege.__version__ == re.search(r"project\(protege VERSION ([0-9.]+)", text).group(1)


@pytest.mark.parametrize(
    "cls, bases",
    [
        (protege.InvalidArgument, (ValueError, protege.Error)),
        (protege.ParseError, (ValueError, protege.InvalidArgument, protege.Error)),
        (protege.IoError, (OSError, protege.Error)),
        (protege.NotCompiledWithCuda, (RuntimeError, protege.Error)),
        (protege.CudaError, (RuntimeError, protege.Error)),
    ],
)
def test_error_classes_subclass_builtin_and_protege_error(cls, bases):
    for base in bases:
        assert issubclass(cls, base)


def test_invalid_argument_from_cpp_has_exact_type_and_message():
    with pytest.raises(protege.InvalidArgument) as info:
        protege.answers.extract("x", style="fancy")
    assert type(info.value) is protege.InvalidArgument
    assert str(info.value) == 'unknown answer style "fancy" (expected one of: auto, gsm8k, boxed, answer_is, last_number)'


def test_resolve_threads():
    assert _core.resolve_threads(3) == 3
    assert _core.resolve_threads(0) >= 1


def test_import_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, protege, protege.answers; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("imports", ["protege", "protege, protege.pairs", "protege, protege.hf"])
def test_enable_logging_then_exit_is_clean(imports):
    """The core outlives the interpreter: the Python log callback must be dropped before finalisation
    (it used to abort the process at exit with 'PyThreadState_Get: ... GIL is released')."""
    import subprocess
    import sys

    if "hf" in imports:
        pytest.importorskip("torch")
        pytest.importorskip("transformers")
    code = (f"import logging, {imports}; protege.enable_logging(logging.DEBUG); "
            "protege.enable_logging(logging.WARNING)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Fatal Python error" not in res.stderr

"""The ``protege`` command line: ``protege <module> <command> ...``.

Each module contributes its subcommands from ``protege._cli_<module>.add_parser``. Every parser in
the tree is a :class:`Parser`, so every ``--help`` shows each flag's default; flags share one
vocabulary (``-o/--output`` for what a command writes, ``--seed`` defaulting to 0, ``--answer-style``,
``--on-error``, ``--threads``, ``--quiet``), each defined once, with its help text and default, in
``protege._cli_args``. Library warnings are printed as one ``protege: warning:``
line each, without a Python source line.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from typing import Sequence

__all__ = ["main", "build_parser", "add_hidden_alias", "Parser"]

_MODULES = ("answers", "pairs", "curriculum", "demo", "teacher")


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to a flag's help unless the help already states its default or the
    default says nothing (None, False, an empty list or string). argparse builds it: give the class as
    ``formatter_class`` (:class:`Parser` does).

    Examples:
        >>> import argparse
        >>> from protege.cli import HelpFormatter
        >>> parser = argparse.ArgumentParser(prog="tool", formatter_class=HelpFormatter)
        >>> _ = parser.add_argument("--seed", type=int, default=0, help="random seed")
        >>> _ = parser.add_argument("--out", help="output file")  # default None: nothing appended
        >>> [line.strip() for line in parser.format_help().splitlines() if line.strip().startswith("--")]
        ['--seed SEED  random seed (default: 0)', '--out OUT    output file']
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is argparse.SUPPRESS
            or default is None
            or default is False
            or default in ("", [], ())
            or not action.option_strings
        ):
            return text
        if isinstance(default, (list, tuple)):
            shown = " ".join(str(v) for v in default)
        else:
            shown = str(default)
        return f"{text} (default: {shown})" if text else f"(default: {shown})"


class Parser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose help shows defaults; subparsers inherit the class.

    Args:
        *args (Any): as ``argparse.ArgumentParser``.
        **kwargs (Any): as ``argparse.ArgumentParser``; ``formatter_class`` defaults to :class:`HelpFormatter`.

    Examples:
        >>> from protege.cli import Parser
        >>> parser = Parser(prog="tool")
        >>> sub = parser.add_subparsers(dest="command").add_parser("run")
        >>> _ = sub.add_argument("--threads", type=int, default=1, help="worker threads")
        >>> "worker threads (default: 1)" in sub.format_help(), type(sub).__name__
        (True, 'Parser')
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def add_hidden_alias(parser: argparse.ArgumentParser, old: str, dest: str, **kwargs) -> None:
    """Accepts the old spelling ``old`` of a flag (stored in ``dest``) without listing it in ``--help``.

    Old spellings stay accepted for one release after a flag is renamed.

    Args:
        parser (argparse.ArgumentParser): the parser of the command.
        old (str): the old flag, e.g. ``"--style"``.
        dest (str): the attribute the new flag stores into.
        **kwargs (Any): further ``add_argument`` keywords (``type``, ``choices``, ...).

    Returns:
        None.

    Examples:
        >>> from protege.cli import Parser, add_hidden_alias
        >>> parser = Parser(prog="tool")
        >>> _ = parser.add_argument("--answer-style", dest="answer_style", default="auto", help="extraction style")
        >>> add_hidden_alias(parser, "--style", "answer_style")
        >>> parser.parse_args(["--style", "gsm8k"]).answer_style, "--style" in parser.format_help()
        ('gsm8k', False)
    """
    parser.add_argument(old, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The full ``protege`` parser with every module's subcommands.

    Returns:
        (argparse.ArgumentParser): a :class:`Parser`; ``parse_args`` gives the module, the command's
        options and ``func``, the function that runs it.

    Examples:
        >>> from protege.cli import build_parser
        >>> args = build_parser().parse_args(["answers", "check", "samples.jsonl"])
        >>> args.module, args.input, args.answer_style
        ('answers', 'samples.jsonl', 'auto')
    """
    from . import __version__

    parser = Parser(prog="protege", description="Distil large language models into small ones.")
    parser.add_argument("--version", action="version", version=f"protege {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="module", metavar="MODULE")
    sub.required = True
    for name in _MODULES:
        try:
            mod = importlib.import_module(f"protege._cli_{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"protege._cli_{name}":
                continue
            raise
        mod.add_parser(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"protege: warning: {message}", file=sys.stderr)


def _check_common_args(args: argparse.Namespace) -> None:
    """Checks shared by every subcommand before it runs: ``--seed`` fits the core's unsigned 64-bit
    seed, and ``-o/--output`` is none of the files the command was given (docs/reliability.md)."""
    from . import InvalidArgument
    from ._io import check_outputs

    seed = getattr(args, "seed", None)
    if isinstance(seed, int) and not 0 <= seed < 2**64:
        raise InvalidArgument(f"--seed: expected an integer from 0 to 2^64-1, got {seed}")
    output = getattr(args, "output", None)
    if isinstance(output, str) and output:
        import os

        given = [v for k, v in vars(args).items() if k != "output" and isinstance(v, str) and os.path.isfile(v)]
        check_outputs([output], given)
    _check_not_empty(getattr(args, "input", None))


def _check_not_empty(path) -> None:
    """One rule for every command: a main INPUT (a regular file) without any non-blank line is an
    error, ``FILE: no records (the input is empty)``, before anything is written."""
    import os

    from . import ParseError

    if not isinstance(path, str) or not os.path.isfile(path):
        return
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 16)  # bounded reads: the first line may be huge
            if not chunk:
                break
            if chunk.strip(b" \t\r\n\xef\xbb\xbf"):
                return
    exc = ParseError(f"{path}: no records (the input is empty)")
    exc.file, exc.line, exc.column, exc.reason = path, 0, 0, "no records (the input is empty)"
    raise exc


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status (0 ok, 2 a user error, 130 interrupted).

    Args:
        argv (list[str]): the arguments after ``protege`` (None: ``sys.argv[1:]``).

    Returns:
        (int): the exit status. A user error (protege.Error, OSError, ValueError) is printed as one
        ``protege: error: ...`` line on stderr and gives 2; ``--help`` and argparse's own errors exit
        through ``SystemExit`` as argparse does.

    Examples:
        >>> import json, os, tempfile
        >>> from protege.cli import main
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = os.path.join(tmp.name, "samples.jsonl")
        >>> with open(path, "w") as fh:
        ...     _ = fh.write(json.dumps({"completion": "2 + 2 = 4. #### 4", "gold": "4"}) + "\\n")
        >>> main(["answers", "check", path, "-o", os.path.join(tmp.name, "checked.jsonl")])
        outcome               count  share
        ...
        correct                   1  100.0%
        ...
        wrote .../checked.jsonl
        0
        >>> main(["answers", "check", os.path.join(tmp.name, "missing.jsonl")])  # the error goes to stderr
        2
        >>> tmp.cleanup()
    """
    from . import Error

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_common_args(args)
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except (Error, OSError, ValueError) as exc:
        print(f"protege: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("protege: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The parts every ``protege`` command is built from, each defined once: a module's ``COMMAND``
level, a command with the function that runs it, and the flags the commands share (input paths,
``-o/--output``, ``--on-error``, ``--quiet``, ``--threads``, ``--seed``, ``--answer-style``) with
their help text and defaults. The checks that apply to these flags before a command runs (seed
range, output not an input, input not empty) are in :func:`protege.cli.main`.
"""
from __future__ import annotations

import argparse
from typing import Callable, Optional

from .answers import STYLES as _ANSWER_STYLES


def add_module(sub: argparse._SubParsersAction, name: str, *, help: str,
               description: Optional[str] = None) -> argparse._SubParsersAction:
    """Adds ``protege NAME COMMAND ...`` to ``sub`` and returns the action that its commands are
    added to (``COMMAND`` is required).

    Args:
        sub: the ``protege`` parser's subparsers action.
        name: the module's name on the command line.
        help: one line shown in ``protege --help``.
        description: the text shown at the top of ``protege NAME --help`` (None: none).

    Returns:
        argparse._SubParsersAction: pass it to :func:`add_command`.

    Examples:
        >>> from protege.cli import Parser
        >>> sub = Parser(prog="protege").add_subparsers(dest="module")
        >>> cmds = add_module(sub, "answers", help="check final answers")
        >>> c = add_command(cmds, "check", lambda args: 0, help="grade a file")
        >>> sorted(cmds.choices)
        ['check']
    """
    p = sub.add_parser(name, help=help, description=description)
    cmds = p.add_subparsers(dest="command", metavar="COMMAND")
    cmds.required = True
    return cmds


def add_command(cmds: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int], *,
                help: str, description: Optional[str] = None) -> argparse.ArgumentParser:
    """Adds the command ``name`` that runs ``func(args)`` (its exit status) and returns its parser.

    Args:
        cmds: the action :func:`add_module` returned.
        name: the command's name on the command line.
        func: called with the parsed arguments; returns the exit status.
        help: one line shown in the module's ``--help``.
        description: the text shown at the top of the command's ``--help`` (None: none).

    Returns:
        argparse.ArgumentParser: add the command's flags to it.

    Examples:
        >>> from protege.cli import Parser
        >>> cmds = add_module(Parser(prog="protege").add_subparsers(dest="module"), "m", help="a module")
        >>> c = add_command(cmds, "run", lambda args: 7, help="run it")
        >>> args = c.parse_args([])
        >>> args.func(args)
        7
    """
    c = cmds.add_parser(name, help=help, description=description)
    c.set_defaults(func=func)
    return c


def add_file_command(cmds: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int], *,
                     help: str, description: Optional[str] = None, input_help: Optional[str],
                     output_help: str, lines: str = "malformed lines") -> argparse.ArgumentParser:
    """Adds a command that reads JSONL and writes a file: :func:`add_command` with INPUT (unless
    ``input_help`` is None), ``-o/--output`` (required), ``--on-error`` and ``--quiet``, in that order.

    Args:
        cmds: as for :func:`add_command`.
        name: as for :func:`add_command`.
        func: as for :func:`add_command`.
        help: as for :func:`add_command`.
        description: as for :func:`add_command`.
        input_help: what the INPUT file holds; None when the command adds its own positional inputs.
        output_help: what is written to ``-o/--output``.
        lines: which lines ``--on-error`` applies to.

    Returns:
        argparse.ArgumentParser: add the command's own flags to it.

    Examples:
        >>> from protege.cli import Parser
        >>> cmds = add_module(Parser(prog="protege").add_subparsers(dest="module"), "m", help="a module")
        >>> c = add_file_command(cmds, "copy", lambda args: 0, help="copy records", input_help="JSONL records",
        ...                      output_help="output JSONL")
        >>> args = c.parse_args(["in.jsonl", "-o", "out.jsonl", "--quiet"])
        >>> args.input, args.output, args.on_error, args.quiet
        ('in.jsonl', 'out.jsonl', 'strict', True)
    """
    c = add_command(cmds, name, func, help=help, description=description)
    if input_help is not None:
        add_input(c, input_help)
    add_output(c, output_help)
    add_on_error(c, lines)
    add_quiet(c)
    return c


def add_input(c: argparse.ArgumentParser, help: str, *, nargs: Optional[str] = None) -> None:
    """Adds the positional ``input`` path(s) (``nargs="+"``: one or more, in the order given).

    Args:
        c: the command's parser.
        help: what the file holds.
        nargs: None for one path, ``"+"`` for one or more.

    Examples:
        >>> c = argparse.ArgumentParser()
        >>> add_input(c, "JSONL file, one record per line")
        >>> c.parse_args(["a.jsonl"]).input
        'a.jsonl'
    """
    if nargs is None:
        c.add_argument("input", help=help)
    else:
        c.add_argument("input", nargs=nargs, help=help)


def add_output(c: argparse.ArgumentParser, help: str, *, required: bool = True, dest: str = "output",
               default: Optional[str] = None) -> None:
    """Adds ``-o/--output`` (what the command writes; the shared check refuses an output that is
    one of the command's input files).

    Args:
        c: the command's parser.
        help: what is written there.
        required: whether the flag must be given.
        dest: the attribute of the parsed arguments.
        default: the path used when the flag is not given (with ``required=False``).

    Examples:
        >>> c = argparse.ArgumentParser()
        >>> add_output(c, "output JSONL (written atomically)")
        >>> c.parse_args(["-o", "out.jsonl"]).output
        'out.jsonl'
    """
    c.add_argument("-o", "--output", dest=dest, required=required, default=default, help=help)


def add_on_error(c: argparse.ArgumentParser, what: str = "malformed lines", *,
                 names: str = "file:line:column") -> None:
    """Adds ``--on-error strict|skip`` (default strict): fail at the first bad line, naming it, or
    skip bad lines and count them.

    Args:
        c: the command's parser.
        what: which lines the policy applies to.
        names: what the error of a bad line names.

    Examples:
        >>> c = argparse.ArgumentParser()
        >>> add_on_error(c)
        >>> c.parse_args([]).on_error, c.parse_args(["--on-error", "skip"]).on_error
        ('strict', 'skip')
    """
    c.add_argument("--on-error", choices=("strict", "skip"), default="strict",
                   help=f"{what}: fail naming {names}, or skip and count them")


def add_quiet(c: argparse.ArgumentParser, what: str = "progress output") -> None:
    """Adds ``--quiet``: print no ``what`` (progress bars, tables, summaries) on the terminal.

    Args:
        c: the command's parser.
        what: what ``--quiet`` leaves out.

    Examples:
        >>> c = argparse.ArgumentParser()
        >>> add_quiet(c)
        >>> c.parse_args(["--quiet"]).quiet
        True
    """
    c.add_argument("--quiet", action="store_true", help=f"no {what}")


def add_threads(c: argparse.ArgumentParser, *, default: int = 0, what: str = "worker threads") -> None:
    """Adds ``--threads N`` (default 0: every core; the core sizes its thread pool from it).

    Args:
        c: the command's parser.
        default: the value when the flag is not given; 0 means all cores.
        what: which threads the number sizes.

    Examples:
        >>> c = argparse.ArgumentParser()
        >>> add_threads(c)
        >>> c.parse_args([]).threads, c.parse_args(["--threads", "2"]).threads
        (0, 2)
    """
    c.add_argument("--threads", type=int, default=default, help=f"{what} (0: all cores)" if default == 0 else what)


def add_seed(c: argparse.ArgumentParser, key: str = "item id", *, help: Optional[str] = None) -> None:
    """Adds ``--seed N`` (default 0, an unsigned 64-bit integer: the shared check refuses others).

    Args:
        c: the command's parser.
        key: what every random choice hashes together with the seed (protege derives each choice
            from the seed and a stable id, never from a position).
        help: the whole help text instead, for a seed with another use.

    Examples:
        >>> c = argparse.ArgumentParser()
        >>> add_seed(c, "prompt id")
        >>> c.parse_args([]).seed, c._actions[-1].help
        (0, 'seed of every random choice (hashed with the prompt id)')
    """
    c.add_argument("--seed", type=int, default=0, help=help or f"seed of every random choice (hashed with the {key})")


def add_answer_style(c: argparse.ArgumentParser) -> None:
    """Adds ``--answer-style`` (default auto): how final answers are extracted from rationales.

    Args:
        c: the command's parser.

    Examples:
        >>> c = argparse.ArgumentParser()
        >>> add_answer_style(c)
        >>> c.parse_args(["--answer-style", "boxed"]).answer_style
        'boxed'
    """
    c.add_argument("--answer-style", default="auto", help=f"final-answer extraction: {', '.join(_ANSWER_STYLES)}")


def read_text_file(path: Optional[str]) -> Optional[str]:
    """The UTF-8 text of a file a flag names (a template, a config), or None when the flag is not given.

    Args:
        path: the file's path, or None for a flag that was not given.

    Returns:
        Optional[str]: the whole text, or None.

    Raises:
        OSError: the file cannot be read (the command line prints it as ``protege: error: ...``).

    Examples:
        >>> read_text_file(None) is None
        True
    """
    if path is None:
        return None
    with open(path, encoding="utf-8") as fh:
        return fh.read()

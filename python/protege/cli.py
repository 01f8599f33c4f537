"""The ``protege`` command line: ``protege <module> <command> ...``.

Each module contributes its subcommands from ``protege._cli_<module>.add_parser``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

_MODULES = ("answers", "pairs", "curriculum", "demo", "teacher")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="protege", description="Distil large language models into small ones.")
    parser.add_argument("--version", action="version", version=f"protege {__version__}")
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


def main(argv: Sequence[str] | None = None) -> int:
    from . import Error

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (Error, OSError, ValueError) as exc:
        print(f"protege: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("protege: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``sitesel`` command line.

Each subcommand lives in its own module of this package and exposes ``add_parser(subparsers)``
(which registers it and sets ``func``) and the function it runs. To add a command, write a module
and list it in :data:`COMMANDS`.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import SiteselError

#: Subcommand modules, in the order ``sitesel --help`` lists them.
COMMANDS = ("rank", "profiles", "sensitivity", "compare", "ahp", "data")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sitesel", description="Rank candidate industrial-park sites on US federal land.")
    p.add_argument("--version", action="version", version=f"sitesel {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return p


#: Options whose value may start with "-" (a western longitude), which argparse would take for an option.
_NEGATIVE_VALUED = ("--bbox",)


def _join_negative_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    it = iter(argv)
    for tok in it:
        if tok in _NEGATIVE_VALUED:
            val = next(it, None)
            out.append(tok if val is None else f"{tok}={val}")
        else:
            out.append(tok)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 internal error, 2 user error)."""
    parser = build_parser()
    a = parser.parse_args(_join_negative_values(sys.argv[1:] if argv is None else list(argv)))
    try:
        return a.func(a)
    except SiteselError as exc:
        if a.debug:
            raise
        print(f"sitesel: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` or similar: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("sitesel: interrupted; existing outputs were left untouched", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal error: one line unless --debug
        if a.debug:
            raise
        print(f"sitesel: internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)",
              file=sys.stderr)
        return 1

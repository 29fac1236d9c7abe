"""The ``sitesel`` command line.

Each subcommand lives in its own module of this package and exposes ``add_parser(subparsers)``
(which registers it and sets ``func``) and the function it runs. To add a command, write a module
and list it in :data:`COMMANDS`.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from sitesel import __version__
from sitesel.errors import SiteselError

#: Subcommand modules, in the order ``sitesel --help`` lists them.
COMMANDS = ("rank", "map", "export", "profiles", "sensitivity", "compare", "ahp", "data")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``sitesel: error: ...``, exit status 2), like every other error."""

    def error(self, message: str):
        hint = f" (see {self.prog} --help)"
        self.exit(2, f"sitesel: error: {message}{hint}\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="sitesel", description="Rank candidate industrial-park sites on US federal land.")
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


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that staged outputs are cleaned up as for Ctrl-C."""


def _on_sigterm(main_pid: int):
    def handler(signum, frame):
        if os.getpid() != main_pid:  # a forked worker: die as it would have without us
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated()
    return handler


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 internal error, 2 user error)."""
    parser = build_parser()
    a = parser.parse_args(_join_negative_values(sys.argv[1:] if argv is None else list(argv)))
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm(os.getpid()))
    except ValueError:  # not the main thread (e.g. called from a test runner's worker thread)
        pass
    try:
        return a.func(a)
    except SiteselError as exc:
        if a.debug:
            raise
        print("sitesel: error: " + exc.render("cli"), file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` or similar: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"sitesel: {what}; existing outputs were left untouched", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:  # an internal error: one line unless --debug
        if a.debug:
            raise
        text = " ".join(str(exc).split())
        print(f"sitesel: internal error: {type(exc).__name__}: {text[:300]} (a bug in sitesel: rerun with --debug "
              "for a traceback and report it)", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

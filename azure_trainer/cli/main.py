"""The ``azure-trainer`` command line: the parser, and one dispatch to the chosen command's module.

Each command is a module of this package with ``HELP``, ``add_arguments(parser)`` and
``run(args, ctx) -> exit code``; the modules import only the standard library at start-up, and their
``run`` imports what it needs (the config layer, azure.ai.ml, torch) when it runs, so ``--help`` and
``validate`` never pay for azure.ai.ml or torch. The Azure client reaches the commands by injection
(``main(argv, client_factory=...)``), which is how the tests give them the fake Azure ML.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from .._pydantic import skip_plugin_discovery
from ..errors import AzureTrainerError
from ._common import ClientFactory, Context, error_text

COMMANDS = {
    "validate": "validate",
    "export": "export",
    "schema": "schema",
    "run-local": "run_local",
    "submit": "submit",
    "status": "status",
    "logs": "logs",
    "cancel": "cancel",
    "download": "download",
    "list": "list_jobs",
    "report": "report",
    "completion": "completion",
}
"""Command name -> module of this package, in the order ``--help`` lists them."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported on one line (the usage block is one --help away)."""

    def error(self, message: str):  # type: ignore[override]
        if message.startswith("unrecognized arguments:"):
            given = {word.split("=")[0] for word in message.split()}
            message += "".join(hint for flag, hint in RENAMED_FLAGS.items() if flag in given)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


RENAMED_FLAGS = {
    "--output-dir": "; run-local's run folder is `--run-dir DIR` now (`--output-dir` is the training "
    "script's model folder)",
}
"""An option azure-trainer used to have -> the hint its 'unrecognized arguments' error gets (README:
Old azure-trainer names)."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (no heavy imports)."""
    parser = _Parser(
        prog="azure-trainer",
        description="Run a PyTorch job locally, then on Azure ML with one switch: use_gpu.",
        epilog="Run 'azure-trainer COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"azure-trainer {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress display and no notes, only results and errors"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"{__package__}.{module_name}")
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        # --debug and --quiet after the command work too
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub.add_argument(
            "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        sub.set_defaults(run=module.run)
    return parser


def complete(parser: argparse.ArgumentParser) -> None:
    """Answer a completion request from the shell script ``azure-trainer completion SHELL`` installed,
    then exit (argcomplete's protocol; imported only then, so start-up stays light otherwise)."""
    import argcomplete

    argcomplete.autocomplete(parser)


def main(argv: Sequence[str] | None = None, *, client_factory: ClientFactory | None = None) -> int:
    """Entry point of ``azure-trainer`` and ``python -m azure_trainer``; returns the exit code.

    ``client_factory(workspace) -> MLClient`` replaces the real client (tests pass the fake's).
    """
    # Our models need no pydantic plugins; looking for them scans every installed distribution's
    # entry points (~50 ms of a ~400 ms `validate`). Skipped in this process only: no environment
    # variable, which the scripts run-local starts would inherit.
    skip_plugin_discovery(force=True)
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (see cli/completion.py)
        complete(parser)
    args = parser.parse_args(argv)
    # AZURE_TRAINER_DEBUG=1 is --debug, for the commands that read args.debug too (validate)
    args.debug = debug = args.debug or os.environ.get("AZURE_TRAINER_DEBUG") == "1"
    try:
        return args.run(args, Context(client_factory=client_factory))
    except AzureTrainerError as exc:
        if debug:
            raise
        print(f"azure-trainer: error: {error_text(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("azure-trainer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `azure-trainer ... | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        return 141

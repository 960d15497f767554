"""``azure-trainer completion bash|zsh|fish``: the shell's completion script, generated from the parser.

argcomplete (a well-kept library, and the one of the usual two that covers fish as well as bash and
zsh) writes the shell side; the shell then asks ``azure-trainer`` itself for candidates at each TAB
(``_ARGCOMPLETE`` set), which :func:`azure_trainer.cli.main.complete` answers from the same parser
``--help`` uses. So completion always knows every command and option, and costs the ``--help`` start-up
time per TAB.
"""

from __future__ import annotations

import argparse

from ._common import Context

HELP = "print the shell completion script (bash, zsh or fish); see README: Shell completion"
SHELLS = ("bash", "zsh", "fish")
PROGRAM = "azure-trainer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def run(args: argparse.Namespace, ctx: Context) -> int:
    print(script(args.shell), end="")
    return 0


def script(shell: str) -> str:
    """The completion script for ``shell`` (what ``register-python-argcomplete --shell SHELL`` prints)."""
    import argcomplete

    return argcomplete.shellcode([PROGRAM], shell=shell)

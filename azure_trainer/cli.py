"""The ``azure-trainer`` command line: a thin layer over the library.

Start-up stays light: this module imports only argparse and the standard library. Each command's
handler imports what it needs (the config layer, azure.ai.ml, torch) when it runs, so ``--help`` and
``validate`` never pay for azure.ai.ml or torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import AzureTrainerError, ConfigError

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported on one line (the usage block is one --help away)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="JOB.yaml", help="the job config (see README: The job config)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a config value; VALUE is typed as YAML (e.g. --set args.epochs=3). Repeatable.",
    )
    device = parser.add_mutually_exclusive_group()
    device.add_argument(
        "--gpu",
        dest="use_gpu",
        action="store_const",
        const=True,
        default=None,
        help="use_gpu: true (GPU compute + CUDA environment), whatever the file says",
    )
    device.add_argument(
        "--cpu",
        dest="use_gpu",
        action="store_const",
        const=False,
        help="use_gpu: false (CPU compute + CPU environment), whatever the file says",
    )


def _workspace_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "workspace (else: environment variables, the config's workspace:, config.json)"
    )
    group.add_argument("--subscription", metavar="ID", help="Azure subscription id")
    group.add_argument("--resource-group", metavar="NAME", help="resource group of the workspace")
    group.add_argument("--workspace", metavar="NAME", help="Azure ML workspace name")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (no heavy imports)."""
    parser = _Parser(
        prog="azure-trainer",
        description="Run a PyTorch job locally, then on Azure ML with one switch: use_gpu.",
        epilog="Run 'azure-trainer COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"azure-trainer {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser("validate", help="check a job config and print a summary (no Azure, no torch)")
    _config_options(p)
    p.set_defaults(handler=_cmd_validate)

    p = commands.add_parser("export", help="print the job as Azure ML CLI v2 YAML (az ml job create -f)")
    _config_options(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write the YAML to FILE instead of stdout")
    p.set_defaults(handler=_cmd_export)

    p = commands.add_parser("schema", help="print the JSON Schema of job configs (for editors)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the schema to FILE instead of stdout")
    p.set_defaults(handler=_cmd_schema)

    from .cli_commands import register  # the remaining commands, still without heavy imports

    register(commands, _config_options, _workspace_options)
    for sub_parser in commands.choices.values():  # --debug after the command works too
        sub_parser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def _cmd_validate(args: argparse.Namespace) -> int:
    from .config import load_config
    from .planning.spec import plan
    from .planning.summary import summarize

    config = load_config(args.job, args.overrides, use_gpu=args.use_gpu)
    spec = plan(config)
    print(summarize(spec))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .azureml.build import build_job, to_yaml
    from .config import load_config

    config = load_config(args.job, args.overrides, use_gpu=args.use_gpu)
    elsewhere: list[str] = []
    text = to_yaml(build_job(config), allow_env=config.preflight.allow_env, hidden=elsewhere)
    from .secrets_guard import REDACTED, redact_env

    redacted = redact_env(config.environment_variables, allow=config.preflight.allow_env)
    hidden = sorted(name for name, value in redacted.items() if value == REDACTED)
    hidden += sorted(set(elsewhere))
    if hidden:
        print(
            f"azure-trainer: warning: {', '.join(hidden)} looked like secrets and were written as ***; keep "
            "secrets out of job definitions (Key Vault + the job's identity; a datastore for storage), or "
            "list the name in `preflight: {allow_env: [...]}` if it is not a secret",
            file=sys.stderr,
        )
    _write_or_print(text, args.output)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from .config.schema import schema_json

    _write_or_print(schema_json(), args.output)
    return 0


def _write_or_print(text: str, output: str | None) -> None:
    if output is not None and not output.strip():
        raise ConfigError("-o/--output: give a file name (or leave -o out to print to stdout)")
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise ConfigError(f"-o {output}: cannot write there: {exc.strerror}") from None
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``azure-trainer`` and ``python -m azure_trainer``; returns the exit code."""
    # Our models need no pydantic plugins; looking for them scans every installed distribution's
    # entry points (~50 ms of a ~400 ms `validate`).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("AZURE_TRAINER_DEBUG") == "1"
    try:
        return args.handler(args)
    except AzureTrainerError as exc:
        if debug:
            raise
        print(f"azure-trainer: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("azure-trainer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

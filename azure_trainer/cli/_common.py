"""What the command modules share: option groups, the run context (the injected client factory),
and output helpers. Standard library only: every command module imports this at start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import AzureTrainerError

ClientFactory = Callable[[Any], Any]
"""``factory(workspace: WorkspaceRef) -> MLClient``: how the commands get their client (tests inject a
fake; the default builds the real MLClient with DefaultAzureCredential)."""


@dataclass(frozen=True)
class Context:
    """What a command's ``run`` gets besides its arguments."""

    client_factory: ClientFactory | None = None

    @contextlib.contextmanager
    def ml_client(
        self,
        args: argparse.Namespace,
        config_workspace: Any = None,
        *,
        job_config: bool = False,
        dry_run: bool = False,
    ) -> Iterator[Any]:
        """The MLClient for the workspace named by the flags, the environment, the config or config.json,
        for the ``with`` block (an offline workspace, ``local:DIR``, is open only that long).

        Workspace resolution runs first (a missing workspace is a one-line error naming every way to give
        it, whatever the factory); ``job_config`` and ``dry_run`` only shape that message. The SDK's own
        progress bars (the code upload) follow the rule of every progress display: only for a person at
        a terminal (:func:`azure_trainer.progress.interactive`).
        """
        from ..azureml.workspace import open_ml_client, resolve_workspace
        from ..progress import interactive

        flags = {
            "subscription_id": getattr(args, "subscription", None),
            "resource_group": getattr(args, "resource_group", None),
            "name": getattr(args, "workspace", None),
        }
        workspace = resolve_workspace(flags, config_workspace, job_config=job_config, dry_run=dry_run)
        if self.client_factory is not None:
            from ..azureml.build import quiet_sdk_logs

            quiet_sdk_logs()  # as open_ml_client does: the SDK's log noise stays off whichever client
            yield self.client_factory(workspace)
            return
        quiet = getattr(args, "quiet", False)
        shown = interactive(quiet=quiet, json=getattr(args, "json", False))
        with open_ml_client(
            workspace, quiet=quiet or getattr(args, "json", False), show_progress=shown
        ) as client:
            yield client


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """JOB.yaml, --set and --gpu/--cpu: every command that reads a job config takes these."""
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


def add_workspace_options(parser: argparse.ArgumentParser) -> None:
    """--subscription, --resource-group, --workspace (each may also come from elsewhere)."""
    group = parser.add_argument_group(
        "workspace (else: environment variables, the config's workspace:, config.json)"
    )
    group.add_argument("--subscription", metavar="ID", help="Azure subscription id")
    group.add_argument("--resource-group", metavar="NAME", help="resource group of the workspace")
    group.add_argument(
        "--workspace",
        metavar="NAME",
        help="Azure ML workspace name, or local:DIR for the offline workspace kept in folder DIR",
    )


def add_json_option(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def load_spec(args: argparse.Namespace) -> Any:
    """Load the job config the arguments name and plan it: the one JobSpec every backend gets."""
    from ..config.loader import load_config_from_cli
    from ..planning.spec import plan

    return plan(load_config_from_cli(args.job, args.overrides, use_gpu=args.use_gpu))


@contextlib.contextmanager
def json_errors(enabled: bool) -> Iterator[None]:
    """With ``--json``, also print a failure as one JSON object on stdout, so scripts can parse it.

    The error propagates unchanged: the CLI still prints its one-line message on stderr and exits with
    its code.
    """
    try:
        yield
    except AzureTrainerError as exc:
        if enabled:
            print_json({"error": error_text(exc), "exit_code": exc.exit_code})
        raise


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def error_text(exc: BaseException) -> str:
    """What the CLI prints of an error: its message with every secret in it as ``***`` (a service's
    answer may echo a SAS URL, a token or a connection string) and control characters other than line
    breaks and tabs written as escapes (an answer cannot drive the terminal)."""
    from ..secrets_guard import redact_text  # only on the error path: start-up stays light

    text = redact_text(str(exc))
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))

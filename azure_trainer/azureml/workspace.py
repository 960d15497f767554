"""Which workspace, with which credential: resolution order and the lazily built ``MLClient``.

Each of subscription, resource group and workspace name is taken from the first source that has it:
1. the command line (``--subscription``, ``--resource-group``, ``--workspace``),
2. the environment (AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME),
3. the job config's ``workspace:`` section,
4. an Azure ML ``config.json``, found the way ``MLClient.from_config`` finds it (this folder or a parent;
   also in ``.azureml/`` or ``aml_config/``).

A workspace named ``local:DIR`` (``--workspace local:DIR`` or ``AZUREML_WORKSPACE_NAME=local:DIR``) is the
offline workspace kept in the folder DIR (:mod:`.offline`): no subscription, no sign-in.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ApiUsageError, AzureMLError, ConfigError
from . import _sdk

ENV_VARS = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "AZURE_RESOURCE_GROUP",
    "name": "AZUREML_WORKSPACE_NAME",
}


@dataclass(frozen=True)
class WorkspaceRef:
    """A fully named workspace, and where each part came from (for messages)."""

    subscription_id: str
    resource_group: str
    name: str
    sources: tuple[str, ...] = ()
    offline: Path | None = None
    """The folder of an offline workspace (a ``local:DIR`` name), else None."""


def resolve_workspace(
    cli: dict[str, str | None] | None = None,
    config_workspace: Any = None,
    *,
    environ: dict[str, str] | None = None,
    search_from: str | Path = ".",
    job_config: bool = True,
    dry_run: bool = False,
) -> WorkspaceRef:
    """Merge the four sources (see the module docstring); raise AzureMLError naming what is missing.

    ``job_config=False`` (commands that take no job config) leaves the job config's ``workspace:`` out
    of the message; ``dry_run=True`` adds that ``--dry-run --no-preflight`` works without a workspace.
    """
    environ = dict(os.environ if environ is None else environ)
    cli = cli or {}
    values: dict[str, str] = {}
    sources: dict[str, str] = {}

    def offer(field: str, value: str | None, source: str) -> None:
        if value and field not in values:
            values[field] = value
            sources[field] = source

    for field in ENV_VARS:
        _check_flag(field, cli.get(field))
        offer(field, cli.get(field), "command line")
    for field, var in ENV_VARS.items():
        offer(field, environ.get(var), var)
    if config_workspace is not None:
        for field in ENV_VARS:
            offer(field, getattr(config_workspace, field, None), "the job config")
    offline = _offline_folder(values.get("name"), sources.get("name"))
    if offline is not None:
        return WorkspaceRef("offline", "offline", f"local:{offline}", (sources["name"],) * 3, offline)
    if len(values) < 3:
        found = find_config_json(search_from)
        if found is not None:
            sub, rg, name = _read_config_json(found)
            offer("subscription_id", sub, str(found))
            offer("resource_group", rg, str(found))
            offer("name", name, str(found))
    missing = [f for f in ENV_VARS if f not in values]
    if missing:
        hints = {
            "subscription_id": "--subscription / AZURE_SUBSCRIPTION_ID",
            "resource_group": "--resource-group / AZURE_RESOURCE_GROUP",
            "name": "--workspace / AZUREML_WORKSPACE_NAME",
        }
        where = "add `workspace:` to the job config, or " if job_config else ""
        message = (
            "no Azure ML workspace given: missing "
            + ", ".join(hints[m] for m in missing)
            + f"; or {where}put the workspace's config.json in this folder"
        )
        if dry_run:
            message += "; `submit --dry-run --no-preflight` prints the job YAML offline, without a workspace"
        raise AzureMLError(message)
    return WorkspaceRef(
        values["subscription_id"],
        values["resource_group"],
        values["name"],
        tuple(sources[f] for f in ENV_VARS),
    )


OFFLINE_PREFIX = "local:"
_FLAGS = {"subscription_id": "--subscription", "resource_group": "--resource-group", "name": "--workspace"}


def _check_flag(field: str, value: str | None) -> None:
    """A ConfigError for a flag given a blank value or one holding a control character (a NUL, a line
    break): it would otherwise be skipped for the next source, or break the request."""
    if value is None:
        return
    if not value.strip():
        raise ConfigError(f"{_FLAGS[field]} is empty: give a value, or leave the option out")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(f"{_FLAGS[field]} {value!r}: holds a control character; give the plain name")


def _offline_folder(name: str | None, source: str | None) -> Path | None:
    if name is None or not name.startswith(OFFLINE_PREFIX):
        return None
    folder = name[len(OFFLINE_PREFIX) :].strip()
    if not folder:
        raise ConfigError(
            f"workspace {name!r} (from {source}): give the offline workspace's folder, e.g. local:./offline-ws"
        )
    return Path(folder).expanduser().resolve()


def find_config_json(start: str | Path = ".") -> Path | None:
    """The config.json ``MLClient.from_config`` would use, or None."""
    for folder in (".azureml", "aml_config", None):
        for file_name in ("config.json", "project.json"):
            found = _sdk.find_config_json_file(Path(start), file_name, folder)
            if found:
                return Path(found)
    return None


def _read_config_json(path: Path) -> tuple[str | None, str | None, str | None]:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"not a valid Azure ML config.json ({exc})", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("not a valid Azure ML config.json (expected a JSON object)", file=str(path))
    values = []
    for key in ("subscription_id", "resource_group", "workspace_name"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(
                f"must be a string (in quotes), not {type(value).__name__}; fix the file or download it "
                "again from the workspace's page in Azure ML studio",
                file=str(path),
                key_path=key,
            )
        values.append(value.strip() if value else None)
    return values[0], values[1], values[2]


def default_credential() -> Any:
    """DefaultAzureCredential (CLI login, environment service principal, managed identity, ...)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


@contextlib.contextmanager
def open_ml_client(workspace: WorkspaceRef, *, quiet: bool = False, **kwargs: Any) -> Iterator[Any]:
    """The ``MLClient`` for ``workspace`` while the block runs: the real one, or an offline workspace's
    (which routes the SDK's blob clients to its folder only for that long). ``kwargs`` go to MLClient
    (e.g. ``show_progress=False``: no upload bar, nor the blank lines the SDK prints after an upload);
    ``quiet``: no note that an offline workspace was created (the CLI's ``-q``)."""
    with contextlib.ExitStack() as stack:
        if kwargs.get("show_progress") is False:
            stack.enter_context(_sdk.no_upload_epilogue())
        if workspace.offline is None:
            yield make_ml_client(workspace, **kwargs)
            return
        from .offline import OfflineWorkspace

        offline = stack.enter_context(OfflineWorkspace(workspace.offline, quiet=quiet))
        yield offline.ml_client(**kwargs)


def make_ml_client(workspace: WorkspaceRef, credential: Any = None, **kwargs: Any) -> Any:
    """The real ``MLClient`` for ``workspace``; ``kwargs`` go to MLClient (e.g. ``transport=``)."""
    from .build import quiet_sdk_logs

    if workspace.offline is not None:
        raise ApiUsageError(
            f"{workspace.name} is an offline workspace: open it with `with open_ml_client(workspace) as "
            "ml_client:` (azure_trainer.azureml.workspace), or OfflineWorkspace(folder).ml_client() inside "
            "its `with` block"
        )

    quiet_sdk_logs()
    from azure.ai.ml import MLClient

    return MLClient(
        credential or default_credential(),
        subscription_id=workspace.subscription_id,
        resource_group_name=workspace.resource_group,
        workspace_name=workspace.name,
        **kwargs,
    )


def registry_client(ml_client: Any, registry_name: str) -> Any:
    """An ``MLClient`` for an Azure ML registry sharing ``ml_client``'s credential and pipeline options."""
    from azure.ai.ml import MLClient

    credential, kwargs = _sdk.client_options(ml_client)
    for key in ("cloud", "user_agent", "registry_reference", "workspace_reference"):
        kwargs.pop(key, None)
    return MLClient(credential, registry_name=registry_name, **kwargs)


def credential_and_transport(ml_client: Any) -> tuple[Any, Any]:
    """The credential ``ml_client`` signs in with and the transport it sends through (None: azure-core's
    default), for a pipeline of our own beside it (the report's MLflow reader) that must reach the same
    service the same way, the fake and the offline workspace included."""
    credential, options = _sdk.client_options(ml_client)
    return credential, options.get("transport")

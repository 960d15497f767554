"""The Azure ML side of a plan: a :class:`JobSpec` becomes an ``azure.ai.ml`` command (or sweep) job.

The job is built by azure-ai-ml itself: the spec's CLI v2 document (:mod:`.document`) is read with
``azure.ai.ml.load_job``, so every key means exactly what it means to ``az ml job create -f``, and the
job equals what ``load_job`` builds from the same file, field for field. ``to_yaml`` writes that document
(what ``export`` prints): the file as written, plus only what ``use_gpu`` documents adding.

Pure: builds SDK objects only; no network, no credentials. Imports azure.ai.ml, so the CLI imports
this module only for the commands that need it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._nested import nested_strings
from ..config.model import JobConfig
from ..errors import ApiUsageError, ConfigError
from ..planning.spec import JobSpec, as_spec
from . import _sdk
from .document import COMMAND_JOB_SCHEMA, SWEEP_JOB_SCHEMA, job_document, relative_paths

__all__ = ["COMMAND_JOB_SCHEMA", "SWEEP_JOB_SCHEMA", "build_job", "quiet_sdk_logs", "to_yaml"]


def quiet_sdk_logs() -> None:
    """Silence SDK log noise that is not for our users: azure-ai-ml's "experimental class" notices and its
    "asset name will not be used for anonymous registration" warning (a job's environment is anonymous, as
    az ml makes it), azure-storage's notes on error answers it cannot parse, and azure-identity's
    multi-line credential report (we print one line instead).

    azure-ai-ml's first import sets its own logger to INFO with a stderr handler, so the package is
    imported here first: levels set before that import would be overwritten."""
    import azure.ai.ml  # noqa: F401

    # azure-storage warns on stderr when an error answer is not XML or JSON (a proxy's HTML page);
    # the error itself is reported, in one line
    for name in ("azure.ai.ml", _sdk.EXPERIMENTAL_LOGGER, "azure.storage"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)


def _folder(relative_to: str | Path | None) -> Path:
    """``to_yaml``'s ``relative_to`` as an absolute folder (the current one when None)."""
    if relative_to is None or relative_to == "":
        return Path.cwd()
    if not isinstance(relative_to, (str, os.PathLike)):
        raise ApiUsageError(f"to_yaml(relative_to=...) takes a folder path, not {type(relative_to).__name__}")
    if "\0" in str(relative_to):
        raise ApiUsageError(f"to_yaml(relative_to={str(relative_to)!r}): a path holds no NUL byte")
    return Path(relative_to).resolve()


def build_job(job: JobSpec | JobConfig | str, *, name: str | None = None) -> Any:
    """Build the Azure ML job for a planned ``job``: what ``azure.ai.ml.load_job`` builds from its CLI v2
    document (a ``Command`` for a command job, a ``SweepJob`` for a sweep). ``name`` names the job (else
    the file's ``name``, else Azure ML picks one). No network, no credentials. (A JobConfig or a path is
    planned first.)"""
    spec = as_spec(job, "build_job")
    if name is not None:
        from .naming import check_job_name

        if not isinstance(name, str):
            raise ApiUsageError(f"build_job(name=...) takes a job name string, not {type(name).__name__}")
        check_job_name(name)
    return _load(spec, job_document(spec, name=name))


def _load(spec: JobSpec, doc: dict[str, Any]) -> Any:
    import yaml

    quiet_sdk_logs()
    from azure.ai.ml import load_job

    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000)
    origin = Path(spec.source).resolve() if spec.source else Path.cwd() / "job.yml"
    try:
        return load_job(io.StringIO(text), relative_origin=str(origin))
    except Exception as exc:  # the SDK raises marshmallow and its own exception types alike
        key, problem = sdk_problem(exc)
        file, line = spec.locate(_config_key(spec, key)) if key else (spec.source, None)
        raise ConfigError(
            f"azure-ai-ml does not accept the job: {problem}", file=file, line=line, key_path=key or None
        ) from exc


def _config_key(spec: JobSpec, key: str) -> str:
    """The config's key path for a key of the document (an environment chosen by use_gpu sits under
    ``environment.gpu`` / ``environment.cpu`` in the file)."""
    head = f"{spec.runs_key}environment"
    if key.startswith(head) and f"{head}.{spec.flavour}" in spec.locations:
        return f"{head}.{spec.flavour}" + key[len(head) :]
    return key


_GENERIC = re.compile(r"^(In order to specify|Validation for .* failed|If you are trying|Visit this link)")


def sdk_problem(exc: BaseException) -> tuple[str, str]:
    """``(key path, message)`` from an azure-ai-ml validation error: the field it names and what it says,
    e.g. ``("environment.imag", "Unknown field.")``, instead of its screen of nested JSON."""
    found: list[tuple[str, str]] = []
    for blob in _json_objects(str(exc)):
        _leaves(blob, (), found)
    useful = [(k, m) for k, m in found if not _GENERIC.match(m)]
    if useful:
        key, message = useful[0]
        more = len({k for k, _ in useful}) - 1
        return key, message + (f" (and {more} more field{'s' if more > 1 else ''})" if more > 0 else "")
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return "", (lines[0] if lines else type(exc).__name__)[:300]


def _json_objects(text: str) -> list[Any]:
    """Every JSON object in ``text`` (azure-ai-ml nests a JSON report inside each message)."""
    decoder = json.JSONDecoder()
    out: list[Any] = []
    i = text.find("{")
    while i >= 0:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        out.append(obj)
        for value in nested_strings(obj):
            out.extend(_json_objects(value))
        i = text.find("{", end)
    return out


def _leaves(obj: Any, path: tuple[str, ...], found: list[tuple[str, str]]) -> None:
    if isinstance(obj, dict):
        if "message" in obj and isinstance(obj["message"], str) and "{" in obj["message"]:
            return  # a report wrapping another: its JSON was parsed on its own
        for key, value in obj.items():
            if key in ("result", "path", "location") or (
                key == "value" and not isinstance(value, (dict, list))
            ):
                continue
            # "value": marshmallow's errors for a mapping's values; "_schema": for the whole object
            inner = key in ("errors", "_schema", "message", "value")
            _leaves(value, path if inner else (*path, str(key)), found)
    elif isinstance(obj, list):
        for value in obj:
            _leaves(value, path, found)
    elif isinstance(obj, str) and path:
        found.append((".".join(path), obj.strip()))


def to_yaml(
    job: Any,
    *,
    allow: Iterable[str] = (),
    redact: bool = True,
    hidden: list[str] | None = None,
    relative_to: str | Path | None = None,
) -> str:
    """The job as Azure ML CLI v2 YAML, readable by ``azure.ai.ml.load_job`` and ``az ml job create -f``.

    Given a JobSpec, a JobConfig or a job file's path: the job's CLI v2 document (what ``export``
    writes), checked by building it with azure-ai-ml; local paths are written relative to the folder
    ``relative_to`` (default: the current folder), where the YAML is meant to be saved. Given a job built
    by :func:`build_job` (or any azure-ai-ml job): azure-ai-ml's own dump of it.

    With ``redact`` (the default), secret-looking environment variable values not named in ``allow`` are
    written as ``***`` (a secret must never be printed, and must not be a job environment variable in the
    first place: the secrets guard refuses it at submit); so are secret-looking arguments in the command
    and input paths carrying a credential (SAS tokens, URLs with a password). ``hidden``, if given,
    receives a label for each value written as ``***``.
    """
    import yaml

    if isinstance(job, (JobSpec, JobConfig, str, Path)):
        spec = as_spec(job, "to_yaml")
        doc = job_document(spec)
        _load(spec, doc)  # what azure-ai-ml cannot read is never written out
        doc = relative_paths(doc, _folder(relative_to))
        schema = doc.pop("$schema")
    elif hasattr(job, "dump"):
        doc, schema = _sdk_dump(job)
    else:
        raise ApiUsageError(
            f"to_yaml() takes a JobSpec, a JobConfig or a job file's path, or the job from "
            f"build_job(config); not {type(job).__name__}"
        )
    if redact:
        _redact(doc, allow, hidden)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    return f"$schema: {schema}\n{text}"


def _sdk_dump(job: Any) -> tuple[dict[str, Any], str]:
    """azure-ai-ml's own YAML of a job object, as plain data (the ``CommandJob`` of a ``Command`` node:
    a node dumps with a nested ``component:`` block that load_job rejects)."""
    import yaml

    quiet_sdk_logs()
    target = _sdk.job_of_node(job)
    buffer = io.StringIO()
    target.dump(buffer)
    doc = yaml.safe_load(buffer.getvalue())
    for holder in (doc, doc.get("trial") if isinstance(doc.get("trial"), dict) else None):
        for item in ((holder or {}).get("inputs") or {}).values():
            path = item.get("path") if isinstance(item, dict) else None
            if isinstance(path, str) and _MISPREFIXED.match(path):
                item["path"] = path[len("azureml:") :]
    schema = SWEEP_JOB_SCHEMA if doc.get("type") == "sweep" else COMMAND_JOB_SCHEMA
    return doc, schema


# The SDK dumps an input path it did not resolve to an asset as "azureml:" + path, which load_job reads back
# as a different (asset) reference: "azureml:https://...", "azureml:/abs/local/dir". Real references
# ("azureml://datastores/...", "azureml:name:1", "azureml:name@latest") are left alone.
_MISPREFIXED = re.compile(r"^azureml:(?!//)(?=[A-Za-z][A-Za-z0-9+.-]*://|[/.~]|file:)")


def _redact(doc: dict[str, Any], allow: Iterable[str], hidden: list[str] | None) -> None:
    """Write secret-looking environment values, command arguments and input paths as ``***``, in place."""
    from ..secrets_guard import redact_command, redact_env, redact_path

    labels: list[str] = []
    for name, item in (doc.get("inputs") or {}).items():
        path = item.get("path") if isinstance(item, dict) else None
        if isinstance(path, str) and redact_path(path) != path:
            item["path"] = redact_path(path)
            labels.append(f"input {name}'s path")
    for holder in (doc, doc.get("trial")):
        if not isinstance(holder, dict):
            continue
        env = holder.get("environment_variables")
        if isinstance(env, dict):
            plain = {k: str(v) for k, v in env.items()}
            redacted = redact_env(plain, allow=allow)
            if redacted != plain:
                holder["environment_variables"] = redacted
                labels.extend(k for k in plain if redacted[k] != plain[k])
        command = holder.get("command")
        if isinstance(command, str):
            safe, found = redact_command(command, allow)
            if found:
                holder["command"] = safe
                labels.extend(found)
    if hidden is not None:
        hidden.extend(labels)

"""After submit: status, logs, cancel, download and list, each one call on ``ml_client.jobs``."""

from __future__ import annotations

import os
import time
from itertools import islice
from pathlib import Path
from typing import Any

from ..errors import AzureMLError, ConfigError
from .errors import translated
from .naming import check_job_name


def status_text(status: Any) -> str | None:
    """A job status as plain text: the SDK's status is a str Enum whose str() is 'JobStatus.X'."""
    if status is None:
        return None
    return str(getattr(status, "value", status))


def job_summary(job: Any) -> dict[str, Any]:
    """The facts of a job a person or a script wants, as plain data."""
    created = getattr(getattr(job, "creation_context", None), "created_at", None)
    return {
        "name": getattr(job, "name", None),
        "display_name": getattr(job, "display_name", None),
        "experiment": getattr(job, "experiment_name", None),
        "status": status_text(getattr(job, "status", None)),
        "type": getattr(job, "type", None),
        "compute": getattr(job, "compute", None),
        "created": created.isoformat() if hasattr(created, "isoformat") else created,
        "studio_url": getattr(job, "studio_url", None),
    }


def job_status(ml_client: Any, name: str) -> dict[str, Any]:
    """Status and key facts of job ``name``."""
    check_job_name(name)
    with translated(f"getting job {name}"):
        return job_summary(ml_client.jobs.get(name))


def cancel_job(ml_client: Any, name: str) -> None:
    """Ask Azure ML to cancel job ``name`` and wait for the request to be accepted."""
    check_job_name(name)
    with translated(f"cancelling job {name}"):
        poller = ml_client.jobs.begin_cancel(name)
        if hasattr(poller, "result"):
            poller.result()


def download_target(name: str, output_dir: str | Path | None = None) -> Path:
    """The folder ``download_job`` writes to; raise ConfigError when it cannot be a folder.

    Only looks, creates nothing: a path below a file, or an existing file, is refused here, before any
    workspace or Azure call.
    """
    check_job_name(name)
    if output_dir is not None and not str(output_dir).strip():
        raise ConfigError("-o/--output: give a folder name (or leave -o out for ./downloads/NAME)")
    target = Path(output_dir) if output_dir is not None else Path("downloads") / name
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        what = "is a file" if existing == target else f"is below {existing}, which is a file"
        raise ConfigError(f"cannot download into {target}: it {what}; pass -o with a folder")
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot download into {target}: {existing} is not writable; pass -o with a folder you can write to"
        )
    return target


def download_job(ml_client: Any, name: str, output_dir: str | Path | None = None) -> Path:
    """Download job ``name``'s outputs and logs into ``output_dir`` (default ``./downloads/NAME``).

    Folders it had to create are removed again if the download fails and they are still empty.
    """
    target = download_target(name, output_dir)
    created = _make_folder(target)
    try:
        with translated(f"downloading job {name}"):
            ml_client.jobs.download(name, download_path=str(target), all=True)
    except BaseException:
        for folder in created:  # deepest first
            try:
                folder.rmdir()
            except OSError:  # not empty: keep what was downloaded
                break
        raise
    return target


def _make_folder(target: Path) -> list[Path]:
    """Create ``target`` and its missing parents; return the created ones, deepest first."""
    missing = []
    folder = target
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the download folder {target}: {exc.strerror or exc}; pass -o with a folder "
            "you can write to"
        ) from None
    return missing


def list_jobs(ml_client: Any, *, experiment: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent jobs (newest first, as the service lists them), optionally of one experiment."""
    check_limit(limit)
    with translated("listing jobs"):
        jobs = (
            j
            for j in ml_client.jobs.list()
            if experiment is None or getattr(j, "experiment_name", None) == experiment
        )
        return [job_summary(j) for j in islice(jobs, limit)]


def check_limit(limit: int) -> int:
    """Return ``limit`` if it is a usable ``--limit``, else raise ConfigError."""
    if limit < 1:
        raise ConfigError(f"--limit must be 1 or more, not {limit}")
    return limit


def stream_logs(ml_client: Any, name: str, *, attempts: int = 5, wait_s: float = 5.0) -> dict[str, Any]:
    """Stream job ``name``'s logs until it ends; reconnect after a dropped connection.

    Returns the final status. Ctrl-C (KeyboardInterrupt) propagates to the caller, which stops
    watching; the job itself keeps running.
    """
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError

    check_job_name(name)
    failures = 0
    while True:
        try:
            with translated(f"streaming job {name}"):
                ml_client.jobs.stream(name)
            break
        except AzureMLError as exc:
            if (
                not isinstance(exc.__cause__, (ServiceRequestError, ServiceResponseError))
                or failures >= attempts
            ):
                raise
            failures += 1
            print(f"azure-trainer: connection lost ({failures}/{attempts}); reconnecting to job {name} ...")
            time.sleep(wait_s)
    return job_status(ml_client, name)

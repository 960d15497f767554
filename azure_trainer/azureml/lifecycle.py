"""After submit: status, logs, cancel, download and list, each one call on ``ml_client.jobs``."""

from __future__ import annotations

import os
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

from ..errors import AzureMLError, ConfigError
from .errors import JOB_NOT_FOUND, translated
from .naming import check_job_name

TERMINAL_STATES = frozenset({"Completed", "Failed", "Canceled", "NotResponding", "Paused"})
"""Statuses after which a job runs (and bills) no more: its billed time is final, it streams no log."""


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


def job_status(ml_client: Any, name: str, *, billed: bool = False) -> dict[str, Any]:
    """Status and key facts of job ``name``; with ``billed``, a finished job's billed-time estimate too
    (``billed``: what its run time cost at list price, see :func:`billed_estimate`)."""
    check_job_name(name)
    with translated(f"getting job {name}", not_found=JOB_NOT_FOUND):
        job = ml_client.jobs.get(name)
    info = job_summary(job)
    if billed and info["status"] in TERMINAL_STATES:
        info["billed"] = billed_estimate(ml_client, job)
    return info


def billed_estimate(ml_client: Any, job: Any) -> dict[str, Any]:
    """A finished job's run time (``StartTimeUtc`` to ``EndTimeUtc``, as the service records them) x its
    nodes x the published list price of its VM size and tier. ``text`` says it in words; a price that
    cannot be found is "price unknown" with the reason, never a guess."""
    from datetime import datetime

    from .compute_info import compute_info
    from .cost import billed_cost, billed_text
    from .preflight import vm_sizes, workspace_location

    props = getattr(job, "properties", None) or {}
    try:
        start, end = (
            datetime.strptime(str(props[k]), "%Y-%m-%d %H:%M:%S") for k in ("StartTimeUtc", "EndTimeUtc")
        )
    except (KeyError, ValueError):
        return {"text": "not billed as far as Azure ML recorded: the job never started running"}
    seconds = max(0.0, (end - start).total_seconds())
    if getattr(job, "type", None) == "sweep":
        return {
            "seconds": seconds,
            "text": f"{seconds / 3600:.2f} h of sweep; each trial is billed as its own job",
        }
    resources = getattr(job, "resources", None)
    nodes = int(getattr(resources, "instance_count", None) or 1)
    compute_name = getattr(job, "compute", None)
    size, tier = getattr(resources, "instance_type", None), "dedicated"
    try:
        if compute_name:
            with translated(f"looking up compute {compute_name!r}"):
                info = compute_info(ml_client.compute.get(str(compute_name).split("/")[-1]))
            size, tier = info.size, "low_priority" if info.low_priority else "dedicated"
        sizes = vm_sizes(ml_client, workspace_location(ml_client))
    except AzureMLError as exc:  # decoration of the status: a failed look-up makes the price unknown
        cost = billed_cost(seconds, nodes, None, tier, size=size, unknown_reason=str(exc))
        return {**cost.to_dict(), "seconds": seconds, "text": billed_text(cost)}
    cost = billed_cost(seconds, nodes, sizes.get(str(size).lower()) if size else None, tier, size=size)
    return {**cost.to_dict(), "seconds": seconds, "text": billed_text(cost)}


def cancel_job(ml_client: Any, name: str) -> None:
    """Ask Azure ML to cancel job ``name`` and wait for the request to be accepted."""
    check_job_name(name)
    with translated(f"cancelling job {name}", not_found=JOB_NOT_FOUND):
        poller = ml_client.jobs.begin_cancel(name)
        if hasattr(poller, "result"):
            poller.result()


def download_target(name: str, output_dir: str | Path | None = None, *, force: bool = False) -> Path:
    """The folder ``download_job`` writes to; raise ConfigError when it cannot be used.

    Only looks, creates nothing: a path below a file, an existing file, an unwritable folder, or (unless
    ``force``) a folder that already holds files is refused here, before any workspace or Azure call.
    The download writes files of the same names over what is there, so a folder with files in it is the
    user's to give up explicitly (``--force``).
    """
    check_job_name(name)
    if output_dir is not None and not str(output_dir).strip():
        raise ConfigError("-o/--output: give a folder name (or leave -o out for ./downloads/NAME)")
    if "\0" in str(output_dir or ""):
        raise ConfigError(
            f"cannot download into {str(output_dir)!r}: it holds a NUL byte; pass -o with a folder"
        )
    target = Path(output_dir) if output_dir is not None else Path("downloads") / name
    try:
        existing = target
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        is_file = existing.exists() and not existing.is_dir()
        holds_files = existing == target and target.is_dir() and any(target.iterdir())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot download into {target}: {exc}; pass -o with a usable folder") from None
    if is_file:
        what = "is a file" if existing == target else f"is below {existing}, which is a file"
        raise ConfigError(f"cannot download into {target}: it {what}; pass -o with a folder")
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot download into {target}: {existing} is not writable; pass -o with a folder you can write to"
        )
    if holds_files and not force:
        raise ConfigError(
            f"cannot download into {target}: it already holds files, and the download would overwrite those "
            "of the same names; pass -o with a new or empty folder, or --force to download into it anyway"
        )
    return target


def download_job(
    ml_client: Any, name: str, output_dir: str | Path | None = None, *, force: bool = False
) -> Path:
    """Download job ``name``'s outputs and logs into ``output_dir`` (default ``./downloads/NAME``), which
    must be new or empty unless ``force`` (see :func:`download_target`).

    Folders it had to create are removed again if the download fails and they are still empty.
    """
    target = download_target(name, output_dir, force=force)
    created = _make_folder(target)
    try:
        with translated(f"downloading job {name}", not_found=JOB_NOT_FOUND):
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
    before = job_status(ml_client, name)["status"]
    if before in TERMINAL_STATES:
        print(
            f"azure-trainer: job {name} has ended ({before}): Azure ML streams only a running job's log; "
            f"`azure-trainer download {name}` saves its logs and outputs",
            file=sys.stderr,
        )
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

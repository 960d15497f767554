"""Submit a job: plan, build, preflight, then exactly one create call, and an honest account of it.

The job's name is chosen here, before the first request (:mod:`.naming`), so every retry sends the same
PUT and can never create a second job. When the create fails, the job is looked up by that name before
anything is reported: a create whose answer was lost, or that azure-ai-ml could not read, may still
have made the job.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from ..config.model import JobConfig
from ..errors import ApiUsageError, AzureMLError, PreflightError
from ..findings import Finding
from ..planning.spec import JobSpec, as_spec
from .cost import CostEstimate
from .errors import translated
from .lifecycle import status_text
from .naming import check_job_name, new_job_name


@dataclass
class SubmitResult:
    """What ``submit`` did: the job's name, Studio URL and status (``dry-run`` when nothing was created),
    the preflight findings, the cost estimate, and warnings about the submission itself."""

    name: str
    studio_url: str | None
    status: str
    findings: list[Finding] = field(default_factory=list)
    job_yaml: str | None = None
    cost: CostEstimate | None = None
    warnings: list[str] = field(default_factory=list)
    created: bool = True
    """False when a job of that name was there already (a retried submit): nothing was sent again."""

    @property
    def dry_run(self) -> bool:
        return self.status == "dry-run"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "studio_url": self.studio_url,
            "status": self.status,
            "findings": [
                {"severity": f.severity, "code": f.code, "message": f.message} for f in self.findings
            ],
            "cost": self.cost.to_dict() if self.cost is not None else None,
            "warnings": list(self.warnings),
            "created": self.created,
        }


def submit(
    job: JobSpec | JobConfig | str,
    ml_client: Any = None,
    *,
    dry_run: bool = False,
    preflight: bool = True,
    name: str | None = None,
    workspace: dict[str, str | None] | None = None,
    offline: Any = None,
) -> SubmitResult:
    """Preflight-check a planned ``job`` and submit it to Azure ML through ``ml_client``.

    ``ml_client=None`` builds the real client (workspace from ``workspace`` / environment / the job's
    ``workspace:`` / config.json; DefaultAzureCredential). ``dry_run`` runs every read-only step and returns the job's
    YAML instead of creating it. Raises :class:`PreflightError` when a check finds an error.

    With ``name``, a job of that name that exists already (the same job, submitted before: same
    experiment and command) is reported instead of submitted again, so a retried submit never makes a
    second job; a different job of that name is a ConfigError. ``offline`` is the
    :class:`~azure_trainer.checks.OfflineReport` already made for this job (the CLI runs those checks
    before signing in); without it preflight runs them itself.
    """
    from .build import build_job

    spec = as_spec(job, "submit")
    if name is not None and not isinstance(name, str):
        raise ApiUsageError(f"submit(name=...) takes a job name string, not {type(name).__name__}")
    if workspace is not None and not isinstance(workspace, dict):
        raise ApiUsageError(
            "submit(workspace=...) takes a dict with subscription_id, resource_group and name, "
            f"not {type(workspace).__name__}"
        )
    if ml_client is not None and not hasattr(ml_client, "jobs"):
        raise ApiUsageError(
            f"submit() takes an azure.ai.ml.MLClient (or None), not {type(ml_client).__name__}"
        )
    name = spec.name if name is None else name  # the job file may name the job; name="" is a bad name
    job_name = check_job_name(name) if name is not None else new_job_name(spec.experiment_name)
    azure_job = build_job(spec, name=job_name)
    opened: Any = contextlib.nullcontext(ml_client)  # a dry run without preflight needs no client
    if ml_client is None and (preflight or not dry_run):
        from .workspace import open_ml_client, resolve_workspace

        opened = open_ml_client(resolve_workspace(workspace, spec.workspace))
    with opened as client:
        return _submit(
            spec,
            client,
            azure_job,
            job_name,
            dry_run=dry_run,
            preflight=preflight,
            named=bool(name),
            offline=offline,
        )


def _submit(
    spec: JobSpec,
    ml_client: Any,
    azure_job: Any,
    job_name: str,
    *,
    dry_run: bool,
    preflight: bool,
    named: bool,
    offline: Any = None,
) -> SubmitResult:
    from .build import to_yaml
    from .preflight import format_findings, preflight_report

    if named and not dry_run:
        existing = _look_up(ml_client, job_name)
        if existing is not None and not isinstance(existing, _Unknown):
            return _already_submitted(spec, existing, job_name)
    report = preflight_report(spec, ml_client, offline=offline) if preflight else None
    findings = report.findings if report is not None else []
    cost = report.cost if report is not None else None
    errors = [f for f in findings if f.is_error]
    if errors:
        raise PreflightError(
            f"preflight found {len(errors)} error(s); nothing was submitted:\n{format_findings(findings)}",
            findings,
        )
    if dry_run:
        from ..secrets_guard import redact_yaml  # also what only the job's checks find (-p X, literals)

        yaml_text = redact_yaml(to_yaml(azure_job, allow=spec.preflight.allow), spec)
        return SubmitResult(job_name, None, "dry-run", findings, yaml_text, cost)

    if not preflight:  # the snapshot never leaves the code folder, checks or not
        _refuse_links_outside(spec)
    created, warnings = _create(ml_client, azure_job, job_name)
    return SubmitResult(
        name=getattr(created, "name", None) or job_name,
        studio_url=getattr(created, "studio_url", None),
        status=status_text(getattr(created, "status", None)) or "Submitted",
        findings=findings,
        cost=cost,
        warnings=warnings,
    )


def _refuse_links_outside(spec: JobSpec) -> None:
    """PreflightError when the code folder links out of itself: azure-ai-ml would follow the links and
    upload what they point to (run even with ``preflight=False``; ``preflight.skip`` may waive it)."""
    from .offline_findings import snapshot_findings

    if "snapshot-link-outside" in spec.preflight.skip:
        return
    from ..checks.offline import redact_findings

    found = [f for f in snapshot_findings(spec) if f.code == "snapshot-link-outside"]
    if found:
        raise PreflightError(
            f"nothing was submitted, even without preflight: {redact_findings(found, spec)[0].message}", found
        )


CREATE_ATTEMPTS = 3
"""Tries of the create when it failed on a transient fault before the job existed (a reset or a 429 on the
code upload, which neither azure-core nor azure-storage retries)."""
MAX_RETRY_AFTER_S = 120.0
"""The longest Retry-After honoured; a service asking for more is reported, not waited on."""
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _create(ml_client: Any, azure_job: Any, job_name: str) -> tuple[Any, list[str]]:
    """The create call, exactly once in effect; when it fails, what the service says exists under
    ``job_name`` decides what happens next: the job is there (done), it is not (retry a transient
    fault, bounded), or nobody can tell (say so, and how to check)."""
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            with translated(f"submitting job {job_name}"):
                return ml_client.jobs.create_or_update(azure_job), []
        except AzureMLError as exc:
            failure = exc
        # The PUT may have landed even though it failed here (a reset after the server stored it; an
        # answer azure-ai-ml cannot parse): the name is ours, so ask before anything else.
        found = _look_up(ml_client, job_name)
        if isinstance(found, _Unknown):
            raise AzureMLError(
                f"{failure}; asking Azure ML for job {job_name} failed too ({found.reason}), so it may have "
                f"been created: check with `azure-trainer status {job_name}`, and to try again without "
                f"risking a second job, resubmit with `--name {job_name}`"
            ) from failure
        if found is not None:
            if _is_transport_failure(failure):
                return found, []
            reason = str(failure).split(": ", 1)[-1]
            return found, [
                f"job {job_name} was created, but azure-ai-ml could not read Azure ML's answer ({reason}); "
                f"check it with `azure-trainer status {job_name}`"
            ]
        wait = _retry_wait(failure, attempt)
        if wait is None or attempt == CREATE_ATTEMPTS:
            break
        time.sleep(wait)
    if attempt > 1:
        raise AzureMLError(f"{failure} (tried {attempt} times)") from failure
    raise failure


def _retry_wait(failure: AzureMLError, attempt: int) -> float | None:
    """Seconds to wait before trying the create again, or None when this failure is not worth a retry.

    Connection faults and 408/429/5xx answers are transient, except a job PUT's: azure-core has retried
    those already (honouring Retry-After). The upload calls' are not retried below us: a reset on the
    POST ``startPendingUpload`` (azure-core retries only idempotent methods after a read error) and a 429
    on a blob call (azure-storage retries 5xx, not 429).
    """
    from azure.core.exceptions import HttpResponseError

    from .errors import transport_cause

    core = transport_cause(failure.__cause__)
    if core is None:
        return None
    if isinstance(core, HttpResponseError):
        response = getattr(core, "response", None)
        if core.status_code not in TRANSIENT_STATUS:
            return None
        request = getattr(response, "request", None)
        if request is not None and request.method == "PUT" and "/jobs/" in str(request.url):
            return None
        retry_after = _retry_after(response)
        if retry_after is not None:
            return retry_after if retry_after <= MAX_RETRY_AFTER_S else None
    return float(2 ** (attempt - 1))


def _retry_after(response: Any) -> float | None:
    """The answer's ``Retry-After`` in seconds (a number, or an HTTP date), or None."""
    from email.utils import parsedate_to_datetime

    value = (getattr(response, "headers", None) or {}).get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _already_submitted(spec: JobSpec, existing: Any, job_name: str) -> SubmitResult:
    """The result for a name that is taken: by this job (submitted before), or by another (an error)."""
    from ..errors import ConfigError

    status = status_text(getattr(existing, "status", None)) or "Submitted"
    experiment = getattr(existing, "experiment_name", None)
    command = getattr(existing, "command", None) if getattr(existing, "type", None) == "command" else None
    if not isinstance(existing, _Unreadable) and (
        experiment != spec.experiment_name or (command is not None and command != spec.command)
    ):
        raise ConfigError(
            f"job name {job_name!r} is taken by another job (experiment {experiment!r}, {status}); choose "
            "another --name, or leave it out for a new one"
        )
    return SubmitResult(
        name=job_name,
        studio_url=getattr(existing, "studio_url", None),
        status=status,
        warnings=[
            f"job {job_name} exists already ({status}): it was submitted before, so nothing was sent again"
        ],
        created=False,
    )


class _Unknown:
    """The service could not be asked whether the job exists."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Unreadable:
    """A job the service answered for, but that azure-ai-ml could not read back."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = "Submitted"
        self.studio_url = None


def _look_up(ml_client: Any, name: str) -> Any:
    """The job ``name`` as the service has it: the SDK's job, an :class:`_Unreadable` one when the service
    answered but the SDK could not parse it, None when it does not exist, :class:`_Unknown` when the
    service could not be asked (or answered an error other than 404)."""
    from azure.core.exceptions import ResourceNotFoundError

    from .errors import azure_ml_error

    try:
        return ml_client.jobs.get(name)
    except ResourceNotFoundError:
        return None
    except Exception as exc:
        if _is_service_answer(exc):
            return _Unknown(str(azure_ml_error("", exc)).lstrip(": "))
        return _Unreadable(name)  # the service answered 200 with a job the SDK cannot parse: it exists


def _is_service_answer(exc: BaseException | None) -> bool:
    """An HTTP error status, a failed connection or sign-in: the service did not hand back a job."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    return isinstance(
        exc, (HttpResponseError, ServiceRequestError, ServiceResponseError, ClientAuthenticationError)
    )


def _is_transport_failure(exc: AzureMLError) -> bool:
    return _is_service_answer(exc.__cause__)

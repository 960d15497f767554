"""Submit a job: plan, build, preflight, then exactly one create call, and an honest account of it.

The job's name is chosen here, before the first request (:mod:`.naming`), so every retry sends the same
PUT and can never create a second job. When the create fails, the job is looked up by that name before
anything is reported: a create whose answer was lost, or that azure-ai-ml could not read, may still
have made the job.
"""

from __future__ import annotations

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
        }


def submit(
    job: JobSpec | JobConfig | str,
    ml_client: Any = None,
    *,
    dry_run: bool = False,
    preflight: bool = True,
    name: str | None = None,
    workspace: dict[str, str | None] | None = None,
) -> SubmitResult:
    """Preflight-check a planned ``job`` and submit it to Azure ML through ``ml_client``.

    ``ml_client=None`` builds the real client (workspace from ``workspace`` / environment / the job's
    ``workspace:`` / config.json; DefaultAzureCredential). ``dry_run`` runs every read-only step and returns the job's
    YAML instead of creating it. Raises :class:`PreflightError` when a check finds an error.
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
    job_name = check_job_name(name) if name else new_job_name(spec.experiment)
    azure_job = build_job(spec, name=job_name)
    if ml_client is None and (preflight or not dry_run):
        from .workspace import open_ml_client, resolve_workspace

        with open_ml_client(resolve_workspace(workspace, spec.workspace)) as client:
            return _submit(spec, client, azure_job, job_name, dry_run=dry_run, preflight=preflight)
    return _submit(spec, ml_client, azure_job, job_name, dry_run=dry_run, preflight=preflight)


def _submit(
    spec: JobSpec, ml_client: Any, azure_job: Any, job_name: str, *, dry_run: bool, preflight: bool
) -> SubmitResult:
    from .build import to_yaml
    from .preflight import format_findings, preflight_report

    report = preflight_report(spec, ml_client) if preflight else None
    findings = report.findings if report is not None else []
    cost = report.cost if report is not None else None
    errors = [f for f in findings if f.is_error]
    if errors:
        raise PreflightError(
            f"preflight found {len(errors)} error(s); nothing was submitted:\n{format_findings(findings)}",
            findings,
        )
    if dry_run:
        yaml_text = to_yaml(azure_job, allow=spec.preflight.allow)
        return SubmitResult(job_name, None, "dry-run", findings, yaml_text, cost)

    created, warnings = _create(ml_client, azure_job, job_name)
    return SubmitResult(
        name=getattr(created, "name", None) or job_name,
        studio_url=getattr(created, "studio_url", None),
        status=status_text(getattr(created, "status", None)) or "Submitted",
        findings=findings,
        cost=cost,
        warnings=warnings,
    )


def _create(ml_client: Any, azure_job: Any, job_name: str) -> tuple[Any, list[str]]:
    """The one create call; when it fails, what the service says exists under ``job_name``."""
    try:
        with translated(f"submitting job {job_name}"):
            return ml_client.jobs.create_or_update(azure_job), []
    except AzureMLError as exc:
        failure = exc
    # The transport's retries are spent, or the SDK could not read the answer. The PUT may have landed
    # either way (a reset after the server stored it; an answer azure-ai-ml cannot parse): the name is
    # ours, so ask before reporting anything.
    found = _look_up(ml_client, job_name)
    if found is None:
        raise failure
    if _is_transport_failure(failure):
        return found, []
    reason = str(failure).split(": ", 1)[-1]
    return found, [
        f"job {job_name} was created, but azure-ai-ml could not read Azure ML's answer ({reason}); "
        f"check it with `azure-trainer status {job_name}`"
    ]


class _Unreadable:
    """A job the service answered for, but that azure-ai-ml could not read back."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = "Submitted"
        self.studio_url = None


def _look_up(ml_client: Any, name: str) -> Any:
    """The job ``name`` as the service has it: the SDK's job, an :class:`_Unreadable` one when the service
    answered but the SDK could not parse it, or None when it does not exist (or the look-up failed)."""
    try:
        return ml_client.jobs.get(name)
    except Exception as exc:
        if _is_service_answer(exc):  # 404, or the service could not be asked: "not known to exist"
            return None
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

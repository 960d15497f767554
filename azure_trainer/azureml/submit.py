"""Submit a job: plan, build, preflight, then exactly one create call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config.model import JobConfig
from ..errors import ApiUsageError, AzureMLError, PreflightError
from ..findings import Finding
from ..planning.spec import JobSpec, as_spec
from .errors import translated
from .lifecycle import status_text
from .naming import check_job_name, new_job_name


@dataclass
class SubmitResult:
    """What ``submit`` did: the job's name, Studio URL and status (``dry-run`` when nothing was created)."""

    name: str
    studio_url: str | None
    status: str
    findings: list[Finding] = field(default_factory=list)
    job_yaml: str | None = None

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
    from .build import build_job, to_yaml
    from .preflight import format_findings
    from .preflight import preflight as run_preflight

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
    name = name or spec.name  # the job file may name the job
    job_name = check_job_name(name) if name else new_job_name(spec.experiment_name)
    azure_job = build_job(spec, name=job_name)
    if ml_client is None and (preflight or not dry_run):
        from .workspace import make_ml_client, resolve_workspace

        ml_client = make_ml_client(resolve_workspace(workspace, spec.workspace))

    findings: list[Finding] = run_preflight(spec, ml_client) if preflight else []
    errors = [f for f in findings if f.is_error]
    if errors:
        raise PreflightError(
            f"preflight found {len(errors)} error(s); nothing was submitted:\n{format_findings(findings)}",
            findings,
        )
    if dry_run:
        return SubmitResult(
            job_name, None, "dry-run", findings, to_yaml(azure_job, allow=spec.preflight.allow)
        )

    try:
        with translated(f"submitting job {job_name}"):
            created = ml_client.jobs.create_or_update(azure_job)
    except AzureMLError:
        # The transport's retries are spent. The PUT may still have landed (a reset after the server
        # accepted it): the name is ours, so ask before reporting failure.
        created = _existing(ml_client, job_name)
        if created is None:
            raise
    return SubmitResult(
        name=getattr(created, "name", job_name),
        studio_url=getattr(created, "studio_url", None),
        status=status_text(getattr(created, "status", None)) or "Submitted",
        findings=findings,
    )


def _existing(ml_client: Any, name: str) -> Any:
    try:
        return ml_client.jobs.get(name)
    except Exception:  # any failure here means "not known to exist": the original error is reported
        return None

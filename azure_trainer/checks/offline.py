"""Every check that needs no Azure, run before any sign-in: by ``validate`` and at the start of ``submit``.

Secrets in environment variables, arguments and input paths; the code snapshot (size, file count,
ignore files, credential files, links out of the folder); a local environment file against ``use_gpu``
and against this machine's torch; the job's options against the script's ``--help``. A ``{gpu, cpu}``
job is checked on both sides: the side that runs decides, the other side's problems are warnings, so a
``--cpu`` run next week does not fail on a mistake made today. What needs the workspace (the compute and
its VM size, quota, cost, workspace and registry environments) is listed as not run.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from ..findings import Finding
from ..planning.spec import JobSpec
from .environment_file import check_environment_file
from .script_args import check_script_args

WORKSPACE_CHECKS = (
    "the compute and its VM size (GPUs, nodes)",
    "core quota",
    "the price per hour",
    "workspace and registry environments",
)
"""What only the workspace can answer: run by ``submit`` (and ``submit --dry-run``) after sign-in."""


@dataclass
class OfflineReport:
    """The offline findings of a job (the running side's, then the other side's as warnings)."""

    findings: list[Finding] = field(default_factory=list)
    not_run: tuple[str, ...] = WORKSPACE_CHECKS

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]


def offline_checks(
    spec: JobSpec, other: JobSpec | None = None, *, python: str | None = None, snapshot: bool = True
) -> OfflineReport:
    """Run every offline check on ``spec`` (and ``other``, the job's other ``use_gpu`` side, whose errors
    become warnings); codes in ``preflight.skip`` are dropped. ``snapshot=False`` leaves the code snapshot
    out."""
    python = python or sys.executable
    findings = _checks_of(spec, python, snapshot=snapshot)
    if other is not None:
        seen = {(f.code, f.message) for f in findings}
        side = "GPU" if other.use_gpu else "CPU"
        findings += [
            dataclasses.replace(
                f, severity="warning", message=f"on the {side} side (--{side.lower()}): {f.message}"
            )
            for f in _checks_of(other, python, with_spec_wide=False)
            if (f.code, f.message) not in seen
        ]
    skip = set(spec.preflight.skip)
    return OfflineReport(redact_findings([f for f in findings if f.code not in skip], spec))


def redact_findings(findings: list[Finding], spec: JobSpec) -> list[Finding]:
    """``findings`` with every message through the one redaction (a finding that quotes the command, such
    as ``unknown-script-arg``'s option, may quote a secret with it)."""
    from ..secrets_guard import redact_text

    return [dataclasses.replace(f, message=redact_text(f.message, spec)) for f in findings]


def _checks_of(
    spec: JobSpec, python: str, *, with_spec_wide: bool = True, snapshot: bool = True
) -> list[Finding]:
    """The checks of one side; the ones that do not depend on the side (secrets, snapshot, the script's
    options) run once, on the running side."""
    checks: list[Callable[[], list[Finding]]] = [lambda: check_environment_file(spec)]
    if with_spec_wide:
        checks = [lambda: _secrets(spec), *([lambda: _snapshot(spec)] if snapshot else []), *checks]
        if "unknown-script-arg" not in spec.preflight.skip:
            checks.append(lambda: check_script_args(spec, python))
    return [finding for check in checks for finding in check()]


def _secrets(spec: JobSpec) -> list[Finding]:
    from ..secrets_guard import check_job_secrets

    return check_job_secrets(spec)  # environment, the command line in every form, literal inputs, input paths


def _snapshot(spec: JobSpec) -> list[Finding]:
    """The code snapshot: size, files, the ignore file, links out of the code folder, credential files."""
    from ..azureml.offline_findings import snapshot_findings

    return snapshot_findings(spec)

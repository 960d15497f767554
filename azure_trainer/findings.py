"""A preflight finding: one problem found before anything is paid for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One preflight result: ``severity`` error stops a submission, warning does not.

    ``code`` is short and stable (e.g. ``gpu-on-cpu-vm``) so scripts and ``allow`` lists can name it;
    ``message`` says what is wrong and how to fix it.
    """

    severity: Severity
    code: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        """A finding back from its ``--json`` form (``dataclasses.asdict``)."""
        return cls(data["severity"], data["code"], data["message"])


#: Every code a preflight finding can carry (what ``preflight: {skip: [...]}`` may name). Kept here, away
#: from the checks, so ``validate`` can check a config's ``skip`` list without importing azure.ai.ml;
#: tests/test_config.py checks it against the codes the checks really emit.
FINDING_CODES = (
    # compute, VM size and quota (azureml/preflight.py, azureml/quota.py)
    "compute-not-found",
    "compute-size-unknown",
    "vm-size-unknown",
    "instance-type-unknown",
    "gpu-on-cpu-vm",
    "idle-gpus",
    "too-many-processes",
    "too-many-nodes",
    "quota-exceeded",
    "quota",
    "quota-unknown",
    "preemptible-without-checkpoint",
    # what it costs (azureml/cost.py)
    "no-timeout",
    "cost-over-limit",
    "cost-unknown",
    # environment (azureml/preflight.py; a local environment file: checks/environment_file.py)
    "environment-invalid",
    "environment-not-found",
    "cpu-environment",
    "environment-device-unknown",
    "cuda-environment-on-cpu",
    # secrets in environment variables, arguments, literal inputs and input paths (secrets_guard/)
    "secret-in-env",
    "possible-secret-in-env",
    "secret-in-args",
    "possible-secret-in-args",
    "secret-in-input-path",
    # the code snapshot (azureml/snapshot.py, azureml/credential_files.py)
    "code-missing",
    "snapshot-ignore-invalid",
    "snapshot-too-large",
    "snapshot-large",
    "snapshot-too-many-files",
    "snapshot-symlink-loop",
    "snapshot-broken-link",
    "snapshot-link-outside",
    "snapshot-special-file",
    "snapshot-credential-file",
    "snapshot-scan-incomplete",
    # offline: the script's options, the environment file, the other use_gpu side (checks/, cli/validate.py)
    "unknown-script-arg",
    "script-arg-abbreviated",
    "script-args-unchecked",
    "torch-version-mismatch",
    "other-side-invalid",
)

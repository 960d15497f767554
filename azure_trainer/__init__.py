"""azure-trainer: bring back ``use_gpu`` for PyTorch jobs on Azure ML (SDK v2).

The flow, and the public API (imported lazily, so ``import azure_trainer`` stays cheap)::

    config = load_config("jobs/digits.yaml", overrides=["args.epochs=3"], use_gpu=True)   # config/
    spec = plan(config)                          # planning/: the one resolved JobSpec, pure
    result = run_local(spec)                     # local/: same command, args and env, on this machine
    job = build_job(spec)                        # azureml/: azure.ai.ml Command (or SweepJob); no network
    findings = preflight(spec, ml_client)        # azureml/: read-only checks before paying
    result = submit(spec, ml_client=None)        # azureml/: preflight + one create call

Every backend consumes a JobSpec; each also accepts a JobConfig or a job file's path and plans it once.
Errors: see :mod:`azure_trainer.errors` (one root, ``AzureTrainerError``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiUsageError, AzureMLError, AzureTrainerError, ConfigError, LocalRunError, PreflightError
from .findings import Finding

__version__ = "0.1.0"

__all__ = [
    "ApiUsageError",
    "AzureMLError",
    "AzureTrainerError",
    "ConfigError",
    "Finding",
    "JobConfig",
    "JobSpec",
    "LocalRunError",
    "LocalRunResult",
    "PreflightError",
    "SubmitResult",
    "build_job",
    "load_config",
    "plan",
    "preflight",
    "run_local",
    "run_local_sweep",
    "submit",
    "to_yaml",
]

_LAZY = {
    "JobConfig": "azure_trainer.config.model",
    "load_config": "azure_trainer.config.loader",
    "JobSpec": "azure_trainer.planning.spec",
    "plan": "azure_trainer.planning.spec",
    "build_job": "azure_trainer.azureml.build",
    "to_yaml": "azure_trainer.azureml.build",
    "run_local": "azure_trainer.local.runner",
    "run_local_sweep": "azure_trainer.local.sweeps",
    "LocalRunResult": "azure_trainer.local.runner",
    "preflight": "azure_trainer.azureml.preflight",
    "submit": "azure_trainer.azureml.submit",
    "SubmitResult": "azure_trainer.azureml.submit",
}

if TYPE_CHECKING:  # pragma: no cover
    from .azureml.build import build_job, to_yaml
    from .azureml.preflight import preflight
    from .azureml.submit import SubmitResult, submit
    from .config.loader import load_config
    from .config.model import JobConfig
    from .local.runner import LocalRunResult, run_local
    from .local.sweeps import run_local_sweep
    from .planning.spec import JobSpec, plan


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'azure_trainer' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

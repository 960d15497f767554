"""Local runs: the job's exact command on this machine (``azure-trainer run-local``).

    from azure_trainer.config import load_config
    from azure_trainer.local import run_local

    result = run_local(load_config("jobs/digits.yaml", ["args.epochs=2"]))
    result.exit_code, result.run_dir, result.final_metrics.get("test_accuracy")

Imports neither torch nor azure.ai.ml (torch is imported lazily to detect CUDA for use_gpu jobs).
"""

from .runner import Attempt, LocalRunResult, Rehearsal, parse_input_args, run_local
from .sweeps import LocalSweepResult, TrialResult, run_local_sweep

__all__ = [
    "Attempt",
    "LocalRunResult",
    "LocalSweepResult",
    "Rehearsal",
    "TrialResult",
    "parse_input_args",
    "run_local",
    "run_local_sweep",
]

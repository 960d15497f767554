"""The contract between azure-trainer (the submitter) and a training script.

This module is the one place where it is written down; README.md's "The use_gpu contract" section
mirrors it, and train_scripts/ carries its own copy of the constants (it is uploaded on its own and
cannot import azure_trainer). tests/test_contract.py keeps the copies equal.

Environment variables set on every job, local or on Azure ML:
    AZURE_TRAINER_REQUIRE_GPU   "1" when the job has ``use_gpu: true``, "0" otherwise. A script that sees
                                "1" and no CUDA device must stop at once with EXIT_NO_GPU.
    AZURE_TRAINER_USE_GPU       same value; the plain "which flavour was asked for" switch, for scripts
                                that want to choose defaults (e.g. DataLoader workers) from it.

Set on sweep jobs (every trial, local or on Azure ML):
    AZURE_TRAINER_OBJECTIVE_METRIC  the sweep's ``objective.metric``. The sweep ranks trials (and early
                                    termination stops them) by this MLflow metric, so a script that does not
                                    log a metric of that name must stop at once with EXIT_USAGE instead of
                                    running every trial blind.

Set only by ``run-local --preempt-at-step N`` (the preemption rehearsal):
    AZURE_TRAINER_PREEMPT_AT_STEP  the script sends itself SIGTERM when it reaches optimizer step N, so
                                   the rehearsal exercises the real SIGTERM handler at an exact step.

Set by Azure ML's PyTorch distribution (and by ``run-local`` through torchrun): RANK, WORLD_SIZE,
LOCAL_RANK, NODE_RANK, MASTER_ADDR, MASTER_PORT.

Exit codes of the reference script (train_scripts/train.py):
    0   finished
    2   bad command line (argparse), or an AZURE_TRAINER_OBJECTIVE_METRIC the script does not log
    75  preempted: SIGTERM was received, a checkpoint was written; run it again to resume (EX_TEMPFAIL)
    78  a GPU was required and no CUDA device is visible (EX_CONFIG)
"""

from __future__ import annotations

REQUIRE_GPU_ENV = "AZURE_TRAINER_REQUIRE_GPU"
USE_GPU_ENV = "AZURE_TRAINER_USE_GPU"
PREEMPT_AT_STEP_ENV = "AZURE_TRAINER_PREEMPT_AT_STEP"
OBJECTIVE_METRIC_ENV = "AZURE_TRAINER_OBJECTIVE_METRIC"
STATUS_FILE_ENV = "AZURE_TRAINER_STATUS_FILE"

EVENT_DEVICE = "device"
EVENT_GPU_MISSING = "gpu_missing"
EVENT_START = "start"
EVENT_METRICS = "metrics"
EVENT_PREEMPTED = "preempted"
EVENT_FINISHED = "finished"

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PREEMPTED = 75
EXIT_NO_GPU = 78

DISTRIBUTED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")


def contract_env(use_gpu: bool, objective_metric: str | None = None) -> dict[str, str]:
    """The environment variables azure-trainer adds to a job: the ``use_gpu`` flags, and for a sweep
    the objective metric its trials must log."""
    flag = "1" if use_gpu else "0"
    env = {REQUIRE_GPU_ENV: flag, USE_GPU_ENV: flag}
    if objective_metric:
        env[OBJECTIVE_METRIC_ENV] = objective_metric
    return env

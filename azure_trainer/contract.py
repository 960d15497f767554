"""The contract between azure-trainer (the submitter) and a training script.

This module is the one place where it is written down; README.md's "The use_gpu contract" section
mirrors it, and train_scripts/contract.py carries the script's copy of the constants (it is uploaded on
its own and cannot import azure_trainer) with the helper that honours them. tests/test_contract.py
keeps the copies equal. The contract is the command line, the environment variables below, the exit
codes and one machine-readable status channel; nothing depends on the script's human-readable log.

Environment variables set on every job, local or on Azure ML:
    AZURE_TRAINER_REQUIRE_GPU   "1" when the job has ``use_gpu: true``, "0" otherwise. A script that sees
                                "1" and no CUDA device must stop at once with EXIT_NO_GPU.

Set on sweep jobs (every trial, local or on Azure ML):
    AZURE_TRAINER_OBJECTIVE_METRIC  the sweep's ``objective.primary_metric``. The sweep ranks trials (and early
                                    termination stops them) by this MLflow metric, so a script that does not
                                    log a metric of that name must stop at once with EXIT_USAGE instead of
                                    running every trial blind.

Set only by ``run-local --preempt-at-step N`` (the preemption rehearsal):
    AZURE_TRAINER_PREEMPT_AT_STEP  the script sends itself SIGTERM when it reaches optimizer step N, so
                                   the rehearsal exercises the real SIGTERM handler at an exact step.

Set by ``run-local`` (the local runner reads it back; Azure ML jobs do not get it):
    AZURE_TRAINER_STATUS_FILE   a path. The script appends one JSON object per line to it (UTF-8; opened
                                with O_APPEND, each record written with one os.write of one line, so the
                                ranks of a torchrun job never interleave; a failed write is one warning,
                                never fatal). Every record has "event" (one of STATUS_EVENTS), "rank" (int,
                                the global RANK, 0 when not distributed) and "time" (unix seconds, float):
        {"event": "device", "device": "cuda"|"cpu"|"mps", "name": STR, "gpu_required": BOOL}
              every process, once, after it chose its device;
        {"event": "gpu_missing"}
              right before exiting EXIT_NO_GPU (a GPU was required and none is visible);
        {"event": "start", "resumed_from_step": N[, "checkpoint": PATH]}
              rank 0, once training state is ready: N = 0 on a fresh start; PATH when resumed;
        {"event": "metrics", "step": N, "values": {NAME: FLOAT, ...}}
              rank 0, whenever metrics are logged (non-finite values are left out: JSON has no NaN);
        {"event": "preempted", "step": N, "checkpoint": PATH}
              rank 0, before exiting EXIT_PREEMPTED on SIGTERM;
        {"event": "finished", "step": N}
              rank 0, at a normal end.

Set by ``run-local`` on distributed jobs (a script should use it as its process group's timeout):
    AZURE_TRAINER_COLLECTIVE_TIMEOUT_S  seconds (default 300; the job's environment_variables may set it).
                                        Once a rank has exited, ranks still running this much later are
                                        hung in a collective: run-local reports them as hung and stops the
                                        job, instead of waiting for gloo's 30-minute default.

Set by Azure ML's PyTorch distribution (and by ``run-local`` through torchrun, one agent per node): RANK,
WORLD_SIZE, LOCAL_RANK, NODE_RANK, MASTER_ADDR, MASTER_PORT.

Exit codes (the reference script's, and the helper's):
    0   finished
    2   bad command line (argparse), an AZURE_TRAINER_OBJECTIVE_METRIC the script does not log, more
        processes on a machine than it has GPUs, or an unwritable checkpoint folder
    75  preempted: SIGTERM was received, a checkpoint was written; run it again to resume (EX_TEMPFAIL)
    78  a GPU was required and no CUDA device is visible (EX_CONFIG)
"""

from __future__ import annotations

REQUIRE_GPU_ENV = "AZURE_TRAINER_REQUIRE_GPU"
PREEMPT_AT_STEP_ENV = "AZURE_TRAINER_PREEMPT_AT_STEP"
OBJECTIVE_METRIC_ENV = "AZURE_TRAINER_OBJECTIVE_METRIC"
STATUS_FILE_ENV = "AZURE_TRAINER_STATUS_FILE"
COLLECTIVE_TIMEOUT_ENV = "AZURE_TRAINER_COLLECTIVE_TIMEOUT_S"
DEFAULT_COLLECTIVE_TIMEOUT_S = 300.0

EVENT_DEVICE = "device"
EVENT_GPU_MISSING = "gpu_missing"
EVENT_START = "start"
EVENT_METRICS = "metrics"
EVENT_PREEMPTED = "preempted"
EVENT_FINISHED = "finished"
STATUS_EVENTS = (EVENT_DEVICE, EVENT_GPU_MISSING, EVENT_START, EVENT_METRICS, EVENT_PREEMPTED, EVENT_FINISHED)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PREEMPTED = 75
EXIT_NO_GPU = 78

DISTRIBUTED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")


def contract_env(use_gpu: bool, objective_metric: str | None = None) -> dict[str, str]:
    """The environment variables azure-trainer adds to a job: the ``use_gpu`` flag, and for a sweep
    the objective metric its trials must log."""
    env = {REQUIRE_GPU_ENV: "1" if use_gpu else "0"}
    if objective_metric:
        env[OBJECTIVE_METRIC_ENV] = objective_metric
    return env

"""The contract between azure-trainer (the submitter) and this script.

A copy of azure_trainer/contract.py's constants: this folder is uploaded as the job's code snapshot on
its own and cannot import azure_trainer. A test in the repository keeps the two copies equal.
"""

REQUIRE_GPU_ENV = "AZURE_TRAINER_REQUIRE_GPU"
USE_GPU_ENV = "AZURE_TRAINER_USE_GPU"
PREEMPT_AT_STEP_ENV = "AZURE_TRAINER_PREEMPT_AT_STEP"
OBJECTIVE_METRIC_ENV = "AZURE_TRAINER_OBJECTIVE_METRIC"

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PREEMPTED = 75
EXIT_NO_GPU = 78

DISTRIBUTED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")

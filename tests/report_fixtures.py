"""Run and sweep folders as run-local writes them (``run.json``, ``sweep.json``, ``trial-NNN/run.json``),
made in a temporary folder for the report tests.

The shapes follow what ``azure-trainer run-local`` wrote for ``jobs/digits-sweep.yaml`` (4 random
trials of the reference script, 4 epochs): the same keys and the same kind of values, with the metric
values made up so that the best trial and the curves are known.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

EPOCHS = 4
STEPS_PER_EPOCH = 19


def history(accuracy_at_end: float, loss_at_end: float) -> list[dict[str, Any]]:
    """A reference-script-like history: per epoch train/val loss and accuracy, then the test metrics."""
    rows = []
    for epoch in range(1, EPOCHS + 1):
        step = epoch * STEPS_PER_EPOCH
        frac = epoch / EPOCHS
        rows += [
            {"metric": "train_loss", "step": step, "value": 2.3 - (2.3 - loss_at_end) * frac},
            {"metric": "val_loss", "step": step, "value": 2.4 - (2.4 - loss_at_end) * frac},
            {"metric": "val_accuracy", "step": step, "value": 0.1 + (accuracy_at_end - 0.1) * frac},
        ]
    rows += [
        {"metric": "test_loss", "step": EPOCHS * STEPS_PER_EPOCH, "value": loss_at_end},
        {"metric": "test_accuracy", "step": EPOCHS * STEPS_PER_EPOCH, "value": accuracy_at_end - 0.01},
    ]
    return rows


def run_json(run_dir: Path, rows: list[dict[str, Any]], exit_code: int = 0, **extra: Any) -> dict[str, Any]:
    final = {}
    for row in rows:
        final[row["metric"]] = row["value"]
    data = {
        "exit_code": exit_code,
        "run_dir": str(run_dir),
        "duration_s": 32.9,
        "device": "cpu",
        "final_metrics": final,
        "command": 'python train.py --epochs 4 --lr "${AZT_INPUTS_lr}"',
        "launcher": ["bash", "-c", "python train.py --epochs 4"],
        "nproc": 1,
        "distributed": False,
        "resumed_from_step": 0,
        "preemption": None,
        "attempts": [{"number": 1, "exit_code": exit_code, "duration_s": 32.9, "device": "cpu"}],
        "warnings": [],
        "interrupted": False,
        "time_limit_s": 1200.0,
        "timed_out": False,
        "device_visible": "cpu",
        "gpu_requirement_ignored": False,
        "metric_history": rows,
        "metrics_source": "mlflow",
        "mlflow_run_id": "ef9a485bd8134fd4b1a6ecf384859019",
        "mlflow_store": str(run_dir.parent / "mlruns"),
        "test_accuracy": final.get("test_accuracy"),
        "resumed": False,
    }
    data.update(extra)
    return data


def make_run(folder: Path, accuracy: float = 0.97, loss: float = 0.2, **extra: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps(run_json(folder, history(accuracy, loss), **extra), indent=2))
    (folder / "log.txt").write_text("[run-local] run folder\n")
    return folder


TRIALS = [  # (params, val_accuracy at the end or None for a failed trial)
    ({"lr": 0.005795, "width": 32, "batch-size": 64}, 0.974),
    ({"lr": 0.0007437, "width": 64, "batch-size": 128}, 0.9703),
    ({"lr": 0.001241, "width": 32, "batch-size": 128}, 0.9257),
    ({"lr": 0.0003, "width": 16, "batch-size": 256}, None),
]


def make_sweep(folder: Path) -> Path:
    """A 4-trial sweep folder: three finished (best: trial 0) and one that failed with exit 1."""
    folder.mkdir(parents=True, exist_ok=True)
    trials = []
    for index, (params, accuracy) in enumerate(TRIALS):
        run_dir = folder / f"trial-{index:03d}"
        if accuracy is None:
            make_run(run_dir, 0.1, 2.3, exit_code=1)
            trials.append(
                {
                    "index": index,
                    "params": params,
                    "exit_code": 1,
                    "objective": None,
                    "run_dir": str(run_dir),
                    "duration_s": 3.2,
                    "error": None,
                }
            )
        else:
            make_run(run_dir, accuracy, 1 - accuracy)
            trials.append(
                {
                    "index": index,
                    "params": params,
                    "exit_code": 0,
                    "objective": accuracy,
                    "run_dir": str(run_dir),
                    "duration_s": 30.0 + index,
                    "error": None,
                }
            )
    sweep = {
        "metric": "val_accuracy",
        "goal": "maximize",
        "sampling": "random",
        "sweep_dir": str(folder),
        "best_trial": 0,
        "trials": trials,
    }
    (folder / "sweep.json").write_text(json.dumps(sweep, indent=2))
    return folder


# benchmarks/*.py --json output, shaped as the scripts on main write it (values from a 2-core CPU run)
TRAIN_BENCH = {
    "gpu_available": True,
    "note": None,
    "setting": {
        "dataset": "synthetic",
        "image": "3x32x32",
        "batch_size": 1024,
        "width": 32,
        "depth": 3,
        "quick": False,
    },
    "machine": "x86_64, 16 CPUs, torch 2.13.0",
    "devices": {
        "cpu": {
            "device": "cpu",
            "name": "x86_64",
            "precision": "fp32",
            "samples_per_second": 498.0,
            "step_time_s": 2.06,
            "flops_per_step": 61.6e9,
            "achieved_tflops": 0.030,
            "peak_tflops": 0.16,
            "mfu": 0.187,
        },
        "cuda": {
            "device": "cuda:0",
            "name": "NVIDIA H200",
            "precision": "bf16",
            "samples_per_second": 61000.0,
            "step_time_s": 0.0168,
            "flops_per_step": 61.6e9,
            "achieved_tflops": 3.67,
            "peak_tflops": 989.0,
            "mfu": 0.0037,
        },
    },
    "gpu_vs_cpu_speedup": 122.5,
    "wall_time_s": 80.1,
}
CLI_STARTUP = {
    "goal": 0.15,
    "runs": 5,
    "python": "3.11.7",
    "results": [
        {
            "command": "python -c 'import azure.ai.ml' (baseline)",
            "median_s": 1.359,
            "min_s": 1.268,
            "ratio": 1.0,
            "checked": False,
            "met": None,
        },
        {
            "command": "azure-trainer --help",
            "median_s": 0.048,
            "min_s": 0.047,
            "ratio": 0.036,
            "checked": True,
            "met": True,
        },
        {
            "command": "azure-trainer validate jobs/digits.yaml",
            "median_s": 0.174,
            "min_s": 0.171,
            "ratio": 0.128,
            "checked": True,
            "met": True,
        },
    ],
}


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes, to count charts, points and rows."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in a.get("class", "").split())]

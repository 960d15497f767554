"""benchmarks/loop_bench.py and benchmarks/train_bench.py in their tiny settings: real runs, real numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRAIN_DISABLE_MLFLOW": "1"}
    env.pop("AZURE_TRAINER_REQUIRE_GPU", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_loop_bench_quick_reports_both_loops(tmp_path):
    out = tmp_path / "loop.json"
    r = run("loop_bench.py", "--quick", "--device", "cpu", "--threads", "1", "--json", str(out))
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert res["textbook_samples_per_second"] > 0 and res["optimised_samples_per_second"] > 0
    assert res["ratio"] == pytest.approx(
        res["optimised_samples_per_second"] / res["textbook_samples_per_second"]
    )
    assert res["device"] == "cpu" and res["dataset"] == "digits"
    assert "| device | textbook samples/s | optimised samples/s | ratio |" in r.stdout


@pytest.mark.slow
def test_train_bench_quick_cpu_columns_and_no_gpu_note(tmp_path):
    out = tmp_path / "train.json"
    r = run("train_bench.py", "--quick", "--threads", "1", "--json", str(out))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    cpu = rep["devices"]["cpu"]
    for key in (
        "samples_per_second",
        "step_time_s",
        "flops_per_step",
        "achieved_tflops",
        "peak_tflops",
        "mfu",
        "optimised_vs_textbook_ratio",
        "train_time_s",
        "final_test_accuracy",
    ):
        assert cpu[key] > 0, key
    assert cpu["precision"] == "fp32" and "estimate" in cpu["peak_source"]
    assert "time_to_98_val_accuracy_s" in cpu  # None in --quick (2 epochs rarely reach 98%)
    assert 0 < cpu["final_test_accuracy"] <= 1
    # One training step's FLOPs: forward + backward of SmallCNN at batch 128 on 3x32x32 is ~7.7 GFLOP.
    assert 5e9 < cpu["flops_per_step"] < 1e10
    if not torch.cuda.is_available():
        assert rep["gpu_available"] is False and "cuda" not in rep["devices"]
        assert rep["gpu_vs_cpu_speedup"] is None
        assert "no CUDA device" in rep["note"] and "no GPU here" in r.stdout


def test_seed_accuracy_reports_each_seed_and_the_mean(tmp_path):
    out = tmp_path / "seeds.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "seed_accuracy.py"),
            "--seeds",
            "2",
            "--json",
            str(out),
            "--",
            "--epochs",
            "1",
            "--max-steps",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert [r["seed"] for r in data["runs"]] == [0, 1]
    accs = [r["test_accuracy"] for r in data["runs"]]
    assert all(0.0 < a <= 1.0 for a in accs)
    assert abs(data["mean_test_accuracy"] - sum(accs) / 2) < 1e-9
    assert "mean test accuracy" in proc.stdout

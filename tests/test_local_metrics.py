"""Local runs read what the script logged where Azure ML reads it (MLflow), and verify the GPU contract.

Scripts here are not the reference script: a plain argparse + MLflow script, one that ignores the GPU
requirement, one that reports through the status channel by hand.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from azure_trainer import load_config, plan
from azure_trainer.cli import main
from azure_trainer.local.execute import execute
from azure_trainer.local.metrics import from_jsonl, from_status
from azure_trainer.local.prepare import Host, LocalOptions, prepare
from azure_trainer.local.status import ScriptStatus, read_status

FIX = Path(__file__).resolve().parent / "fixtures" / "local"
mlflow = pytest.importorskip("mlflow")  # a dev dependency (mlflow-skinny)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)


def _client(store: Path):
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store.as_uri())


@pytest.mark.slow
def test_a_plain_mlflow_script_gets_its_run_named_and_its_metrics_read_back(capsys, tmp_path):
    code = main(["run-local", str(FIX / "mlflow.yaml"), "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 0, err
    data = json.loads((tmp_path / "r" / "run.json").read_text())
    assert data["metrics_source"] == "mlflow"
    assert data["final_metrics"] == {"accuracy": 0.6, "loss": pytest.approx(1 / 3)}
    assert [r["value"] for r in data["metric_history"] if r["metric"] == "accuracy"] == [
        pytest.approx(0.5 + 0.1 * k / 3) for k in (1, 2, 3)
    ]
    # the run lives where Azure ML would put it: the job's experiment, named after the run folder
    client = _client(tmp_path / "r" / "mlruns")
    run = client.get_run(data["mlflow_run_id"])
    assert client.get_experiment(run.info.experiment_id).name == "local-mlflow"
    assert run.info.run_name == "r" and run.info.status == "FINISHED" and run.data.params == {"lr": "0.1"}
    summary = next(line for line in err.splitlines() if line.startswith("metrics:"))
    assert "loss 0.3333" in summary and "accuracy 0.6" in summary and summary.endswith("[mlflow]")


SWEEP = """\
type: sweep
experiment_name: local-mlflow-sweep
trial:
  code: {code}
  script: log_mlflow.py
  args: {{epochs: 2, lr: "${{{{search_space.lr}}}}"}}
  environment: azureml:test-env:1
sampling_algorithm: grid
search_space:
  lr: {{type: choice, values: [0.1, 0.3, 0.2]}}
objective: {{primary_metric: accuracy, goal: maximize}}
limits: {{max_total_trials: 3, max_concurrent_trials: 1}}
"""


@pytest.mark.slow
def test_a_local_sweep_is_one_parent_run_with_a_child_per_trial_ranked_by_the_mlflow_metric(capsys, tmp_path):
    job = tmp_path / "sweep.yaml"
    job.write_text(SWEEP.format(code=FIX / "scripts"))
    code = main(["run-local", str(job), "--run-dir", str(tmp_path / "s"), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    (best,) = [t for t in result["trials"] if t["index"] == result["best_trial"]]
    assert best["params"] == {"lr": 0.3} and best["objective"] == pytest.approx(0.8)
    client = _client(tmp_path / "s" / "mlruns")
    (experiment,) = [e for e in client.search_experiments() if e.name == "local-mlflow-sweep"]
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert sorted(c.data.metrics["accuracy"] for c in children) == pytest.approx([0.6, 0.7, 0.8])
    assert sorted(c.info.run_name for c in children) == ["trial-000", "trial-001", "trial-002"]


def _host(**facts) -> Host:
    return Host(python=sys.executable, environ=dict(os.environ), cpu_count=2, **facts)


def _spec(name: str, *overrides: str, use_gpu: bool | None = None):
    return plan(load_config(FIX / name, list(overrides), use_gpu=use_gpu))


@pytest.mark.slow
def test_a_script_that_ignores_the_gpu_requirement_fails_the_run(tmp_path):
    """--strict-device on a machine without a GPU: the script is told a GPU is required; it finishes anyway."""
    spec = _spec("fail.yaml", "script=finishes_anyway.py", "compute=gpu-cluster", use_gpu=True)
    launch = prepare(spec, LocalOptions(strict_device=True), _host(cuda=False), tmp_path)
    result = execute(launch, stream=False)
    assert result.attempts[0].exit_code == 0  # the script itself "succeeded"...
    assert result.exit_code == 1 and result.gpu_requirement_ignored  # ...which is the failure
    log = (tmp_path / "log.txt").read_text()
    assert "AZURE_TRAINER_REQUIRE_GPU=1; training on the CPU anyway" in log
    assert "the script ignored the GPU requirement" in log
    assert "ignored the GPU requirement" in result.summary()


@pytest.mark.slow
def test_without_strict_device_the_same_script_may_train_on_the_cpu(tmp_path):
    spec = _spec("fail.yaml", "script=finishes_anyway.py", "compute=gpu-cluster", use_gpu=True)
    result = execute(prepare(spec, LocalOptions(), _host(cuda=False), tmp_path), stream=False)
    assert result.exit_code == 0 and not result.gpu_requirement_ignored
    assert "not reported by the script (this machine offers cpu)" in result.summary()


@pytest.mark.slow
def test_the_device_and_metrics_come_through_the_status_channel(tmp_path):
    spec = _spec("fail.yaml", "script=reports_status.py")
    result = execute(prepare(spec, LocalOptions(), _host(), tmp_path), stream=False)
    assert result.exit_code == 0 and result.device == "cpu"
    assert result.metrics_source == "status" and result.final_metrics == {"score": 0.2}
    assert "device:     cpu (reported by the script)" in result.summary()


def test_status_file_reading_prefers_rank_0_and_survives_garbage(tmp_path):
    path = tmp_path / "status.jsonl"
    lines = [
        {"event": "device", "rank": 1, "device": "cuda", "gpu_required": True},
        "not json",
        {"event": "device", "rank": 0, "device": "cuda", "gpu_required": True},
        {"event": "start", "rank": 0, "resumed_from_step": 40},
        {"event": "metrics", "rank": 0, "step": 41, "values": {"loss": 0.5}},
        {"event": "preempted", "rank": 0, "step": 55, "checkpoint": "/x"},
        [1, 2],
    ]
    path.write_text("\n".join(json.dumps(x) if not isinstance(x, str) else x for x in lines) + "\n")
    status = read_status(path)
    assert (status.device, status.gpu_required, status.resumed_from_step, status.preempted_at_step) == (
        "cuda",
        True,
        40,
        55,
    )
    assert status.reported and not read_status(tmp_path / "missing.jsonl").reported
    metrics = from_status([status, None])
    assert metrics.final == {"loss": 0.5} and metrics.history == [
        {"metric": "loss", "step": 41, "value": 0.5}
    ]


def test_metrics_jsonl_gives_the_latest_value_of_every_metric(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "metrics.jsonl").write_text(
        '{"epoch": 0, "step": 5, "val_accuracy": 0.5, "resumed_from_step": null}\n'
        '{"epoch": 1, "step": 10, "val_accuracy": 0.75}\nbroken\n'
        '{"final": true, "test_accuracy": 0.8}\n'
    )
    metrics = from_jsonl(tmp_path)
    assert metrics.final == {"val_accuracy": 0.75, "test_accuracy": 0.8} and metrics.source == "metrics.jsonl"
    assert [r["step"] for r in metrics.history] == [5, 10, None]
    assert from_status([ScriptStatus()]).final == {}

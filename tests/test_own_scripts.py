"""Your own training script, first class (issue 12): two scripts that are not the reference script.

* ``tests/fixtures/scripts/mlp_mlflow.py``: plain argparse + MLflow, modelled on azureml-examples' iris job;
  it knows nothing of azure-trainer (so it ignores the GPU requirement);
* ``tests/fixtures/scripts/mlp_helper.py``: the same MLP through the drop-in helper
  (``train_scripts/contract.py`` copied next to it), which honours the contract.

Each job here is an Azure ML CLI v2 job YAML, as its user would write it. Checked: a local sweep's
objective comes from MLflow, with the parent/child layout read back with ``MlflowClient``; a strict-device
run catches the script that ignores the GPU requirement and passes the one that honours it; the job's
options are checked against the script's ``--help``; secrets and the snapshot are found offline.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from azure_trainer.cli import main

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "fixtures" / "scripts"
DIGITS = REPO / "train_scripts" / "data" / "digits.csv.gz"
mlflow = pytest.importorskip("mlflow")


@pytest.fixture
def code(tmp_path, monkeypatch):
    """A user's code folder: both scripts, the helper copied next to them, the data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    folder = tmp_path / "src"
    folder.mkdir()
    for name in ("mlp_mlflow.py", "mlp_helper.py"):
        shutil.copy(SCRIPTS / name, folder / name)
    shutil.copy(REPO / "train_scripts" / "contract.py", folder / "contract.py")
    return folder


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def command_job(
    tmp_path: Path, script: str, extra_args: str = "", compute: str = "cpu-cluster", **top: str
) -> Path:
    lines = [
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
        "experiment_name: own-mlp",
        "code: src",
        f"command: python {script} --data ${{{{inputs.digits}}}} --epochs 20 {extra_args}"
        "--output-dir ${{outputs.model}}",
        "environment: azureml:my-torch-env:1",
        f"compute: {compute}",
        "inputs:",
        f"  digits: {{type: uri_file, path: {DIGITS}}}",
        "outputs:",
        "  model: {type: uri_folder}",
        *(f"{key}: {value}" for key, value in top.items()),
    ]
    path = tmp_path / f"{script}.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


SWEEP = """\
$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
type: sweep
experiment_name: own-mlp-sweep
trial:
  code: src
  command: >-
    python mlp_mlflow.py --data ${{{{inputs.digits}}}} --epochs 15
    --lr ${{{{search_space.lr}}}} --output-dir ${{{{outputs.model}}}}
  environment: azureml:my-torch-env:1
compute: cpu-cluster
inputs:
  digits: {{type: uri_file, path: {digits}}}
outputs:
  model: {{type: uri_folder}}
sampling_algorithm: grid
search_space:
  lr: {{type: choice, values: [0.0001, 0.05]}}
objective: {{primary_metric: accuracy, goal: maximize}}
limits: {{max_total_trials: 2, max_concurrent_trials: 1}}
"""


@pytest.mark.slow
def test_a_local_sweep_of_a_plain_mlflow_script_ranks_by_what_it_logged(code, tmp_path, capsys):
    job = tmp_path / "sweep.yml"
    job.write_text(SWEEP.format(digits=DIGITS))
    status, out, err = cli(capsys, "run-local", job, "--run-dir", tmp_path / "s", "--json")
    assert status == 0, err
    result = json.loads(out)
    (best,) = [t for t in result["trials"] if t["index"] == result["best_trial"]]
    assert best["params"] == {"lr": 0.05}  # 15 epochs at lr 1e-4 learn next to nothing
    assert best["objective"] > 0.5 and all(t["objective"] is not None for t in result["trials"])

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow.tracking.MlflowClient(tracking_uri=(tmp_path / "s" / "mlruns").as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "own-mlp-sweep"]
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 2 and {c.data.params["learning_rate"] for c in children} == {"0.0001", "0.05"}
    by_lr = {c.data.params["learning_rate"]: c.data.metrics["accuracy"] for c in children}
    assert by_lr["0.05"] == pytest.approx(best["objective"])
    assert len(client.get_metric_history(children[0].info.run_id, "loss")) == 15  # one a step, as logged


@pytest.mark.slow
def test_strict_device_catches_the_script_that_ignores_the_gpu_requirement(code, tmp_path, capsys):
    """No GPU is visible to these tests' runs (CUDA_VISIBLE_DEVICES is emptied), whatever the machine."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        plain = command_job(
            tmp_path, "mlp_mlflow.py", use_gpu="true", compute="{gpu: gpu-cluster, cpu: cpu-cluster}"
        )
        status, _, err = cli(capsys, "run-local", plain, "--strict-device", "--run-dir", tmp_path / "p")
        assert status == 1 and "the script ignored the GPU requirement" in err  # it trained on the CPU
        helped = command_job(
            tmp_path, "mlp_helper.py", use_gpu="true", compute="{gpu: gpu-cluster, cpu: cpu-cluster}"
        )
        status, _, err = cli(capsys, "run-local", helped, "--strict-device", "--run-dir", tmp_path / "h")
        assert status == 78 and "ignored" not in err  # the helper stops at once, as on a CPU-only node
        assert "device:     none: the script stopped before training, a GPU was required" in err
        assert "not reported by the script" not in err  # it did report: gpu_missing, then exit 78
        run = json.loads((tmp_path / "h" / "run.json").read_text())
        assert run["attempts"][0]["exit_code"] == 78
    finally:
        del os.environ["CUDA_VISIBLE_DEVICES"]


@pytest.mark.slow
def test_the_helper_script_reports_its_device_and_metrics_through_the_contract(
    code, tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("TRAIN_DISABLE_MLFLOW", raising=False)  # the suite turns MLflow off for speed
    job = command_job(tmp_path, "mlp_helper.py")
    status, _, err = cli(capsys, "run-local", job, "--run-dir", tmp_path / "r")
    assert status == 0, err
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["device"] == "cpu" and "device:     cpu (reported by the script)" in err
    assert run["final_metrics"]["accuracy"] > 0.8 and run["metrics_source"] == "mlflow"


@pytest.mark.slow
def test_a_misspelled_option_is_caught_against_each_scripts_help(code, tmp_path, capsys):
    for script in ("mlp_mlflow.py", "mlp_helper.py"):
        job = command_job(tmp_path, script, extra_args="--learning-rate 0.1 ")
        status, out, err = cli(capsys, "validate", job)
        assert status == 1, out + err
        assert f"{script} has no option --learning-rate (from command)" in out
        good = command_job(tmp_path, script, extra_args="--lr 0.1 ")
        status, out, _ = cli(capsys, "validate", good)
        assert status == 0 and "unknown-script-arg" not in out


@pytest.mark.slow
def test_secrets_and_a_heavy_snapshot_are_found_offline_before_any_sign_in(code, tmp_path, capsys):
    (code / "data.bin").write_bytes(os.urandom(1024) * (320 * 1024))  # 335 MB of data in the code folder
    (code / ".env").write_text("WANDB_API_KEY=0123456789abcdef0123456789abcdef01234567\n")
    job = command_job(
        tmp_path, "mlp_mlflow.py", environment_variables="{HF_TOKEN: hf_abcdefghijklmnopqrstuvwxyz0123456789}"
    )
    status, out, err = cli(capsys, "validate", job)
    assert status == 1
    for code_name in ("secret-in-env", "snapshot-too-large", "snapshot-credential-file"):
        assert code_name in out, out
    assert "hf_abcdefghijklmnopqrstuvwxyz0123456789" not in out + err
    advice = _advice(out)
    assert "/data.bin" in advice and "mlp_mlflow.py" not in advice  # never advise ignoring the script
    status, out, err = cli(capsys, "submit", job, "--dry-run")  # no workspace is set: it never gets that far
    assert status == 1 and "found before any sign-in; nothing was submitted" in err
    assert "no Azure ML workspace given" not in err


def _advice(text: str) -> str:
    """What the snapshot findings tell the user to do (after their "Fix:")."""
    flat = " ".join(text.split())  # the findings table may wrap a message
    return " ".join(part.split("Fix:", 1)[1] for part in flat.split("snapshot-")[1:] if "Fix:" in part)


def test_readmes_complete_script_is_the_one_the_tests_run():
    """README's "Your own script" prints tests/fixtures/scripts/mlp_helper.py and says the tests run it
    exactly as printed: the two must not drift apart."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Your own script") :]
    start = section.index("```python\n") + len("```python\n")
    printed = section[start : section.index("```\n", start)]
    assert printed == (SCRIPTS / "mlp_helper.py").read_text(encoding="utf-8")

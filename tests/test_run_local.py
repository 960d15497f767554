"""azure-trainer run-local: the job's exact command on this machine (azure_trainer.local)."""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from azure_trainer.cli import main
from azure_trainer.config import load_config
from azure_trainer.local import run_local

REPO = Path(__file__).resolve().parents[1]
JOBS = REPO / "jobs"
FIX = Path(__file__).resolve().parent / "fixtures" / "local"
NASTY = 'it\'s a "dir" $x;y `z` & (w)'


def _cuda() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["run-local", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def only_run(tmp_path: Path) -> Path:
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


# -- fast: fixture scripts, no torch in the child ---------------------------------------------------


@pytest.mark.slow
def test_failing_script_exit_code_comes_through(capsys, tmp_path):
    code, out, err = run_cli(capsys, FIX / "fail.yaml")
    assert code == 7
    run_dir = only_run(tmp_path)
    assert run_dir.name.startswith("local-fail-")
    assert "failing on purpose" in out and "an error line" in err
    log = (run_dir / "log.txt").read_text()
    assert "failing on purpose" in log and "an error line" in log
    data = run_json(run_dir)
    assert data["exit_code"] == 7 and data["attempts"][0]["exit_code"] == 7
    for name in ("config.yaml", "command.sh", "outputs"):
        assert (run_dir / name).exists()
    assert "exit code:  7" in err

    # --json: stdout is the result only; the job's output goes to stderr.
    code, out, err = run_cli(capsys, FIX / "fail.yaml", "--json", "--run-dir", tmp_path / "j")
    assert code == 7
    assert json.loads(out)["exit_code"] == 7 and "failing on purpose" in err


@pytest.mark.slow
def test_nasty_paths_survive_every_quoting_context(capsys, tmp_path):
    data = tmp_path / NASTY
    data.mkdir()
    (data / "t a;b.csv").write_text("1\n")
    run_dir = tmp_path / f"run {NASTY}"
    code, _, err = run_cli(
        capsys,
        FIX / "argv.yaml",
        "--input",
        f"data={data}",
        "--input",
        f"table={data / 't a;b.csv'}",
        "--run-dir",
        run_dir,
    )
    assert code == 0, err
    out = run_dir / "outputs" / "result"
    record = json.loads((out / "argv.json").read_text())
    assert record["argv"] == [
        "--data",
        str(data),
        "--dq",
        str(data),
        "--sq",
        str(data),
        "--file",
        str(data / "t a;b.csv"),
        "--lr",
        "0.5",
        "--out",
        str(out),
    ]
    assert record["cwd"] == str(FIX / "scripts")
    assert os.path.realpath(record["executable"]) == os.path.realpath(sys.executable)
    assert record["env"]["MY_SETTING"] == "hello world"
    assert record["env"]["AZURE_TRAINER_REQUIRE_GPU"] == "0"
    assert record["env"]["MLFLOW_TRACKING_URI"] == (run_dir / "mlruns").as_uri()
    assert record["env"]["RANK"] is None
    # config.yaml: resolved, secret-looking values redacted.
    config_text = (run_dir / "config.yaml").read_text()
    assert "hello world" in config_text and "sk-live" not in config_text and "'***'" in config_text
    # command.sh reruns the exact command (the secret comes from the caller's environment).
    (out / "argv.json").unlink()
    script = (run_dir / "command.sh").read_text()
    assert "sk-live" not in script
    env = {**os.environ, "MY_API_KEY": "from-env"}
    subprocess.run(
        ["bash", str(run_dir / "command.sh")], check=True, env=env, capture_output=True, timeout=60
    )
    again = json.loads((out / "argv.json").read_text())
    assert again["argv"] == record["argv"] and again["env"]["MY_API_KEY"] == "from-env"


@pytest.mark.slow
def test_local_path_and_optional_block(capsys, tmp_path):
    # local_path from the config (made absolute by the loader); an optional input given -> its block stays.
    code, _, err = run_cli(capsys, FIX / "argv.yaml", "--input", "extra=a b", "--run-dir", tmp_path / "r")
    assert code == 0, err
    argv = json.loads((tmp_path / "r" / "outputs" / "result" / "argv.json").read_text())["argv"]
    assert argv[1] == str(FIX / "data") and argv[7] == str(FIX / "data" / "table.csv")
    assert argv[10:12] == ["--extra", "a b"]


@pytest.mark.parametrize(
    ("job", "args", "message"),
    [
        ("argv.yaml", ["--input", "nonsense"], "expected NAME=PATH"),
        ("argv.yaml", ["--input", "=x"], "expected NAME=PATH"),
        ("argv.yaml", ["--input", "nope=/tmp"], "no input named 'nope' (its inputs: data, extra, lr, table)"),
        (
            "argv.yaml",
            ["--input", "data=/does/not/exist"],
            "input 'data': the --input path /does/not/exist does not exist",
        ),
        ("argv.yaml", ["--input", f"table={FIX / 'data'}"], "is a uri_file but"),
        ("remote.yaml", [], "input 'data' has no local data"),
        ("fail.yaml", ["--nproc", "0"], "--nproc 0"),
        (
            "fail.yaml",
            ["--input", "nope=/tmp"],
            "no input named 'nope' (it declares no",
        ),
        ("fail.yaml", ["--timeout", "inf"], "--timeout inf: give a number of seconds >= 0"),
        ("fail.yaml", ["--preempt-after", "inf"], "--preempt-after inf"),
        ("fail.yaml", ["--run-dir", ""], "--run-dir: give a folder name"),
        ("fail.yaml", ["--run-dir", "a-file/run"], "--run-dir a-file/run: cannot create it"),
        ("fail.yaml", ["--run-dir", "users-folder"], "holds other files and is not a run folder"),
        ("sweep.yaml", ["--nproc", "2"], "--nproc is for a single run"),
    ],
)
def test_bad_local_input_is_a_clear_error(capsys, tmp_path, job, args, message):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "users-folder").mkdir()
    (tmp_path / "users-folder" / "config.yaml").write_text("mine")
    code, _, err = run_cli(capsys, FIX / job, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing ran, no run folder
    if job == "remote.yaml":
        assert "--input data=PATH" in err and "local_path:" in err
    assert (tmp_path / "users-folder" / "config.yaml").read_text() == "mine"  # never overwritten
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_a_run_folder_is_reused_and_an_empty_folder_taken(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, _ = run_cli(capsys, FIX / "fail.yaml", "--run-dir", tmp_path / "empty")
    assert code == 7 and run_json(tmp_path / "empty")["exit_code"] == 7
    code, _, _ = run_cli(capsys, FIX / "fail.yaml", "--run-dir", tmp_path / "empty")  # a rerun: reused
    assert code == 7 and (tmp_path / "empty" / "log.txt").read_text().count("run folder") == 2


@pytest.mark.slow
def test_nproc_on_a_job_without_distribution_warns(capsys, tmp_path):
    code, _, err = run_cli(
        capsys,
        FIX / "ranks.yaml",
        "--nproc",
        "2",
        "--set",
        "distribution=null",
        "--set",
        "resources.instance_count=1",
    )
    assert code == 0, err
    assert (
        "the job has no `distribution`: Azure ML would run one process per node; --nproc 2 starts 2 per node"
        in err
    )


@pytest.mark.slow
def test_a_failing_rank_is_reported_without_torchruns_traceback(capsys, tmp_path):
    code, _, err = run_cli(
        capsys, FIX / "ranks.yaml", "--set", "command=python exit_code.py", "--run-dir", tmp_path / "d"
    )
    assert code == 7
    assert "rank 0 exited 7 first" in err or "rank 1 exited 7 first" in err
    assert "torchrun's own report is in log.txt" in err
    assert "Traceback" not in err and "ChildFailedError" not in err
    log = (tmp_path / "d" / "log.txt").read_text()
    assert "ChildFailedError" in log  # kept for whoever needs it


@pytest.mark.slow
def test_ctrl_c_forwards_sigterm_and_keeps_the_exit_code(tmp_path):
    run_dir = tmp_path / "r"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "azure_trainer",
            "run-local",
            str(FIX / "sigterm.yaml"),
            "--run-dir",
            str(run_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        seen = b""
        while b"ready" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
        assert b"ready" in seen, seen
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 75, err
    assert (run_dir / "outputs" / "result" / "checkpoint").read_text() == "SIGTERM"
    data = run_json(run_dir)
    assert data["exit_code"] == 75 and data["interrupted"] is True
    assert b"SIGINT received: sending SIGTERM" in err


@pytest.mark.slow
def test_preemption_rehearsal_logic(capsys, tmp_path):
    code, _, err = run_cli(capsys, FIX / "sigterm.yaml", "--preempt-after", "3", "--run-dir", tmp_path / "p")
    assert code == 0, err
    assert (
        "preemption rehearsal: PASSED — SIGTERM at step 5 → checkpoint → resumed at step 5 → finished" in err
    )
    data = run_json(tmp_path / "p")
    assert data["preemption"]["verdict"] == "passed"
    assert [a["exit_code"] for a in data["attempts"]] == [75, 0]
    assert data["resumed_from_step"] == 5

    # A run that ends before SIGTERM lands: inconclusive, non-zero.
    code, _, err = run_cli(capsys, FIX / "argv.yaml", "--preempt-after", "60", "--run-dir", tmp_path / "q")
    assert code == 1 and "INCONCLUSIVE" in err and "before SIGTERM was due" in err
    # A script that fails on its own: the rehearsal fails with its exit code.
    code, _, err = run_cli(capsys, FIX / "fail.yaml", "--preempt-after", "60", "--run-dir", tmp_path / "f")
    assert code == 7 and "FAILED" in err and "expected exit 75" in err


@pytest.mark.slow
def test_distributed_fixture_sets_rank_env_and_prefixes_lines(capsys, tmp_path):
    """2 nodes x 2 processes: one torchrun agent per node, each process with Azure ML's values."""
    two_by_two = ["--set", "distribution.process_count_per_instance=2"]
    code, out, err = run_cli(capsys, FIX / "ranks.yaml", *two_by_two, "--run-dir", tmp_path / "d")
    assert code == 0, err
    assert all(f"[rank {r}] hello from rank {r} of 4" in out for r in range(4))
    results = tmp_path / "d" / "outputs" / "result"
    envs = [json.loads((results / f"rank-{r}.json").read_text()) for r in range(4)]
    layout = [(e["NODE_RANK"], e["LOCAL_RANK"], e["RANK"], e["WORLD_SIZE"]) for e in envs]
    assert layout == [("0", "0", "0", "4"), ("0", "1", "1", "4"), ("1", "0", "2", "4"), ("1", "1", "3", "4")]
    assert {e["MASTER_ADDR"] for e in envs} == {"127.0.0.1"} and len({e["MASTER_PORT"] for e in envs}) == 1
    assert envs[0]["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 4))
    data = run_json(tmp_path / "d")
    assert (data["nodes"], data["nproc"]) == (2, 4) and "2 node(s) x 2 process(es)" in err

    # One rank failing: its exit code is the run's, whatever torchrun itself returns.
    code, _, err = run_cli(
        capsys,
        FIX / "ranks.yaml",
        "--run-dir",
        tmp_path / "e",
        "--set",
        "command=python ranks.py --out ${{outputs.result}} --fail-rank 1 --code 9",
    )
    assert code == 9
    assert "[rank 1] rank 1 failing on purpose" in err and "rank 1 exited 9 first" in err


@pytest.mark.slow
def test_api_returns_a_result(tmp_path):
    config = load_config(FIX / "fail.yaml")
    result = run_local(config, run_dir=tmp_path / "api", stream=False)
    assert result.exit_code == 7 and result.run_dir == tmp_path / "api" and result.duration_s >= 0
    assert result.command.endswith("exit_code.py") and result.final_metrics == {}
    assert "failing on purpose" in (tmp_path / "api" / "log.txt").read_text()


# -- slow: the reference training script -----------------------------------------------------------

FAST = ["--set", "args.epochs=1", "--set", "args.max-steps=10"]


@pytest.mark.slow
def test_digits_runs_and_records_test_accuracy(capsys, tmp_path):
    code, out, err = run_cli(capsys, JOBS / "digits.yaml", *FAST)
    assert code == 0, err
    run_dir = only_run(tmp_path)
    assert run_dir.name.startswith("digits-")
    data = run_json(run_dir)
    final = data["final_metrics"]
    assert isinstance(final["test_accuracy"], float) and isinstance(final["val_accuracy"], float)
    assert data["test_accuracy"] == final["test_accuracy"]
    assert [row["metric"] for row in data["metric_history"]].count("val_accuracy") >= 1
    assert (run_dir / "outputs" / "model" / "model.pt").is_file()
    assert any((run_dir / "outputs" / "checkpoints").iterdir())
    assert "test loss" in (run_dir / "log.txt").read_text()
    assert "test_accuracy 0." in err and "metrics:" in err
    if not _cuda():  # use_gpu: true, no GPU here: warn, train on the CPU
        assert "use_gpu is true but no CUDA device is visible here: training on the CPU" in err
        assert data["device"] == "cpu"
        assert "export AZURE_TRAINER_REQUIRE_GPU=0" in (run_dir / "command.sh").read_text()


@pytest.mark.slow
def test_strict_device_fails_like_the_cloud(capsys, tmp_path):
    if _cuda():
        pytest.skip("a CUDA device is visible here")
    code, _, err = run_cli(
        capsys, JOBS / "digits.yaml", *FAST, "--strict-device", "--run-dir", tmp_path / "s"
    )
    assert code == 78
    assert "the script exited 78" in err and "--strict-device" in err
    assert run_json(tmp_path / "s")["exit_code"] == 78


@pytest.mark.slow
def test_distributed_sample_job_runs_two_processes(capsys, tmp_path):
    code, out, err = run_cli(capsys, JOBS / "digits-ddp.yaml", *FAST, "--run-dir", tmp_path / "ddp")
    assert code == 0, err
    assert "[rank 0] distributed: world size 2, backend gloo" in out
    script_lines = [line for line in out.splitlines() if line.strip()]
    assert script_lines and all(line.startswith("[rank ") for line in script_lines)
    data = run_json(tmp_path / "ddp")
    assert data["nproc"] == 2 and data["distributed"] is True
    assert isinstance(data["final_metrics"]["test_accuracy"], float)


@pytest.mark.slow
def test_preemption_rehearsal_resumes_the_reference_script(capsys, tmp_path):
    # SIGTERM at an exact step through AZURE_TRAINER_PREEMPT_AT_STEP: no race with a slow start-up
    fast = ["--set", "args.epochs=1", "--set", "args.max-steps=12"]
    code, _, err = run_cli(
        capsys, JOBS / "digits.yaml", *fast, "--preempt-at-step", "5", "--run-dir", tmp_path / "p"
    )
    data = run_json(tmp_path / "p")
    assert code == 0, err
    assert data["preemption"]["verdict"] == "passed", data["preemption"]
    assert "preemption rehearsal: PASSED — SIGTERM at step" in err and "test_accuracy" in err
    assert [a["exit_code"] for a in data["attempts"]] == [75, 0]
    assert data["resumed_from_step"] > 0
    assert data["preemption"]["resumed_from_step"] == data["preemption"]["preempted_at_step"]
    assert data["attempts"][1]["resumed_from_step"] == data["resumed_from_step"] == 5


# ---------------------------------------------------------------------------------------------
# the job's timeout
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_jobs_timeout_stops_a_local_run_like_azure_ml(capsys, tmp_path):
    # wait_for_sigterm.py waits 60 s for SIGTERM: only the 2 s timeout can end it early.
    code, _, err = run_cli(
        capsys, FIX / "sigterm.yaml", "--set", "limits.timeout=2", "--run-dir", tmp_path / "t"
    )
    assert code == 124, err
    assert "time limit 2s (the job's `limits.timeout`)" in err
    assert "the job's time limit (2s) has passed: sending SIGTERM" in err
    assert "timed out:  stopped after the time limit of 2s" in err
    data = run_json(tmp_path / "t")
    assert data["timed_out"] is True and data["time_limit_s"] == 2.0 and data["exit_code"] == 124
    assert data["attempts"][0]["exit_code"] == 75 and data["attempts"][0]["timed_out"] is True
    assert 2.0 <= data["attempts"][0]["sigterm_at_s"] < 10
    assert (tmp_path / "t" / "outputs" / "result" / "checkpoint").read_text() == "SIGTERM"


@pytest.mark.slow
def test_timeout_flag_overrides_or_lifts_the_jobs_timeout(capsys, tmp_path):
    job = tmp_path / "sleepy.yaml"
    job.write_text(
        "experiment_name: sleepy\ncode: .\ncommand: sleep 2 && echo woke\nenvironment: azureml:e:1\nlimits: {timeout: 1}\n"
    )
    code, out, err = run_cli(capsys, job, "--timeout", "0", "--run-dir", tmp_path / "lifted")
    assert code == 0 and "woke" in out and "time limit" not in err
    assert run_json(tmp_path / "lifted")["time_limit_s"] is None
    code, out, err = run_cli(
        capsys, job, "--set", "limits.timeout=null", "--timeout", "0.5", "--run-dir", tmp_path / "s"
    )
    assert code == 124 and "woke" not in out and "time limit 0.5s (--timeout)" in err
    code, _, err = run_cli(capsys, job, "--timeout", "-1")
    assert code == 2 and "--timeout -1" in err and "0: no limit" in err


@pytest.mark.slow
def test_a_rehearsal_cut_short_by_the_timeout_is_inconclusive(capsys, tmp_path):
    code, _, err = run_cli(
        capsys,
        FIX / "sigterm.yaml",
        "--set",
        "limits.timeout=1",
        "--preempt-after",
        "30",
        "--run-dir",
        tmp_path / "r",
    )
    assert code == 124
    assert "preemption rehearsal: INCONCLUSIVE" in err and "raise it with --timeout" in err
    assert [a["exit_code"] for a in run_json(tmp_path / "r")["attempts"]] == [75]


@pytest.mark.slow
def test_mlflow_goes_to_the_run_folder(capsys, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("TRAIN_DISABLE_MLFLOW", "0")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    fast = ["--set", "args.epochs=1", "--set", "args.max-steps=5", "--cpu"]
    code, _, err = run_cli(capsys, JOBS / "digits.yaml", *fast, "--run-dir", tmp_path / "m")
    assert code == 0, err
    assert "MLflow logging disabled" not in err
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # for this reading client
    client = MlflowClient(tracking_uri=(tmp_path / "m" / "mlruns").as_uri())
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].data.metrics["test_accuracy"] == run_json(tmp_path / "m")["test_accuracy"]


@pytest.mark.slow
def test_a_rank_hung_in_a_collective_is_reported_and_stopped(capsys, tmp_path):
    started = time.monotonic()
    code, out, err = run_cli(
        capsys,
        FIX / "ranks.yaml",
        "--set",
        "command=python hang.py",
        "--set",
        "environment_variables.AZURE_TRAINER_COLLECTIVE_TIMEOUT_S=2",
        "--run-dir",
        tmp_path / "h",
    )
    assert code == 124, err
    assert "[rank 0] rank 0 waiting (collective timeout 2s)" in out
    assert "rank(s) 0 hung: still running 2s after rank 1 exited 0" in err
    assert run_json(tmp_path / "h")["attempts"][0]["hung_ranks"] == ["0"]
    assert time.monotonic() - started < 60  # not the 120 s the rank would wait, nor gloo's 30 minutes


@pytest.mark.slow
def test_a_multi_node_job_without_distribution_runs_once_per_node(capsys, tmp_path):
    from azure_trainer import plan

    spec = dataclasses.replace(plan(load_config(FIX / "ranks.yaml")), distribution=None)
    result = run_local(spec, run_dir=tmp_path / "n", stream=False)
    assert result.exit_code == 0 and (result.nodes, result.nproc, result.distributed) == (2, 2, False)
    log = (tmp_path / "n" / "log.txt").read_text()
    assert "[node 0] hello from rank None" in log and "[node 1] hello from rank None" in log


@pytest.mark.slow
def test_a_secret_the_script_prints_reaches_neither_the_screen_nor_log_txt(capsys, tmp_path):
    secret = "sk-live-0123456789abcdefghijklmnop"  # argv.yaml's MY_API_KEY
    code, out, err = run_cli(
        capsys, FIX / "argv.yaml", "--set", "command=python prints_secret.py", "--run-dir", tmp_path / "s"
    )
    assert code == 0, err
    assert "debug: MY_API_KEY=***" in out
    for text in (out, err, *(p.read_text() for p in (tmp_path / "s").rglob("*") if p.is_file())):
        assert secret not in text

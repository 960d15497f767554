"""The reference training script on the CPU: argument checks and short runs in this process
(``train.main``), and the few behaviours that need a process of their own (exit codes, signals,
torchrun, MLflow) in subprocesses, each merged so that one run checks as much as it can.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "train_scripts"
TRAIN = SCRIPTS / "train.py"
sys.path.insert(0, str(SCRIPTS))

import data as data_mod  # noqa: E402
import model as model_mod  # noqa: E402
import train  # noqa: E402

FAST = ["--epochs", "5", "--threads", "1"]
EPOCH_KEYS = {
    "epoch",
    "step",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "samples_per_second",
    "epoch_time_s",
    "lr",
    "resumed_from_step",
}
STEPS_PER_EPOCH = 19  # digits: 1258 training images / batch 64, drop_last


def env(**extra) -> dict:
    """The environment of a script subprocess: ours without the contract's or torchrun's variables."""
    e = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AZURE_TRAINER_")
        and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    e.update({"PYTHONUNBUFFERED": "1", "TRAIN_DISABLE_MLFLOW": "1"}, **extra)
    return e


def train_process(args, *, cwd=None, timeout=120, script=TRAIN, extra_env=None):
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd or ROOT,
        env=env(**(extra_env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def torchrun_cmd(args) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--standalone",
        str(TRAIN),
        *args,
    ]


def torchrun(args, timeout=180, extra_env=None):
    return subprocess.run(
        torchrun_cmd(args),
        cwd=ROOT,
        env=env(**(extra_env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Result:
    """What ``train.main`` returned and printed."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@contextlib.contextmanager
def _torch_state_restored():
    """train.main changes process-wide state (SIGTERM handler, threads, determinism): put it back."""
    handler = signal.getsignal(signal.SIGTERM)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, handler)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


@pytest.fixture
def run_main(monkeypatch, capsys):
    """Run train.main(args) in this process with ``env`` added; argparse's SystemExit becomes a code."""
    for name in list(os.environ):
        if name.startswith("AZURE_TRAINER_") or name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRAIN_DISABLE_MLFLOW", "1")
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)

    def run(args, **extra_env) -> Result:
        capsys.readouterr()
        with monkeypatch.context() as m, _torch_state_restored():
            for k, v in extra_env.items():
                m.setenv(k, v)
            try:
                code = train.main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


def read_metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def read_status(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def state_dict(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def rebuilt_accuracy(model_path: Path, split: data_mod.Split, raw_images: torch.Tensor) -> float:
    """Rebuild from model.pt alone (config + normalisation) and score raw images against ``split`` labels."""
    model, saved = model_mod.load_model(model_path)
    mean = torch.tensor(saved["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(saved["std"]).view(1, -1, 1, 1)
    with torch.no_grad():
        pred = model((raw_images - mean) / std).argmax(1)
    return (pred == split.labels).float().mean().item()


def digits_raw_test() -> tuple[data_mod.Split, torch.Tensor]:
    images, labels = data_mod.load_digits_arrays()
    ds = data_mod.build_dataset("digits", images, labels, 10)
    _, _, te = data_mod.split_indices(labels)
    return ds.test, torch.as_tensor(images[te])


# -- whole runs in a process of their own -------------------------------------------------------------


@pytest.mark.slow
def test_digits_run_metrics_mlflow_status_channel_and_model_rebuild(tmp_path, monkeypatch):
    """One real run checks the banner, metrics.jsonl, accuracy, MLflow, the status channel and model.pt."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # for the client reading the store back
    store = (tmp_path / "mlruns").as_uri()
    out, status = tmp_path / "out", tmp_path / "status.jsonl"
    r = train_process(
        [*FAST, "--lr", "0.02", "--output-dir", str(out)],
        extra_env={
            "TRAIN_DISABLE_MLFLOW": "0",
            "MLFLOW_TRACKING_URI": store,
            "MLFLOW_ALLOW_FILE_STORE": "true",  # mlflow 3 refuses its file store unless told; fine for a test
            "AZURE_TRAINER_STATUS_FILE": str(status),
        },
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    # First log lines: the environment banner.
    first = r.stdout.splitlines()[:3]
    assert first[0].startswith("torch ") and "CUDA build" in first[0]
    assert "CUDA devices: 0" in first[1] and "native bf16: False" in first[2] and "CPU count" in first[2]
    assert first[2].startswith("device: cpu (") and "precision fp32" in first[2]

    lines = read_metrics(out)
    epochs, final = lines[:-1], lines[-1]
    assert [m["epoch"] for m in epochs] == list(range(5))
    for m in epochs:
        assert EPOCH_KEYS <= set(m), set(m) ^ EPOCH_KEYS
        assert m["samples_per_second"] > 0 and m["epoch_time_s"] > 0 and 0 <= m["val_accuracy"] <= 1
        assert m["resumed_from_step"] is None
    assert [m["step"] for m in epochs] == [STEPS_PER_EPOCH * (e + 1) for e in range(5)]
    assert final["final"] is True and {"test_accuracy", "test_loss", "step"} <= set(final)
    assert final["test_accuracy"] >= 0.95, final

    # model.pt alone rebuilds a model that scores the same on the (raw) test images.
    split, raw = digits_raw_test()
    assert rebuilt_accuracy(out / "model.pt", split, raw) == pytest.approx(final["test_accuracy"], abs=1e-6)
    assert model_mod.load_model(out / "model.pt")[1]["config"] == {
        "in_channels": 1,
        "num_classes": 10,
        "width": 32,
        "depth": 3,
        "image_size": 8,
    }

    # MLflow: the same names and values, one point per epoch at the same step, the arguments as params.
    assert "MLflow logging disabled" not in r.stdout
    client = MlflowClient(tracking_uri=store)
    runs = [run for exp in client.search_experiments() for run in client.search_runs([exp.experiment_id])]
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run = runs[0]
    assert run.data.params["lr"] == "0.02" and run.data.params["epochs"] == "5"
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert [(m.step, m.value) for m in history] == [(rec["step"], rec["val_accuracy"]) for rec in epochs]
    assert run.data.metrics["test_accuracy"] == final["test_accuracy"]
    assert {"train_loss", "val_loss", "samples_per_second", "lr"} <= set(run.data.metrics)

    # The status channel: device, start, one metrics record per metrics line, finished; all rank 0.
    records = read_status(status)
    assert [rec["event"] for rec in records] == ["device", "start"] + ["metrics"] * 6 + ["finished"]
    assert all(rec["rank"] == 0 and isinstance(rec["time"], float) for rec in records)
    device = records[0]
    assert (device["device"], device["gpu_required"]) == ("cpu", False) and device["name"]
    assert records[1]["resumed_from_step"] == 0 and "checkpoint" not in records[1]
    for rec, line in zip(records[2:-1], lines, strict=True):
        assert rec["step"] == line["step"]
        assert rec["values"] == {
            k: v for k, v in line.items() if k != "step" and type(v) in (int, float) and v is not None
        }
    assert records[-1] == {**records[-1], "event": "finished", "step": final["step"]}
    assert [r["time"] for r in records] == sorted(r["time"] for r in records)


@pytest.mark.parametrize("how", ["env", "flag"])
def test_strict_gpu_mode_exits_78_before_loading_data(tmp_path, run_main, how):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    # --data points nowhere: had the script touched the data first it would fail with exit 2 instead.
    args = ["--data", tmp_path / "missing", "--output-dir", tmp_path / "out"]
    status = tmp_path / "status.jsonl"
    if how == "env":
        r = run_main(args, AZURE_TRAINER_REQUIRE_GPU="1", AZURE_TRAINER_STATUS_FILE=str(status))
    else:
        r = run_main([*args, "--device", "cuda"], AZURE_TRAINER_STATUS_FILE=str(status))
    assert r.returncode == 78, (r.returncode, r.stderr)
    assert "no CUDA device is visible" in r.stderr
    assert "VM size" in r.stderr and "CPU build of torch" in r.stderr and "CUDA_VISIBLE_DEVICES" in r.stderr
    assert "data " not in r.stdout and not (tmp_path / "out").exists()
    assert [rec["event"] for rec in read_status(status)] == ["gpu_missing"]


@pytest.mark.slow
def test_preempted_mid_epoch_then_resume_is_bit_identical(tmp_path, run_main):
    """A real SIGTERM at a random step (the preemption rehearsal's hook), exit 75, then a resumed run
    that ends with exactly the weights of an uninterrupted one. The run that is preempted is started
    as `python train.py` from inside train_scripts/ (how the job's command runs it)."""
    common = ["--epochs", "3", "--deterministic", "--threads", "1", "--seed", "3"]
    ref = tmp_path / "ref"
    assert run_main([*common, "--output-dir", ref]).returncode == 0

    out, status = tmp_path / "run", tmp_path / "status.jsonl"
    at = random.Random().randint(1, 3 * STEPS_PER_EPOCH - 2)
    print(f"SIGTERM at step {at}")
    # As Azure ML starts it: `python train.py` from inside train_scripts/, a CPU job (no GPU required).
    r = train_process(
        [*common, "--output-dir", str(out)],
        cwd=SCRIPTS,
        script=Path("train.py"),
        extra_env={
            "AZURE_TRAINER_PREEMPT_AT_STEP": str(at),
            "AZURE_TRAINER_STATUS_FILE": str(status),
            "AZURE_TRAINER_REQUIRE_GPU": "0",
        },
    )
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert "SIGTERM received" in r.stdout and not (out / "model.pt").exists()
    preempted = read_status(status)[-1]
    ckpt = out / "checkpoints" / f"ckpt-{at:09d}.pt"
    assert preempted == {**preempted, "event": "preempted", "step": at, "checkpoint": str(ckpt)}
    assert ckpt.exists()

    r2 = run_main([*common, "--output-dir", out], AZURE_TRAINER_STATUS_FILE=str(status))
    assert r2.returncode == 0, r2.stderr
    epoch, step = divmod(at, STEPS_PER_EPOCH)
    assert f"resumed from checkpoint {ckpt} at epoch {epoch} step {step}" in r2.stdout
    start = [rec for rec in read_status(status) if rec["event"] == "start"][-1]
    assert start["resumed_from_step"] == at and start["checkpoint"] == str(ckpt)
    lines = read_metrics(out)
    assert lines[-1]["final"] and lines[-1]["resumed_from_step"] == at
    a, b = state_dict(ref / "model.pt"), state_dict(out / "model.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    assert lines[-1]["test_accuracy"] == read_metrics(ref)[-1]["test_accuracy"]


def _child_with_rank(parent: int, rank: int) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"RANK={rank}".encode() in environ:
            return int(entry)
    return None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the rank-1 worker through /proc")
def test_two_process_gloo_run_sigterm_on_one_rank_then_resume_to_threshold(tmp_path):
    """torchrun, 2 ranks: SIGTERM to rank 1 alone stops both at one step with one checkpoint; the rerun
    resumes it and reaches the accuracy threshold; only rank 0 writes files and log lines."""
    out, status = tmp_path / "out", tmp_path / "status.jsonl"
    args = [*FAST, "--output-dir", str(out)]
    proc = subprocess.Popen(
        [*torchrun_cmd(args), "--step-delay", "0.04"],
        cwd=ROOT,
        env=env(AZURE_TRAINER_STATUS_FILE=str(status)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    head = []
    for line in proc.stdout:
        head.append(line)
        if line.startswith("schedule:"):
            break
    time.sleep(random.Random().uniform(0.2, 1.5))
    rank1 = _child_with_rank(proc.pid, 1)
    assert rank1 is not None
    os.kill(rank1, signal.SIGTERM)  # only rank 1 is told; rank 0 must stop at the same step
    stdout, _ = proc.communicate(timeout=90)
    stdout = "".join(head) + stdout
    assert proc.returncode != 0  # torchrun reports the ranks' exit 75 as a failed run (its exit code is 1)
    assert "exitcode: 75" in stdout
    assert "distributed: world size 2, backend gloo" in stdout
    m = re.search(r"checkpoint written at epoch (\d+) step (\d+) \(global step (\d+)\)", stdout)
    assert m, stdout[-3000:]
    global_step = int(m.group(3))
    assert (out / "checkpoints" / f"ckpt-{global_step:09d}.pt").exists() and not (out / "model.pt").exists()
    records = read_status(status)
    assert sorted(rec["rank"] for rec in records if rec["event"] == "device") == [0, 1]
    assert {rec["rank"] for rec in records if rec["event"] != "device"} == {0}
    assert records[-1]["event"] == "preempted" and records[-1]["step"] == global_step

    r = torchrun(args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"(global step {global_step})" in r.stdout and "resumed from checkpoint" in r.stdout
    lines = read_metrics(out)
    final = lines[-1]
    assert (
        final["final"] and final["resumed_from_step"] == global_step and final["step"] == 5 * STEPS_PER_EPOCH
    )
    assert final["test_accuracy"] >= 0.95
    # One line per epoch: had rank 1 also written, epochs would appear twice. Global batch 64 over 2 ranks:
    # the same steps per epoch as one process.
    assert [m["step"] for m in lines[:-1]] == sorted({m["step"] for m in lines[:-1]})
    assert lines[-2]["epoch"] == 4
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "metrics.jsonl", "model.pt"]
    assert r.stdout.count("test loss") == 1  # rank 1 prints nothing either


@pytest.mark.slow
def test_crash_on_one_rank_ends_the_job(tmp_path):
    t0 = time.monotonic()
    r = torchrun([*FAST, "--output-dir", str(tmp_path), "--debug-crash-rank", "1"], timeout=120)
    assert r.returncode != 0
    assert "rank 1 crashing on purpose" in r.stderr
    assert time.monotonic() - t0 < 120
    assert not (tmp_path / "model.pt").exists()


# -- in this process ----------------------------------------------------------------------------------


def test_help_names_every_flag_and_the_contract(capsys):
    with pytest.raises(SystemExit) as info:
        train.parse_args(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--epochs",
        "--batch-size",
        "--lr",
        "--seed",
        "--max-steps",
        "--device",
        "--data",
        "--output-dir",
        "--checkpoint-dir",
        "--checkpoint-every",
        "--deterministic",
        "--compile",
        "--width",
        "--depth",
        "--precision",
        "--step-delay",
        "data.npz",
        "exit codes",
        "metrics.jsonl",
        "AZURE_TRAINER_REQUIRE_GPU",
        "AZURE_TRAINER_PREEMPT_AT_STEP",
        "AZURE_TRAINER_STATUS_FILE",
    ):
        assert flag in text, flag


@pytest.mark.parametrize(
    "bad",
    [
        ["--epochs", "0"],
        ["--device", "tpu"],
        ["--lr", "-1"],
        ["--lr", "nan"],
        ["--lr", "0"],
        ["--threads", "-1"],
        ["--augment-shift", "-1"],
        ["--label-smoothing", "2"],
        ["--synthetic-size", "0"],
        ["--weight-decay", "-1"],
        ["--checkpoint-every", "-1"],
        ["--keep-checkpoints", "0"],
        ["--depth", "10"],
        ["--width", "100000"],
        ["--batch-size", "x"],
    ],
)
def test_out_of_range_flags_are_usage_errors(bad, capsys):
    with pytest.raises(SystemExit) as info:
        train.parse_args(bad)
    err = capsys.readouterr().err
    assert info.value.code == 2 and bad[0] in err and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("train.py: error: argument ") or "error:" in err


def test_values_on_the_bounds_are_accepted():
    args = train.parse_args(["--label-smoothing", "0", "--threads", "0", "--depth", "8", "--width", "1024"])
    assert (args.label_smoothing, args.threads, args.depth, args.width) == (0.0, 0, 8, 1024)


def test_depth_beyond_what_the_images_allow_is_a_usage_error(tmp_path, run_main):
    # 8x8: two 2x2 pools, so 3 stages; caught once the data is known.
    r = run_main(["--depth", "4", "--output-dir", tmp_path])
    assert r.returncode == 2 and r.stderr.startswith("ERROR: --depth 4 is too deep for 8x8 images"), r.stderr


@pytest.mark.slow
def test_data_dir_npz_and_csv_formats(tmp_path, run_main):
    images, labels = data_mod.load_digits_arrays()
    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    # (N, H, W) uint8 at a different scale: normalisation must make it irrelevant.
    np.savez(npz_dir / "data.npz", images=(images[:, 0] * 15).astype(np.uint8), labels=labels)
    out = tmp_path / "out"
    r = run_main([*FAST, "--data", npz_dir, "--output-dir", out])
    assert r.returncode == 0, r.stderr
    assert f"data folder:{npz_dir}: train 1258 / val 269 / test 270, 1x8x8, 10 classes" in r.stdout
    final = read_metrics(out)[-1]
    assert final["test_accuracy"] >= 0.95
    split, _ = digits_raw_test()
    _, _, te = data_mod.split_indices(labels)
    raw = torch.as_tensor((images[te] * 15).astype(np.uint8).astype(np.float32))
    assert rebuilt_accuracy(out / "model.pt", split, raw) == pytest.approx(final["test_accuracy"], abs=1e-6)

    # CSV files in the digits format, in name order, and (N, C, H, W) npz with 3 channels.
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    rows = gzip.decompress((SCRIPTS / "data" / "digits.csv.gz").read_bytes()).decode().splitlines()
    (csv_dir / "a.csv").write_text("\n".join(rows[:900]) + "\n")
    with gzip.open(csv_dir / "b.csv.gz", "wt") as fh:
        fh.write("\n".join(rows[900:]) + "\n")
    rgb_dir = tmp_path / "rgb"
    rgb_dir.mkdir()
    np.savez(rgb_dir / "data.npz", images=np.repeat(images, 3, axis=1), labels=labels)
    for d, desc in ((csv_dir, "1x8x8"), (rgb_dir, "3x8x8")):
        out = tmp_path / f"out-{d.name}"
        r = run_main(["--max-steps", "3", "--threads", "1", "--data", d, "--output-dir", out])
        assert r.returncode == 0, r.stderr
        assert f"train 1258 / val 269 / test 270, {desc}" in r.stdout
        assert read_metrics(out)[-1]["step"] == 3
        assert model_mod.load_model(out / "model.pt")[0].config["in_channels"] == int(desc[0])


def test_bad_data_dir_is_a_clear_error(tmp_path, run_main):
    (tmp_path / "d").mkdir()
    r = run_main(["--data", tmp_path / "d", "--output-dir", tmp_path / "o"])
    assert r.returncode == 2 and "expected data.npz or *.csv" in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and r.stderr.startswith(
        f"ERROR: --data {tmp_path}"
    )
    assert "Traceback" not in r.stderr


def _bad_data_cases(tmp_path: Path) -> dict:
    """name -> (path given to --data, text the one-line error must contain)."""
    images, labels = data_mod.load_digits_arrays()
    rows = gzip.decompress((SCRIPTS / "data" / "digits.csv.gz").read_bytes()).decode().splitlines()
    cases = {}

    def folder(name):
        d = tmp_path / name
        d.mkdir()
        return d

    cases["missing"] = (tmp_path / "nope", "no such file or folder")
    cases["empty"] = (folder("empty"), "expected data.npz")
    d = folder("corrupt")
    (d / "data.npz").write_bytes(b"not a zip file")
    cases["corrupt"] = (d, "not a readable .npz")
    d = folder("pickled")
    np.savez(d / "data.npz", images=np.array([object()] * 3, dtype=object), labels=np.arange(3))
    cases["pickled"] = (d, "not a readable .npz")
    d = folder("nolabels")
    np.savez(d / "data.npz", images=images)
    cases["nolabels"] = (d, "needs 'images' and 'labels'")
    d = folder("ragged")
    (d / "a.csv").write_text(rows[0] + "\n" + rows[1] + ",3\n")
    cases["ragged"] = (d, "not a readable numeric CSV")
    d = folder("sizes")
    (d / "a.csv").write_text("\n".join(rows[:50]) + "\n")
    (d / "b.csv").write_text("\n".join(",".join(["1"] * 16 + ["0"]) for _ in range(50)) + "\n")
    cases["sizes"] = (d, "has 4x4 images but")
    d = folder("textlabel")
    (d / "a.csv").write_text(rows[0].rsplit(",", 1)[0] + ",cat\n")
    cases["textlabel"] = (d, "not a readable numeric CSV")
    d = folder("range")
    np.savez(d / "data.npz", images=images, labels=labels, num_classes=5)
    cases["range"] = (d, "label 9 is out of range for num_classes 5")
    d = folder("negative")
    (d / "a.csv").write_text(rows[0].rsplit(",", 1)[0] + ",-3\n")
    cases["negative"] = (d, "a.csv: label -3 (row 0) is not an integer")
    d = folder("nonsquare")
    np.savez(d / "data.npz", images=np.zeros((30, 8, 6)), labels=np.zeros(30, dtype=int))
    cases["nonsquare"] = (d, "H == W")
    d = folder("gz")
    (d / "a.csv.gz").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode())[:500])
    cases["gz"] = (d, "not a readable numeric CSV")
    d = folder("nan")
    bad = images.copy()
    bad[3, 0, 2, 2] = np.nan
    np.savez(d / "data.npz", images=bad, labels=labels)
    cases["nan"] = (d, "NaN or infinite")
    d = folder("tiny")
    np.savez(d / "data.npz", images=images[:1], labels=labels[:1])
    cases["tiny"] = (d, "too few for the 70/15/15")
    return cases


def test_every_bad_data_case_is_a_one_line_error(tmp_path, run_main):
    cases = _bad_data_cases(tmp_path)
    for name, (path, expected) in cases.items():
        with pytest.raises(data_mod.DataError, match=re.escape(expected)) as info:
            data_mod.load_dataset("digits", str(path))
        assert "\n" not in str(info.value), name
    # Through the script: exit 2, one ERROR line naming --data, no traceback, nothing trained.
    path, expected = cases["nan"]
    r = run_main(["--data", path, "--output-dir", tmp_path / "o"])
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"ERROR: --data {path}: ") and expected in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "o" / "metrics.jsonl").exists()


def test_unwritable_output_or_checkpoint_dir_fails_before_reading_data(tmp_path, run_main):
    afile = tmp_path / "afile"
    afile.write_text("")
    missing = ["--data", tmp_path / "missing"]  # read first, this would be a --data error
    r = run_main([*missing, "--output-dir", afile])
    assert r.returncode == 2 and r.stderr.startswith(f"ERROR: --output-dir {afile}: is a file"), r.stderr
    r = run_main([*missing, "--output-dir", tmp_path / "o", "--checkpoint-dir", afile / "sub"])
    assert r.returncode == 2 and r.stderr.startswith(f"ERROR: --checkpoint-dir {afile / 'sub'}:"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_resume_with_other_settings_is_refused_and_old_checkpoints_still_resume(tmp_path, run_main):
    base = ["--max-steps", "3", "--threads", "1", "--output-dir", tmp_path]
    assert run_main(base).returncode == 0
    ckpt = tmp_path / "checkpoints" / "ckpt-000000003.pt"
    for changed, expected in (
        (["--batch-size", "512"], "--batch-size 64 -> 512"),
        (["--width", "16", "--lr", "0.1"], "--lr 0.01 -> 0.1; --width 32 -> 16"),
        (["--epochs", "7"], "--epochs 20 -> 7"),
        (
            ["--dataset", "synthetic", "--synthetic-size", "300", "--synthetic-image-size", "8"],
            "data --dataset",
        ),
    ):
        r = run_main([*base, *changed])
        assert r.returncode == 2, (changed, r.stderr)
        assert r.stderr.startswith(f"ERROR: checkpoint {ckpt} belongs to a run with other settings"), r.stderr
        assert expected in r.stderr and "--no-resume" in r.stderr and "--output-dir" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    # Not part of the signature: a raised --max-steps continues the same run.
    r = run_main([*base[2:], "--max-steps", "4", "--checkpoint-every", "1"])
    assert r.returncode == 0 and "resumed from checkpoint" in r.stdout, r.stderr
    # A checkpoint from before signatures existed: resumed as before, with a warning.
    newest = tmp_path / "checkpoints" / "ckpt-000000004.pt"
    state = torch.load(newest, weights_only=False)
    del state["signature"]
    torch.save(state, newest)
    r = run_main([*base[2:], "--max-steps", "5", "--batch-size", "512"])
    assert r.returncode == 0 and "has no run signature" in r.stderr and "global step 4" in r.stdout


@pytest.mark.slow
def test_corrupt_newest_checkpoint_falls_back_to_previous(tmp_path, run_main):
    out = tmp_path / "out"
    r = run_main(
        [
            "--epochs",
            "3",
            "--max-steps",
            "38",
            "--checkpoint-every",
            "19",
            "--threads",
            "1",
            "--output-dir",
            out,
        ]
    )
    assert r.returncode == 0, r.stderr
    ckpts = sorted((out / "checkpoints").glob("ckpt-*.pt"))
    assert [p.name for p in ckpts] == ["ckpt-000000019.pt", "ckpt-000000038.pt"]
    newest = ckpts[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # truncated mid-write
    r = run_main(["--epochs", "3", "--threads", "1", "--output-dir", out])
    assert r.returncode == 0, r.stderr
    assert "WARNING: skipping unreadable checkpoint" in r.stderr and newest.name in r.stderr
    assert "resumed from checkpoint" in r.stdout and "ckpt-000000019.pt at epoch 1 step 0" in r.stdout
    lines = read_metrics(out)
    resumed = [m for m in lines if m.get("resumed_from_step") == 19]
    assert [m.get("epoch") for m in resumed if not m.get("final")] == [1, 2] and resumed[-1]["final"]


@pytest.mark.slow
def test_no_resume_moves_old_checkpoints_and_outputs_aside_so_a_rerun_resumes_the_new_run(tmp_path, run_main):
    out = ["--threads", "1", "--output-dir", tmp_path]
    assert run_main([*out, "--max-steps", "5"]).returncode == 0
    first_metrics, first_model = (
        (tmp_path / "metrics.jsonl").read_bytes(),
        (tmp_path / "model.pt").read_bytes(),
    )
    ckpts = tmp_path / "checkpoints"
    r = run_main([*out, "--max-steps", "2", "--no-resume", "--batch-size", "128"])
    assert r.returncode == 0, r.stderr
    (moved,) = ckpts.glob("previous-*")
    assert f"moved the existing checkpoints to {moved}" in r.stdout
    assert [p.name for p in moved.iterdir()] == ["ckpt-000000005.pt"]  # kept, not deleted
    assert [p.name for p in ckpts.glob("ckpt-*.pt")] == ["ckpt-000000002.pt"]
    # The first run's outputs moved aside whole: nothing overwritten, nothing appended to.
    (old,) = tmp_path.glob("previous-*")
    assert f"moved the earlier outputs (model.pt, metrics.jsonl) to {old}" in r.stdout
    assert (old / "metrics.jsonl").read_bytes() == first_metrics and (
        old / "model.pt"
    ).read_bytes() == first_model
    assert [rec["step"] for rec in read_metrics(tmp_path)] == [
        2,
        2,
    ]  # the new run's epoch line and final line
    r = run_main([*out, "--max-steps", "3", "--batch-size", "128"])  # the plain rerun after a preemption
    assert r.returncode == 0 and "ckpt-000000002.pt at epoch 0 step 2" in r.stdout, r.stderr
    assert len(list(tmp_path.glob("previous-*"))) == 1  # a resumed run continues its own files


@pytest.mark.slow
def test_a_fresh_run_never_overwrites_or_appends_to_files_already_there(tmp_path, run_main):
    (tmp_path / "metrics.jsonl").write_text("my own notes\n")
    (tmp_path / "model.pt").write_text("my own model\n")
    (tmp_path / "keep.txt").write_text("untouched\n")
    r = run_main(["--threads", "1", "--max-steps", "2", "--output-dir", tmp_path])
    assert r.returncode == 0, r.stderr
    (old,) = tmp_path.glob("previous-*")
    assert (old / "metrics.jsonl").read_text() == "my own notes\n" and (
        old / "model.pt"
    ).read_text() == "my own model\n"
    assert (tmp_path / "keep.txt").read_text() == "untouched\n" and not (old / "keep.txt").exists()
    assert read_metrics(tmp_path)[-1]["final"] is True


def test_unknown_sweep_objective_stops_before_loading_data(tmp_path, run_main):
    # --data points nowhere: had the script read data first it would fail with a --data error instead.
    args = ["--data", tmp_path / "missing", "--output-dir", tmp_path / "out"]
    r = run_main(args, AZURE_TRAINER_OBJECTIVE_METRIC="accuracy")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "'accuracy'" in r.stderr and "val_accuracy" in r.stderr and "sweep.objective.metric" in r.stderr
    assert not (tmp_path / "out").exists()
    # Logged, but not with a number on every run (null unless resumed; a counter): no use to rank trials.
    for name in ("resumed_from_step", "epoch"):
        r = run_main(args, AZURE_TRAINER_OBJECTIVE_METRIC=name)
        assert r.returncode == 2 and f"{name!r}" in r.stderr, (name, r.stderr)


@pytest.mark.slow
def test_known_sweep_objective_is_announced_and_logged(tmp_path, run_main):
    r = run_main(
        ["--max-steps", "3", "--threads", "1", "--output-dir", tmp_path],
        AZURE_TRAINER_OBJECTIVE_METRIC="val_loss",
    )
    assert r.returncode == 0, r.stderr
    assert "sweep objective: val_loss" in r.stdout
    assert all("val_loss" in rec for rec in read_metrics(tmp_path) if not rec.get("final"))


# -- scripts that are not the reference script ----------------------------------------------------------

FIXTURE_SCRIPTS = ROOT / "tests" / "fixtures" / "scripts"
DIGITS_CSV = SCRIPTS / "data" / "digits.csv.gz"


def test_readme_shows_the_helper_script_exactly():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Your own script\n", 1)[1].split("\n## ", 1)[0]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert snippet == (FIXTURE_SCRIPTS / "mlp_helper.py").read_text(encoding="utf-8")


def _mlflow_runs(store: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store)
    return [
        run for exp in client.search_experiments() for run in client.search_runs([exp.experiment_id])
    ], client


@pytest.mark.slow
def test_helper_script_copied_next_to_its_helper_preempts_and_resumes(tmp_path):
    """README's script, as a user would use it: contract.py copied beside it, nothing else of ours.
    (The helper's MLflow path is the one train.py's digits run above reads back.)"""
    (tmp_path / "mlp_helper.py").write_bytes((FIXTURE_SCRIPTS / "mlp_helper.py").read_bytes())
    (tmp_path / "contract.py").write_bytes((SCRIPTS / "contract.py").read_bytes())
    status, out = tmp_path / "status.jsonl", tmp_path / "out"
    args = ["--data", str(DIGITS_CSV), "--output-dir", str(out), "--epochs", "60"]
    common = {"AZURE_TRAINER_STATUS_FILE": str(status), "OMP_NUM_THREADS": "1"}
    script = tmp_path / "mlp_helper.py"
    r = train_process(
        args, cwd=tmp_path, script=script, extra_env={**common, "AZURE_TRAINER_PREEMPT_AT_STEP": "25"}
    )
    assert r.returncode == 75, r.stderr
    events = read_status(status)
    assert [e["event"] for e in events] == ["device", "start"] + ["metrics"] * 25 + ["preempted"]
    assert events[-1]["step"] == 25
    assert events[-1]["checkpoint"] == str(out / "checkpoints" / "ckpt-000000025.pt")
    assert not (out / "model.pt").exists()

    r = train_process(args, cwd=tmp_path, script=script, extra_env=common)
    assert r.returncode == 0, r.stderr
    assert "resumed from checkpoint" in r.stdout and "(step 25)" in r.stdout
    events = read_status(status)[len(events) :]
    assert events[1] == {**events[1], "event": "start", "resumed_from_step": 25}
    assert [e["step"] for e in events if e["event"] == "metrics"] == list(range(26, 61))
    assert events[-1] == {**events[-1], "event": "finished", "step": 60}
    assert (out / "model.pt").exists() and (out / "checkpoints" / "ckpt-000000060.pt").exists()
    last = [e for e in events if e["event"] == "metrics"][-1]["values"]
    assert set(last) == {"loss", "accuracy"} and last["accuracy"] > 0.85


@pytest.mark.slow
def test_plain_argparse_mlflow_script_runs_standalone(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = (tmp_path / "mlruns").as_uri()
    out = tmp_path / "out"
    r = train_process(
        ["--data", str(DIGITS_CSV), "--epochs", "60", "--lr", "0.02", "--output-dir", str(out)],
        cwd=tmp_path,
        script=FIXTURE_SCRIPTS / "mlp_mlflow.py",
        extra_env={"MLFLOW_TRACKING_URI": store, "MLFLOW_ALLOW_FILE_STORE": "true", "OMP_NUM_THREADS": "1"},
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    (run,), client = _mlflow_runs(store)
    assert run.data.params == {"learning_rate": "0.02", "epochs": "60"}
    assert run.data.metrics["accuracy"] > 0.85 and f"accuracy {run.data.metrics['accuracy']:.4f}" in r.stdout
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 60
    assert (out / "model.pt").exists()


def test_shipped_environments_pin_the_torch_the_tests_run():
    """environments/*.yaml train with the release README's test command installs: the CPU twin with its
    CPU build, the GPU one with PyPI's (CUDA) build of the same release."""
    import yaml

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tested = re.search(r"pip install torch==(\d+\.\d+\.\d+) -e '\.\[dev\]'", readme).group(1)
    pins = {}
    for kind in ("cpu", "gpu"):
        env_file = yaml.safe_load((ROOT / "environments" / f"{kind}.yaml").read_text())
        conda = yaml.safe_load((ROOT / "environments" / env_file["conda_file"]).read_text())
        (pip,) = [d["pip"] for d in conda["dependencies"] if isinstance(d, dict)]
        pins[kind] = next(p for p in pip if p.startswith("torch=="))
        assert env_file["tags"]["torch"] == tested
        assert f"torch {tested}" in env_file["description"].replace("PyTorch", "torch")
    assert pins == {"cpu": f"torch=={tested}+cpu", "gpu": f"torch=={tested}"}
    assert "cuda" in yaml.safe_load((ROOT / "environments" / "gpu.yaml").read_text())["image"]
    assert f"torch=={tested}+cpu" in readme and f"`torch=={tested}` from PyPI" in readme


# -- precision, compilation and the step's variants, on the CPU ------------------------------------------


def test_fp16_without_cuda_is_a_usage_error(tmp_path, run_main):
    r = run_main(["--precision", "fp16", "--output-dir", tmp_path / "o"])
    assert r.returncode == 2 and r.stderr.startswith("ERROR: --precision fp16 needs a CUDA device"), r.stderr


@pytest.mark.slow
def test_compile_warm_up_is_timed_apart_and_leaves_training_unchanged(tmp_path, run_main, monkeypatch):
    """--compile's warm-up (forward/backward passes before the first epoch) must put weights, buffers
    and gradients back: the run then ends exactly where an uncompiled run does. torch.compile itself is
    replaced by the identity here (inductor takes half a minute on a CPU); the GPU check compiles."""
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: compiled.append(mode) or model)
    common = ["--max-steps", "25", "--deterministic", "--threads", "1"]
    plain = run_main([*common, "--output-dir", tmp_path / "plain"])
    r = run_main([*common, "--compile", "--output-dir", tmp_path / "compiled"])
    assert plain.returncode == 0 and r.returncode == 0, r.stderr
    assert compiled == ["default"]  # --compile-mode auto: reduce-overhead is for CUDA only
    assert "compile True (default)" in r.stdout and re.search(r"compile: [\d.]+s of warm-up", r.stdout)
    final = read_metrics(tmp_path / "compiled")[-1]
    assert final["compile_time_s"] > 0 and read_metrics(tmp_path / "plain")[-1]["compile_time_s"] == 0.0
    a, b = state_dict(tmp_path / "plain" / "model.pt"), state_dict(tmp_path / "compiled" / "model.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert final["test_accuracy"] == read_metrics(tmp_path / "plain")[-1]["test_accuracy"]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(torch.amp, "GradScaler"), reason="torch < 2.3 has no CPU GradScaler")
def test_the_grad_scaler_branch_of_the_step_updates_like_the_plain_one():
    """The GradScaler branch of the step (fp16 on V100/T4), exercised on the CPU in fp32: scaling the
    loss by a power of two and unscaling the gradients must give the plain step's update."""
    import engine

    ds = data_mod.load_dataset("digits", None)
    cpu = torch.device("cpu")

    def one_epoch(scaler):
        torch.manual_seed(0)
        model = model_mod.build_model(1, 10, 8, 2, 8)
        opt = engine.make_optimizer(model, 1e-2, 0.0, cpu)
        trainer = engine.Trainer(model, model, opt, engine.make_scheduler(opt, 1e-2, 40), ds.train, cpu)
        trainer.scaler = scaler
        perm, shifts = trainer.epoch_plan(0)
        for s in range(trainer.steps_per_epoch):
            trainer.train_step(perm, shifts, s)
        return model.state_dict(), trainer

    plain, _ = one_epoch(None)
    scaled, trainer = one_epoch(torch.amp.GradScaler("cpu", init_scale=2.0**10))
    assert trainer.scaler.get_scale() >= 2.0**10  # no overflow, no skipped step
    for k in plain:
        assert torch.allclose(plain[k].float(), scaled[k].float(), rtol=1e-5, atol=1e-6), k

"""The reference training script, run for real in subprocesses on the CPU.

Fast settings throughout (few epochs, one torch thread per process) so the whole file takes about
two minutes on 2 cores.
"""

from __future__ import annotations

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


def env(**extra) -> dict:
    e = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("AZURE_TRAINER_REQUIRE_GPU", "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    e.update({"PYTHONUNBUFFERED": "1", "TRAIN_DISABLE_MLFLOW": "1"}, **extra)
    return e


def train(args, *, cwd=None, timeout=120, script=TRAIN, extra_env=None):
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd or ROOT,
        env=env(**(extra_env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def torchrun(args, timeout=180):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--standalone",
        str(TRAIN),
        *args,
    ]
    return subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=timeout)


def read_metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


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


@pytest.mark.slow
def test_digits_accuracy_metrics_schema_and_model_rebuild(tmp_path):
    out = tmp_path / "out"
    r = train([*FAST, "--output-dir", str(out)])
    assert r.returncode == 0, r.stderr
    # First log lines: the environment banner.
    first = r.stdout.splitlines()[:3]
    assert first[0].startswith("torch ") and "CUDA build" in first[0]
    assert "CUDA devices: 0" in first[1] and "bf16 supported" in first[2] and "CPU count" in first[2]

    lines = read_metrics(out)
    epochs, final = lines[:-1], lines[-1]
    assert [m["epoch"] for m in epochs] == list(range(5))
    for m in epochs:
        assert EPOCH_KEYS <= set(m), set(m) ^ EPOCH_KEYS
        assert m["samples_per_second"] > 0 and m["epoch_time_s"] > 0 and 0 <= m["val_accuracy"] <= 1
        assert m["resumed_from_step"] is None
    assert [m["step"] for m in epochs] == sorted(m["step"] for m in epochs)
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


@pytest.mark.parametrize("how", ["env", "flag"])
def test_strict_gpu_mode_exits_78_before_loading_data(tmp_path, how):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    # --data points nowhere: had the script touched the data first it would fail with exit 1 instead.
    args = ["--data", str(tmp_path / "missing"), "--output-dir", str(tmp_path / "out")]
    if how == "env":
        r = train(args, extra_env={"AZURE_TRAINER_REQUIRE_GPU": "1"})
    else:
        r = train([*args, "--device", "cuda"])
    assert r.returncode == 78, (r.returncode, r.stderr)
    assert "no CUDA device is visible" in r.stderr
    assert "VM size" in r.stderr and "CPU build of torch" in r.stderr and "CUDA_VISIBLE_DEVICES" in r.stderr
    assert "data " not in r.stdout and not (tmp_path / "out").exists()


def test_cpu_job_without_gpu_requirement_runs(tmp_path):
    r = train(
        ["--max-steps", "2", "--threads", "1", "--output-dir", str(tmp_path)],
        extra_env={"AZURE_TRAINER_REQUIRE_GPU": "0"},
    )
    assert r.returncode == 0, r.stderr
    assert read_metrics(tmp_path)[-1]["step"] == 2


def test_cli_help_and_usage_errors():
    r = train(["--help"])
    assert r.returncode == 0
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
    ):
        assert flag in r.stdout, flag
    assert train(["--epochs", "0"]).returncode == 2
    assert train(["--device", "tpu"]).returncode == 2


@pytest.mark.slow
def test_sigterm_mid_epoch_then_resume_is_bit_identical(tmp_path):
    common = ["--epochs", "3", "--deterministic", "--threads", "1", "--seed", "3"]
    ref = tmp_path / "ref"
    r = train([*common, "--output-dir", str(ref)])
    assert r.returncode == 0, r.stderr

    out = tmp_path / "run"
    # 57 steps at >= 0.07 s each take >= 4 s: a delay up to 2.5 s lands anywhere in the first ~60% of the
    # run, and a loaded machine only makes steps slower, never the run shorter.
    delay = random.Random().uniform(0.3, 2.5)
    print(f"SIGTERM after {delay:.2f}s of training")
    proc = subprocess.Popen(
        [sys.executable, str(TRAIN), *common, "--output-dir", str(out), "--step-delay", "0.07"],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:  # wait until training is about to start
        if line.startswith("schedule:"):
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 75, (proc.returncode, stderr)
    m = re.search(r"checkpoint written at epoch (\d+) step (\d+) \(global step (\d+)\)", stdout)
    assert m, stdout
    epoch, step, global_step = map(int, m.groups())
    print(f"preempted at epoch {epoch} step {step} (global {global_step})")
    assert not (out / "model.pt").exists()
    assert 0 < global_step < 3 * 19

    r2 = train([*common, "--output-dir", str(out)])
    assert r2.returncode == 0, r2.stderr
    assert f"at epoch {epoch} step {step}" in r2.stdout and "resumed from checkpoint" in r2.stdout
    lines = read_metrics(out)
    assert lines[-1]["final"] and lines[-1]["resumed_from_step"] == global_step
    a, b = state_dict(ref / "model.pt"), state_dict(out / "model.pt")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    assert lines[-1]["test_accuracy"] == read_metrics(ref)[-1]["test_accuracy"]


@pytest.mark.slow
def test_corrupt_newest_checkpoint_falls_back_to_previous(tmp_path):
    out = tmp_path / "out"
    r = train(["--epochs", "3", "--max-steps", "38", "--threads", "1", "--output-dir", str(out)])
    assert r.returncode == 0, r.stderr
    ckpts = sorted((out / "checkpoints").glob("ckpt-*.pt"))
    assert [p.name for p in ckpts] == ["ckpt-000000019.pt", "ckpt-000000038.pt"]
    newest = ckpts[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # truncated mid-write
    r = train(["--epochs", "3", "--threads", "1", "--output-dir", str(out)])
    assert r.returncode == 0, r.stderr
    assert "WARNING: skipping unreadable checkpoint" in r.stderr and newest.name in r.stderr
    assert "resumed from checkpoint" in r.stdout and "ckpt-000000019.pt at epoch 1 step 0" in r.stdout
    lines = read_metrics(out)
    resumed = [m for m in lines if m.get("resumed_from_step") == 19]
    assert [m.get("epoch") for m in resumed if not m.get("final")] == [1, 2] and resumed[-1]["final"]


@pytest.mark.slow
def test_two_process_gloo_run_reaches_threshold_and_only_rank0_writes(tmp_path):
    out = tmp_path / "out"
    r = torchrun([*FAST, "--output-dir", str(out)])
    assert r.returncode == 0, r.stderr[-3000:]
    assert "distributed: world size 2, backend gloo" in r.stdout
    lines = read_metrics(out)
    # One line per epoch: had rank 1 also written, every epoch would appear twice.
    assert [m["epoch"] for m in lines[:-1]] == list(range(5)) and lines[-1]["final"]
    assert lines[-1]["test_accuracy"] >= 0.95
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "metrics.jsonl", "model.pt"]
    assert r.stdout.count("test loss") == 1  # rank 1 prints nothing either
    # Global batch 64 over 2 ranks: same steps per epoch as one process.
    assert lines[0]["step"] == 19


@pytest.mark.slow
def test_crash_on_one_rank_ends_the_job(tmp_path):
    t0 = time.monotonic()
    r = torchrun([*FAST, "--output-dir", str(tmp_path), "--debug-crash-rank", "1"], timeout=120)
    assert r.returncode != 0
    assert "rank 1 crashing on purpose" in r.stderr
    assert time.monotonic() - t0 < 120
    assert not (tmp_path / "model.pt").exists()


@pytest.mark.slow
def test_data_dir_npz_and_csv_formats(tmp_path):
    images, labels = data_mod.load_digits_arrays()
    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    # (N, H, W) uint8 at a different scale: normalisation must make it irrelevant.
    np.savez(npz_dir / "data.npz", images=(images[:, 0] * 15).astype(np.uint8), labels=labels)
    out = tmp_path / "out"
    r = train([*FAST, "--data", str(npz_dir), "--output-dir", str(out)])
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
        r = train(["--max-steps", "3", "--threads", "1", "--data", str(d), "--output-dir", str(out)])
        assert r.returncode == 0, r.stderr
        assert f"train 1258 / val 269 / test 270, {desc}" in r.stdout
        assert read_metrics(out)[-1]["step"] == 3
        assert model_mod.load_model(out / "model.pt")[0].config["in_channels"] == int(desc[0])


def test_bad_data_dir_is_a_clear_error(tmp_path):
    (tmp_path / "d").mkdir()
    r = train(["--data", str(tmp_path / "d"), "--output-dir", str(tmp_path / "o")])
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


def test_every_bad_data_case_is_a_one_line_error(tmp_path):
    cases = _bad_data_cases(tmp_path)
    for name, (path, expected) in cases.items():
        with pytest.raises(data_mod.DataError, match=re.escape(expected)) as info:
            data_mod.load_dataset("digits", str(path))
        assert "\n" not in str(info.value), name
    # Through the script: exit 2, one ERROR line naming --data, no traceback, nothing trained.
    path, expected = cases["nan"]
    r = train(["--data", str(path), "--output-dir", str(tmp_path / "o")])
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"ERROR: --data {path}: ") and expected in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "o" / "metrics.jsonl").exists()


def test_out_of_range_flags_are_usage_errors(tmp_path):
    for bad in (
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
    ):
        r = train([*bad, "--output-dir", str(tmp_path)])
        assert r.returncode == 2 and bad[0] in r.stderr and "Traceback" not in r.stderr, (bad, r.stderr)
    # --depth deeper than the image allows (8x8: two 2x2 pools, so 3 stages) is caught once the data is known.
    r = train(["--depth", "4", "--output-dir", str(tmp_path)])
    assert r.returncode == 2 and r.stderr.startswith("ERROR: --depth 4 is too deep for 8x8 images"), r.stderr


def test_unwritable_output_or_checkpoint_dir_fails_before_reading_data(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    missing = ["--data", str(tmp_path / "missing")]  # read first, this would be a --data error
    r = train([*missing, "--output-dir", str(afile)])
    assert r.returncode == 2 and r.stderr.startswith(f"ERROR: --output-dir {afile}: is a file"), r.stderr
    r = train([*missing, "--output-dir", str(tmp_path / "o"), "--checkpoint-dir", str(afile / "sub")])
    assert r.returncode == 2 and r.stderr.startswith(f"ERROR: --checkpoint-dir {afile / 'sub'}:"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_resume_with_other_settings_is_refused_and_old_checkpoints_still_resume(tmp_path):
    base = ["--max-steps", "3", "--threads", "1", "--output-dir", str(tmp_path)]
    assert train(base).returncode == 0
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
        r = train([*base, *changed])
        assert r.returncode == 2, (changed, r.stderr)
        assert r.stderr.startswith(f"ERROR: checkpoint {ckpt} belongs to a run with other settings"), r.stderr
        assert expected in r.stderr and "--no-resume" in r.stderr and "--output-dir" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    # Not part of the signature: a raised --max-steps continues the same run.
    r = train([*base[2:], "--max-steps", "4", "--checkpoint-every", "1"])
    assert r.returncode == 0 and "resumed from checkpoint" in r.stdout, r.stderr
    # A checkpoint from before signatures existed: resumed as before, with a warning.
    newest = tmp_path / "checkpoints" / "ckpt-000000004.pt"
    state = torch.load(newest, weights_only=False)
    del state["signature"]
    torch.save(state, newest)
    r = train([*base[2:], "--max-steps", "5", "--batch-size", "512"])
    assert r.returncode == 0 and "has no run signature" in r.stderr and "global step 4" in r.stdout


def test_no_resume_moves_old_checkpoints_aside_so_a_rerun_resumes_the_new_run(tmp_path):
    out = ["--threads", "1", "--output-dir", str(tmp_path)]
    assert train([*out, "--max-steps", "5"]).returncode == 0
    ckpts = tmp_path / "checkpoints"
    r = train([*out, "--max-steps", "2", "--no-resume", "--batch-size", "128"])
    assert r.returncode == 0, r.stderr
    (moved,) = ckpts.glob("previous-*")
    assert f"moved the existing checkpoints to {moved}" in r.stdout
    assert [p.name for p in moved.iterdir()] == ["ckpt-000000005.pt"]  # kept, not deleted
    assert [p.name for p in ckpts.glob("ckpt-*.pt")] == ["ckpt-000000002.pt"]
    r = train([*out, "--max-steps", "3", "--batch-size", "128"])  # the plain rerun after a preemption
    assert r.returncode == 0 and "ckpt-000000002.pt at epoch 0 step 2" in r.stdout, r.stderr


def test_runs_from_inside_train_scripts(tmp_path):
    r = train(
        ["--max-steps", "2", "--threads", "1", "--output-dir", str(tmp_path)],
        cwd=SCRIPTS,
        script=Path("train.py"),
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "model.pt").exists() and read_metrics(tmp_path)[-1]["final"] is True


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
def test_sigterm_on_one_rank_gives_one_consistent_checkpoint_and_resumes(tmp_path):
    out = tmp_path / "out"
    args = ["--epochs", "3", "--threads", "1", "--output-dir", str(out)]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--standalone",
        str(TRAIN),
        *args,
    ]
    proc = subprocess.Popen(
        [*cmd, "--step-delay", "0.1"],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        if line.startswith("schedule:"):
            break
    time.sleep(random.Random().uniform(0.5, 3.0))
    rank1 = _child_with_rank(proc.pid, 1)
    assert rank1 is not None
    os.kill(rank1, signal.SIGTERM)  # only rank 1 is told; rank 0 must stop at the same step
    stdout, _ = proc.communicate(timeout=90)
    assert proc.returncode != 0  # torchrun reports the ranks' exit 75 as a failed run (its exit code is 1)
    assert "exitcode: 75" in stdout
    m = re.search(r"checkpoint written at epoch (\d+) step (\d+) \(global step (\d+)\)", stdout)
    assert m, stdout[-3000:]
    global_step = int(m.group(3))
    assert (out / "checkpoints" / f"ckpt-{global_step:09d}.pt").exists() and not (out / "model.pt").exists()

    r = torchrun(args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"(global step {global_step})" in r.stdout and "resumed from checkpoint" in r.stdout
    final = read_metrics(out)[-1]
    assert final["final"] and final["resumed_from_step"] == global_step and final["step"] == 3 * 19


def test_unknown_sweep_objective_stops_before_loading_data(tmp_path):
    # --data points nowhere: had the script read data first it would fail with a --data error instead.
    args = ["--data", str(tmp_path / "missing"), "--output-dir", str(tmp_path / "out")]
    r = train(args, extra_env={"AZURE_TRAINER_OBJECTIVE_METRIC": "accuracy"})
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "'accuracy'" in r.stderr and "val_accuracy" in r.stderr and "sweep.objective.metric" in r.stderr
    assert not (tmp_path / "out").exists()
    # Logged, but not with a number on every run (null unless resumed; a counter): no use to rank trials.
    for name in ("resumed_from_step", "epoch"):
        r = train(args, extra_env={"AZURE_TRAINER_OBJECTIVE_METRIC": name})
        assert r.returncode == 2 and f"{name!r}" in r.stderr, (name, r.stderr)


def test_known_sweep_objective_is_announced_and_logged(tmp_path):
    r = train(
        ["--max-steps", "3", "--threads", "1", "--output-dir", str(tmp_path)],
        extra_env={"AZURE_TRAINER_OBJECTIVE_METRIC": "val_loss"},
    )
    assert r.returncode == 0, r.stderr
    assert "sweep objective: val_loss" in r.stdout
    assert all("val_loss" in rec for rec in read_metrics(tmp_path) if not rec.get("final"))


def test_metrics_reach_mlflow_under_the_same_names(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # for the client reading the store back
    store = (tmp_path / "mlruns").as_uri()
    out = tmp_path / "out"
    r = train(
        ["--epochs", "2", "--max-steps", "30", "--threads", "1", "--lr", "0.02", "--output-dir", str(out)],
        extra_env={
            "TRAIN_DISABLE_MLFLOW": "0",
            "MLFLOW_TRACKING_URI": store,
            "MLFLOW_ALLOW_FILE_STORE": "true",  # mlflow 3 refuses its file store unless told; fine for a test
        },
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    assert "MLflow logging disabled" not in r.stdout
    client = MlflowClient(tracking_uri=store)
    runs = [run for exp in client.search_experiments() for run in client.search_runs([exp.experiment_id])]
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run = runs[0]
    assert run.data.params["lr"] == "0.02" and run.data.params["epochs"] == "2"
    records = read_metrics(out)
    epochs = [rec for rec in records if not rec.get("final")]
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert [(m.step, m.value) for m in history] == [(rec["step"], rec["val_accuracy"]) for rec in epochs]
    assert run.data.metrics["test_accuracy"] == records[-1]["test_accuracy"]
    assert {"train_loss", "val_loss", "samples_per_second", "lr"} <= set(run.data.metrics)

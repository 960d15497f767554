"""benchmarks/ in their tiny settings, mostly in this process: real runs, real numbers, and the GPU
acceptance check's plan, gating and report with made-up results (no GPU here)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "train_scripts"))

import gpt_bench  # noqa: E402
import gpu_check  # noqa: E402
import loop_bench  # noqa: E402
import peaks  # noqa: E402
import seed_accuracy  # noqa: E402
import timing  # noqa: E402
import train  # noqa: E402
import train_bench  # noqa: E402


@pytest.fixture
def quiet_env(monkeypatch):
    monkeypatch.setenv("TRAIN_DISABLE_MLFLOW", "1")
    for name in list(os.environ):
        if name.startswith("AZURE_TRAINER_"):
            monkeypatch.delenv(name)


@pytest.fixture
def train_in_process(monkeypatch, quiet_env):
    """The benchmarks' train.py launcher, run in this process (its own process costs seconds here)."""

    def run_train(argv):
        handler, threads = signal.getsignal(signal.SIGTERM), torch.get_num_threads()
        err = io.StringIO()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                code = train.main(list(argv))
        except SystemExit as exc:
            code = exc.code
        finally:
            signal.signal(signal.SIGTERM, handler)
            torch.set_num_threads(threads)
        return code, err.getvalue()

    monkeypatch.setattr(train_bench, "run_train", run_train)
    monkeypatch.setattr(seed_accuracy, "run_train", run_train)


# -- the peak table ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, label, bf16",
    [
        ("NVIDIA L40S", "L40S", 362.1),
        ("NVIDIA L40", "L40", 181.0),  # not the L4
        ("NVIDIA L4", "L4", 121.0),
        ("NVIDIA H200 NVL", "H200 NVL", 835.0),  # not the SXM H200
        ("NVIDIA H200", "H200 SXM", 989.4),
        ("NVIDIA GH200 480GB", "GH200", 989.4),
        ("NVIDIA H100 80GB HBM3", "H100 SXM", 989.4),
        ("NVIDIA H100 PCIe", "H100 PCIe", 756.5),
        ("NVIDIA H100 NVL", "H100 NVL", 835.0),
        ("NVIDIA A100-SXM4-80GB", "A100", 312.0),
        ("NVIDIA A100 80GB PCIe", "A100", 312.0),
        ("NVIDIA A10", "A10", 125.0),  # not an A100
        ("Tesla V100-PCIE-16GB", "V100 PCIe", 112.0),
        ("Tesla V100-SXM2-32GB", "V100 SXM2", 125.0),
        ("Tesla T4", "T4", 65.0),
        ("AMD Instinct MI300X", "MI300X", 1307.4),
    ],
)
def test_peak_table_matches_whole_name_tokens(name, label, bf16):
    peak = peaks.gpu_peak(name)
    assert peak is not None and (peak.label, peak.bf16) == (label, bf16)
    value, source = peaks.peak_tflops("cuda", name, "bf16")
    assert value == bf16 and label in source and "dense" in source


def test_peak_follows_the_precision_the_run_used():
    assert peaks.peak_tflops("cuda", "NVIDIA H100 80GB HBM3", "fp32", tf32=True)[0] == 494.7
    assert peaks.peak_tflops("cuda", "NVIDIA H100 80GB HBM3", "fp32", tf32=False)[0] == 66.9
    assert (
        peaks.peak_tflops("cuda", "Tesla V100-SXM2-32GB", "fp32", tf32=True)[0] == 15.7
    )  # Volta has no TF32
    assert peaks.peak_tflops("cuda", "Tesla T4", "fp16")[0] == 65.0
    assert peaks.peak_tflops("cuda", "NVIDIA GeForce RTX 4090", "bf16") == (
        None,
        "unknown GPU 'NVIDIA GeForce RTX 4090': no peak in benchmarks/peaks.py",
    )
    value, source = peaks.peak_tflops("cpu", "AMD EPYC", "fp32")
    assert value == peaks.cpu_peak_estimate() > 0 and "rough" in source


# -- timing -----------------------------------------------------------------------------------------------


def test_measure_times_at_least_min_seconds_after_an_untimed_warmup():
    calls = []

    def step():
        calls.append(1)
        sum(range(20_000))

    t = timing.measure(step, torch.device("cpu"), warmup=2, min_seconds=0.05)
    assert t["warmup_steps"] == 2 and t["timed_s"] >= 0.05 and t["timed_steps"] >= 2
    assert len(calls) > 2 + t["timed_steps"]  # warm-up, the doubling probes, then the counted run
    calls.clear()
    t = timing.measure(step, torch.device("cpu"), warmup=1, steps=4, finish=lambda: calls.append("read"))
    assert t["timed_steps"] == 4 and calls == [1, "read", 1, 1, 1, 1, "read"]


# -- the transformer benchmark ----------------------------------------------------------------------------


@pytest.mark.slow
def test_gpt_bench_counts_flops_like_the_6n_estimate_and_reports_mfu(tmp_path, capsys):
    cfg = gpt_bench.CONFIGS["tiny"]
    model = gpt_bench.GPT(cfg)
    n = gpt_bench.matmul_parameters(model)
    assert n == sum(p.numel() for p in model.parameters()) - cfg.seq * cfg.d_model
    assert gpt_bench.estimated_flops(cfg, n) == 6 * n * 256 + 12 * 2 * 64 * 64 * 256

    out = tmp_path / "gpt.json"
    assert (
        gpt_bench.main(["--config", "tiny", "--device", "cpu", "--min-seconds", "0.2", "--json", str(out)])
        == 0
    )
    rep = json.loads(out.read_text())
    r = rep["devices"]["cpu"]
    assert 0.98 < r["flops_vs_estimate"] < 1.02  # FlopCounterMode, SDPA included, against 6N + attention
    assert r["timed_s"] >= 0.2 and r["timed_steps"] >= 1 and r["warmup_steps"] == 3
    assert r["step_time_s"] == pytest.approx(r["timed_s"] / r["timed_steps"])
    assert r["achieved_tflops"] == pytest.approx(r["flops_per_step"] / r["step_time_s"] / 1e12)
    assert r["mfu"] == pytest.approx(r["achieved_tflops"] / r["peak_tflops"])
    assert r["precision"] == "fp32" and r["loss_finite"] and math.isfinite(r["final_loss"])
    assert rep["gpu_vs_cpu_speedup"] is None and rep["config"]["name"] == "tiny"
    text = capsys.readouterr().out
    assert "| counted / 6N estimate |" in text and "| MFU |" in text

    assert (
        gpt_bench.main(
            ["--config", "tiny", "--device", "cpu", "--steps", "2", "--warmup", "1", "--json", str(out)]
        )
        == 0
    )
    assert json.loads(out.read_text())["devices"]["cpu"]["timed_steps"] == 2


def test_gpt_bench_refuses_cuda_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit, match="no CUDA device is visible"):
        gpt_bench.main(["--config", "tiny", "--devices", "cuda,cpu"])


# -- the loop ladder and train_bench ----------------------------------------------------------------------


@pytest.mark.slow
def test_loop_bench_changes_one_thing_per_rung(tmp_path, capsys, quiet_env):
    out = tmp_path / "loop.json"
    assert loop_bench.main(["--quick", "--device", "cpu", "--threads", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    names = [r["rung"] for r in res["rungs"]]
    assert names == [name for name, *_ in loop_bench.RUNGS] + ["engine.Trainer"]
    # Each rung's loop differs from the one above it by exactly one setting.
    loops = [loop for _, _, loop, _ in loop_bench.RUNGS]
    for above, below in zip(loops, loops[1:], strict=False):
        assert sum(a != b for a, b in zip(vars(above).values(), vars(below).values(), strict=True)) == 1
    rows = {r["rung"]: r for r in res["rungs"]}
    assert (
        rows["+ channels_last"]["skipped"] == "CUDA only"
        and rows["+ channels_last"]["samples_per_second"] is None
    )
    measured = [r for r in res["rungs"] if r["samples_per_second"]]
    for prev, row in zip(measured, measured[1:], strict=False):
        assert row["effect"] == pytest.approx(row["samples_per_second"] / prev["samples_per_second"])
    assert res["ratio"] == pytest.approx(
        res["optimised_samples_per_second"] / res["textbook_samples_per_second"]
    )
    assert "| rung | change | samples/s | effect of this change |" in capsys.readouterr().out


@pytest.mark.slow
def test_train_bench_quick_cpu_columns_bookkeeping_and_no_gpu_note(tmp_path, capsys, train_in_process):
    out = tmp_path / "train.json"
    assert train_bench.main(["--quick", "--threads", "1", "--json", str(out)]) == 0
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
    assert "time_to_98_val_accuracy_s" in cpu and cpu["compile_time_s"] == 0.0
    assert 0 < cpu["final_test_accuracy"] <= 1
    # One training step's FLOPs: forward + backward of SmallCNN at batch 128 on 3x32x32 is ~7.7 GFLOP.
    assert 5e9 < cpu["flops_per_step"] < 1e10
    book = cpu["bookkeeping"]
    assert book["steps_per_epoch"] == 19 and book["step_time_s"] > 0 and book["checkpoint_s"] > 0
    assert book["bookkeeping_fraction_of_epoch"] == pytest.approx(
        book["bookkeeping_per_epoch_s"] / (book["steps_per_epoch"] * book["step_time_s"])
    )
    assert book["checkpoint_interval_s"] == 300.0
    text = capsys.readouterr().out
    assert "bookkeeping per epoch / epoch's step time" in text
    if not torch.cuda.is_available():
        assert rep["gpu_available"] is False and "cuda" not in rep["devices"]
        assert rep["gpu_vs_cpu_speedup"] is None
        assert "no CUDA device" in rep["note"] and "no GPU here" in text


@pytest.mark.slow
def test_seed_accuracy_reports_each_seed_and_the_mean(tmp_path, capsys, train_in_process):
    out = tmp_path / "seeds.json"
    assert (
        seed_accuracy.main(["--seeds", "2", "--json", str(out), "--", "--max-steps", "5", "--threads", "1"])
        == 0
    )
    data = json.loads(out.read_text())
    assert [r["seed"] for r in data["runs"]] == [0, 1]
    accs = [r["test_accuracy"] for r in data["runs"]]
    assert all(0.0 < a <= 1.0 for a in accs) and accs[0] != accs[1]  # two seeds, two runs
    assert abs(data["mean_test_accuracy"] - sum(accs) / 2) < 1e-9
    assert "mean test accuracy" in capsys.readouterr().out


@pytest.mark.slow
def test_the_benchmarks_launch_train_py_in_a_process_of_its_own(quiet_env):
    code, err = seed_accuracy.run_train(["--epochs", "0"])
    assert code == 2 and "--epochs" in err
    assert train_bench.run_train(["--epochs", "0"])[0] == 2


# -- the GPU acceptance check: plan, gating, report ---------------------------------------------------


def _names(steps) -> list[str]:
    return [s.name for s in steps]


def test_gpu_check_plan_runs_every_part_one_after_another(tmp_path):
    steps = gpu_check.plan(tmp_path, smoke=False, gpus=2)
    names = _names(steps)
    assert names[:2] == ["strict-visible", "strict-hidden"]
    assert [n for n in names if n.startswith("digits-cuda-")] == [f"digits-cuda-{s}" for s in range(5)]
    assert [n for n in names if n.startswith("digits-cpu-")] == [f"digits-cpu-{s}" for s in range(5)]
    assert {
        "fp32-true",
        "fp32-tf32",
        "compile",
        "gpt-mfu",
        "gpt-vs-cpu",
        "train-bench",
        "loop-bench",
        "ddp-nccl",
    } <= set(names)
    by = {s.name: s for s in steps}
    assert by["strict-hidden"].env == {"AZURE_TRAINER_REQUIRE_GPU": "1", "CUDA_VISIBLE_DEVICES": ""}
    assert "--no-tf32" in by["fp32-true"].argv and "--no-tf32" not in by["fp32-tf32"].argv
    assert "--compile" in by["compile"].argv and "--compile" in by["gpt-mfu"].argv
    assert (
        by["gpt-vs-cpu"].argv[-6:-2] == ["--steps", "5", "--warmup", "2"]
        and "cuda,cpu" in by["gpt-vs-cpu"].argv
    )
    assert sum(s.timeout_s for s in steps) < 60 * 60  # every step bounded
    assert names.index("gpt-mfu") < names.index("compile") < names.index("digits-cuda-0")  # headline first
    assert all("--no-resume" in s.argv for s in steps if str(gpu_check.TRAIN) in map(str, s.argv))
    assert by["loop-bench"].argv[-4:-2] == ["--rounds", "3"]
    assert "ddp-nccl" not in _names(gpu_check.plan(tmp_path, smoke=False, gpus=1))
    smoke = _names(gpu_check.plan(tmp_path, smoke=True, gpus=0))
    assert "strict-visible" not in smoke and "compile" not in smoke and smoke[0] == "strict-hidden"


def _digits(acc, t98=0.5, compile_s=0.0):
    return {
        "test_accuracy": acc,
        "train_time_s": 1.0,
        "time_to_98_s": t98,
        "compile_time_s": compile_s,
        "samples_per_second": 1e5,
    }


def _good_results() -> dict:
    ok = {"rc": 0, "timed_out": False, "seconds": 1.0, "command": "x", "status": []}
    res = {
        "strict-visible": {**ok, "status": [{"event": "device", "device": "cuda"}]},
        "strict-hidden": {**ok, "rc": 78, "status": [{"event": "gpu_missing"}]},
    }
    for s in range(5):
        res[f"digits-cuda-{s}"] = {**ok, "digits": _digits(0.990)}
        res[f"digits-cpu-{s}"] = {**ok, "digits": _digits(0.9915)}
    res["digits-cuda-0"]["facts"] = {"precision": "bf16", "tf32": True}
    res["fp32-true"] = {**ok, "digits": _digits(0.99), "facts": {"precision": "fp32", "tf32": False}}
    res["fp32-tf32"] = {**ok, "digits": _digits(0.99), "facts": {"precision": "fp32", "tf32": True}}
    res["compile"] = {**ok, "digits": _digits(0.985, t98=0.4, compile_s=30.0)}
    gpt = {"config": {"name": "large"}, "devices": {"cuda": {"mfu": 0.45}}}
    res["gpt-mfu"] = {**ok, "report": gpt}
    res["gpt-vs-cpu"] = {
        **ok,
        "report": {"config": {"name": "small"}, "devices": {}, "gpu_vs_cpu_speedup": 150.0},
    }
    res["train-bench"] = {**ok, "report": {"devices": {}}}
    res["loop-bench"] = {**ok, "report": {"rungs": []}}
    res["ddp-nccl"] = {**ok, "status": [{"event": "device", "device": "cuda"}] * 2}
    return res


@pytest.mark.parametrize(
    "breakage, failing",
    [
        (None, None),
        (lambda r: r["strict-visible"].update(rc=78), "strict device, GPU visible"),
        (
            lambda r: r["strict-visible"].update(status=[{"event": "device", "device": "cpu"}]),
            "strict device, GPU visible",
        ),
        (lambda r: r["strict-hidden"].update(rc=0), 'strict device, CUDA_VISIBLE_DEVICES=""'),
        (lambda r: r["digits-cuda-3"]["digits"].update(test_accuracy=0.95), "digits accuracy parity"),
        (lambda r: r["digits-cpu-1"].update(rc=1, digits=None), "digits accuracy parity"),
        (lambda r: r["fp32-true"].update(rc=1), "precision: true fp32 (--no-tf32)"),
        # a run that finished but not in the mode it claims: TF32 on in "true fp32", fp32 for "auto"
        (lambda r: r["fp32-true"]["facts"].update(tf32=True), "precision: true fp32 (--no-tf32)"),
        (lambda r: r["fp32-tf32"].update(facts={}), "precision: fp32 with TF32"),
        (lambda r: r["digits-cuda-0"]["facts"].update(precision="fp32"), "precision: auto (bf16)"),
        (
            lambda r: r["loop-bench"].update(rc=None, skipped="not started: 3 s of the budget left"),
            "loop-bench exit code",
        ),
        (lambda r: r["compile"].update(timed_out=True, rc=None), "--compile (CUDA graphs)"),
        (lambda r: r["compile"]["digits"].update(test_accuracy=0.90), "--compile (CUDA graphs)"),
        (lambda r: r["gpt-mfu"].update(rc=1), "gpt-mfu exit code"),
        (lambda r: r["train-bench"].update(report=None), "train-bench exit code"),
        (
            lambda r: r["ddp-nccl"].update(status=[{"event": "device", "device": "cuda"}]),
            "2-process NCCL DDP",
        ),
    ],
)
def test_gpu_check_fails_when_anything_fails(breakage, failing):
    results = _good_results()
    if breakage:
        breakage(results)
    v = gpu_check.verdict(results, smoke=False, gpus=2, elapsed_s=300)
    failed = [c["check"] for c in v["checks"] if c["result"] == "FAIL"]
    assert failed == ([failing] if failing else []) and v["ok"] is (failing is None)


def test_gpu_check_goals_are_reported_met_or_missed():
    results = _good_results()
    goals = {g["goal"]: g for g in gpu_check.verdict(results, smoke=False, gpus=1, elapsed_s=500)["goals"]}
    assert goals["transformer MFU (dense bf16 peak)"]["met"] is True
    assert goals["GPU vs this machine's CPU, same steps"]["met"] is True
    assert goals["digits bf16 GPU vs fp32 CPU, mean of 5 seeds"]["value"] == pytest.approx(0.0015)
    assert goals["digits to 98% val, GPU training time after compile (s)"]["met"] is True
    assert goals["whole check (s)"]["met"] is False  # 500 s > 8 min
    results["gpt-mfu"]["report"]["devices"]["cuda"]["mfu"] = 0.2
    goals = {g["goal"]: g for g in gpu_check.verdict(results, smoke=False, gpus=1, elapsed_s=100)["goals"]}
    assert goals["transformer MFU (dense bf16 peak)"]["met"] is False
    v = gpu_check.verdict(results, smoke=False, gpus=1, elapsed_s=100)
    assert v["ok"] and [c["result"] for c in v["checks"] if c["check"] == "2-process NCCL DDP"] == ["SKIP"]


def test_gpu_check_report_names_the_gpu_and_every_check(tmp_path):
    results = _good_results()
    results["compile"]["rc"] = 1
    env = {
        "torch": "2.13.0",
        "cuda": "13.0",
        "gpus": 1,
        "gpu_name": "NVIDIA H200",
        "driver": "580.1",
        "cpus": 16,
        "python": "3.11",
    }
    report = {
        "date": "2026-12-01 10:00 UTC",
        "smoke": False,
        "environment": env,
        "elapsed_s": 321.0,
        "results": results,
        "verdict": gpu_check.verdict(results, smoke=False, gpus=1, elapsed_s=321.0),
    }
    gpu_check.write_report(tmp_path, report)
    md = (tmp_path / "gpu_check.md").read_text()
    assert (
        md.startswith("# gpu_check: NVIDIA H200 (GPU run)")
        and "2026-12-01 10:00 UTC" in md
        and "driver 580.1" in md
    )
    assert "| --compile (CUDA graphs) | FAIL |" in md and md.rstrip().endswith("overall: FAIL")
    assert "| digits-cuda-0 | 0 | 1.0 | 0.99 |" in md
    assert json.loads((tmp_path / "gpu_check.json").read_text())["verdict"]["ok"] is False


def test_gpu_check_reads_a_train_runs_metrics(tmp_path):
    lines = [
        {"epoch": 0, "val_accuracy": 0.9, "epoch_time_s": 0.4, "samples_per_second": 100.0},
        {"epoch": 1, "val_accuracy": 0.981, "epoch_time_s": 0.3, "samples_per_second": 300.0},
        {"epoch": 2, "val_accuracy": 0.99, "epoch_time_s": 0.3, "samples_per_second": 500.0},
        {"final": True, "test_accuracy": 0.985, "compile_time_s": 12.5},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    d = gpu_check.read_digits(tmp_path)
    assert d == {
        "test_accuracy": 0.985,
        "train_time_s": pytest.approx(1.0),
        "time_to_98_s": pytest.approx(0.7),
        "compile_time_s": 12.5,
        "samples_per_second": 400.0,  # epoch 0 (warm-up) left out
    }
    (tmp_path / "metrics.jsonl").write_text(json.dumps(lines[0]) + "\n")  # killed before its final line
    assert gpu_check.read_digits(tmp_path) is None and gpu_check.read_digits(tmp_path / "none") is None


def test_gpu_check_command_line(tmp_path, monkeypatch, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    for argv in ([], [str(afile)], [str(tmp_path), "--bogus"]):
        with pytest.raises(SystemExit) as info:
            gpu_check.parse_args(argv)
        assert info.value.code == 2
    no_gpu = {
        "torch": "2.13.0",
        "cuda": None,
        "gpus": 0,
        "gpu_name": None,
        "driver": None,
        "cpus": 2,
        "python": "3.11",
    }
    monkeypatch.setattr(gpu_check, "environment", lambda: no_gpu)
    assert gpu_check.main([str(tmp_path / "out")]) == 1
    assert "no CUDA device visible" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert gpu_check.main([str(tmp_path / "out"), "--cpu-smoke", "--only", "nope"]) == 2
    assert gpu_check.main([str(tmp_path / "out"), "--cpu-smoke", "--list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("strict-hidden: ") and "gpt-mfu: " in listed and "strict-visible" not in listed


def test_gpu_check_auto_precision_follows_the_capability_it_found():
    results = _good_results()
    results["digits-cuda-0"]["facts"] = {"precision": "fp16", "tf32": True}
    checks = {
        c["check"]: c["result"]
        for c in gpu_check.verdict(results, smoke=False, gpus=1, elapsed_s=1, capability=[7, 5])["checks"]
    }
    assert checks["precision: auto (fp16)"] == "PASS"  # a T4: fp16 + GradScaler is right there
    assert [gpu_check.auto_precision(c) for c in ([9, 0], [8, 0], [7, 0], [6, 1], None)] == [
        "bf16",
        "bf16",
        "fp16",
        "fp32",
        "fp32",
    ]


def test_gpu_check_reads_precision_and_tf32_from_train_pys_own_line(tmp_path, capsys, quiet_env):
    """The pattern against what train.py really prints (CPU here: TF32 n/a), and the CUDA forms."""
    assert train.main(["--output-dir", str(tmp_path), "--max-steps", "2", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert gpu_check.read_facts(out) == {"precision": "fp32", "tf32": None}
    line = "model: SmallCNN ... | precision {} | TF32 {} | channels_last True | compile False"
    assert gpu_check.read_facts(line.format("bf16", "True")) == {"precision": "bf16", "tf32": True}
    assert gpu_check.read_facts(line.format("fp16 + GradScaler", "False")) == {
        "precision": "fp16",
        "tf32": False,
    }
    assert gpu_check.read_facts("Traceback ...") == {"precision": None, "tf32": None}


def test_gpu_check_timeout_kills_the_steps_whole_process_group(tmp_path):
    """A step's own children (torchrun's ranks, a benchmark's train.py) die with it at the timeout."""
    pid_file = tmp_path / "child.pid"
    cmd = ["bash", "-c", f"sleep 60 & echo $! > {pid_file}; wait"]
    with open(tmp_path / "log", "w") as log:
        rc, timed_out = gpu_check._run(cmd, log, dict(os.environ), timeout_s=1.0)
    assert (rc, timed_out) == (None, True)
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        if "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]:
            break  # a zombie: dead, waiting for init to reap it
        time.sleep(0.05)
    alive = Path(f"/proc/{child}").exists() and "Z" not in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert not alive, "the grandchild outlived the timed-out step"


def test_gpu_check_keeps_to_its_budget_and_writes_the_report_after_every_step(tmp_path, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(gpu_check.time, "monotonic", lambda: clock[0])
    env = {"torch": "2.13.0", "cuda": "13.0", "gpus": 1, "gpu_name": "NVIDIA H200", "capability": [9, 0]}
    env.update(driver="580.1", cpus=16, python="3.12")
    monkeypatch.setattr(gpu_check, "environment", lambda: env)
    seen = []

    def fake_run_step(step, outdir, timeout_s=None):
        if seen:  # the report of the steps so far is on disk before the next one starts
            partial = json.loads((outdir / "gpu_check.json").read_text())
            assert partial["complete"] is False and list(partial["results"]) == seen
        seen.append(step.name)
        assert timeout_s <= 100 - 40 * (len(seen) - 1)  # never more than what is left of the budget
        clock[0] += 40
        return {"rc": 0, "timed_out": False, "seconds": 40.0, "command": "x", "status": []}

    monkeypatch.setattr(gpu_check, "run_step", fake_run_step)
    only = "strict-visible,strict-hidden,gpt-mfu,compile"
    code = gpu_check.main([str(tmp_path), "--budget-s", "100", "--only", only])
    assert code == 1 and seen == ["strict-visible", "strict-hidden", "gpt-mfu"]  # the third got 20 s
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["complete"] is True and report["budget_s"] == 100
    assert report["results"]["compile"]["skipped"].startswith("not started")
    checks = {c["check"]: c for c in report["verdict"]["checks"]}
    assert checks["--compile (CUDA graphs)"]["result"] == "FAIL"
    assert "skipped (not started" in checks["--compile (CUDA graphs)"]["detail"]
    md = (tmp_path / "gpu_check.md").read_text()
    assert (
        "compute capability 9.0" in md and "of a 100 s budget" in md and "| compile | n/a (skipped) |" in md
    )


@pytest.mark.slow
def test_gpu_check_script_cpu_smoke_end_to_end(tmp_path):
    """The shell entry point and one real step (train.py's own exit 78 with the GPU hidden): exit code,
    JSON and Markdown."""
    out = tmp_path / "check"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_TRAINER_")}
    env["PYTHON"] = sys.executable
    cmd = ["bash", str(BENCH / "gpu_check.sh"), str(out), "--cpu-smoke", "--only", "strict-hidden"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((out / "gpu_check.json").read_text())
    assert list(report["results"]) == ["strict-hidden"]
    assert report["results"]["strict-hidden"]["rc"] == 78 and report["verdict"]["ok"] is True
    checks = {c["check"]: c["result"] for c in report["verdict"]["checks"]}
    assert (
        checks['strict device, CUDA_VISIBLE_DEVICES=""'] == "PASS"
        and checks["digits accuracy parity"] == "SKIP"
    )
    assert (out / "gpu_check.md").read_text().startswith("# gpu_check: no GPU (cpu-smoke)")
    log = (out / "logs" / "strict-hidden.log").read_text()
    assert "GPU required (AZURE_TRAINER_REQUIRE_GPU=1)" in log and "CUDA_VISIBLE_DEVICES=''" in log
    r = subprocess.run(["bash", str(BENCH / "gpu_check.sh")], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "usage: gpu_check.sh" in r.stderr

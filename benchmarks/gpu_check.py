#!/usr/bin/env python
"""The GPU acceptance check: every GPU claim of the project, run on one machine, gated, in one report.

    benchmarks/gpu_check.sh OUTDIR                # on a GPU machine (sized for < 8 min on one H100/H200)
    benchmarks/gpu_check.sh OUTDIR --cpu-smoke    # the same steps, tiny, on a CPU machine (a dry run)
    benchmarks/gpu_check.sh OUTDIR --only strict-visible,strict-hidden --list

Steps run one after another (never two timed runs on one GPU at once), each in its own process (group,
killed whole at its timeout), its log in OUTDIR/logs/, within one budget (``--budget-s``, 480 s): a step
gets at most what is left of it, and one that cannot start in time is recorded as skipped, which fails
its check. The report is rewritten after every step, so a run stopped from outside still leaves one.
It fails (exit 1) when anything fails:

* strict device, both ways: ``AZURE_TRAINER_REQUIRE_GPU=1`` trains on the GPU (exit 0, a ``device: cuda``
  status record); with ``CUDA_VISIBLE_DEVICES=""`` it exits 78 with a ``gpu_missing`` record;
* digits accuracy parity: 5 seeds with the defaults on the GPU (bf16 where native) and 5 on the CPU
  (fp32), means within 0.3 points of test accuracy;
* the precision modes, separated: true fp32 (``--no-tf32``), fp32 with TF32, and auto (bf16 where the
  GPU has it natively): each must finish, and its log must show the precision and TF32 state it claims;
* the ``--compile`` run (CUDA graphs): it must finish and match the uncompiled run's accuracy within a
  point; its compile time is reported apart from its training time;
* the benchmarks' own exit codes: gpt_bench (MFU, with its FLOP count checked against 6N), the
  same-steps GPU/CPU comparison, train_bench, loop_bench;
* with 2+ GPUs visible, a 2-process NCCL DDP run (torchrun) that must finish with both ranks on a GPU.

The goals of the GPU issue (MFU >= 40% of the dense bf16 peak, >= 100x the same machine's CPU, digits to
98% in < 1 s of GPU training after compile, the whole check < 8 min) are reported as met or missed.
OUTDIR gets gpu_check.json and gpu_check.md (the GPU named, the date, a table per part).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TRAIN = ROOT / "train_scripts" / "train.py"
PARITY_TOLERANCE = 0.003  # 0.3 points of test accuracy, mean of the seeds
COMPILE_TOLERANCE = 0.01
BUDGET_S = 480
MIN_START_S = 10  # a step is not started with less of the budget left than this
GOALS = {"mfu": 0.40, "gpu_vs_cpu": 100.0, "digits_98_s": 1.0, "budget_s": BUDGET_S}


@dataclass
class Step:
    """One command of the check, run in its own process."""

    name: str
    argv: list[str]
    timeout_s: int
    env: dict = field(default_factory=dict)  # None as a value: unset it
    kind: str = "run"  # "digits" (reads metrics.jsonl), "json" (reads --json), "run"


def _py(*args) -> list[str]:
    return [sys.executable, *map(str, args)]


def _train(out: Path, *flags) -> list[str]:
    """train.py into ``out``, afresh: a rerun into the same OUTDIR must not resume the last run's final
    checkpoint (no training, no times); the old files are moved aside, not deleted."""
    return _py(TRAIN, "--output-dir", out, "--no-resume", *flags)


def plan(outdir: Path, smoke: bool, gpus: int) -> list[Step]:
    """The steps, in order. ``smoke``: tiny settings on the CPU (GPU-only steps are left out)."""
    runs, steps = outdir / "runs", []
    device = "cpu" if smoke else "cuda"
    short = ["--epochs", "2", "--max-steps", "30"] if smoke else []
    seeds = range(2 if smoke else 5)
    if not smoke:
        steps.append(
            Step(
                "strict-visible",
                _train(runs / "strict-visible", "--max-steps", "5"),
                120,
                {"AZURE_TRAINER_REQUIRE_GPU": "1"},
            )
        )
    steps.append(
        Step(
            "strict-hidden",
            _train(runs / "strict-hidden", "--max-steps", "5"),
            120,
            {"AZURE_TRAINER_REQUIRE_GPU": "1", "CUDA_VISIBLE_DEVICES": ""},
        )
    )
    gpt = (
        ["--config", "tiny", "--device", "cpu", "--min-seconds", "0.2"]
        if smoke
        else ["--config", "large", "--device", "cuda", "--compile"]
    )
    steps.append(
        Step("gpt-mfu", _py(HERE / "gpt_bench.py", *gpt, "--json", outdir / "gpt-mfu.json"), 240, kind="json")
    )
    if not smoke:
        steps.append(
            Step("compile", _train(runs / "compile", "--device", "cuda", "--compile"), 300, kind="digits")
        )
    for seed in seeds:
        steps.append(
            Step(
                f"digits-{device}-{seed}",
                _train(runs / f"digits-{device}-{seed}", "--device", device, "--seed", seed, *short),
                150,
                kind="digits",
            )
        )
    for seed in seeds if not smoke else ():
        flags = ["--device", "cpu", "--precision", "fp32", "--threads", "4", "--seed", seed]
        steps.append(
            Step(f"digits-cpu-{seed}", _train(runs / f"digits-cpu-{seed}", *flags), 150, kind="digits")
        )
    if not smoke:
        fp32 = ["--device", "cuda", "--precision", "fp32"]
        steps.append(Step("fp32-true", _train(runs / "fp32-true", *fp32, "--no-tf32"), 150, kind="digits"))
        steps.append(Step("fp32-tf32", _train(runs / "fp32-tf32", *fp32), 150, kind="digits"))
        same = ["--config", "small", "--devices", "cuda,cpu", "--steps", "5", "--warmup", "2"]
        steps.append(
            Step(
                "gpt-vs-cpu",
                _py(HERE / "gpt_bench.py", *same, "--json", outdir / "gpt-vs-cpu.json"),
                240,
                kind="json",
            )
        )
    bench = ["--quick", "--cpu-only"] if smoke else []
    steps.append(
        Step(
            "train-bench",
            _py(HERE / "train_bench.py", *bench, "--json", outdir / "train-bench.json"),
            300,
            kind="json",
        )
    )
    loop = ["--quick", "--device", "cpu"] if smoke else ["--device", "cuda", "--rounds", "3"]
    steps.append(
        Step(
            "loop-bench",
            _py(HERE / "loop_bench.py", *loop, "--json", outdir / "loop-bench.json"),
            180,
            kind="json",
        )
    )
    if gpus >= 2 and not smoke:
        ddp = _py("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", TRAIN)
        ddp += ["--output-dir", runs / "ddp", "--no-resume", "--device", "cuda", "--max-steps", "40"]
        steps.append(Step("ddp-nccl", ddp, 180, {"AZURE_TRAINER_REQUIRE_GPU": "1"}))
    return steps


def step_env(step: Step, status_file: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_TRAINER_")}
    env.update(TRAIN_DISABLE_MLFLOW="1", PYTHONUNBUFFERED="1", AZURE_TRAINER_STATUS_FILE=str(status_file))
    for key, value in step.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def read_digits(out: Path) -> dict | None:
    """Final test accuracy, training time and time to 98% from a train.py run's metrics.jsonl."""
    path = out / "metrics.jsonl"
    if not path.exists():
        return None
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    epochs = [r for r in records if not r.get("final")]
    final = records[-1] if records and records[-1].get("final") else None
    if final is None:
        return None
    elapsed, reached = 0.0, None
    for r in epochs:
        elapsed += r["epoch_time_s"]
        if reached is None and r["val_accuracy"] >= 0.98:
            reached = elapsed
    return {
        "test_accuracy": final["test_accuracy"],
        "train_time_s": elapsed,
        "time_to_98_s": reached,
        "compile_time_s": final.get("compile_time_s", 0.0),
        "samples_per_second": statistics.mean(r["samples_per_second"] for r in epochs[1:] or epochs),
    }


MODEL_LINE = re.compile(r"\| precision (?P<precision>\w+)(?: \+ GradScaler)? \| TF32 (?P<tf32>\w+/?\w*) \|")


def read_facts(log_text: str) -> dict:
    """The precision and TF32 state a train.py run reports in its ``model:`` line (None where absent)."""
    m = MODEL_LINE.search(log_text)
    if m is None:
        return {"precision": None, "tf32": None}
    tf32 = {"True": True, "False": False}.get(m["tf32"])
    return {"precision": m["precision"], "tf32": tf32}


def _run(argv: list[str], log, env: dict, timeout_s: float) -> tuple[int | None, bool]:
    """(exit code, timed out): the command in a process group of its own, killed whole at the timeout
    (a torchrun's ranks, a benchmark's train.py, Inductor's compile workers would outlive their parent
    and hold the GPU while the next step is timed)."""
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
    )
    try:
        return proc.wait(timeout=timeout_s), False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return None, True
    except BaseException:  # Ctrl-C, or SIGTERM (see main): the step goes with the check
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group may be gone already
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_step(step: Step, outdir: Path, timeout_s: float | None = None) -> dict:
    """Run one step (at most ``timeout_s``, default its own); its rc, time, status records, what it wrote."""
    logs = outdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    status = outdir / "status" / f"{step.name}.jsonl"
    status.parent.mkdir(parents=True, exist_ok=True)
    limit = step.timeout_s if timeout_s is None else min(step.timeout_s, timeout_s)
    t0 = time.monotonic()
    log_path = logs / f"{step.name}.log"
    if step.kind == "json":  # a report left by an earlier check must not pass for this one's
        Path(step.argv[step.argv.index("--json") + 1]).unlink(missing_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        rc, timed_out = _run(step.argv, log, step_env(step, status), limit)
    result = {
        "rc": rc,
        "timed_out": timed_out,
        "timeout_s": round(limit, 1),
        "seconds": round(time.monotonic() - t0, 1),
        "command": " ".join(map(str, step.argv)),
    }
    result["status"] = (
        [json.loads(line) for line in status.read_text().splitlines()] if status.exists() else []
    )
    if step.kind == "digits":
        result["digits"] = read_digits(Path(step.argv[step.argv.index("--output-dir") + 1]))
        result["facts"] = read_facts(log_path.read_text(encoding="utf-8", errors="replace"))
    if step.kind == "json":
        path = Path(step.argv[step.argv.index("--json") + 1])
        result["report"] = json.loads(path.read_text()) if path.exists() else None
    return result


def skipped_step(step: Step, left_s: float) -> dict:
    """The record of a step the budget left no time for: it counts as failed."""
    return {
        "rc": None,
        "timed_out": False,
        "skipped": f"not started: {max(0.0, left_s):.0f} s of the budget left",
        "seconds": 0.0,
        "command": " ".join(map(str, step.argv)),
        "status": [],
    }


# -- the verdict: pure functions of the results --------------------------------------------------------


def _ok(results: dict, name: str) -> bool:
    r = results.get(name)
    return bool(r) and r["rc"] == 0 and not r["timed_out"]


def _rc(r: dict) -> str:
    """``rc N``, with a timeout or a skip said."""
    if r.get("skipped"):
        return f"skipped ({r['skipped']})"
    return f"rc {r.get('rc')}{' (timed out)' if r.get('timed_out') else ''}"


def _devices(r: dict) -> list[str]:
    return [e.get("device") for e in r.get("status", []) if e.get("event") == "device"]


def _mean(results: dict, prefix: str) -> tuple[float | None, list]:
    accs = [
        r["digits"]["test_accuracy"]
        for n, r in sorted(results.items())
        if n.startswith(prefix) and r.get("digits")
    ]
    return (statistics.mean(accs) if accs else None), accs


def check(name: str, passed: bool | None, detail: str) -> dict:
    """passed None: skipped (not applicable here)."""
    return {
        "check": name,
        "result": "SKIP" if passed is None else ("PASS" if passed else "FAIL"),
        "detail": detail,
    }


NOT_RUN = "not run (--only)"


def strict_checks(results: dict, smoke: bool) -> list[dict]:
    out = []
    if smoke:
        out.append(check("strict device, GPU visible", None, "cpu-smoke: no GPU"))
    elif "strict-visible" not in results:
        out.append(check("strict device, GPU visible", None, NOT_RUN))
    else:
        r = results.get("strict-visible", {})
        ok = _ok(results, "strict-visible") and "cuda" in _devices(r)
        out.append(
            check(
                "strict device, GPU visible",
                ok,
                f"{_rc(r)}, status device {_devices(r)} (want rc 0, cuda)",
            )
        )
    if "strict-hidden" not in results:
        return [*out, check('strict device, CUDA_VISIBLE_DEVICES=""', None, NOT_RUN)]
    r = results["strict-hidden"]
    events = [e.get("event") for e in r.get("status", [])]
    ok = r.get("rc") == 78 and "gpu_missing" in events
    out.append(
        check(
            'strict device, CUDA_VISIBLE_DEVICES=""',
            ok,
            f"{_rc(r)}, status {events} (want 78, gpu_missing)",
        )
    )
    return out


def parity_check(results: dict, smoke: bool) -> dict:
    device = "cpu" if smoke else "cuda"
    seeds = [n for n in results if n.startswith(f"digits-{device}-")]
    if not seeds:
        return check("digits accuracy parity", None, NOT_RUN)
    seeds += [n for n in results if n.startswith("digits-cpu-") and n not in seeds]
    runs_ok = bool(seeds) and all(_ok(results, n) and results[n].get("digits") for n in seeds)
    gpu, gpu_accs = _mean(results, f"digits-{device}-")
    cpu, cpu_accs = (gpu, gpu_accs) if smoke else _mean(results, "digits-cpu-")  # smoke: one device
    if not runs_ok or gpu is None or cpu is None:
        return check("digits accuracy parity", False, "a seed run failed or wrote no final metrics")
    diff = abs(gpu - cpu)
    detail = (
        f"{device} mean {gpu:.4f} {gpu_accs}, cpu fp32 mean {cpu:.4f} {cpu_accs}: |diff| {diff:.4f} "
        f"(tolerance {PARITY_TOLERANCE})"
    )
    return check("digits accuracy parity", diff <= PARITY_TOLERANCE, detail)


def auto_precision(capability) -> str:
    """What train.py's ``--precision auto`` picks on a GPU of this compute capability."""
    cap = tuple(capability or (0, 0))
    return "bf16" if cap >= (8, 0) else ("fp16" if cap >= (7, 0) else "fp32")


def precision_checks(results: dict, smoke: bool, capability=(9, 0)) -> list[dict]:
    """Each mode must finish and its run must say it ran in that mode (precision, TF32 on or off)."""
    if smoke:
        return [check("precision modes (true fp32 / TF32 / bf16)", None, "cpu-smoke: CUDA only")]
    auto = auto_precision(capability)
    out = []
    for name, label, want in (
        ("fp32-true", "true fp32 (--no-tf32)", {"precision": "fp32", "tf32": False}),
        ("fp32-tf32", "fp32 with TF32", {"precision": "fp32", "tf32": True}),
        ("digits-cuda-0", f"auto ({auto})", {"precision": auto}),
    ):
        if name not in results:
            out.append(check(f"precision: {label}", None, NOT_RUN))
            continue
        r = results[name]
        d, facts = r.get("digits") or {}, r.get("facts") or {}
        acc = d.get("test_accuracy")
        as_claimed = all(facts.get(k) == v for k, v in want.items())
        out.append(
            check(
                f"precision: {label}",
                _ok(results, name) and acc is not None and as_claimed,
                f"{_rc(r)}, ran as precision {facts.get('precision')} TF32 {facts.get('tf32')} (want "
                f"{' '.join(f'{k} {v}' for k, v in want.items())}); test acc {acc}, train {d.get('train_time_s')} s",
            )
        )
    return out


def compile_check(results: dict, smoke: bool) -> dict:
    if smoke:
        return check("--compile (CUDA graphs)", None, "cpu-smoke: minutes of C++ compilation on a CPU")
    if "compile" not in results:
        return check("--compile (CUDA graphs)", None, NOT_RUN)
    c, ref = (results.get(n, {}).get("digits") or {} for n in ("compile", "digits-cuda-0"))
    acc, base = c.get("test_accuracy"), ref.get("test_accuracy")
    ok = (
        _ok(results, "compile")
        and acc is not None
        and base is not None
        and abs(acc - base) <= COMPILE_TOLERANCE
    )
    detail = (
        f"{_rc(results['compile'])}, test acc {acc} vs {base} uncompiled; compile {c.get('compile_time_s')} s "
        f"apart, train {c.get('train_time_s')} s"
    )
    return check("--compile (CUDA graphs)", ok, detail)


def bench_checks(results: dict, names: list[str]) -> list[dict]:
    out = []
    for name in names:
        r = results.get(name)
        if r is None:
            continue
        out.append(
            check(
                f"{name} exit code",
                _ok(results, name) and r.get("report") is not None,
                _rc(r),
            )
        )
    return out


def ddp_check(results: dict, smoke: bool, gpus: int) -> dict:
    if smoke or gpus < 2:
        return check("2-process NCCL DDP", None, f"{gpus} GPU(s) visible" if not smoke else "cpu-smoke")
    if "ddp-nccl" not in results:
        return check("2-process NCCL DDP", None, NOT_RUN)
    r = results["ddp-nccl"]
    devices = _devices(r)
    ok = _ok(results, "ddp-nccl") and devices.count("cuda") == 2
    return check("2-process NCCL DDP", ok, f"{_rc(r)}, ranks' devices {devices}")


def goals(results: dict, elapsed_s: float, smoke: bool) -> list[dict]:
    def goal(name, value, target, met):
        return {"goal": name, "value": value, "target": target, "met": None if value is None else met}

    mfu = (
        (((results.get("gpt-mfu") or {}).get("report") or {}).get("devices") or {}).get("cuda", {}).get("mfu")
    )
    speed = ((results.get("gpt-vs-cpu") or {}).get("report") or {}).get("gpu_vs_cpu_speedup")
    t98 = ((results.get("compile") or {}).get("digits") or {}).get("time_to_98_s")
    gpu, _ = _mean(results, "digits-cuda-")
    cpu, _ = _mean(results, "digits-cpu-")
    diff = abs(gpu - cpu) if gpu is not None and cpu is not None else None
    out = [
        goal(
            "transformer MFU (dense bf16 peak)",
            mfu,
            f">= {GOALS['mfu']:.0%}",
            mfu is not None and mfu >= GOALS["mfu"],
        ),
        goal(
            "GPU vs this machine's CPU, same steps",
            speed,
            f">= {GOALS['gpu_vs_cpu']:.0f}x",
            speed is not None and speed >= GOALS["gpu_vs_cpu"],
        ),
        goal(
            "digits bf16 GPU vs fp32 CPU, mean of 5 seeds",
            diff,
            f"<= {PARITY_TOLERANCE}",
            diff is not None and diff <= PARITY_TOLERANCE,
        ),
        goal(
            "digits to 98% val, GPU training time after compile (s)",
            t98,
            f"< {GOALS['digits_98_s']}",
            t98 is not None and t98 < GOALS["digits_98_s"],
        ),
        goal("whole check (s)", round(elapsed_s), f"< {GOALS['budget_s']}", elapsed_s < GOALS["budget_s"]),
    ]
    if smoke:
        for g in out[:4]:
            g.update(value=None, met=None)
    return out


def verdict(results: dict, smoke: bool, gpus: int, elapsed_s: float, capability=(9, 0)) -> dict:
    """Checks (gated), goals (reported) and the overall result."""
    checks = [
        *strict_checks(results, smoke),
        parity_check(results, smoke),
        *precision_checks(results, smoke, capability),
        compile_check(results, smoke),
        *bench_checks(results, ["gpt-mfu", "gpt-vs-cpu", "train-bench", "loop-bench"]),
        ddp_check(results, smoke, gpus),
    ]
    return {
        "checks": checks,
        "goals": goals(results, elapsed_s, smoke),
        "ok": all(c["result"] != "FAIL" for c in checks),
    }


# -- the report --------------------------------------------------------------------------------------------


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ".".join(map(str, v))
    return str(v)


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def render_markdown(report: dict) -> str:
    env = report["environment"]
    lines = [
        f"# gpu_check: {env['gpu_name'] or 'no GPU'} ({'cpu-smoke' if report['smoke'] else 'GPU run'})"
        + ("" if report.get("complete", True) else f" (partial: {len(report['results'])} steps so far)"),
        "",
        f"{report['date']} · {env['gpus']} GPU(s) · compute capability {_fmt(env.get('capability'))} · "
        f"torch {env['torch']} (CUDA build {env['cuda']}) · driver {env['driver'] or 'n/a'} · "
        f"{env['cpus']} CPUs · {report['elapsed_s']:.0f} s of a {_fmt(report.get('budget_s'))} s budget",
        "",
        "| check | result | detail |",
        "|---|---|---|",
    ]
    lines += [f"| {c['check']} | {c['result']} | {c['detail']} |" for c in report["verdict"]["checks"]]
    lines += ["", "| goal | value | target | met |", "|---|---:|---|---|"]
    for g in report["verdict"]["goals"]:
        met = "n/a" if g["met"] is None else ("yes" if g["met"] else "NO")
        lines.append(f"| {g['goal']} | {_fmt(g['value'])} | {g['target']} | {met} |")
    lines += [
        "",
        "| run | rc | seconds | test acc | train s | to 98% s | compile s | samples/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in report["results"].items():
        d = r.get("digits") or {}
        cells = [
            d.get(k)
            for k in ("test_accuracy", "train_time_s", "time_to_98_s", "compile_time_s", "samples_per_second")
        ]
        lines.append(
            f"| {name} | {_fmt(r['rc'])}{' (timeout)' if r['timed_out'] else ''}"
            f"{' (skipped)' if r.get('skipped') else ''} | {r['seconds']} | "
            + " | ".join(map(_fmt, cells))
            + " |"
        )
    lines += [
        "",
        *safe_bench_lines(report["results"]),
        "",
        f"overall: {'OK' if report['verdict']['ok'] else 'FAIL'}",
        "",
    ]
    return "\n".join(lines)


def safe_bench_lines(results: dict) -> list[str]:
    """bench_lines, or one line saying a report was incomplete: the verdict matters more than a figure."""
    try:
        return bench_lines(results)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"(a benchmark report was incomplete: {type(exc).__name__} {exc}; see the JSON files)"]


def bench_lines(results: dict) -> list[str]:
    """The benchmarks' headline figures, one line each."""
    out = ["| benchmark | device | figures |", "|---|---|---|"]
    gpt = (results.get("gpt-mfu") or {}).get("report") or {}
    for r in (gpt.get("devices") or {}).values():
        out.append(
            f"| gpt_bench {gpt['config']['name']} | {r['name']} ({r['precision']}) | MFU {_pct(r['mfu'])}, "
            f"{r['achieved_tflops']:.1f} TFLOP/s of {_fmt(r['peak_tflops'])}, {r['tokens_per_second']:,.0f} tokens/s, "
            f"FLOPs/6N {r['flops_vs_estimate']:.3f}, warm-up+compile {r['warmup_and_compile_s']:.1f} s, "
            f"timed {r['timed_steps']} steps in {r['timed_s']:.2f} s |"
        )
    same = (results.get("gpt-vs-cpu") or {}).get("report") or {}
    if same.get("devices"):
        times = ", ".join(f"{d} {r['step_time_s'] * 1000:.1f} ms/step" for d, r in same["devices"].items())
        out.append(
            f"| gpt_bench {same['config']['name']}, same steps | cuda vs cpu | {times}; speed-up {_fmt(same.get('gpu_vs_cpu_speedup'))}x |"
        )
    tb = (results.get("train-bench") or {}).get("report") or {}
    for r in (tb.get("devices") or {}).values():
        b = r.get("bookkeeping") or {}
        out.append(
            f"| train_bench | {r['name']} ({r['precision']}) | {r['samples_per_second']:,.0f} samples/s, MFU {_pct(r['mfu'])}, "
            f"loop ratio {_fmt(r['optimised_vs_textbook_ratio'])}x, bookkeeping {_pct(b.get('bookkeeping_fraction_of_epoch'))} "
            f"of an epoch's steps, checkpoint {_fmt(b.get('checkpoint_s'))} s |"
        )
    lb = (results.get("loop-bench") or {}).get("report") or {}
    if lb.get("rungs"):
        rungs = "; ".join(f"{r['rung']} {_fmt(r['effect'])}x" for r in lb["rungs"] if r.get("effect"))
        out.append(f"| loop_bench | {lb['device']} | textbook -> optimised {lb['ratio']:.2f}x: {rungs} |")
    return out


def environment() -> dict:
    info = {
        "torch": None,
        "cuda": None,
        "gpus": 0,
        "gpu_name": None,
        "capability": None,
        "driver": None,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    probe = "import json, torch; n = torch.cuda.device_count() if torch.cuda.is_available() else 0; " + (
        "print(json.dumps([torch.__version__, torch.version.cuda, n, torch.cuda.get_device_name(0) if n else None, "
        "list(torch.cuda.get_device_capability(0)) if n else None]))"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        keys = ("torch", "cuda", "gpus", "gpu_name", "capability")
        info.update(zip(keys, json.loads(r.stdout.strip().splitlines()[-1]), strict=True))
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        info["driver"] = (
            smi.stdout.strip().splitlines()[0] if smi.returncode == 0 and smi.stdout.strip() else None
        )
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def write_report(outdir: Path, report: dict) -> None:
    """gpu_check.json and gpu_check.md, each replaced whole (a reader never sees half a file)."""
    for name, text in (
        ("gpu_check.json", json.dumps(report, indent=2)),
        ("gpu_check.md", render_markdown(report)),
    ):
        tmp = outdir / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, outdir / name)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="gpu_check.sh", description=__doc__.splitlines()[0])
    p.add_argument("outdir", type=Path, help="where gpu_check.json, gpu_check.md, logs/ and runs/ go")
    p.add_argument(
        "--cpu-smoke", action="store_true", help="tiny settings on the CPU; GPU-only steps skipped"
    )
    p.add_argument("--only", default=None, help="comma-separated step names (see --list)")
    p.add_argument("--list", action="store_true", help="print the steps and exit")
    p.add_argument(
        "--budget-s",
        type=float,
        default=BUDGET_S,
        help=f"the whole check's time budget in seconds (default: {BUDGET_S}): a step gets at most what is "
        "left, one that cannot start in time is skipped and fails its check",
    )
    args = p.parse_args(argv)
    if not args.budget_s > 0:
        p.error(f"--budget-s {args.budget_s:g}: give a positive number of seconds")
    if args.outdir.exists() and not args.outdir.is_dir():
        p.error(f"OUTDIR {args.outdir} is a file, not a folder")
    return args


def build_report(args, env: dict, results: dict, elapsed: float, complete: bool) -> dict:
    """The report of the steps run so far (``complete``: all of them)."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "smoke": args.cpu_smoke,
        "complete": complete,
        "budget_s": args.budget_s,
        "environment": env,
        "elapsed_s": elapsed,
        "results": results,
        "verdict": verdict(results, args.cpu_smoke, env["gpus"], elapsed, env.get("capability")),
    }


def select_steps(args, steps: list[Step]) -> list[Step] | None:
    """The steps ``--only`` names (all without it); None, with a message, for an unknown name."""
    if not args.only:
        return steps
    wanted = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(wanted) - {s.name for s in steps})
    if unknown:
        print(f"gpu_check: unknown step(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return None
    return [s for s in steps if s.name in wanted]


def run_all(args, env: dict, steps: list[Step], outdir: Path, t0: float) -> dict:
    """Every step in order within the budget, the report rewritten after each; the final report."""
    results: dict = {}
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a step in flight dies with us
    try:
        _run_steps(args, env, steps, outdir, t0, results)
    finally:
        signal.signal(signal.SIGTERM, previous)
    report = build_report(args, env, results, time.monotonic() - t0, complete=True)
    write_report(outdir, report)
    return report


def _run_steps(args, env: dict, steps: list[Step], outdir: Path, t0: float, results: dict) -> None:
    for step in steps:
        left = args.budget_s - (time.monotonic() - t0)
        if left < MIN_START_S:
            results[step.name] = skipped_step(step, left)
            print(f"gpu_check: {step.name}: skipped, {max(0.0, left):.0f} s of the budget left", flush=True)
            continue
        print(f"gpu_check: {step.name} ...", flush=True)
        results[step.name] = run_step(step, outdir, left)
        r = results[step.name]
        print(f"gpu_check: {step.name}: {_rc(r)} in {r['seconds']} s", flush=True)
        write_report(outdir, build_report(args, env, results, time.monotonic() - t0, complete=False))


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()
    env = environment()
    outdir = args.outdir.resolve()
    steps = select_steps(args, plan(outdir, args.cpu_smoke, env["gpus"]))
    if steps is None:
        return 2
    if args.list:
        print("\n".join(f"{s.name}: {' '.join(map(str, s.argv))}" for s in steps))
        return 0
    if not args.cpu_smoke and env["gpus"] == 0:
        print(
            "gpu_check: no CUDA device visible to torch here; run it on a GPU machine, or use --cpu-smoke",
            file=sys.stderr,
        )
        return 1
    outdir.mkdir(parents=True, exist_ok=True)
    report = run_all(args, env, steps, outdir, t0)
    print(render_markdown(report))
    return 0 if report["verdict"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

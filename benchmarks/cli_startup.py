"""CLI start-up time: ``azure-trainer --help`` and ``azure-trainer validate jobs/digits.yaml`` against the
cost of ``import azure.ai.ml``, each a fresh interpreter, median of N runs.

    python benchmarks/cli_startup.py [--runs 5] [--json PATH]

Goal: each CLI command costs at most 0.15 x the time of ``python -c "import azure.ai.ml"`` (i.e. the CLI
never pays for the SDK when it does not need it). Prints a Markdown table; a MISSED line when a command
is over the goal. Always exits 0 (timings are information, not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 0.15

CASES: list[tuple[str, list[str]]] = [
    ("python -c 'import azure.ai.ml' (baseline)", [sys.executable, "-c", "import azure.ai.ml"]),
    ("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"]),
    ("azure-trainer --help", [sys.executable, "-m", "azure_trainer", "--help"]),
    (
        "azure-trainer validate jobs/digits.yaml",
        [sys.executable, "-m", "azure_trainer", "validate", "jobs/digits.yaml"],
    ),
]
BASELINE = CASES[0][0]
CHECKED = [CASES[2][0], CASES[3][0]]


def time_once(argv: list[str]) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed


def measure(runs: int) -> dict[str, list[float]]:
    # pip byte-compiles what it installs (azure.ai.ml included), but an editable checkout under
    # PYTHONDONTWRITEBYTECODE=1 would recompile azure_trainer's sources on every start: compile them once,
    # so both sides of the ratio start from bytecode, as an installed azure-trainer does.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "azure_trainer")], check=True)
    for _, argv in CASES:  # warm the file system cache once, untimed
        time_once(argv)
    samples: dict[str, list[float]] = {name: [] for name, _ in CASES}
    for _ in range(runs):  # interleaved, so drift hits every case alike
        for name, argv in CASES:
            samples[name].append(time_once(argv))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh subprocesses per command (default 5)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)

    samples = measure(max(1, args.runs))
    medians = {name: statistics.median(times) for name, times in samples.items()}
    base = medians[BASELINE]

    print(
        f"CLI start-up, median of {args.runs} fresh processes (Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs)\n"
    )
    print("| command | median (ms) | min (ms) | ratio to import azure.ai.ml | goal |")
    print("|---|---:|---:|---:|---|")
    results = []
    for name, _ in CASES:
        ratio = medians[name] / base
        checked = name in CHECKED
        verdict = ("met" if ratio <= GOAL else "MISSED") if checked else ""
        goal = f"<= {GOAL:.2f} {verdict}" if checked else ""
        median_ms, min_ms = medians[name] * 1000, min(samples[name]) * 1000
        print(f"| {name} | {median_ms:.0f} | {min_ms:.0f} | {ratio:.3f} | {goal} |")
        results.append(
            {
                "command": name,
                "median_s": medians[name],
                "min_s": min(samples[name]),
                "samples_s": samples[name],
                "ratio": ratio,
                "checked": checked,
                "met": (ratio <= GOAL) if checked else None,
            }
        )
    missed = [r for r in results if r["checked"] and not r["met"]]
    print()
    for r in missed:
        print(f"MISSED: {r['command']} takes {r['ratio']:.3f} x import azure.ai.ml (goal {GOAL})")
    if not missed:
        print(f"all CLI commands within {GOAL} x import azure.ai.ml")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"goal": GOAL, "runs": args.runs, "python": sys.version, "results": results}, indent=2)
            + "\n"
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

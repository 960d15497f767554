#!/usr/bin/env python
"""Test accuracy of train_scripts/train.py with its default settings over several seeds (goal: mean >= 98%).

    python benchmarks/seed_accuracy.py [--seeds 5] [--device cpu] [--json PATH] [-- EXTRA TRAIN ARGS]

Seeds run one after another, each a fresh process in a temporary output folder; the script's own
metrics.jsonl gives the final test accuracy and the training time (sum of epoch_time_s: start-up and,
with --compile, compilation excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[1] / "train_scripts" / "train.py"


def run_train(argv: list[str]) -> tuple[int, str]:
    """train.py ARGV in a fresh process: (exit code, the end of its stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_TRAINER_")}
    env["TRAIN_DISABLE_MLFLOW"] = "1"
    proc = subprocess.run([sys.executable, str(TRAIN), *argv], capture_output=True, text=True, env=env)
    return proc.returncode, proc.stderr[-2000:]


def run_seed(seed: int, device: str, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="seed-acc-") as out:
        code, err = run_train(
            ["--seed", str(seed), "--device", device, "--output-dir", out, "--no-resume", *extra]
        )
        if code != 0:
            raise SystemExit(f"seed {seed}: train.py exited {code}\n{err}")
        records = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if not r.get("final")]
    return {
        "seed": seed,
        "test_accuracy": records[-1]["test_accuracy"],
        "train_time_s": round(sum(r["epoch_time_s"] for r in epochs), 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("extra", nargs="*", help="extra train.py arguments (after --)")
    args = parser.parse_args(argv)
    rows = [run_seed(s, args.device, args.extra) for s in range(args.seeds)]
    accs = [r["test_accuracy"] for r in rows]
    print(f"train.py defaults on {args.device}, {args.seeds} seeds\n")
    print("| seed | test accuracy | training time (s) |\n|---:|---:|---:|")
    for r in rows:
        print(f"| {r['seed']} | {r['test_accuracy']:.4f} | {r['train_time_s']:.2f} |")
    mean = statistics.mean(accs)
    print(
        f"\nmean test accuracy {mean:.4f} (goal >= 0.98: {'met' if mean >= 0.98 else 'MISSED'}); "
        f"mean training time {statistics.mean(r['train_time_s'] for r in rows):.2f} s"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"device": args.device, "runs": rows, "mean_test_accuracy": mean}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

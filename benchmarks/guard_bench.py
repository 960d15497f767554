"""The guards are bounded: the secrets guard is linear in its input, the snapshot walk stops early.

    python benchmarks/guard_bench.py [--sizes 1000000 10000000] [--huge 50000]

Prints, for a command holding one argument of each size (and for a few adversarial shapes at the first
size): the time of the secrets check, ``redact_command`` and ``redact_text``; then the time of the
snapshot check on ``/`` and on a generated tree of ``--huge`` files (where it stops counting). Goals
(issue 16): a 10 MB argument is judged in well under the 19 s the old guard took for 1 MB, time grows
linearly with the size; ``code: /`` or a huge tree is refused in well under a second. Always exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def secrets_rows(sizes: list[int]) -> None:
    from azure_trainer.secrets_guard import check_command_line, redact_command, redact_text

    print("| argument | size | check | redact_command | redact_text |")
    print("|---|---:|---:|---:|---:|")
    shapes = [("one long value", lambda n: "A" * n)]
    shapes_first = [
        ("many short words", lambda n: "a " * (n // 2)),
        ("many --password x pairs", lambda n: "--password x " * (n // 13)),
        ("repeated sk- prefixes", lambda n: "sk-" * (n // 3)),
        ("repeated ;sig= fields", lambda n: ";sig=" * (n // 5)),
        ("quoted pieces", lambda n: '"a\\"' * (n // 4)),
    ]
    for i, n in enumerate(sizes):
        for name, make in shapes + (shapes_first if i == 0 else []):
            command = "python train.py --data " + make(n)
            check = timed(lambda c=command: check_command_line({}, c))
            redact = timed(lambda c=command: redact_command(c))
            text = timed(lambda c=command: redact_text(c))
            print(f"| {name} | {n / 1e6:g} MB | {check:.2f} s | {redact:.2f} s | {text:.2f} s |")


def snapshot_rows(huge: int) -> None:
    from azure_trainer.azureml import snapshot

    print()
    print("| code folder | entries walked | complete | check_snapshot |")
    print("|---|---:|---|---:|")
    candidates = [("/", Path("/"))] if os.name != "nt" else []
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "code"
        (tree / "data").mkdir(parents=True)
        for i in range(huge):
            os.close(os.open(tree / "data" / f"{i}.png", os.O_CREAT | os.O_WRONLY, 0o644))
        (tree / "train.py").write_text("print('train')\n")
        candidates.append((f"{huge:,} files, no ignore file", tree))
        for name, path in candidates:
            snapshot.scan_snapshot(path)  # warm the file system cache once
            report = snapshot.scan_snapshot(path)
            seconds = timed(lambda p=path: snapshot.check_snapshot(p, keep={"train.py"}))
            print(f"| {name} | {report.file_count:,} files | {report.complete} | {seconds:.2f} s |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--huge", type=int, default=50_000, help="files in the generated tree")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    secrets_rows(args.sizes)
    snapshot_rows(args.huge)
    return 0


if __name__ == "__main__":
    sys.exit(main())

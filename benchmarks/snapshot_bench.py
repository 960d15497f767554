"""Benchmark: scan a code folder that holds a 100,000-file ignored ``data/`` folder.

Compares azure_trainer.azureml.snapshot.scan_snapshot (pruned walk) with azure-ai-ml's own listing,
``get_upload_files_from_folder`` (os.walk over everything, ignore file checked per file), and
``get_directory_size`` (the walk the SDK does for its "> 100 MB" warning before every upload).

    python benchmarks/snapshot_bench.py [--files 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def build_tree(root: Path, n_files: int) -> Path:
    code = root / "code"
    data = code / "data"
    per_shard = 1000
    for shard in range((n_files + per_shard - 1) // per_shard):
        sub = data / f"shard{shard:04d}"
        sub.mkdir(parents=True)
        for j in range(min(per_shard, n_files - shard * per_shard)):
            os.close(os.open(sub / f"{j}.png", os.O_CREAT | os.O_WRONLY, 0o644))
    for name in ("train.py", "model.py", "utils.py"):
        (code / name).write_text(f"# {name}\n")
    (code / ".amlignore").write_text("data/\n")
    return code


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    import_start = time.perf_counter()
    from azure.ai.ml._utils._asset_utils import (  # the lazy import, paid once by both sides
        get_directory_size,
        get_ignore_file,
        get_upload_files_from_folder,
    )

    from azure_trainer.azureml.snapshot import scan_snapshot

    import_s = time.perf_counter() - import_start

    with tempfile.TemporaryDirectory() as tmp:
        build_start = time.perf_counter()
        code = build_tree(Path(tmp), args.files)
        build_s = time.perf_counter() - build_start

        ours_s, report = timed(lambda: scan_snapshot(code), args.repeat)
        sdk_list_s, sdk_files = timed(
            lambda: get_upload_files_from_folder(code, ignore_file=get_ignore_file(code)), args.repeat
        )
        sdk_size_s, _ = timed(
            lambda: get_directory_size(code, ignore_file=get_ignore_file(code)), args.repeat
        )

        same = set(report.files) == {remote for _, remote in sdk_files}
        print(f"tree: {args.files:,} files in ignored data/ + 4 code files (built in {build_s:.1f} s)")
        print(f"azure.ai.ml import (not timed below): {import_s:.2f} s")
        print(f"median of {args.repeat} runs:")
        print(f"  {'azure_trainer scan_snapshot (pruned)':<46} {ours_s * 1000:9.2f} ms  1.0x")
        print(
            f"  {'azure-ai-ml get_upload_files_from_folder':<46} {sdk_list_s * 1000:9.2f} ms  "
            f"{sdk_list_s / ours_s:,.0f}x"
        )
        print(
            f"  {'azure-ai-ml get_directory_size':<46} {sdk_size_s * 1000:9.2f} ms  "
            f"{sdk_size_s / ours_s:,.0f}x"
        )
        pruned = list(report.pruned_dirs)
        print(f"same file list as the SDK: {same} ({report.file_count} files, pruned: {pruned})")
        print(f"total wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

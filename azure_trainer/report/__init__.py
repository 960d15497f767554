"""``azure-trainer report``: one self-contained HTML page for a run, a sweep or a benchmark.

    source --read (local / azure / benchmarks)--> RunData | SweepData | [BenchmarkData] (data)
           --build (tables, inline SVG charts)--> one HTML file (page)

* :func:`load_local` reads a run folder (``run.json``), a sweep folder (``sweep.json``) or benchmark
  JSON (a file, or a folder of them); :func:`azure_job_data` reads a finished Azure ML job through a
  :class:`MetricsReader` (MLflow's REST API by default).
* :func:`render` turns any of them into the page; :func:`write_report` writes it without ever
  overwriting a file that is not a report made by this command.

Standard library only (the Azure reader imports azure-core when it is used).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .azure import ChildRun, MetricsReader, MlflowRestReader, azure_job_data
from .benchmarks import is_benchmark, load_benchmarks
from .build import benchmark_page, run_page, sweep_page
from .data import BenchmarkData, RunData, SweepData, TrialData
from .local import RUN_FILE, SWEEP_FILE, load_run, load_sweep, read_json
from .page import MARKER

__all__ = [
    "BenchmarkData",
    "ChildRun",
    "MetricsReader",
    "MlflowRestReader",
    "RunData",
    "SweepData",
    "TrialData",
    "azure_job_data",
    "kind_of",
    "load_local",
    "render",
    "write_report",
]

ReportData = RunData | SweepData | list[BenchmarkData]


def load_local(path: str | Path) -> ReportData:
    """What ``path`` holds: a run folder, a sweep folder, or benchmark JSON (a file or a folder)."""
    p = _usable(path, "not found; give a run folder, a sweep folder or a benchmark JSON file")
    if p.is_dir():
        if (p / SWEEP_FILE).is_file():
            return load_sweep(p)
        if (p / RUN_FILE).is_file():
            return load_run(p)
        if any(p.glob("*.json")):
            return load_benchmarks(p)
        raise ConfigError(
            f"not a run folder (no {RUN_FILE}), a sweep folder (no {SWEEP_FILE}) or a folder of benchmark "
            "JSON; run-local writes them (a run still in progress has none yet)",
            file=str(p),
        )
    if p.name == SWEEP_FILE:
        return load_sweep(p.parent)
    if p.name == RUN_FILE:
        return load_run(p.parent)
    if is_benchmark(read_json(p)):
        return load_benchmarks(p)
    raise ConfigError("not a run.json, a sweep.json or a benchmark result", file=str(p))


def _usable(path: str | Path, missing: str) -> Path:
    """``path`` as a Path that exists, or a ConfigError naming it: ``missing`` when it does not exist,
    else what the file system says (a NUL byte, a name too long)."""
    p = Path(path)
    if "\0" in str(path):
        raise ConfigError("not a usable path (it holds a NUL byte)", file=repr(str(path)))
    try:
        os.stat(p)
    except FileNotFoundError:
        raise ConfigError(missing, file=str(p)) from None
    except OSError as exc:
        raise ConfigError(f"not a usable path: {exc.strerror or exc}", file=str(p)) from None
    return p


def kind_of(data: ReportData) -> str:
    """ "run", "sweep" or "benchmark"."""
    return "sweep" if isinstance(data, SweepData) else "run" if isinstance(data, RunData) else "benchmark"


def render(data: ReportData, *, source: str = "") -> str:
    """The page for ``data``; ``source`` (e.g. the folder or the job name) is its subtitle."""
    if isinstance(data, SweepData):
        return sweep_page(data, source=source)
    if isinstance(data, RunData):
        return run_page(data, source=source)
    return benchmark_page(list(data), source=source)


def default_output(path: str | Path) -> Path:
    """Where a report of ``path`` goes without ``-o``: ``report.html`` inside a folder, else the JSON
    file's name with ``.html``."""
    p = Path(path)
    if p.is_dir():
        return p / "report.html"
    if p.name in (RUN_FILE, SWEEP_FILE):
        return p.parent / "report.html"
    return p.with_suffix(".html")


def write_report(html: str, output: str | Path) -> Path:
    """Write ``html`` to ``output`` atomically; refuse to replace a file this command did not make."""
    out = Path(output)
    if not str(output).strip():
        raise ConfigError("-o/--output: give a file name")
    if "\0" in str(output):
        raise ConfigError("not a usable file name (it holds a NUL byte)", file=repr(str(output)))
    try:
        is_dir, exists = out.is_dir(), out.exists()
    except OSError as exc:  # a name too long, a parent that is a file
        raise ConfigError(f"not a usable file name: {exc.strerror or exc}", file=str(out)) from None
    if is_dir:
        raise ConfigError("is a folder; give a file name such as report.html", file=str(out))
    if exists and not _is_our_report(out):
        raise ConfigError(
            "exists and is not a report made by azure-trainer; choose another -o or move it", file=str(out)
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=out.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except OSError as exc:
        raise ConfigError(f"cannot write the report there: {exc.strerror or exc}", file=str(out)) from None
    return out


def _is_our_report(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.readline().strip() == MARKER
    except OSError:
        return False


def summary(data: ReportData) -> dict[str, Any]:
    """What ``report --json`` prints besides the output path."""
    if isinstance(data, SweepData):
        best = data.best
        return {
            "kind": "sweep",
            "metric": data.metric,
            "goal": data.goal,
            "trials": len(data.trials),
            "best_trial": best.name if best else None,
        }
    if isinstance(data, RunData):
        return {"kind": "run", "metrics": sorted(data.final), "values": len(data.history)}
    return {
        "kind": "benchmark",
        "benchmarks": [b.name for b in data],
        "charts": sum(len(b.charts) for b in data),
    }

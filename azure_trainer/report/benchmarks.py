"""Read the JSON that ``benchmarks/*.py --json PATH`` and ``benchmarks/gpu_check.sh OUTDIR`` write, as
:class:`~.data.BenchmarkData` with bar charts: throughput per device (CPU vs GPU), MFU, CLI start-up
against its goal, the loop comparison and the per-seed accuracies.

The files are recognised by their content, not their names, and wherever they nest (``gpu_check.json``
embeds the other benchmarks' reports): any object with a numeric ``samples_per_second`` or ``mfu`` is a
throughput measurement, an object with ``results: [{command, ratio, ...}]`` is the start-up benchmark,
and so on. So a benchmark that gains fields, or moves into another's report, still renders.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .data import BenchmarkData
from .local import read_json
from .svg import Bar, fmt, is_number


def load_benchmarks(path: Path) -> list[BenchmarkData]:
    """Every recognised benchmark result in ``path`` (a JSON file, or a folder of them)."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    found = [b for f in files if (b := from_json(f.stem, read_json(f))) is not None]
    if not found:
        what = "no benchmark JSON in it" if path.is_dir() else "not a benchmark result"
        raise ConfigError(
            f"{what} (the JSON benchmarks/*.py --json PATH and benchmarks/gpu_check.sh write)", file=str(path)
        )
    return found


def is_benchmark(data: Any) -> bool:
    """Whether ``data`` (a parsed JSON file) has any shape the benchmark page can chart."""
    return bool(_charts(data))


def from_json(name: str, data: Any) -> BenchmarkData | None:
    """One file's charts and facts; None when nothing in it is a known benchmark shape."""
    found = _charts(data)
    if not found:
        return None
    facts = [(k, fmt(v)) for k, v in data.items() if _scalar(v)] if isinstance(data, dict) else []
    return BenchmarkData(name, facts, found, _throughput_table(data))


def _scalar(value: Any) -> bool:
    return value is not None and (is_number(value) or isinstance(value, (str, bool)))


def _charts(data: Any) -> list[tuple[str, str, list[Bar], float | None]]:
    charts = []
    throughput = list(_throughput(data))
    if throughput:
        groups = {device: i for i, device in enumerate(dict.fromkeys(_device_kind(e) for _, e in throughput))}
        bars = [
            Bar(label, e["samples_per_second"], f"{e['samples_per_second']:,.0f}/s", groups[_device_kind(e)])
            for label, e in throughput
            if is_number(e.get("samples_per_second"))
        ]
        if bars:
            charts.append(("training throughput (CPU vs GPU)", "samples per second", bars, None))
        mfu = [
            Bar(label, 100 * e["mfu"], f"{100 * e['mfu']:.1f}%", groups[_device_kind(e)])
            for label, e in throughput
            if is_number(e.get("mfu"))
        ]
        if mfu:
            charts.append(("model FLOPs utilisation", "% of the device's peak", mfu, None))
    charts += _startup(data) + _loops(data) + _seeds(data) + _precision(data)
    return charts


def _walk(data: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if isinstance(data, dict):
        yield path, data
        for key, value in data.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _walk(value, (*path, str(i)))


def _throughput(data: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, entry in _walk(data):
        if is_number(entry.get("samples_per_second")) or is_number(entry.get("mfu")):
            where = "/".join(p for p in path if p not in ("devices", "report", "results"))
            name = entry.get("name") or entry.get("device") or ""
            yield (f"{where} ({name})" if where and name else where or str(name) or "result"), entry


def _device_kind(entry: dict[str, Any]) -> str:
    device = str(entry.get("device") or "")
    return device.split(":")[0] or "device"


def _throughput_table(data: Any) -> list[list[str]]:
    keys = ("samples_per_second", "step_time_s", "precision", "achieved_tflops", "peak_tflops", "mfu")
    entries = list(_throughput(data))
    if not entries:
        return []
    rows = [["measurement", *keys]]
    for label, e in entries:
        rows.append([label, *(fmt(e[k]) if k in e and e[k] is not None else "n/a" for k in keys)])
    return rows


def _startup(data: Any) -> list[tuple[str, str, list[Bar], float | None]]:
    out = []
    for _, entry in _walk(data):
        results = entry.get("results")
        if (
            isinstance(results, list)
            and results
            and all(isinstance(r, dict) and "command" in r and is_number(r.get("median_s")) for r in results)
        ):
            bars = [
                Bar(
                    str(r["command"]),
                    1000 * r["median_s"],
                    f"{1000 * r['median_s']:.0f} ms",
                    int(bool(r.get("checked"))),
                )
                for r in results
            ]
            out.append(("CLI start-up, median", "milliseconds", bars, None))
            ratios = [
                Bar(str(r["command"]), r["ratio"], f"{r['ratio']:.3f}x", 1)
                for r in results
                if r.get("checked") and is_number(r.get("ratio"))
            ]
            if ratios:
                goal = entry.get("goal") if is_number(entry.get("goal")) else None
                out.append(("CLI start-up / import azure.ai.ml (dashed: the goal)", "ratio", ratios, goal))
    return out


def _loops(data: Any) -> list[tuple[str, str, list[Bar], float | None]]:
    out = []
    for path, entry in _walk(data):
        t, o = entry.get("textbook_samples_per_second"), entry.get("optimised_samples_per_second")
        if is_number(t) and is_number(o):
            where = f" ({'/'.join(path)})" if path else ""
            bars = [Bar("textbook loop", t, f"{t:,.0f}/s", 0), Bar("optimised loop", o, f"{o:,.0f}/s", 1)]
            out.append((f"training loop, {entry.get('device', '')}{where}", "samples per second", bars, None))
    return out


def _seeds(data: Any) -> list[tuple[str, str, list[Bar], float | None]]:
    out = []
    for _, entry in _walk(data):
        runs = entry.get("runs")
        if (
            isinstance(runs, list)
            and runs
            and all(isinstance(r, dict) and is_number(r.get("test_accuracy")) for r in runs)
        ):
            bars = [
                Bar(f"seed {r.get('seed', i)}", r["test_accuracy"], f"{r['test_accuracy']:.4f}")
                for i, r in enumerate(runs)
            ]
            out.append(("test accuracy per seed", "test accuracy", bars, None))
    return out


def _precision(data: Any) -> list[tuple[str, str, list[Bar], float | None]]:
    out = []
    for _, entry in _walk(data):
        prec = entry.get("precision")
        if (
            isinstance(prec, dict)
            and prec
            and all(isinstance(v, dict) and is_number(v.get("mean")) for v in prec.values())
        ):
            bars = [Bar(str(k), v["mean"], f"{v['mean']:.4f}", i) for i, (k, v) in enumerate(prec.items())]
            out.append(("mean test accuracy by precision", "test accuracy", bars, None))
    return out

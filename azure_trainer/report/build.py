"""From report data (:mod:`.data`) to the page (:mod:`.page`): which tables and charts a run, a sweep or
a benchmark gets."""

from __future__ import annotations

from .data import BenchmarkData, RunData, SweepData, curves
from .page import charts, data_table, facts_table, notes, page
from .svg import WIDE, Line, Point, bar_chart, fmt, is_number, line_chart, parallel_coordinates, scatter_chart

MAX_CURVES = 12
"""Metric charts on a run's page (the most recently logged metrics last, as run-local's summary)."""


def run_page(run: RunData, *, source: str) -> str:
    """A run: summary, final metrics, one curve per metric logged at more than one step."""
    sections = [("Summary", notes(run.notes) + facts_table(run.facts))]
    if run.final:
        rows = [[name, fmt(value)] for name, value in run.final.items()]
        sections.append(
            (
                "Final metrics",
                data_table(["metric", "last value"], rows, numeric=[False, True], css="final-metrics"),
            )
        )
    series = {name: pts for name, pts in curves(run.history).items() if len(pts) > 1}
    if series:
        svgs = [
            line_chart(name, {name: pts}, y_label=name) for name, pts in list(series.items())[:MAX_CURVES]
        ]
        sections.append(("Metric curves", charts(svgs)))
    elif not run.final:
        sections.append(
            (
                "Metric curves",
                notes(["the run logged no metrics (MLflow, the status channel or metrics.jsonl)"]),
            )
        )
    return page(f"Run {run.name}", source, sections, kind="run")


def sweep_page(sweep: SweepData, *, source: str) -> str:
    """A sweep: summary, leaderboard, objective against the parameters (parallel coordinates and one
    scatter per parameter), and the objective's curve for every trial."""
    sections = [("Summary", facts_table(sweep.facts)), ("Leaderboard", leaderboard(sweep))]
    params = sweep.searched
    best = sweep.best
    done = [t for t in sweep.trials if t.ok]
    if done and params:
        lines = [Line([t.params.get(p) for p in params] + [t.objective], t.name, t is best) for t in done]
        parallel = parallel_coordinates(
            f"{sweep.metric} across the searched parameters", [*params, sweep.metric], lines
        )
        sections.append(("Parameters", charts([parallel], wide=True)))
        scatters = [
            scatter_chart(
                f"{sweep.metric} vs {p}",
                [Point(t.params.get(p), t.objective, t.name, t is best) for t in done],  # type: ignore[arg-type]
                x_label=p,
                y_label=sweep.metric,
            )
            for p in params
        ]
        sections.append(("Objective vs each parameter", charts(scatters)))
    series = {t.name: curves(t.history).get(sweep.metric, []) for t in sweep.trials}
    if any(series.values()):
        chart = line_chart(
            f"{sweep.metric} per step, every trial",
            series,
            y_label=sweep.metric,
            highlight=best.name if best else None,
            width=WIDE,
        )
        sections.append(("Objective curves", charts([chart], wide=True)))
    goal = "highest" if sweep.goal == "maximize" else "lowest"
    return page(f"Sweep {sweep.name}", f"{source} — {sweep.metric}, {goal} is best", sections, kind="sweep")


def leaderboard(sweep: SweepData) -> str:
    """The sweep's trials as a text table, best first: rank, trial, searched parameters, objective,
    duration and status."""
    params = sweep.searched
    header = ["rank", "trial", *params, sweep.metric, "duration", "status"]
    rows = []
    for rank, t in enumerate(sweep.ranked(), 1):
        rows.append(
            [
                str(rank) if t.ok else "-",
                t.name,
                *(fmt(t.params.get(p, "")) for p in params),
                fmt(t.objective) if t.ok else "-",
                f"{t.duration_s:.1f} s" if is_number(t.duration_s) else "",
                t.status,
            ]
        )
    numeric = [True, False, *(True for _ in params), True, True, False]
    return data_table(header, rows, numeric=numeric, css="leaderboard", best_row=0 if sweep.best else None)


def benchmark_page(benches: list[BenchmarkData], *, source: str) -> str:
    """Benchmarks: per benchmark its facts, its bar charts and its table."""
    sections = []
    for bench in benches:
        inner = facts_table(bench.facts)
        inner += charts(
            [
                bar_chart(title, bars, value_label=label, goal=goal)
                for title, label, bars, goal in bench.charts
            ]
        )
        if bench.table:
            inner += data_table(bench.table[0], bench.table[1:], css="bench")
        sections.append((bench.name, inner))
    return page("Benchmarks", source, sections, kind="benchmark")

"""What a report shows, as plain data, whatever it was read from (a local run folder, a local sweep
folder, an Azure ML job's MLflow metrics, a benchmark's JSON).

Every source is reduced to these few classes, and metrics always travel as *rows*,
``{"metric": NAME, "step": N, "value": X}`` (what ``run.json``'s ``metric_history`` holds and what
MLflow's metric history gives), so the page is built the same way from every source and tests can feed
it rows directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .svg import is_number

MetricRow = Mapping[str, Any]
"""``{"metric": NAME, "step": N, "value": X}``: one logged value."""


def curves(rows: Iterable[MetricRow]) -> dict[str, list[tuple[float, float]]]:
    """``{metric: [(step, value), ...]}`` in logging order; rows without a numeric step or value are
    left out (a value logged without a step is placed at its position in the history)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for position, row in enumerate(rows):
        value, step = row.get("value"), row.get("step")
        if not is_number(value):
            continue
        out.setdefault(str(row.get("metric")), []).append((step if is_number(step) else position, value))
    return out


def final_values(rows: Iterable[MetricRow]) -> dict[str, float]:
    """The last logged value of each metric."""
    return {name: pts[-1][1] for name, pts in curves(rows).items()}


@dataclass
class RunData:
    """One run (a local run folder, or an Azure ML command job)."""

    name: str
    facts: list[tuple[str, str]]
    """Label -> text, in display order (status, duration, device, ...)."""
    history: list[MetricRow] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    """The latest value of each metric (defaults to the history's last values)."""
    notes: list[str] = field(default_factory=list)
    """Warnings worth a line on the page (e.g. "the script ignored the GPU requirement")."""

    def __post_init__(self) -> None:
        if not self.final:
            self.final = final_values(self.history)


@dataclass
class TrialData:
    """One trial of a sweep."""

    name: str
    params: dict[str, Any]
    objective: float | None
    status: str
    """"finished", "failed (exit 1)", the trial's error, ..."""
    history: list[MetricRow] = field(default_factory=list)
    duration_s: float | None = None

    @property
    def ok(self) -> bool:
        return is_number(self.objective)


@dataclass
class SweepData:
    """A sweep (a local sweep folder, or an Azure ML sweep job): its objective and its trials."""

    name: str
    metric: str
    goal: str
    """"maximize" or "minimize"."""
    trials: list[TrialData]
    facts: list[tuple[str, str]] = field(default_factory=list)

    def ranked(self) -> list[TrialData]:
        """Trials with an objective value best first, then the others in their order."""
        done = sorted(
            (t for t in self.trials if t.ok), key=lambda t: t.objective, reverse=self.goal == "maximize"
        )  # type: ignore[arg-type, return-value]
        return done + [t for t in self.trials if not t.ok]

    @property
    def best(self) -> TrialData | None:
        ranked = self.ranked()
        return ranked[0] if ranked and ranked[0].ok else None

    @property
    def searched(self) -> list[str]:
        """Parameter names, in the order the trials list them."""
        return list(dict.fromkeys(k for t in self.trials for k in t.params))


@dataclass
class BenchmarkData:
    """One benchmark's results: bar groups of comparable numbers and a table of the rest."""

    name: str
    facts: list[tuple[str, str]]
    charts: list[tuple[str, str, list[Any], float | None]] = field(default_factory=list)
    """(title, value label, [svg.Bar, ...], goal or None) per chart."""
    table: list[list[str]] = field(default_factory=list)
    """Header row first."""

"""A sweep, locally: the trials of a sweep job run one by one (or K at a time) with run_local.

Each trial is the planned trial command with its ``${{search_space.NAME}}`` values filled in
(:func:`trial_spec`, no re-planning), so it runs exactly the command an Azure ML trial runs. Each gets its own run folder under the sweep's folder; a failing
trial is reported in the leaderboard, not fatal. The objective is the last value of the metric the
trial logged: read back from MLflow (one parent run for the sweep, a child run per trial, in one store at
``SWEEP_DIR/mlruns``, as an Azure ML sweep lays them out), else from the contract's status channel or the
reference script's metrics.jsonl.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..config.model import JobConfig
from ..errors import ApiUsageError, AzureTrainerError, LocalRunError
from ..planning.spec import JobSpec, as_spec
from ..planning.sweep_space import trial_command
from .prepare import LocalOptions
from .results import EXIT_TIMED_OUT
from .run_folder import check_run_dir, create_folder, new_folder_name
from .runner import LocalRunResult, run_with_options, terminate_all
from .sampling import sample_trials
from .tracking import end_run, start_run


@dataclass
class TrialResult:
    """One local trial: its parameters, exit code and objective value (None when it failed)."""

    index: int
    params: dict[str, Any]
    exit_code: int
    objective: float | None
    run_dir: str | None
    duration_s: float
    error: str | None = None
    metric_history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Every value the trial logged, ``{"metric", "step", "value"}`` (its run.json has them too)."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.objective is not None


@dataclass
class LocalSweepResult:
    """All trials, the best one, and the sweep folder."""

    metric: str
    goal: str
    sampling: str
    sweep_dir: Path
    trials: list[TrialResult] = field(default_factory=list)

    @property
    def best(self) -> TrialResult | None:
        done = [t for t in self.trials if t.ok]
        if not done:
            return None
        pick = max if self.goal == "maximize" else min
        return pick(done, key=lambda t: t.objective)  # type: ignore[arg-type, return-value]

    @property
    def exit_code(self) -> int:
        return 0 if self.best is not None else 1

    def ranked(self) -> list[TrialResult]:
        """Finished trials best first, then the failed ones in order."""
        done = sorted(
            (t for t in self.trials if t.ok),
            key=lambda t: t.objective,  # type: ignore[arg-type, return-value]
            reverse=self.goal == "maximize",
        )
        return done + [t for t in self.trials if not t.ok]

    def leaderboard(self) -> str:
        """A table: rank, trial, parameters, objective (or why the trial failed)."""
        from ..progress import table

        keys = list(self.trials[0].params) if self.trials else []
        header = ["rank", "trial", *keys, self.metric]
        rows = []
        for rank, t in enumerate(self.ranked(), 1):
            value = (
                f"{t.objective:.4f}" if t.ok else f"failed (exit {t.exit_code})" if not t.error else t.error
            )
            rows.append([str(rank) if t.ok else "-", str(t.index), *(_fmt(t.params[k]) for k in keys), value])
        lines = [table(header, rows)]
        best = self.best
        tail = (
            f"best: trial {best.index} ({', '.join(f'{k}={_fmt(v)}' for k, v in best.params.items())}) "
            f"{self.metric}={best.objective:.4f}; run folder {best.run_dir}"
            if best
            else "no trial finished with a value for the objective"
        )
        return "\n".join([*lines, tail])

    @property
    def metric_history(self) -> list[dict[str, Any]]:
        """Every value every trial logged, as plain rows ``{"trial", "metric", "step", "value"}``."""
        return [{"trial": t.index, **row} for t in self.trials for row in t.metric_history]

    def metrics_frame(self) -> Any:
        """:attr:`metric_history` as a pandas DataFrame (needs pandas)."""
        from .results import data_frame

        return data_frame(self.metric_history)

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "metric": self.metric,
            "goal": self.goal,
            "sampling": self.sampling,
            "sweep_dir": str(self.sweep_dir),
            "best_trial": best.index if best else None,
            # the histories stay in each trial's run.json
            "trials": [{k: v for k, v in t.__dict__.items() if k != "metric_history"} for t in self.ranked()],
        }


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def trial_spec(spec: JobSpec, params: dict[str, Any]) -> JobSpec:
    """The plain command job one trial runs: no ``sweep``, each ``${{search_space.NAME}}`` of the trial's
    command filled in from ``params`` (keyed by hyperparameter name), and the objective metric kept for its
    environment (the script contract), as an Azure ML trial gets them."""
    command, inputs = trial_command(spec.command, spec.inputs, params)
    return dataclasses.replace(spec, type="command", sweep=None, command=command, inputs=inputs)


def objective_value(run: LocalRunResult, metric: str) -> float | None:
    """The trial's last logged value of ``metric`` (MLflow, else the status channel, else metrics.jsonl),
    or None if it never logged it."""
    value = run.final_metrics.get(metric)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def run_local_sweep(
    job: JobSpec | JobConfig | str,
    *,
    trials: int | None = None,
    parallel: int = 1,
    sweep_dir: str | Path | None = None,
    inputs: dict[str, str] | None = None,
    seed: int = 0,
    console: TextIO | None = None,
    trial_timeout: float | None = None,
    strict_device: bool = False,
    progress: Any = None,
) -> LocalSweepResult:
    """Run a planned ``job``'s sweep locally and return every trial's result, best first in the leaderboard.

    ``trials``: how many (grid: all combinations by default; random: ``limits.max_total_trials``);
    bayesian sampling falls back to random draws (there is no optimiser locally). ``parallel`` trials
    run at once; their output then goes to each trial's log.txt only. Each trial is stopped after
    ``limits.trial_timeout`` (``trial_timeout`` overrides it, 0: none), and
    after ``limits.timeout`` of sweep no trial starts and running ones are stopped, as Azure ML does.
    ``strict_device`` is passed to every trial (see :func:`run_local`). ``progress`` is told how the
    sweep goes (``begin(total, metric, goal)``, ``trial_started(index, params)``,
    ``trial_finished(TrialResult)``; :class:`azure_trainer.progress.SweepProgress` draws it).
    """
    spec = as_spec(job, "run_local_sweep")
    for label, value in (("trials", trials), ("parallel", parallel)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ApiUsageError(f"run_local_sweep({label}=...) takes an int, not {value!r}")
    sweep = spec.sweep
    if sweep is None:
        raise LocalRunError("this job is not a sweep (type: sweep); run it with run_local")
    if trials is not None and trials < 1:
        raise LocalRunError(f"--trials {trials}: give a number >= 1")
    if parallel < 1:
        raise LocalRunError(f"--parallel {parallel}: give a number >= 1")
    if trial_timeout is not None and not (math.isfinite(trial_timeout) and trial_timeout >= 0):
        raise LocalRunError(f"--timeout {trial_timeout}: give a number of seconds >= 0 (0: no limit)")
    per_trial = (sweep.limits.trial_timeout or spec.timeout) if trial_timeout is None else trial_timeout
    origin = (
        "--timeout"
        if trial_timeout is not None
        else "the sweep's `limits.trial_timeout`"
        if sweep.limits.trial_timeout
        else "the trial's `limits.timeout`"
    )
    deadline = time.monotonic() + sweep.limits.timeout if sweep.limits.timeout else None
    out = console or sys.stderr
    params_list = sample_trials(sweep, trials, seed=seed)
    if sweep_dir is not None:
        root = create_folder(check_run_dir(sweep_dir, spec, "sweep"), sweep_dir, spec, "sweep")
    else:
        root = new_folder_name(Path("runs"), spec.experiment_name)
        create_folder(root, root, spec, "sweep")
    metric = sweep.objective.primary_metric
    result = LocalSweepResult(metric, sweep.objective.goal, sweep.sampling, root)
    store = Path(root).resolve() / "mlruns"  # one store: the parent run and a child run per trial
    parent = start_run(store, spec.experiment_name, Path(root).name, tags={"azure-trainer.sweep": "parent"})
    if sweep.sampling == "bayesian":
        print("run-local: bayesian sampling runs as random draws locally (no optimiser here)", file=out)
    algorithm = sweep.sampling_algorithm
    if getattr(algorithm, "rule", None) == "sobol":
        print("run-local: the sobol rule runs as random draws locally (no Sobol sequence here)", file=out)
    print(f"run-local: sweep of {len(params_list)} trial(s), {parallel} at a time, in {root}", file=out)
    if progress is not None:
        progress.begin(len(params_list), metric, sweep.objective.goal)

    def one(index: int, params: dict[str, Any]) -> TrialResult:
        if progress is None:
            return run_trial(index, params)
        progress.trial_started(index, params)
        trial = run_trial(index, params)
        progress.trial_finished(trial)
        return trial

    def run_trial(index: int, params: dict[str, Any]) -> TrialResult:
        run_dir = root / f"trial-{index:03d}"
        limit = float(per_trial) if per_trial else None
        limit_origin = origin
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return TrialResult(
                    index,
                    params,
                    EXIT_TIMED_OUT,
                    None,
                    None,
                    0.0,
                    error="not run: the sweep's timeout passed",
                )
            if limit is None or left < limit:
                limit, limit_origin = left, "what is left of the sweep's `limits.timeout`"
        print(f"run-local: trial {index}: {', '.join(f'{k}={_fmt(v)}' for k, v in params.items())}", file=out)
        options = LocalOptions(
            inputs=dict(inputs or {}),
            strict_device=strict_device,
            timeout=limit if limit is not None else 0,
            timeout_origin=limit_origin,
            mlflow_store=store,
        )
        try:
            run: LocalRunResult = run_with_options(
                trial_spec(spec, params),
                options,
                run_dir,
                parent=parent,
                stream=parallel == 1,
                console=console,
            )
        except AzureTrainerError as exc:
            return TrialResult(index, params, 2, None, str(run_dir), 0.0, error=str(exc))
        value = objective_value(run, metric) if run.exit_code == 0 else None
        if run.exit_code == 0 and value is None:
            logged = ", ".join(sorted(run.final_metrics)) or "nothing"
            return TrialResult(
                index,
                params,
                run.exit_code,
                None,
                str(run.run_dir),
                run.duration_s,
                error=f"the trial logged no {metric} (it logged: {logged})",
                metric_history=run.metric_history,
            )
        print(
            f"run-local: trial {index} finished: exit {run.exit_code}"
            + (f", {metric}={value:.4f}" if value is not None else ""),
            file=out,
        )
        return TrialResult(
            index,
            params,
            run.exit_code,
            value,
            str(run.run_dir),
            run.duration_s,
            metric_history=run.metric_history,
        )

    try:
        if parallel == 1:
            result.trials = [one(i, p) for i, p in enumerate(params_list)]
        else:
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                futures = [pool.submit(one, i, p) for i, p in enumerate(params_list)]
                result.trials = [f.result() for f in futures]
    except KeyboardInterrupt:
        terminate_all("Ctrl-C")
        end_run(parent, 130)
        raise
    end_run(parent, result.exit_code)
    (root / "sweep.json").write_text(json.dumps(result.to_dict(), indent=2, default=str), encoding="utf-8")
    return result

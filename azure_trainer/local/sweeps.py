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
from ..planning.spec import JobSpec, SweepSpec, as_spec
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
    sweep = _check_arguments(spec, trials, parallel, trial_timeout)
    deadline = time.monotonic() + sweep.limits.timeout if sweep.limits.timeout else None
    out = console or sys.stderr
    params_list = sample_trials(sweep, trials, seed=seed)
    root = _sweep_folder(spec, sweep_dir)
    metric = sweep.objective.primary_metric
    result = LocalSweepResult(metric, sweep.objective.goal, sweep.sampling, root)
    store = Path(root).resolve() / "mlruns"  # one store: the parent run and a child run per trial
    parent = start_run(store, spec.experiment_name, Path(root).name, tags={"azure-trainer.sweep": "parent"})
    _say_sampling_stand_ins(sweep, out)
    print(f"run-local: sweep of {len(params_list)} trial(s), {parallel} at a time, in {root}", file=out)
    if progress is not None:
        progress.begin(len(params_list), metric, sweep.objective.goal)
    per_trial, origin = _trial_time_limit(spec, trial_timeout)
    runner = _TrialRunner(
        spec=spec,
        root=root,
        store=store,
        parent=parent,
        per_trial=per_trial,
        origin=origin,
        deadline=deadline,
        inputs=dict(inputs or {}),
        strict_device=strict_device,
        stream=parallel == 1,
        console=console,
        out=out,
    )

    def one(index: int, params: dict[str, Any]) -> TrialResult:
        if progress is None:
            return runner.run(index, params)
        progress.trial_started(index, params)
        trial = runner.run(index, params)
        progress.trial_finished(trial)
        return trial

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


def _check_arguments(
    spec: JobSpec, trials: int | None, parallel: int, trial_timeout: float | None
) -> SweepSpec:
    """The spec's sweep, once ``trials``, ``parallel`` and ``trial_timeout`` are known to be usable."""
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
    return sweep


def _trial_time_limit(spec: JobSpec, trial_timeout: float | None) -> tuple[float | None, str]:
    """Each trial's time limit in seconds (0 or None: none) and where it comes from, for messages:
    ``trial_timeout`` (``--timeout``), else the sweep's ``limits.trial_timeout``, else the trial's own
    ``limits.timeout``."""
    limits = spec.sweep.limits  # type: ignore[union-attr]
    if trial_timeout is not None:
        return trial_timeout, "--timeout"
    if limits.trial_timeout:
        return limits.trial_timeout, "the sweep's `limits.trial_timeout`"
    return spec.timeout, "the trial's `limits.timeout`"


def _sweep_folder(spec: JobSpec, sweep_dir: str | Path | None) -> Path:
    """The sweep's folder, created: ``sweep_dir`` when given (checked first), else a new one in runs/."""
    if sweep_dir is not None:
        return create_folder(check_run_dir(sweep_dir, spec, "sweep"), sweep_dir, spec, "sweep")
    root = new_folder_name(Path("runs"), spec.experiment_name)
    create_folder(root, root, spec, "sweep")
    return root


def _say_sampling_stand_ins(sweep: SweepSpec, out: TextIO) -> None:
    """Tell the user when the sweep's sampling runs as something else locally (there is no optimiser)."""
    if sweep.sampling == "bayesian":
        print("run-local: bayesian sampling runs as random draws locally (no optimiser here)", file=out)
    if getattr(sweep.sampling_algorithm, "rule", None) == "sobol":
        print("run-local: the sobol rule runs as random draws locally (no Sobol sequence here)", file=out)


@dataclass
class _TrialRunner:
    """Runs one trial of a local sweep in its own folder under ``root``, within the time that is left."""

    spec: JobSpec
    root: Path
    store: Path
    parent: Any
    per_trial: float | None
    origin: str
    deadline: float | None
    inputs: dict[str, str]
    strict_device: bool
    stream: bool
    console: TextIO | None
    out: TextIO

    def time_limit(self) -> tuple[float | None, str] | None:
        """``(seconds or None for no limit, where it comes from)`` for a trial starting now; None when
        the sweep's own ``limits.timeout`` has passed (the trial must not start)."""
        limit = float(self.per_trial) if self.per_trial else None
        origin = self.origin
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return None
            if limit is None or left < limit:
                limit, origin = left, "what is left of the sweep's `limits.timeout`"
        return limit, origin

    def run(self, index: int, params: dict[str, Any]) -> TrialResult:
        """Run trial ``index`` with ``params``; a trial that fails is a result, not an exception."""
        run_dir = self.root / f"trial-{index:03d}"
        limited = self.time_limit()
        if limited is None:
            return TrialResult(
                index, params, EXIT_TIMED_OUT, None, None, 0.0, error="not run: the sweep's timeout passed"
            )
        limit, limit_origin = limited
        out = self.out
        print(f"run-local: trial {index}: {', '.join(f'{k}={_fmt(v)}' for k, v in params.items())}", file=out)
        options = LocalOptions(
            inputs=dict(self.inputs),
            strict_device=self.strict_device,
            timeout=limit if limit is not None else 0,
            timeout_origin=limit_origin,
            mlflow_store=self.store,
        )
        try:
            run: LocalRunResult = run_with_options(
                trial_spec(self.spec, params),
                options,
                run_dir,
                parent=self.parent,
                stream=self.stream,
                console=self.console,
            )
        except AzureTrainerError as exc:
            return TrialResult(index, params, 2, None, str(run_dir), 0.0, error=str(exc))
        metric = self.spec.sweep.objective.primary_metric  # type: ignore[union-attr]
        value = objective_value(run, metric) if run.exit_code == 0 else None
        error = None
        if run.exit_code == 0 and value is None:
            logged = ", ".join(sorted(run.final_metrics)) or "nothing"
            error = f"the trial logged no {metric} (it logged: {logged})"
        else:
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
            error=error,
            metric_history=run.metric_history,
        )

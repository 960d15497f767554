"""Hyperparameter sweeps: each ``sweep.search_space`` key is a script argument.

How a searched value reaches the script: for ``search_space: {lr: ...}`` the planner renders the
argument ``--lr`` as ``--lr ${{inputs.lr}}`` and declares a literal input ``lr`` (default: the value in
``args``, else a representative of the space). On Azure ML the sweep replaces that input per trial;
locally, ``run-local`` does the same with the sampled value. Argument names with dashes
(``batch-size``) become inputs with underscores (``batch_size``): Azure ML input names are identifiers.
"""

from __future__ import annotations

import math
import random
from typing import Any

from .config.model import InputSpec, SearchSpaceEntry, Sweep


def input_name(arg: str) -> str:
    """The Azure ML input name carrying searched argument ``arg``."""
    return arg.replace("-", "_")


def representative(entry: SearchSpaceEntry) -> Any:
    """A value inside the space, used as the input's default (what a non-sweep run would get)."""
    if entry.type == "choice":
        return entry.values[0]  # type: ignore[index]
    if entry.type == "randint":
        return 0
    if entry.min_value is not None and entry.max_value is not None:
        if entry.type in ("loguniform", "qloguniform"):
            return math.sqrt(entry.min_value * entry.max_value)
        return (entry.min_value + entry.max_value) / 2
    return entry.mu


def input_for(entry: SearchSpaceEntry, default: Any) -> InputSpec:
    """The literal input declared for a searched argument."""
    value = representative(entry) if default is None else default
    if isinstance(value, bool):
        kind = "boolean"
    elif entry.type == "randint" or (
        isinstance(value, int)
        and entry.type in ("choice",)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in entry.values or [])
    ):
        kind = "integer"
    elif isinstance(value, (int, float)) and not (
        entry.type == "choice" and any(isinstance(v, str) for v in entry.values or [])
    ):
        kind = "number"
    else:
        kind = "string"
        value = str(value)
    return InputSpec(type=kind, default=value)


def sdk_search_space(sweep: Sweep) -> dict[str, Any]:
    """The search space as azure.ai.ml sweep distributions, keyed by input name.

    Log-scaled bounds are written as real values in the config (``1e-4``) and converted to the natural
    logarithms Azure ML expects.
    """
    from azure.ai.ml import sweep as s

    space: dict[str, Any] = {}
    for arg, e in sweep.search_space.items():
        t = e.type
        if t == "choice":
            dist: Any = s.Choice(values=list(e.values or []))
        elif t == "randint":
            dist = s.Randint(upper=e.upper)
        elif t == "uniform":
            dist = s.Uniform(min_value=e.min_value, max_value=e.max_value)
        elif t == "loguniform":
            dist = s.LogUniform(min_value=math.log(e.min_value), max_value=math.log(e.max_value))
        elif t == "quniform":
            dist = s.QUniform(min_value=e.min_value, max_value=e.max_value, q=e.q)
        elif t == "qloguniform":
            dist = s.QLogUniform(min_value=math.log(e.min_value), max_value=math.log(e.max_value), q=e.q)
        elif t == "normal":
            dist = s.Normal(mu=e.mu, sigma=e.sigma)
        elif t == "lognormal":
            dist = s.LogNormal(mu=e.mu, sigma=e.sigma)
        elif t == "qnormal":
            dist = s.QNormal(mu=e.mu, sigma=e.sigma, q=e.q)
        else:
            dist = s.QLogNormal(mu=e.mu, sigma=e.sigma, q=e.q)
        space[input_name(arg)] = dist
    return space


def build_sweep(command_job: Any, spec: Any) -> Any:
    """Turn a built ``Command`` into the ``SweepJob`` its spec's ``sweep`` section describes."""
    from azure.ai.ml import sweep as s

    sweep: Sweep = spec.sweep
    policy = None
    et = sweep.early_termination
    if et is not None:
        common = {"evaluation_interval": et.evaluation_interval, "delay_evaluation": et.delay_evaluation}
        if et.type == "bandit":
            policy = s.BanditPolicy(slack_factor=et.slack_factor, slack_amount=et.slack_amount, **common)
        elif et.type == "median_stopping":
            policy = s.MedianStoppingPolicy(**common)
        else:
            policy = s.TruncationSelectionPolicy(truncation_percentage=et.truncation_percentage, **common)
    job = command_job.sweep(
        primary_metric=sweep.objective.metric,
        goal=sweep.objective.goal.capitalize(),
        sampling_algorithm=sweep.sampling,
        compute=spec.compute,
        search_space=sdk_search_space(sweep),
        early_termination_policy=policy,
        max_total_trials=sweep.limits.max_total_trials,
        max_concurrent_trials=sweep.limits.max_concurrent_trials,
        timeout=sweep.limits.timeout,
        trial_timeout=sweep.limits.trial_timeout,
    )
    job.experiment_name = spec.experiment
    job.display_name = spec.display_name
    job.description = spec.description
    job.tags = dict(command_job.tags or {})
    job.name = command_job.name
    return job


def sample_trials(sweep: Sweep, n: int | None, seed: int = 0) -> list[dict[str, Any]]:
    """Trial parameter sets for a local sweep, keyed by argument name.

    Grid: every combination (at most ``n`` when given). Random and bayesian: ``n`` (default
    ``limits.max_total_trials``) independent random draws with a fixed seed; a local run has no
    Bayesian optimiser, so bayesian falls back to random (said in README).
    """
    rng = random.Random(seed)
    keys = list(sweep.search_space)
    if sweep.sampling == "grid":
        combos: list[dict[str, Any]] = [{}]
        for key in keys:
            combos = [{**c, key: v} for c in combos for v in sweep.search_space[key].values or []]
        return combos[:n] if n else combos
    count = n or sweep.limits.max_total_trials
    return [{k: draw(sweep.search_space[k], rng) for k in keys} for _ in range(count)]


def draw(e: SearchSpaceEntry, rng: random.Random) -> Any:
    """One random value from ``e`` (the distributions Azure ML documents, with bounds as real values)."""
    t = e.type
    if t == "choice":
        return rng.choice(e.values or [])
    if t == "randint":
        return rng.randrange(e.upper or 1)
    if t in ("uniform", "quniform"):
        value = rng.uniform(e.min_value, e.max_value)  # type: ignore[arg-type]
    elif t in ("loguniform", "qloguniform"):
        value = math.exp(rng.uniform(math.log(e.min_value), math.log(e.max_value)))  # type: ignore[arg-type]
    elif t in ("normal", "qnormal"):
        value = rng.gauss(e.mu, e.sigma)  # type: ignore[arg-type]
    else:
        value = math.exp(rng.gauss(e.mu, e.sigma))  # type: ignore[arg-type]
    if t.startswith("q"):
        value = round(value / e.q) * e.q  # type: ignore[operator]
        if float(e.q).is_integer():  # type: ignore[arg-type]
            value = int(value)
    return value

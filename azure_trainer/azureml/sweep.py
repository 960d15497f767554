"""The SDK side of a sweep: a planned job's ``sweep`` section becomes an ``azure.ai.ml`` ``SweepJob``.

Planning (:mod:`azure_trainer.planning.sweep_space`) has already turned every searched argument into a
literal input; here the search space becomes SDK distributions and the ``Command`` becomes the sweep.
"""

from __future__ import annotations

import math
from typing import Any

from ..config.model import Sweep
from ..planning.sweep_space import input_name


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

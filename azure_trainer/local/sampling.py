"""Local sweeps draw their own trials: grid combinations, or seeded random draws from the search space.

Azure ML samples trials in the service; ``run-local`` of a sweep needs the same distributions on this
machine, with Azure ML's meaning of every parameter: ``loguniform(min_value, max_value)`` is
``logbase ** uniform(min_value, max_value)`` (the bounds are exponents; ``logbase`` is e unless random
sampling names another), ``lognormal(mu, sigma)`` is ``logbase ** normal(mu, sigma)``, a ``q`` variant
rounds to a multiple of ``q``, ``randint(upper)`` is 0..upper-1. There is no Bayesian optimiser and no
Sobol sequence locally: bayesian sampling and the sobol rule fall back to random draws (said in README).
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from ..config.sweep import SamplingAlgorithm, SearchSpaceEntry
from ..errors import LocalRunError
from ..planning.spec import SweepSpec


def sample_trials(sweep: SweepSpec, n: int | None, seed: int = 0) -> list[dict[str, Any]]:
    """Trial parameter sets for a local sweep, keyed by hyperparameter name.

    Grid: every combination (at most ``n`` when given). Random and bayesian: ``n`` (default
    ``limits.max_total_trials``) independent random draws, seeded with the sampling algorithm's ``seed``
    if it has one, else ``seed``.
    """
    nested = [name for name, entry in sweep.search_space.items() if entry.is_nested]
    if nested:
        raise LocalRunError(
            f"search_space.{nested[0]} is a choice of nested distributions: run-local cannot reproduce how "
            "Azure ML passes a conditional space to the trial; run it on Azure ML, or search a flat space locally"
        )
    keys = list(sweep.search_space)
    if sweep.sampling == "grid":
        values = [sweep.search_space[k].values or [] for k in keys]
        combos = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]
        return combos[:n] if n else combos
    algorithm = sweep.sampling_algorithm
    if isinstance(algorithm, SamplingAlgorithm) and algorithm.seed is not None:
        seed = algorithm.seed
    base = _logbase(algorithm)
    rng = random.Random(seed)
    count = n or sweep.limits.max_total_trials
    return [{k: draw(sweep.search_space[k], rng, base) for k in keys} for _ in range(count)]


def _logbase(algorithm: str | SamplingAlgorithm | None) -> float:
    if isinstance(algorithm, SamplingAlgorithm) and isinstance(algorithm.logbase, (int, float)):
        return float(algorithm.logbase)
    return math.e


def draw(e: SearchSpaceEntry, rng: random.Random, logbase: float = math.e) -> Any:
    """One random value from ``e`` (Azure ML's distributions; log ones with bounds as exponents)."""
    t = e.type
    if t == "choice":
        return rng.choice(e.values or [])
    if t == "randint":
        return rng.randrange(e.upper or 1)
    if t in ("uniform", "quniform"):
        value = rng.uniform(e.min_value, e.max_value)  # type: ignore[arg-type]
    elif t in ("loguniform", "qloguniform"):
        value = logbase ** rng.uniform(e.min_value, e.max_value)  # type: ignore[arg-type]
    elif t in ("normal", "qnormal"):
        value = rng.gauss(e.mu, e.sigma)  # type: ignore[arg-type]
    else:
        value = logbase ** rng.gauss(e.mu, e.sigma)  # type: ignore[arg-type]
    if t.startswith("q"):
        value = round(value / e.q) * e.q  # type: ignore[operator]
        if float(e.q).is_integer():  # type: ignore[arg-type]
            value = int(value)
    return value

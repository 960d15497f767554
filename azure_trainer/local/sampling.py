"""Local sweeps draw their own trials: grid combinations, or seeded random draws from the search space.

Azure ML samples trials in the service; ``run-local`` of a sweep needs the same distributions on this
machine (there is no Bayesian optimiser locally, so bayesian falls back to random draws).
"""

from __future__ import annotations

import math
import random
from typing import Any

from ..config.model import SearchSpaceEntry, Sweep


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

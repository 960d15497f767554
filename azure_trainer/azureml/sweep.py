"""The sweep keys of a planned sweep job's CLI v2 document (see :mod:`.document`).

Written as the job file wrote them: ``search_space`` over the trial's ``${{search_space.NAME}}``
placeholders, with Azure ML's own meaning of every bound (``loguniform``'s are natural-log exponents),
and nothing else: a searched hyperparameter is not also written as a fixed input.
"""

from __future__ import annotations

from typing import Any

from ..planning.spec import SweepSpec


def sweep_document(sweep: SweepSpec) -> dict[str, Any]:
    """The sweep's own keys: resources and queue settings, sampling, search space, objective, early
    termination and limits."""
    from .document import dump

    doc: dict[str, Any] = {}
    if sweep.resources is not None:
        doc["resources"] = dump(sweep.resources)
    if sweep.queue_settings is not None:
        doc["queue_settings"] = dump(sweep.queue_settings)
    if sweep.sampling_algorithm is not None:
        algorithm = sweep.sampling_algorithm
        doc["sampling_algorithm"] = algorithm if isinstance(algorithm, str) else dump(algorithm)
    doc["search_space"] = {name: dump(entry) for name, entry in sweep.search_space.items()}
    doc["objective"] = dump(sweep.objective)
    if sweep.early_termination is not None:
        doc["early_termination"] = dump(sweep.early_termination)
    doc["limits"] = dump(sweep.limits)
    return doc

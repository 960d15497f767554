"""Walking plain nested data (what ``json.loads`` / ``yaml.safe_load`` return): light, imports nothing."""

from __future__ import annotations

from typing import Any


def nested_strings(value: Any) -> list[str]:
    """Every string in ``value`` and the dicts' values and lists inside it, in order (dict keys are not
    included; numbers and other leaves are skipped)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in nested_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in nested_strings(v)]
    return []

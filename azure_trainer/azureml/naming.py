"""Client-side job names: readable, unique, and fixed before the first request.

Choosing the name before the PUT makes the PUT idempotent: a retry after a timeout or a 5xx re-sends
the same name, so it can never create a second job.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

from ..errors import ConfigError

JOB_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")


def new_job_name(experiment: str, *, now: datetime | None = None) -> str:
    """``<experiment>-<YYYYmmdd-HHMMSS>-<6 hex>``, lower case, at most 255 characters."""
    now = now or datetime.now(timezone.utc)
    stem = re.sub(r"[^a-z0-9_-]+", "-", experiment.lower()).strip("-_") or "job"
    return f"{stem[:200]}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def check_job_name(name: str) -> str:
    """Return ``name`` if Azure ML accepts it as a job name, else raise a ConfigError saying why."""
    if not JOB_NAME_RE.match(name):
        raise ConfigError(
            f"bad job name {name!r}: job names use letters, digits, '-' and '_', start with a "
            "letter or digit, at most 255 characters (`azure-trainer list` shows names)"
        )
    return name

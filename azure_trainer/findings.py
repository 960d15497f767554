"""A preflight finding: one problem found before anything is paid for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One preflight result: ``severity`` error stops a submission, warning does not.

    ``code`` is short and stable (e.g. ``gpu-on-cpu-vm``) so scripts and ``allow`` lists can name it;
    ``message`` says what is wrong and how to fix it.
    """

    severity: Severity
    code: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

"""The exception tree of azure-trainer.

    AzureTrainerError            root: the CLI catches it once, prints its message, exits non-zero
    ├── ConfigError              a job config (or a --set override) is wrong; exit 2
    ├── LocalRunError            a local run could not start (missing torch, missing input, ...); exit 2
    ├── AzureMLError             a call to Azure ML failed (auth, not found, throttled, ...)
    ├── PreflightError           preflight found errors; carries the findings
    └── ApiUsageError            a Python API function got the wrong kind of value (also a TypeError)

Every message is one line that says what is wrong, where, and how to fix it; a ConfigError about several
problems at once (:meth:`ConfigError.several`) is one line per problem under a header line.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiUsageError",
    "AzureTrainerError",
    "ConfigError",
    "LocalRunError",
    "AzureMLError",
    "PreflightError",
]


class AzureTrainerError(Exception):
    """Root of every error azure-trainer raises on purpose."""

    exit_code = 1


class ConfigError(AzureTrainerError):
    """A job config, an override or a command-line argument is invalid."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key_path: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key_path = key_path
        self.detail = message
        self.problems: list[ConfigError] = [self]
        super().__init__(self._format())

    @classmethod
    def several(cls, problems: list[ConfigError], *, file: str | None, limit: int = 20) -> ConfigError:
        """One error for ``problems`` (all of them, up to ``limit``): the problem itself when there is one,
        else a header line naming ``file`` and the count, then one indented, located line per problem."""
        if len(problems) == 1:
            return problems[0]
        shown = [f"  {p}" for p in problems[:limit]]
        if len(problems) > limit:
            shown.append(f"  ... and {len(problems) - limit} more")
        error = cls(f"{len(problems)} problems:", file=file)
        error.args = ("\n".join([error._format(), *shown]),)
        error.detail = "\n".join([error.detail, *shown])
        error.problems = list(problems)
        return error

    def _format(self) -> str:
        where = ""
        if self.file:
            where = _one_line(str(self.file))
            if self.line:
                where += f":{self.line}"
            where += ": "
        key = f"{_one_line(self.key_path)}: " if self.key_path else ""
        return f"{where}{key}{_one_line(self.detail)}"  # a value holding a newline never breaks the line


def _one_line(text: Any) -> Any:
    """``text`` with its line breaks written as ``\\n`` / ``\\r`` (a path or value may hold one)."""
    if not isinstance(text, str) or ("\n" not in text and "\r" not in text):
        return text
    return text.replace("\r", "\\r").replace("\n", "\\n")


class LocalRunError(AzureTrainerError):
    """A local run could not be started or set up."""

    exit_code = 2


class AzureMLError(AzureTrainerError):
    """A call to Azure ML failed; the SDK's exception is chained as __cause__."""

    exit_code = 1


class PreflightError(AzureTrainerError):
    """Preflight checks found at least one error; nothing was submitted."""

    exit_code = 1

    def __init__(self, message: str, findings: list[Any] | None = None) -> None:
        self.findings = list(findings or [])
        super().__init__(message)


class ApiUsageError(AzureTrainerError, TypeError):
    """The Python API was called with the wrong kind of value (also a TypeError, as Python expects)."""

    exit_code = 2

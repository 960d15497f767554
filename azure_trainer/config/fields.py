"""Value types the job config's models share: names, references, paths, and the ``{gpu: ..., cpu: ...}`` form.

Each type states its rule once (a blank name, a path no file system accepts, a compute "name" that is a
URL), so every field that uses it fails the same way, with the key path the loader adds. Enumerations are
matched the way azure-ai-ml's schemas match them (case-insensitively, or after its camelCase-to-snake_case
transform), so every spelling ``load_job`` accepts is accepted here and means the same.
"""

import difflib
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

MAX_PATH = 4096
"""Longest path Linux accepts (PATH_MAX); a longer one fails with "File name too long"."""
MAX_PATH_PART = 255
"""Longest name of one file or folder (NAME_MAX)."""

IO_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""Input, output and search-space names: azure-ai-ml's ``validate_key_contains_allowed_characters``."""
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""Environment variable names a shell can set and read (POSIX)."""
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_COMPUTE_ARM_RE = re.compile(
    r"^/subscriptions/[\w-]+/resourceGroups/[\w.()-]+/providers/Microsoft\.MachineLearningServices/"
    r"(?:workspaces/[\w-]+/computes|virtualclusters)/[\w-]+$",
    re.I,
)


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, no type coercion, immutable."""

    # defer_build: nested models are validated through their job model's schema; building each one's own
    # validator at import would cost `validate` start-up time for nothing.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when ``value`` is close to one of ``choices``, else ``""``."""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def camel_to_snake(text: str) -> str:
    """azure-ai-ml's transform for enumerations such as ``identity.type`` (``AMLToken`` -> ``aml_token``)."""
    text = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", text)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", text).lower()


def enum(*allowed: str, transform: Callable[[str], str] = str.lower) -> Any:
    """A string field that is one of ``allowed`` after ``transform`` (what azure-ai-ml's
    ``StringTransformedEnum`` does); the value is kept transformed. An unknown value says what is allowed."""

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected one of {', '.join(allowed)}, got {type(value).__name__}")
        normal = transform(value)
        if normal not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}{did_you_mean(normal, allowed)}")
        return normal

    # after camelCase-to-snake_case, "AMLToken" is aml_token: accept the words joined too, in any case
    spellings = allowed if transform is str.lower else (*allowed, *(a.replace("_", "") for a in allowed))
    pattern = "^(?:" + "|".join("".join(_either_case(c) for c in s) for s in dict.fromkeys(spellings)) + ")$"
    # editors complete the canonical values and accept every casing the loader accepts
    schema = {"type": "string", "anyOf": [{"enum": list(allowed)}, {"pattern": pattern}]}
    return Annotated[str, BeforeValidator(check), WithJsonSchema(schema)]


def _either_case(char: str) -> str:
    return f"[{char.lower()}{char.upper()}]" if char.isalpha() else re.escape(char)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank; give a value, or leave the key out")
    return value


def _path(value: str) -> str:
    if len(value) > MAX_PATH or any(len(part) > MAX_PATH_PART for part in re.split(r"[/\\]", value)):
        raise ValueError(
            f"is not a usable path: longer than {MAX_PATH} characters, or a part of it longer than "
            f"{MAX_PATH_PART}; no file system accepts it"
        )
    return value


def _io_name(value: str) -> str:
    if not re.fullmatch(IO_NAME_PATTERN, value):
        raise ValueError(
            f"{value[:60]!r} is not a valid name: input, output and search space names use only letters, "
            "digits and '_', and start with a letter or '_' (Azure ML's rule); rename it"
        )
    return value


def _env_name(value: str) -> str:
    if not re.fullmatch(ENV_NAME_PATTERN, value):
        raise ValueError(
            f"{value[:60]!r} is not an environment variable name: use letters, digits and '_', "
            "not starting with a digit (no '=', spaces or empty names)"
        )
    return value


def _name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            "use letters, digits, '-' and '_', start with a letter or digit, at most 255 characters"
        )
    return value


def _compute(value: str) -> str:
    body = value.removeprefix("azureml:")
    if not (_NAME_RE.match(body) or _COMPUTE_ARM_RE.match(body)):
        raise ValueError(
            "is not a compute name: give a cluster name (letters, digits, '-', '_'), e.g. gpu-cluster or "
            "azureml:gpu-cluster, or a compute's ARM id (/subscriptions/.../computes/NAME)"
        )
    return value


NonBlank = Annotated[
    str, AfterValidator(_not_blank), WithJsonSchema({"type": "string", "minLength": 1, "pattern": "\\S"})
]
"""A string with something in it: a name, a reference or a path that is empty or blank means nothing."""
PathText = Annotated[
    str,
    AfterValidator(_not_blank),
    AfterValidator(_path),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_PATH}),
]
"""A local path or a reference that may be one: not blank, and short enough for a file system."""
IoName = Annotated[
    str, AfterValidator(_io_name), WithJsonSchema({"type": "string", "pattern": IO_NAME_PATTERN})
]
EnvName = Annotated[
    str, AfterValidator(_env_name), WithJsonSchema({"type": "string", "pattern": ENV_NAME_PATTERN})
]
AzureName = Annotated[
    str,
    AfterValidator(_name),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"}),
]
"""Job and experiment names: Azure ML's rule."""
ComputeName = Annotated[
    str,
    AfterValidator(_not_blank),
    AfterValidator(_compute),
    WithJsonSchema({"type": "string", "minLength": 1}),
]


def _scalar_str(value: Any) -> Any:
    # YAML types `OMP_NUM_THREADS: 4` as an int; Azure ML wants strings. Nested values stay errors.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


Stringified = Annotated[
    str,
    BeforeValidator(_scalar_str),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
"""A string that YAML may have typed as a number or boolean (tag and variable values, versions)."""


class PerDevice(Strict):
    """A name chosen by ``use_gpu``: ``gpu`` when true, ``cpu`` when false (azure-trainer's addition)."""

    gpu: NonBlank | None = None
    cpu: NonBlank | None = None

    def pick(self, use_gpu: bool) -> str | None:
        return self.gpu if use_gpu else self.cpu


def is_per_device(value: Any) -> bool:
    """Whether ``value`` is written in the ``{gpu: ..., cpu: ...}`` form (a mapping of only those keys)."""
    return isinstance(value, dict) and bool(value) and set(value) <= {"gpu", "cpu"}

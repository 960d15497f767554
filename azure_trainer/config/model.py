"""The typed job config: what a ``jobs/*.yaml`` file may say, validated by pydantic.

Every model forbids unknown keys (the loader turns those errors into "did you mean" messages).
Shorthands are normalised *before* validation so each field has one shape and one error message:
``compute: NAME`` means ``{gpu: NAME, cpu: NAME}``; a bare scalar input is a literal input.
"""

from __future__ import annotations

import difflib
import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..findings import FINDING_CODES

LITERAL_TYPES = ("string", "integer", "number", "boolean")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_SHM_RE = re.compile(r"^\d+[bkmgBKMG]?$")
IO_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""Input and output names: azure.ai.ml's ``validate_key_contains_allowed_characters`` rule for jobs."""


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank; give a value, or leave the key out")
    return value


def _io_name(value: str) -> str:
    if not re.fullmatch(IO_NAME_PATTERN, value):
        raise ValueError(
            f"{value!r} is not a valid name: input and output names use only letters, digits and '_', "
            "and start with a letter or '_' (Azure ML's rule); rename it"
        )
    return value


def _finding_code(value: str) -> str:
    if value not in FINDING_CODES:
        close = difflib.get_close_matches(value, FINDING_CODES, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known codes: {', '.join(FINDING_CODES)}"
        raise ValueError(f"unknown finding code {value!r}; {hint}")
    return value


NonBlank = Annotated[
    str, AfterValidator(_not_blank), WithJsonSchema({"type": "string", "minLength": 1, "pattern": "\\S"})
]
"""A string with something in it: a name, a reference or a path that is empty or blank means nothing."""
IoName = Annotated[
    str, AfterValidator(_io_name), WithJsonSchema({"type": "string", "pattern": IO_NAME_PATTERN})
]
FindingCode = Annotated[
    str, AfterValidator(_finding_code), WithJsonSchema({"type": "string", "enum": list(FINDING_CODES)})
]


class _Strict(BaseModel):
    # defer_build: nested models are validated through JobConfig's schema; building each one's own
    # validator at import would cost `validate` ~20 ms of its start-up for nothing.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


def _both_flavours(value: Any, what: str) -> Any:
    """``NAME`` -> ``{gpu: NAME, cpu: NAME}``; a mapping passes through; anything else is an error."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(
                f"expected {what}, got {'a blank' if value else 'an empty'} string; give one, or leave the key out"
            )
        return {"gpu": value, "cpu": value}
    raise ValueError(f"expected {what}, or a mapping {{gpu: ..., cpu: ...}}; got {type(value).__name__}")


class PerDevice(_Strict):
    """A value chosen by ``use_gpu``: ``gpu`` when true, ``cpu`` when false."""

    gpu: NonBlank | None = Field(default=None, description="Used when use_gpu is true.")
    cpu: NonBlank | None = Field(default=None, description="Used when use_gpu is false.")

    def pick(self, use_gpu: bool) -> str | None:
        return self.gpu if use_gpu else self.cpu


class InputConfig(_Strict):
    """A job input: a data asset / path (uri_folder, uri_file, mltable, models) or a literal value."""

    type: Literal[
        "uri_folder",
        "uri_file",
        "mltable",
        "custom_model",
        "mlflow_model",
        "triton_model",
        "string",
        "integer",
        "number",
        "boolean",
    ] = Field(
        default="uri_folder", description="Azure ML input type; literals: string, integer, number, boolean."
    )
    path: NonBlank | None = Field(
        default=None,
        description="Where the data lives on Azure ML: azureml:NAME@latest, azureml:NAME:VERSION, "
        "azureml://datastores/..., https://..., or a local path (uploaded at submit).",
    )
    mode: Literal["ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download"] | None = None
    local_path: NonBlank | None = Field(
        default=None,
        description="Folder or file used for this input by run-local (relative to the config file).",
    )
    default: str | int | float | bool | None = Field(default=None, description="Value of a literal input.")
    optional: bool = False
    description: str | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> InputConfig:
        if self.type in LITERAL_TYPES:
            if self.path is not None or self.mode is not None or self.local_path is not None:
                raise ValueError(
                    f"a literal input (type {self.type}) takes `default`, not path/mode/local_path"
                )
            if self.default is None and not self.optional:
                raise ValueError(f"literal input of type {self.type} needs a `default` value")
        else:
            if self.default is not None:
                raise ValueError(f"an input of type {self.type} takes `path`, not `default`")
            if self.path is None and self.local_path is None and not self.optional:
                raise ValueError("give the input a `path` (where it is on Azure ML) and/or a `local_path`")
        return self

    @property
    def is_literal(self) -> bool:
        return self.type in LITERAL_TYPES


class OutputConfig(_Strict):
    """A job output folder or file; ``${{outputs.NAME}}`` in the command is its path at run time."""

    type: Literal["uri_folder", "uri_file", "mltable", "custom_model", "mlflow_model", "triton_model"] = (
        "uri_folder"
    )
    path: NonBlank | None = Field(
        default=None, description="azureml://datastores/... destination; default: the job's."
    )
    mode: Literal["rw_mount", "upload", "direct"] | None = None
    description: str | None = None


class Distribution(_Strict):
    """How many processes per node and how they are started."""

    type: Literal["pytorch", "mpi"] = "pytorch"
    process_count_per_instance: int = Field(default=1, ge=1, le=64)


class Queue(_Strict):
    """Azure ML queue settings (serverless / Singularity): job tier and priority."""

    job_tier: Literal["null", "spot", "basic", "standard", "premium"] | None = None
    priority: Literal["low", "medium", "high"] | None = None

    @field_validator("job_tier", "priority", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class Workspace(_Strict):
    """The Azure ML workspace; any part may come from the CLI or the environment instead."""

    subscription_id: NonBlank | None = None
    resource_group: NonBlank | None = None
    name: NonBlank | None = None


class Preflight(_Strict):
    """Tuning of the checks run before submitting."""

    allow: list[str] = Field(
        default_factory=list,
        description="Names (environment variables, arguments) whose values the secrets guard must accept.",
    )
    skip: list[FindingCode] = Field(
        default_factory=list, description="Finding codes to skip, e.g. quota-unknown."
    )
    max_cost: float | None = Field(
        default=None,
        gt=0,
        description="Refuse a job whose worst case (nodes x price per hour x its time limit) exceeds this, "
        "in the billing currency of the region's published VM prices.",
    )


class SearchSpaceEntry(_Strict):
    """One searched hyperparameter (Azure ML sweep distributions)."""

    type: Literal[
        "choice",
        "randint",
        "uniform",
        "loguniform",
        "normal",
        "lognormal",
        "quniform",
        "qloguniform",
        "qnormal",
        "qlognormal",
    ]
    values: list[Any] | None = Field(default=None, description="choice: the values.")
    min_value: float | None = None
    max_value: float | None = None
    upper: int | None = Field(default=None, description="randint: values 0..upper-1.")
    mu: float | None = None
    sigma: float | None = None
    q: float | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> SearchSpaceEntry:
        t = self.type
        if t == "choice":
            if not self.values:
                raise ValueError("@values: a choice needs a non-empty list of `values`")
            return self
        if t == "randint":
            if self.upper is None or self.upper < 1:
                raise ValueError("@upper: randint needs `upper` >= 1 (values 0..upper-1)")
            return self
        if t in ("uniform", "loguniform", "quniform", "qloguniform"):
            if self.min_value is None or self.max_value is None:
                raise ValueError(f"@min_value: {t} needs `min_value` and `max_value`")
            if self.min_value >= self.max_value:
                raise ValueError(f"@max_value: must be greater than min_value ({self.min_value})")
            if t in ("loguniform", "qloguniform") and self.min_value <= 0:
                raise ValueError(f"@min_value: {t} bounds are real values and must be > 0 (e.g. 1e-4)")
        if t in ("normal", "lognormal", "qnormal", "qlognormal"):
            if self.mu is None or self.sigma is None:
                raise ValueError(f"@mu: {t} needs `mu` and `sigma`")
            if self.sigma <= 0:
                raise ValueError("@sigma: must be > 0")
        if t.startswith("q") and (self.q is None or self.q <= 0):
            raise ValueError(f"@q: {t} needs a step `q` > 0")
        return self


class Objective(_Strict):
    metric: NonBlank = Field(description="Metric name the script logs (MLflow), e.g. val_accuracy.")
    goal: Literal["maximize", "minimize"]


class SweepLimits(_Strict):
    max_total_trials: int = Field(default=8, ge=1)
    max_concurrent_trials: int = Field(default=2, ge=1)
    timeout: int | None = Field(default=None, ge=1, description="Seconds for the whole sweep.")
    trial_timeout: int | None = Field(default=None, ge=1, description="Seconds per trial.")


class EarlyTermination(_Strict):
    type: Literal["bandit", "median_stopping", "truncation_selection"]
    evaluation_interval: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _check_policy(self) -> EarlyTermination:
        if self.type == "bandit" and (self.slack_factor is None) == (self.slack_amount is None):
            raise ValueError(
                "@slack_factor: a bandit policy needs exactly one of slack_factor or slack_amount"
            )
        if self.type == "truncation_selection" and self.truncation_percentage is None:
            raise ValueError(
                "@truncation_percentage: truncation selection needs truncation_percentage (1-99)"
            )
        return self

    delay_evaluation: int = Field(default=0, ge=0)
    slack_factor: float | None = None
    slack_amount: float | None = None
    truncation_percentage: int | None = Field(default=None, ge=1, le=99)


class Sweep(_Strict):
    """A hyperparameter search: each ``search_space`` key is a script argument (``args.KEY``)."""

    search_space: dict[str, SearchSpaceEntry]
    sampling: Literal["random", "grid", "bayesian"] = "random"
    objective: Objective
    limits: SweepLimits = Field(default_factory=SweepLimits)
    early_termination: EarlyTermination | None = None

    @model_validator(mode="after")
    def _check_sampling(self) -> Sweep:
        if not self.search_space:
            raise ValueError("@search_space: give at least one parameter to search")
        for key, entry in self.search_space.items():
            if self.sampling == "grid" and entry.type != "choice":
                raise ValueError(
                    f"@search_space.{key}.type: grid sampling needs `choice` values, "
                    f"not a continuous {entry.type} range; use random or bayesian sampling"
                )
            if self.sampling == "bayesian" and entry.type not in ("choice", "uniform", "quniform"):
                raise ValueError(
                    f"@search_space.{key}.type: bayesian sampling supports choice, uniform and quniform only"
                )
        if self.sampling == "bayesian" and self.early_termination is not None:
            raise ValueError("@early_termination: bayesian sampling does not support early termination")
        if self.limits.max_concurrent_trials > self.limits.max_total_trials:
            raise ValueError("@limits.max_concurrent_trials: cannot exceed max_total_trials")
        return self


ArgValue = str | int | float | bool | list[str | int | float] | None


class JobConfig(_Strict):
    """A validated job config. Build it with :func:`azure_trainer.load_config`."""

    extends: NonBlank | list[NonBlank] | None = Field(
        default=None, description="Base config(s) to deep-merge under this one; relative to this file."
    )
    experiment: str = Field(description="Azure ML experiment name (always explicit).")
    display_name: NonBlank | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    code: NonBlank = Field(description="Folder uploaded as the job's code; relative to the config file.")
    command: NonBlank | None = Field(
        default=None, description="Command line; may use ${{inputs.NAME}} and ${{outputs.NAME}}."
    )
    script: NonBlank | None = Field(
        default=None, description="Python script in `code`, run as `python SCRIPT ARGS`."
    )
    args: dict[str, ArgValue] = Field(
        default_factory=dict,
        description="Arguments for `script`, rendered as --key value; true -> --key; false/null -> omitted; "
        "lists -> repeated values.",
    )
    use_gpu: bool = Field(
        default=False, description="GPU compute + CUDA environment when true, CPU ones when false."
    )
    compute: PerDevice | None = Field(default=None, description="Cluster name, or {gpu: NAME, cpu: NAME}.")
    instance_type: PerDevice | None = Field(
        default=None, description="Serverless VM size, or {gpu: VM_SIZE, cpu: VM_SIZE}."
    )
    environment: PerDevice = Field(description="Environment reference, or {gpu: REF, cpu: REF}.")
    inputs: dict[IoName, InputConfig] = Field(default_factory=dict)
    outputs: dict[IoName, OutputConfig] = Field(default_factory=dict)
    instance_count: int = Field(default=1, ge=1, le=1000)
    distribution: Distribution | None = None
    shm_size: str | None = Field(
        default=None, description="Shared memory, e.g. 16g (default 16g with use_gpu)."
    )
    timeout: int | None = Field(default=None, ge=1, description="Seconds before Azure ML cancels the job.")
    environment_variables: dict[str, str] = Field(default_factory=dict)
    queue: Queue | None = None
    workspace: Workspace | None = None
    preflight: Preflight = Field(default_factory=Preflight)
    sweep: Sweep | None = None

    _source: str | None = PrivateAttr(default=None)
    _locations: dict[str, tuple[str, int | None]] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str | None:
        """The file this config was loaded from (None when built in code)."""
        return self._source

    @property
    def locations(self) -> dict[str, tuple[str, int | None]]:
        """Dotted key path -> (file, line) where each value was written (or ``--set ...``)."""
        return dict(self._locations)

    def locate(self, key_path: str) -> tuple[str | None, int | None]:
        """``(file, line)`` where ``key_path`` (dotted, e.g. ``compute.gpu``) or its nearest parent was written."""
        parts = key_path.split(".")
        for end in range(len(parts), 0, -1):
            where = self._locations.get(".".join(parts[:end]))
            if where is not None:
                return where
        return self._source, None

    @field_validator("compute", mode="before", json_schema_input_type=str | PerDevice | None)
    @classmethod
    def _compute_shorthand(cls, value: Any) -> Any:
        return _both_flavours(value, "a compute name")

    @field_validator("instance_type", mode="before", json_schema_input_type=str | PerDevice | None)
    @classmethod
    def _instance_type_shorthand(cls, value: Any) -> Any:
        return _both_flavours(value, "a VM size")

    @field_validator("environment", mode="before", json_schema_input_type=str | PerDevice)
    @classmethod
    def _environment_shorthand(cls, value: Any) -> Any:
        return _both_flavours(value, "an environment reference")

    @field_validator(
        "inputs", mode="before", json_schema_input_type=dict[IoName, InputConfig | str | int | float | bool]
    )
    @classmethod
    def _literal_inputs(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {name: _literal_input(spec) for name, spec in value.items()}

    @field_validator("args", mode="before")
    @classmethod
    def _args_are_scalars(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (not key or any(c.isspace() for c in key)):
                    raise ValueError(f"argument names are not empty and have no spaces (got {key!r})")
                if isinstance(item, dict):
                    raise ValueError(
                        f"@{key}: an argument value is a scalar or a list of scalars, "
                        f"not a mapping; write it as a string, or split it into separate args"
                    )
                if isinstance(item, list) and any(isinstance(i, (dict, list)) for i in item):
                    raise ValueError(
                        f"@{key}: an argument value is a scalar or a flat list of scalars; this list "
                        f"holds a {'list' if any(isinstance(i, list) for i in item) else 'mapping'}: "
                        f"flatten it, or write it as a string"
                    )
        return value

    @field_validator(
        "environment_variables",
        "tags",
        mode="before",
        json_schema_input_type=dict[str, str | int | float | bool],
    )
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        # YAML types `OMP_NUM_THREADS: 4` as int; Azure ML wants strings. Nested values stay errors.
        if not isinstance(value, dict):
            return value
        return {k: _scalar_str(v) for k, v in value.items()}

    @field_validator("experiment")
    @classmethod
    def _experiment_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(
                "experiment names use letters, digits, '-' and '_', start with a letter or digit, at most 255 chars"
            )
        return value

    @field_validator("script")
    @classmethod
    def _script_in_code(cls, value: str | None) -> str | None:
        # Only `code` is uploaded: a script outside it would run locally and be missing on Azure ML.
        if value is not None and (
            PurePosixPath(value).is_absolute()
            or PureWindowsPath(value).is_absolute()
            or ".." in PurePosixPath(value.replace("\\", "/")).parts
        ):
            raise ValueError(
                "`script` is a path inside the `code` folder, e.g. train.py or src/train.py (only that "
                "folder is uploaded): no absolute paths or '..'; move the script, or point `code` at a "
                "folder that holds it"
            )
        return value

    @field_validator("shm_size")
    @classmethod
    def _shm(cls, value: str | None) -> str | None:
        if value is not None and not _SHM_RE.match(value):
            raise ValueError("shm_size is a number with an optional unit b, k, m or g, e.g. 16g")
        return value

    @model_validator(mode="after")
    def _check_whole(self) -> JobConfig:
        if (self.command is None) == (self.script is None):
            raise ValueError(
                "@command: give either `command` or `script` (+ `args`), not both and not neither"
            )
        if self.command is not None and self.args:
            raise ValueError(
                "@args: `args` goes with `script`; with `command`, write the arguments into the command"
            )
        if self.compute is not None and self.instance_type is not None:
            raise ValueError(
                "@instance_type: give either `compute` (a cluster) or `instance_type` (serverless), not both"
            )
        if self.distribution is None and self.instance_count > 1:
            raise ValueError(
                "@instance_count: instance_count > 1 needs a `distribution` (e.g. {type: pytorch})"
            )
        if self.sweep is not None:
            for key in self.sweep.search_space:
                if self.command is not None:
                    raise ValueError(
                        "@sweep: a sweep needs `script` + `args`: searched values become script arguments"
                    )
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
                    raise ValueError(f"@sweep.search_space: key {key!r} must be an argument name")
        return self

    def flavour(self, use_gpu: bool | None = None) -> str:
        """'gpu' or 'cpu' for the given (or configured) ``use_gpu``."""
        return "gpu" if (self.use_gpu if use_gpu is None else use_gpu) else "cpu"


def _literal_input(spec: Any) -> Any:
    if isinstance(spec, bool):
        return {"type": "boolean", "default": spec}
    if isinstance(spec, int):
        return {"type": "integer", "default": spec}
    if isinstance(spec, float):
        return {"type": "number", "default": spec}
    if isinstance(spec, str):
        return {"type": "string", "default": spec}
    return spec


def _scalar_str(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value

"""The typed job config: an Azure ML CLI v2 command or sweep job, plus azure-trainer's additions.

The keys, nesting and meaning are those of ``commandJob.schema.json`` / ``sweepJob.schema.json`` as
``azure.ai.ml.load_job`` reads them (its marshmallow schemas under ``azure/ai/ml/_schema/``), so a job
file written for ``az ml job create -f`` is valid here as it is. azure-trainer adds, each with one name:

- ``use_gpu``: picks the ``gpu`` or ``cpu`` side of every ``{gpu: ..., cpu: ...}`` value (``compute``,
  ``environment`` and ``resources.instance_type``) and tells the script a GPU is required;
- ``script`` + ``args``: sugar for ``command`` (``python SCRIPT --key value ...``);
- ``local_path`` on an input: the data ``run-local`` uses;
- ``preflight`` (checks before submitting), ``workspace`` (where to submit), ``extends`` (base files).

Every model forbids unknown keys; the loader turns those errors into "did you mean" messages, and names
the Azure ML key for a key azure-trainer used to spell its own way (:data:`RENAMED_KEYS`).
"""

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..findings import FINDING_CODES
from .environment import EnvironmentConfig
from .fields import (
    AzureName,
    ComputeName,
    EnvName,
    IoName,
    NonBlank,
    PathText,
    PerDevice,
    Strict,
    Stringified,
    camel_to_snake,
    did_you_mean,
    enum,
    is_per_device,
)
from .io import InputConfig, OutputConfig
from .yaml_source import nearest_location

__all__ = [
    "CommandJobConfig",
    "Distribution",
    "EnvironmentConfig",
    "Identity",
    "InputConfig",
    "JobConfig",
    "OutputConfig",
    "Preflight",
    "QueueSettings",
    "Resources",
    "Service",
    "TrialConfig",
    "Workspace",
    "job_model",
]

RENAMED_KEYS: dict[tuple[str, ...], str] = {
    ("experiment",): "it is `experiment_name` in Azure ML job YAML",
    ("instance_count",): "it is `resources.instance_count` in Azure ML job YAML",
    ("instance_type",): "it is `resources.instance_type` in Azure ML job YAML",
    ("shm_size",): "it is `resources.shm_size` in Azure ML job YAML",
    ("timeout",): "it is `limits.timeout` in Azure ML job YAML",
    ("queue",): "it is `queue_settings` in Azure ML job YAML",
    ("sweep",): "a sweep is `type: sweep` with `trial`, `search_space`, `sampling_algorithm`, `objective` "
    "and `limits` at the top level in Azure ML job YAML",
    ("sampling",): "it is `sampling_algorithm` in Azure ML job YAML",
    ("objective", "metric"): "it is `objective.primary_metric` in Azure ML job YAML",
    ("inputs", "*", "default"): "a literal input is written as its value in Azure ML job YAML: "
    "`NAME: 5` (or `NAME: {value: 5}`)",
    ("inputs", "*", "optional"): "an optional input is not declared in an Azure ML job: refer to it inside "
    "$[[...]] in the command, and Azure ML drops that part when it is not given",
    ("inputs", "*", "description"): "a job input has no description in Azure ML job YAML",
    ("outputs", "*", "description"): "a job output has no description in Azure ML job YAML",
    ("preflight", "allow_env"): "it is `preflight.allow`",
}
"""Keys azure-trainer once spelled its own way (or that belong elsewhere): the hint an unknown key gets.
A ``*`` matches any name."""
SWEEP_ONLY = ("trial", "search_space", "sampling_algorithm", "objective", "early_termination")
TRIAL_KEYS = ("command", "code", "environment", "environment_variables", "distribution", "script", "args")
READ_ONLY_KEYS = ("id", "status", "creation_context", "log_files", "parameters")
"""What ``az ml job show`` writes and ``load_job`` drops when reading a job back: dropped here too."""


def _finding_code(value: str) -> str:
    if value not in FINDING_CODES:
        hint = did_you_mean(value, FINDING_CODES) or f"; known codes: {', '.join(FINDING_CODES)}"
        raise ValueError(f"unknown finding code {value!r}{hint}")
    return value


FindingCode = Annotated[
    str, AfterValidator(_finding_code), WithJsonSchema({"type": "string", "enum": list(FINDING_CODES)})
]


# Plain functions, not `dict`/`list`/a class: pydantic inspects each default factory's signature when it
# builds the schema, and a builtin's costs a tokenizer run (about 1 ms each, of `validate`'s start-up).
def _empty_dict() -> dict[str, Any]:
    return {}


def _empty_list() -> list[Any]:
    return []


def _per_device_or(single: str) -> Any:
    # called on the raw YAML value when validating, and on the model when serialising
    return lambda value: (
        "per_device"
        if is_per_device(value) or isinstance(value, (PerDevice, PerDeviceEnvironment))
        else single
    )


class PerDeviceCompute(PerDevice):
    """``compute: {gpu: CLUSTER, cpu: CLUSTER}`` (azure-trainer's addition)."""

    gpu: ComputeName | None = None
    cpu: ComputeName | None = None


ComputeField = Annotated[
    Annotated[ComputeName, Tag("name")] | Annotated[PerDeviceCompute, Tag("per_device")],
    Discriminator(_per_device_or("name")),
]
InstanceTypeField = Annotated[
    Annotated[NonBlank, Tag("name")] | Annotated[PerDevice, Tag("per_device")],
    Discriminator(_per_device_or("name")),
]


_REGISTRY_ENV_RE = re.compile(
    r"^azureml://registries/[^/]+/environments/[^/]+(?:/(?:versions|labels)/[^/]+)?$"
)
_WORKSPACE_ENV_RE = re.compile(r"^azureml:[A-Za-z0-9_][\w.-]*(?:[:@][\w.-]+)?$")


def _environment_reference(value: str) -> str:
    if value.startswith("file:"):
        if not value[len("file:") :].strip():
            raise ValueError(
                "file: needs the path of an environment YAML, e.g. file:../environments/gpu.yaml"
            )
        return value
    if value.startswith("azureml://registries/"):
        if not _REGISTRY_ENV_RE.match(value):
            raise ValueError(
                "registry references look like "
                "azureml://registries/REGISTRY/environments/NAME/labels/latest (or /versions/V)"
            )
        return value
    if value.startswith("azureml:/subscriptions/") or _WORKSPACE_ENV_RE.match(value):
        return value
    if value.startswith("azureml:"):
        raise ValueError("workspace references look like azureml:NAME:VERSION or azureml:NAME@latest")
    if value.endswith((".yaml", ".yml")) or "/" in value or "\\" in value:
        raise ValueError(
            f"an environment file is written file:PATH in Azure ML job YAML: environment: file:{value[:200]}"
        )
    raise ValueError(
        "environment references look like azureml:NAME:VERSION, azureml:NAME@latest, "
        "azureml://registries/REGISTRY/environments/NAME/labels/latest, or file:PATH (an environment YAML)"
    )


EnvironmentReference = Annotated[PathText, AfterValidator(_environment_reference)]


def _environment_kind(value: Any) -> str:
    return "reference" if isinstance(value, str) else "inline"  # a mapping, or an EnvironmentConfig


EnvironmentValue = Annotated[
    Annotated[EnvironmentReference, Tag("reference")] | Annotated[EnvironmentConfig, Tag("inline")],
    Discriminator(_environment_kind),
]
"""``azureml:NAME:VERSION``, ``azureml:NAME@latest``, ``azureml://registries/...``, ``file:PATH`` (an
environment YAML), or an inline definition (``image``/``build``/``conda_file``)."""


class PerDeviceEnvironment(Strict):
    """``environment: {gpu: ENV, cpu: ENV}`` (azure-trainer's addition); each side is any environment form."""

    gpu: EnvironmentValue | None = None
    cpu: EnvironmentValue | None = None

    def pick(self, use_gpu: bool) -> str | EnvironmentConfig | None:
        return self.gpu if use_gpu else self.cpu


EnvironmentField = Annotated[
    Annotated[EnvironmentValue, Tag("single")] | Annotated[PerDeviceEnvironment, Tag("per_device")],
    Discriminator(_per_device_or("single")),
]


class Resources(Strict):
    """What each run gets: nodes, VM size (serverless, or a Kubernetes instance type), shared memory, ..."""

    instance_count: int | None = Field(default=None, ge=1, description="Nodes.")
    instance_type: InstanceTypeField | None = Field(
        default=None, description="VM size (serverless) or instance type, or {gpu: SIZE, cpu: SIZE}."
    )
    shm_size: str | None = Field(
        default=None,
        description="Shared memory, e.g. 16g (azure-trainer sets 16g under use_gpu when it is not set).",
        json_schema_extra={"pattern": "^\\d+[bkmgBKMG]?$"},
    )
    docker_args: str | list[str] | None = None
    properties: dict[str, Any] | None = None
    locations: list[NonBlank] | None = None
    max_instance_count: int | None = Field(default=None, ge=1)

    @field_validator("shm_size")
    @classmethod
    def _shm(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+[bkmgBKMG]?", value):
            raise ValueError("shm_size is a number with an optional unit b, k, m or g, e.g. 16g")
        return value


_DISTRIBUTION_FIELDS = {
    "pytorch": ("process_count_per_instance",),
    "mpi": ("process_count_per_instance",),
    "tensorflow": ("parameter_server_count", "worker_count"),
    "ray": (
        "port",
        "address",
        "include_dashboard",
        "dashboard_port",
        "head_node_additional_args",
        "worker_node_additional_args",
    ),
}


class Distribution(Strict):
    """How the processes of a multi-process job are started: pytorch, mpi, tensorflow or ray."""

    type: enum(*_DISTRIBUTION_FIELDS)
    process_count_per_instance: int | None = Field(default=None, ge=1, description="pytorch, mpi.")
    parameter_server_count: int | None = Field(default=None, ge=0, description="tensorflow.")
    worker_count: int | None = Field(default=None, ge=1, description="tensorflow.")
    port: int | None = Field(default=None, ge=1, le=65535, description="ray.")
    address: NonBlank | None = Field(default=None, description="ray.")
    include_dashboard: bool | None = Field(default=None, description="ray.")
    dashboard_port: int | None = Field(default=None, ge=1, le=65535, description="ray.")
    head_node_additional_args: str | None = Field(default=None, description="ray.")
    worker_node_additional_args: str | None = Field(default=None, description="ray.")

    @model_validator(mode="after")
    def _fields_of_type(self) -> "Distribution":
        own = _DISTRIBUTION_FIELDS[self.type]
        for key in sorted(self.model_fields_set - {"type", *own}):
            raise ValueError(f"@{key}: a {self.type} distribution takes {', '.join(own)}, not {key}")
        return self


class CommandLimits(Strict):
    timeout: int | None = Field(default=None, ge=1, description="Seconds before Azure ML cancels the job.")


class QueueSettings(Strict):
    """Azure ML queue settings (serverless / Singularity): job tier and priority."""

    job_tier: enum("null", "spot", "basic", "standard", "premium") | None = None
    priority: enum("low", "medium", "high") | None = None


class Service(Strict):
    """An interactive service on the job's nodes (ssh, jupyter_lab, vs_code, tensor_board, or custom)."""

    type: NonBlank | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    nodes: NonBlank | None = Field(default=None, description="Which nodes: all.")
    properties: dict[str, Any] | None = None
    ssh_public_keys: NonBlank | None = Field(default=None, description="ssh only.")
    log_dir: NonBlank | None = Field(default=None, description="tensor_board only.")

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in ("endpoint", "status", "error_message")}
        return data

    @model_validator(mode="after")
    def _fields_of_type(self) -> "Service":
        kind = (self.type or "").lower()
        if self.ssh_public_keys is not None and kind != "ssh":
            raise ValueError("@ssh_public_keys: belongs to a service of type ssh")
        if self.log_dir is not None and kind != "tensor_board":
            raise ValueError("@log_dir: belongs to a service of type tensor_board")
        return self


class Identity(Strict):
    """The identity the job runs as: user_identity, managed (with an id) or aml_token."""

    type: enum("user_identity", "managed", "managed_identity", "aml_token", transform=camel_to_snake)
    client_id: NonBlank | None = None
    object_id: NonBlank | None = None
    msi_resource_id: NonBlank | None = None

    @model_validator(mode="after")
    def _ids_for_managed(self) -> "Identity":
        ids = sorted(self.model_fields_set & {"client_id", "object_id", "msi_resource_id"})
        if ids and self.type not in ("managed", "managed_identity"):
            raise ValueError(f"@{ids[0]}: only a managed identity takes {ids[0]}")
        return self


class Workspace(Strict):
    """azure-trainer: the Azure ML workspace to submit to; any part may come from the CLI or the environment."""

    subscription_id: NonBlank | None = None
    resource_group: NonBlank | None = None
    name: NonBlank | None = None


class Preflight(Strict):
    """azure-trainer: tuning of the checks run before submitting."""

    allow: list[str] = Field(
        default_factory=_empty_list,
        description="Names (environment variables, arguments) whose values the secrets guard must accept.",
    )
    skip: list[FindingCode] = Field(
        default_factory=_empty_list, description="Finding codes to skip, e.g. quota-unknown."
    )
    max_cost: float | None = Field(
        default=None,
        gt=0,
        description="Refuse a job whose worst case (nodes x price per hour x its time limit) exceeds this, "
        "in the billing currency of the region's published VM prices.",
    )


ArgValue = str | int | float | bool | list[str | int | float] | None


def _no_preflight_settings() -> "Preflight":
    return Preflight()


class CommandFields(Strict):
    """What a command job and a sweep's ``trial`` share: what runs, where, with what."""

    command: NonBlank | None = Field(
        default=None,
        description="Command line; may use ${{inputs.NAME}}, ${{outputs.NAME}} (and ${{search_space.NAME}} in a "
        "sweep trial); `$[[...]]` holds what needs an optional input.",
    )
    script: PathText | None = Field(
        default=None, description="azure-trainer: a Python script in `code`, run as `python SCRIPT ARGS`."
    )
    args: dict[str, ArgValue] = Field(
        default_factory=_empty_dict,
        description="azure-trainer: arguments for `script`, rendered as --key value; true -> --key; "
        "false/null -> omitted; lists -> --key v1 v2. Values may be placeholders.",
    )
    code: PathText | None = Field(
        default=None,
        description="The code snapshot: a local folder or file (relative to the job file), azureml: reference or URL.",
    )
    environment: EnvironmentField = Field(
        description="Environment reference, file:PATH, inline definition, or {gpu: ENV, cpu: ENV}."
    )
    environment_variables: dict[EnvName, Stringified] = Field(default_factory=_empty_dict)
    resources: Resources | None = None
    distribution: Distribution | None = None
    queue_settings: QueueSettings | None = None

    @field_validator("args", mode="before")
    @classmethod
    def _args_are_scalars(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (not key or any(c.isspace() for c in key)):
                    raise ValueError(f"argument names are not empty and have no spaces (got {key[:60]!r})")
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

    @model_validator(mode="after")
    def _command_or_script(self) -> "CommandFields":
        if (self.command is None) == (self.script is None):
            raise ValueError(
                "@command: give either `command` or `script` (+ `args`), not both and not neither"
            )
        if self.command is not None and self.args:
            raise ValueError(
                "@args: `args` goes with `script`; with `command`, write the arguments into the command"
            )
        return self


class TrialConfig(CommandFields):
    """A sweep's ``trial``: the command each trial runs (``${{search_space.NAME}}`` is its sampled value)."""


class JobConfig(Strict):
    """What every job config has. Build one with :func:`azure_trainer.load_config`; it is a
    :class:`CommandJobConfig` or a :class:`SweepJobConfig`."""

    schema_: str | None = Field(default=None, alias="$schema", description="Ignored (for editors).")
    name: AzureName | None = Field(default=None, description="The job's name (unique in the workspace).")
    display_name: NonBlank | None = None
    experiment_name: AzureName | None = Field(
        default=None, description="Experiment; az ml's default is the current folder's name."
    )
    description: str | None = None
    tags: dict[str, Stringified] = Field(default_factory=_empty_dict)
    properties: dict[str, Stringified] = Field(default_factory=_empty_dict)
    compute: ComputeField | None = Field(
        default=None,
        description="Cluster name (azureml:NAME or NAME), or {gpu: NAME, cpu: NAME}; none: serverless.",
    )
    inputs: dict[IoName, InputConfig] = Field(default_factory=_empty_dict)
    outputs: dict[IoName, OutputConfig] = Field(default_factory=_empty_dict)
    services: dict[str, Service] = Field(default_factory=_empty_dict)
    identity: Identity | None = None
    use_gpu: bool = Field(
        default=False, description="azure-trainer: the gpu side of {gpu, cpu} values and the GPU requirement."
    )
    preflight: Preflight = Field(default_factory=_no_preflight_settings)
    workspace: Workspace | None = None
    extends: PathText | list[PathText] | None = Field(
        default=None,
        description="azure-trainer: base config(s) deep-merged under this one; relative to this file.",
    )

    _source: str | None = PrivateAttr(default=None)
    _locations: dict[str, tuple[str, int | None]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _read_only_and_types(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if k not in READ_ONLY_KEYS}
        if isinstance(data.get("type"), str):
            data["type"] = data["type"].lower()
        return data

    @field_validator(
        "inputs", mode="before", json_schema_input_type=dict[IoName, InputConfig | str | float | bool]
    )
    @classmethod
    def _inputs(cls, value: Any) -> Any:
        return value  # a bare scalar is a literal input: InputConfig reads it

    @field_validator("outputs", mode="before", json_schema_input_type=dict[IoName, OutputConfig | None])
    @classmethod
    def _outputs(cls, value: Any) -> Any:
        if isinstance(value, dict):  # `NAME:` alone is an output with Azure ML's defaults
            return {k: {} if v is None else v for k, v in value.items()}
        return value

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
        return nearest_location(self._locations, key_path, self._source)

    def flavour(self, use_gpu: bool | None = None) -> str:
        """'gpu' or 'cpu' for the given (or configured) ``use_gpu``."""
        return "gpu" if (self.use_gpu if use_gpu is None else use_gpu) else "cpu"

    @property
    def runs(self) -> "CommandFields":
        """What runs: the command job itself, or a sweep's trial."""
        raise NotImplementedError  # pragma: no cover - every job config is one of the two below


class CommandJobConfig(JobConfig, CommandFields):
    """An Azure ML command job (``type: command``, the default)."""

    type: Literal["command"] = "command"
    limits: CommandLimits | None = None
    parent_job_name: NonBlank | None = None

    @property
    def runs(self) -> "CommandFields":
        return self


def job_model(kind: str) -> type[JobConfig] | None:
    """The model of a job ``type`` (command or sweep; the sweep models are imported only when needed)."""
    if kind == "command":
        return CommandJobConfig
    if kind == "sweep":
        from .sweep import SweepJobConfig

        return SweepJobConfig
    return None

"""Planning: a validated :class:`JobConfig` becomes one resolved :class:`JobSpec`, the one hand-off.

    job.yml --load--> JobConfig --plan()--> JobSpec --+--> local/   (run_local, run_local_sweep)
                                                      +--> azureml/ (build_job, preflight, submit)

Every backend consumes a JobSpec and nothing else, so :func:`plan` runs once per command and the
local run and the Azure ML job cannot disagree about what the job is. ``use_gpu`` is applied here and
only here, and adds exactly what README documents: the ``gpu``/``cpu`` side of each ``{gpu, cpu}`` value,
``resources.shm_size: 16g`` when it is not set, and the contract's environment variables (and a tag, in
the built job). Everything else is the job file's own value, or unset: where azure-trainer needs a value
the file leaves out, it uses az ml's own default and records that in :attr:`JobSpec.defaulted` (which
``validate`` prints). The spec also carries what the backends need besides the job itself: the preflight
settings, the workspace section, and where each value was written (for messages). Pure: no network, no
azure.ai.ml, no torch.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..config.environment import EnvironmentConfig
from ..config.model import (
    CommandFields,
    Distribution,
    Identity,
    InputConfig,
    JobConfig,
    OutputConfig,
    PerDeviceEnvironment,
    Preflight,
    QueueSettings,
    Resources,
    Service,
    Workspace,
)

if TYPE_CHECKING:  # the sweep models are imported only for sweep jobs
    from ..config.sweep import EarlyTermination, Objective, SamplingAlgorithm, SearchSpaceEntry, SweepLimits
from ..config.yaml_source import nearest_location
from ..contract import contract_env
from ..errors import ApiUsageError, ConfigError
from .command_line import optional_inputs, placeholder_problem, placeholders, script_command

_CHECKPOINT_OPTION = re.compile(r"--checkpoint[\w-]*(?:=|\s+)['\"]?\$\{\{\s*outputs\.(\w+)\s*\}\}")

GPU_DEFAULT_SHM_SIZE = "16g"  # Azure ML's default is 2g: too small for DataLoader workers on a GPU node.
DEFAULT_EXPERIMENT_NAME = "Default"  # azure-ai-ml's name when the current folder has none

EnvironmentSource = Literal["registry", "workspace", "file", "inline"]
"""Where an environment comes from: a registry asset, a workspace asset, a ``file:`` YAML, or the job itself."""


@dataclass(frozen=True)
class EnvironmentRef:
    """The job's environment: a registry or workspace reference, an environment YAML, or an inline one.

    ``ref`` is the reference as written, or the absolute path of the YAML file (``file:`` dropped), or
    ``"inline"``. ``definition`` holds the definition of a file or inline environment; ``image``,
    ``conda_file`` (the conda file's content) and ``name`` are what the preflight CUDA check reads.
    """

    ref: str
    source: EnvironmentSource
    definition: EnvironmentConfig | None = None

    @functools.cached_property
    def conda_file(self) -> Any:
        """The conda file's content (read when first asked for: only preflight's CUDA check needs it)."""
        conda = self.definition.conda_file if self.definition else None
        if not isinstance(conda, str):
            return conda
        from ..config.yaml_source import load_yaml_with_lines

        return load_yaml_with_lines(Path(conda), "a conda file")[0]

    @property
    def image(self) -> str | None:
        return self.definition.image if self.definition else None

    @property
    def name(self) -> str | None:
        if self.definition is not None:
            return self.definition.name or (Path(self.ref).stem if self.source == "file" else None)
        return self.name_version[0]

    @property
    def shown(self) -> str:
        """How messages name it: the reference, the file, or the inline image/build context."""
        if self.source == "inline" and self.definition is not None:
            what = self.definition.image or (self.definition.build.path if self.definition.build else "")
            return f"inline environment ({what})"
        return self.ref

    @property
    def registry(self) -> str | None:
        """The registry name of ``azureml://registries/NAME/...`` references."""
        if self.source != "registry":
            return None
        return self.ref.split("/")[3]

    @property
    def name_version(self) -> tuple[str, str | None, str | None]:
        """``(name, version, label)`` of a registry or workspace reference."""
        if self.source == "registry":
            parts = self.ref.split("/")  # azureml://registries/R/environments/NAME[/(versions/V|labels/L)]
            name = parts[5]
            version = parts[7] if len(parts) > 7 and parts[6] == "versions" else None
            label = parts[7] if len(parts) > 7 and parts[6] == "labels" else None
            return name, version, label
        if self.source == "workspace":
            body = self.ref.removeprefix("azureml:")
            if body.startswith("/subscriptions/"):  # an ARM id: .../environments/NAME[/versions/V]
                parts = body.split("/")
                at = parts.index("environments") if "environments" in parts else len(parts) - 2
                name = parts[at + 1] if at + 1 < len(parts) else body
                version = parts[at + 3] if len(parts) > at + 3 and parts[at + 2] == "versions" else None
                return name, version, None
            if "@" in body:
                name, label = body.split("@", 1)
                return name, None, label
            name, _, version = body.partition(":")
            return name, version or None, None
        return (self.name or "inline"), None, None


@dataclass(frozen=True)
class SweepSpec:
    """A sweep job's search: what is sampled, how, how trials are ranked and limited."""

    search_space: dict[str, SearchSpaceEntry]
    objective: Objective
    limits: SweepLimits
    sampling_algorithm: str | SamplingAlgorithm | None = None
    early_termination: EarlyTermination | None = None
    resources: Resources | None = None
    """The sweep's own ``resources`` (each trial's are :attr:`JobSpec.resources`)."""
    queue_settings: QueueSettings | None = None

    @property
    def sampling(self) -> str:
        """random, grid or bayesian (random when not given, as in Azure ML)."""
        if self.sampling_algorithm is None:
            return "random"
        if isinstance(self.sampling_algorithm, str):
            return self.sampling_algorithm
        return self.sampling_algorithm.type


@dataclass(frozen=True)
class JobSpec:
    """A fully resolved job: everything a backend needs, nothing left to choose.

    For a sweep, the attributes that describe what runs (``command``, ``code``, ``environment``,
    ``resources``, ``distribution``, ...) are the trial's, and :attr:`sweep` holds the search.
    """

    type: Literal["command", "sweep"]
    experiment_name: str
    """The experiment: the file's ``experiment_name``, or az ml's default (see :attr:`defaulted`)."""
    command: str
    use_gpu: bool
    environment: EnvironmentRef
    code: Path | None = None
    """The local code folder, or the one file that is the snapshot (None without code, or when it is on
    Azure: :attr:`remote_code`); :attr:`code_dir` is the folder the command runs in."""
    remote_code: str | None = None
    """``code`` when it is an ``azureml:`` asset or a URL."""
    compute: str | None = None
    """The cluster's name (``azureml:`` dropped); None for serverless."""
    resources: Resources | None = None
    distribution: Distribution | None = None
    timeout: int | None = None
    """A command job's ``limits.timeout`` (seconds)."""
    inputs: dict[str, InputConfig] = field(default_factory=dict)
    optional_inputs: tuple[str, ...] = ()
    """Inputs the command uses only inside ``$[[...]]`` and the job does not declare."""
    outputs: dict[str, OutputConfig] = field(default_factory=dict)
    user_environment_variables: dict[str, str] = field(default_factory=dict)
    """The job's own ``environment_variables`` (what the secrets guard checks)."""
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    queue_settings: QueueSettings | None = None
    services: dict[str, Service] = field(default_factory=dict)
    identity: Identity | None = None
    parent_job_name: str | None = None
    sweep: SweepSpec | None = None
    script: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    objective_metric: str | None = None
    """The metric a sweep's trials must log (a trial of a local sweep keeps it; see the contract)."""
    defaulted: Mapping[str, str] = field(default_factory=dict)
    """Key path -> what azure-trainer used for it because the file leaves it out (az ml's own default)."""
    preflight: Preflight = field(default_factory=Preflight)
    workspace: Workspace | None = None
    source: str | None = None
    """The job file it was planned from (None when the config was built in code)."""
    locations: Mapping[str, tuple[str, int | None]] = field(default_factory=dict)
    """Dotted key path -> (file, line) where it was written: for messages that point at the config."""
    record: Mapping[str, Any] = field(default_factory=dict)
    """The resolved config as plain data (extends merged, overrides applied): what a run folder records."""

    @property
    def environment_variables(self) -> dict[str, str]:
        """What the job runs with: its own variables plus the contract's (which win)."""
        return {**self.user_environment_variables, **contract_env(self.use_gpu, self.objective_metric)}

    def locate(self, key_path: str) -> tuple[str | None, int | None]:
        """``(file, line)`` where ``key_path`` (dotted, e.g. ``compute.gpu``) or its nearest parent was
        written; the job file without a line when nothing closer is known."""
        return nearest_location(self.locations, key_path, self.source)

    def where(self, key_path: str) -> str:
        """`` (file:line)`` for a message about ``key_path``, or an empty string."""
        file, line = self.locate(key_path)
        if not file:
            return ""
        return f" ({file}:{line})" if line else f" ({file})"

    @property
    def code_dir(self) -> Path | None:
        """The folder the command runs in and its script is read from: :attr:`code`, or the folder of a
        code file (on Azure ML that file is alone in the job's folder; here its neighbours are visible)."""
        if self.code is None:
            return None
        return self.code if self.code.is_dir() else self.code.parent

    @property
    def runs_key(self) -> str:
        """The key path prefix of what runs: ``""`` for a command job, ``"trial."`` for a sweep."""
        return "trial." if self.type == "sweep" else ""

    @property
    def instance_count(self) -> int:
        """Nodes (Azure ML's default, 1, when ``resources.instance_count`` is not set)."""
        return (self.resources.instance_count if self.resources else None) or 1

    @property
    def instance_type(self) -> str | None:
        """The VM size (or Kubernetes instance type): the trial's, else the sweep's own."""
        for resources in (self.resources, self.sweep.resources if self.sweep else None):
            if resources is not None and isinstance(resources.instance_type, str):
                return resources.instance_type
        return None

    @property
    def shm_size(self) -> str | None:
        return self.resources.shm_size if self.resources else None

    @property
    def process_count_per_instance(self) -> int | None:
        """The distribution's processes per node as written (pytorch, mpi), None when unset."""
        return self.distribution.process_count_per_instance if self.distribution else None

    @property
    def processes_per_node(self) -> int:
        """Processes each node runs: ``process_count_per_instance``, else Azure ML's default of 1."""
        return self.process_count_per_instance or 1

    @property
    def world_size(self) -> int:
        return self.instance_count * self.processes_per_node

    @property
    def flavour(self) -> str:
        return "gpu" if self.use_gpu else "cpu"

    @property
    def checkpoint_output(self) -> str | None:
        """The output that keeps checkpoints when Azure ML preempts and restarts the job (low-priority or
        spot nodes): one named ``checkpoint...``, or the one the command passes to a ``--checkpoint...``
        option (``--checkpoint-dir ${{outputs.ckpt}}``). None when the job has none."""
        for name in self.outputs:
            if "checkpoint" in name.lower():
                return name
        match = _CHECKPOINT_OPTION.search(self.command)
        return match.group(1) if match and match.group(1) in self.outputs else None


def classify_environment(ref: str) -> EnvironmentSource:
    """Tell a registry reference, a workspace reference and an environment YAML (``file:``) apart."""
    if ref.startswith("azureml://registries/"):
        return "registry"
    if ref.startswith("azureml:"):
        return "workspace"
    return "file"


def default_experiment_name(cwd: Path | None = None) -> str:
    """The experiment azure-ai-ml (and so ``az ml job create``) uses when a job names none: the current
    folder's name without spaces (``Path("./").resolve().stem``), else "Default"."""
    return (cwd or Path.cwd()).resolve().stem.replace(" ", "") or DEFAULT_EXPERIMENT_NAME


class _Planner:
    """One plan() call: the config, the use_gpu side, and located errors."""

    def __init__(self, config: JobConfig) -> None:
        self.config = config
        self.runs: CommandFields = config.runs
        self.prefix = "trial." if config.type == "sweep" else ""
        self.flavour = config.flavour()

    def fail(self, key_path: str, message: str) -> ConfigError:
        file, line = self.config.locate(key_path)
        return ConfigError(message, file=file, line=line, key_path=key_path)

    def pick(self, value: Any, key: str, what: str, example: str) -> Any:
        """The ``use_gpu`` side of a ``{gpu, cpu}`` value (a single value serves both)."""
        if value is None or not hasattr(value, "pick"):
            return value
        chosen = value.pick(self.config.use_gpu)
        if chosen is None:
            other = "cpu" if self.config.use_gpu else "gpu"
            raise self.fail(
                key,
                f"no {self.flavour.upper()} {what} is set; add "
                f"`{key.split('.')[-1]}: {{{self.flavour}: {example}}}` or run with --{other}",
            )
        return chosen

    def resources(self, resources: Resources | None, key: str) -> Resources | None:
        if resources is None or resources.instance_type is None:
            return resources
        picked = self.pick(resources.instance_type, f"{key}.instance_type", "VM size", "VM_SIZE")
        return resources.model_copy(update={"instance_type": picked})

    def environment(self) -> EnvironmentRef:
        key = f"{self.prefix}environment"
        value = self.runs.environment
        if isinstance(value, PerDeviceEnvironment):
            key = f"{key}.{self.flavour}"
            value = self.pick(value, key.rsplit(".", 1)[0], "environment", "REF")
        if isinstance(value, EnvironmentConfig):
            self.check_conda(value, key)
            return EnvironmentRef("inline", "inline", value)
        kind = classify_environment(value)
        if kind != "file":
            return EnvironmentRef(value, kind)
        path = Path(value[len("file:") :])
        if path.is_dir() or not path.exists():  # a FIFO or device: reading it says what it is
            problem = (
                "is a folder" if path.is_dir() else "not found" + _relative_hint(self.config, key, str(path))
            )
            raise self.fail(
                key, f"environment file {path} {problem}; give the path of an Azure ML environment YAML"
            )
        from ..config.loader import load_environment_file

        definition = load_environment_file(path)
        self.check_conda(definition, key, shown=f"(named in {path.name}) ")
        return EnvironmentRef(str(path), "file", definition)

    def check_conda(self, env: EnvironmentConfig, key: str, shown: str = "") -> None:
        """A conda file named by path exists (azure-ai-ml reads it when it builds the job)."""
        if isinstance(env.conda_file, str) and not Path(env.conda_file).is_file():
            raise self.fail(
                f"{key}.conda_file" if not shown else key, f"conda file {env.conda_file} {shown}not found"
            )

    def code(self) -> tuple[Path | None, str | None]:
        from ..config.loader import is_local_path

        raw = self.runs.code
        if raw is None:
            return None, None
        if not is_local_path(raw):
            return None, raw
        code = Path(raw)
        if not code.exists():  # a file is fine: Azure ML uploads that one file as the snapshot
            problem = "does not exist" + _relative_hint(self.config, f"{self.prefix}code", raw)
            raise self.fail(f"{self.prefix}code", f"code folder {raw} {problem}")
        return code, None

    def command(self, code: Path | None) -> tuple[str, str]:
        """The command line, and the key path to blame for a problem in it."""
        runs = self.runs
        if runs.command is not None:
            return runs.command, f"{self.prefix}command"
        assert runs.script is not None  # the model guarantees command xor script
        if code is not None and not code.is_dir() and Path(runs.script).as_posix() != code.name:
            raise self.fail(
                f"{self.prefix}code",
                f"code {code.name} is one file (Azure ML uploads it alone) but script is {runs.script!r}: "
                "give the folder that holds the script",
            )
        if code is not None and code.is_dir() and not (code / runs.script).is_file():
            raise self.fail(
                f"{self.prefix}script", f"script {runs.script!r} not found in the code folder {code}"
            )
        if code is None and self.runs.code is None:
            raise self.fail(
                f"{self.prefix}script", "`script` runs a file of the `code` folder: set `code` too"
            )
        for arg, value in runs.args.items():
            for item in value if isinstance(value, list) else [value]:
                problem = placeholder_problem(item) if isinstance(item, str) else None
                if problem is not None:
                    raise self.fail(f"{self.prefix}args.{arg}", problem)
        return script_command(runs.script, runs.args), f"{self.prefix}args"

    def check_placeholders(self, command: str, key: str) -> tuple[str, ...]:
        """Every placeholder names something declared; returns the optional (undeclared) inputs."""
        problem = placeholder_problem(command)
        if problem is not None:
            raise self.fail(key, problem)
        config = self.config
        optional = optional_inputs(command)
        space = getattr(config, "search_space", None)
        undeclared: set[str] = set()
        for kind, name in placeholders(command):
            if kind == "search_space":
                if space is None:
                    raise self.fail(key, f"${{{{search_space.{name}}}}} is only valid in a sweep job's trial")
                if name not in space:
                    have = ", ".join(sorted(space))
                    raise self.fail(
                        key, f"${{{{search_space.{name}}}}} names no search_space entry (have: {have})"
                    )
                continue
            declared = config.inputs if kind == "inputs" else config.outputs
            if name in declared:
                continue
            if kind == "inputs" and name in optional:
                undeclared.add(name)
                continue
            have = ", ".join(sorted(declared)) or "none"
            hint = (
                "; or, for an optional input, put it at the end of a $[[...]] block: "
                f"$[[--{name} ${{{{inputs.{name}}}}}]]"
                if kind == "inputs"
                else ""
            )
            raise self.fail(
                key,
                f"${{{{{kind}.{name}}}}} names no declared {kind[:-1]} (declared: {have}); "
                f"add it under `{kind}:`{hint}",
            )
        return tuple(sorted(undeclared))


def plan(config: JobConfig) -> JobSpec:
    """Resolve ``config`` for its ``use_gpu`` into a :class:`JobSpec`; raise ConfigError if it cannot run."""
    if not isinstance(config, JobConfig):
        raise ApiUsageError(
            f"plan() takes a JobConfig (from azure_trainer.load_config(path)), not {type(config).__name__}"
        )
    p = _Planner(config)
    runs = p.runs
    compute = p.pick(config.compute, "compute", "compute", "CLUSTER")
    resources = p.resources(runs.resources, f"{p.prefix}resources")
    sweep_resources = p.resources(config.resources, "resources") if config.type == "sweep" else None
    if config.use_gpu and compute is None and not _has_instance_type(resources, sweep_resources):
        raise p.fail(
            "compute",
            "use_gpu is true but no GPU compute is set; add `compute: {gpu: CLUSTER}` "
            f"or `{p.prefix}resources: {{instance_type: {{gpu: VM_SIZE}}}}`",
        )
    if config.use_gpu and not (
        (resources and resources.shm_size) or (sweep_resources and sweep_resources.shm_size)
    ):
        resources = (resources or Resources()).model_copy(update={"shm_size": GPU_DEFAULT_SHM_SIZE})
    environment = p.environment()
    code, remote_code = p.code()
    command, command_key = p.command(code)
    optional = p.check_placeholders(command, command_key)

    defaulted: dict[str, str] = {}
    experiment_name = config.experiment_name
    if experiment_name is None:
        experiment_name = default_experiment_name()
        defaulted["experiment_name"] = (
            f"{experiment_name} (az ml's default: the current folder's name; set experiment_name to choose)"
        )

    sweep = None
    if config.type == "sweep":
        sweep = SweepSpec(
            search_space=dict(config.search_space),
            objective=config.objective,
            limits=config.limits,
            sampling_algorithm=config.sampling_algorithm,
            early_termination=config.early_termination,
            resources=sweep_resources,
            queue_settings=config.queue_settings,
        )
    record = config.model_dump(mode="json", exclude_unset=True, by_alias=True)
    record["use_gpu"] = config.use_gpu
    return JobSpec(
        type="sweep" if sweep else "command",
        experiment_name=experiment_name,
        command=command,
        use_gpu=config.use_gpu,
        environment=environment,
        code=code,
        remote_code=remote_code,
        compute=compute.removeprefix("azureml:") if compute else None,
        resources=resources,
        distribution=runs.distribution,
        timeout=_command_timeout(config),
        inputs=dict(config.inputs),
        optional_inputs=optional,
        outputs=dict(config.outputs),
        user_environment_variables=dict(runs.environment_variables),
        name=config.name,
        display_name=config.display_name,
        description=config.description,
        tags=dict(config.tags),
        properties=dict(config.properties),
        queue_settings=runs.queue_settings,
        services=dict(config.services),
        identity=config.identity,
        parent_job_name=getattr(config, "parent_job_name", None),
        sweep=sweep,
        script=runs.script,
        args=dict(runs.args),
        objective_metric=sweep.objective.primary_metric if sweep else None,
        defaulted=defaulted,
        preflight=config.preflight,
        workspace=config.workspace,
        source=config.source,
        locations=dict(config.locations),
        record=record,
    )


def _command_timeout(config: JobConfig) -> int | None:
    limits = None if config.type == "sweep" else getattr(config, "limits", None)
    return limits.timeout if limits is not None else None


def _has_instance_type(*resources: Resources | None) -> bool:
    return any(r is not None and r.instance_type is not None for r in resources)


def as_spec(job: JobSpec | JobConfig | str | os.PathLike, function: str) -> JobSpec:
    """What the public API's entry points accept: a JobSpec as it is, or a JobConfig or a job file's path,
    planned here, once. Raises ApiUsageError for anything else (naming ``function``)."""
    if isinstance(job, JobSpec):
        return job
    if isinstance(job, JobConfig):
        return plan(job)
    if isinstance(job, (str, os.PathLike)):
        from ..config.loader import load_config

        return plan(load_config(job))
    raise ApiUsageError(
        f"{function}() takes a JobSpec (azure_trainer.plan(config)), a JobConfig "
        f"(azure_trainer.load_config(path)) or the path of a job file, not {type(job).__name__}"
    )


def _relative_hint(config: JobConfig, key_path: str, path: str) -> str:
    """Where ``path``, found at ``key_path``, was looked for if relative: the config file's folder, or for
    a ``--set`` (which has no file) the current folder."""
    file, _ = config.locate(key_path)
    if file is not None and file.startswith("--set "):
        return " (a relative path from --set is relative to the current folder)"
    # paths from a file were made absolute when it was loaded: the user may still have written a relative one
    return " (a relative path is relative to the config file's folder)"

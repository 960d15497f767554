"""Planning: a validated :class:`JobConfig` becomes one resolved :class:`JobSpec`, the one hand-off.

    job.yml --load--> JobConfig --plan()--> JobSpec --+--> local/   (run_local, run_local_sweep)
                                                      +--> azureml/ (build_job, preflight, submit)

Every backend consumes a JobSpec and nothing else, so :func:`plan` runs once per command and the
local run and the Azure ML job cannot disagree about what the job is. ``use_gpu`` is applied here and
only here: the compute, environment, shared memory and the contract's environment variables all follow
from it. The spec also carries what the backends need besides the job itself: the preflight settings,
the workspace section, and where each value was written (for messages). Pure: no network, no
azure.ai.ml, no torch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config.model import (
    Distribution,
    InputConfig,
    JobConfig,
    OutputConfig,
    Preflight,
    Queue,
    Sweep,
    Workspace,
)
from ..contract import contract_env
from ..errors import ApiUsageError, ConfigError
from .command_line import placeholder_problem, placeholders, script_command

_CHECKPOINT_OPTION = re.compile(r"--checkpoint[\w-]*(?:=|\s+)['\"]?\$\{\{\s*outputs\.(\w+)\s*\}\}")

GPU_DEFAULT_SHM_SIZE = "16g"  # Azure ML's default is 2g: too small for DataLoader workers on a GPU node.

EnvironmentSource = Literal["registry", "workspace", "file"]
"""Where an environment comes from: a registry asset, a workspace asset, or a local YAML file."""


@dataclass(frozen=True)
class EnvironmentRef:
    """Where the job's environment comes from: a registry or workspace asset, or a local YAML file."""

    ref: str
    source: EnvironmentSource

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
            parts = self.ref.split("/")  # azureml://registries/R/environments/NAME/(versions/V|labels/L)
            name = parts[5]
            version = parts[7] if len(parts) > 7 and parts[6] == "versions" else None
            label = parts[7] if len(parts) > 7 and parts[6] == "labels" else None
            return name, version, label
        if self.source == "workspace":
            body = self.ref.removeprefix("azureml:")
            if "@" in body:
                name, label = body.split("@", 1)
                return name, None, label
            name, _, version = body.partition(":")
            return name, version or None, None
        return Path(self.ref).stem, None, None


@dataclass(frozen=True)
class JobSpec:
    """A fully resolved job: everything a backend needs, nothing left to choose."""

    experiment: str
    code: Path
    command: str
    use_gpu: bool
    environment: EnvironmentRef
    compute: str | None = None
    instance_type: str | None = None
    instance_count: int = 1
    distribution: Distribution | None = None
    shm_size: str | None = None
    timeout: int | None = None
    inputs: dict[str, InputConfig] = field(default_factory=dict)
    outputs: dict[str, OutputConfig] = field(default_factory=dict)
    user_environment_variables: dict[str, str] = field(default_factory=dict)
    """The job's own ``environment_variables`` (what the secrets guard checks)."""
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    queue: Queue | None = None
    sweep: Sweep | None = None
    script: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    objective_metric: str | None = None
    """The metric a sweep's trials must log (a trial of a local sweep keeps it; see the contract)."""
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
        parts = key_path.split(".")
        for end in range(len(parts), 0, -1):
            where = self.locations.get(".".join(parts[:end]))
            if where is not None:
                return where
        return self.source, None

    def where(self, key_path: str) -> str:
        """`` (file:line)`` for a message about ``key_path``, or an empty string."""
        file, line = self.locate(key_path)
        if not file:
            return ""
        return f" ({file}:{line})" if line else f" ({file})"

    @property
    def processes_per_node(self) -> int:
        return self.distribution.process_count_per_instance if self.distribution else 1

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
    """Tell a registry reference, a workspace reference and a local environment YAML apart."""
    if ref.startswith("azureml://registries/"):
        return "registry"
    if ref.startswith("azureml:"):
        return "workspace"
    return "file"


def plan(config: JobConfig) -> JobSpec:
    """Resolve ``config`` for its ``use_gpu`` into a :class:`JobSpec`; raise ConfigError if it cannot run."""
    if not isinstance(config, JobConfig):
        raise ApiUsageError(
            f"plan() takes a JobConfig (from azure_trainer.load_config(path)), not {type(config).__name__}"
        )
    flavour = config.flavour()

    def fail(key_path: str, message: str) -> ConfigError:
        file, line = config.locate(key_path)
        return ConfigError(message, file=file, line=line, key_path=key_path)

    compute = config.compute.pick(config.use_gpu) if config.compute else None
    instance_type = config.instance_type.pick(config.use_gpu) if config.instance_type else None
    if config.use_gpu and compute is None and instance_type is None:
        key = "instance_type" if config.instance_type else "compute"
        raise fail(
            key,
            "use_gpu is true but no GPU compute is set; add `compute: {gpu: CLUSTER}` "
            "or `instance_type: {gpu: VM_SIZE}`",
        )
    if config.compute is not None and compute is None:
        raise fail(
            "compute",
            f"no {flavour} compute is set; add `compute: {{{flavour}: CLUSTER}}` "
            f"or run with --{'cpu' if config.use_gpu else 'gpu'}",
        )
    if config.instance_type is not None and instance_type is None:
        raise fail(
            "instance_type", f"no {flavour} VM size is set; add `instance_type: {{{flavour}: VM_SIZE}}`"
        )

    env_ref = config.environment.pick(config.use_gpu)
    if env_ref is None:
        raise fail("environment", f"no {flavour} environment is set; add `environment: {{{flavour}: REF}}`")
    kind = classify_environment(env_ref)
    if kind == "file" and not Path(env_ref).is_file():
        key = f"environment.{flavour}"
        problem = (
            "is a folder" if Path(env_ref).is_dir() else "not found" + _relative_hint(config, key, env_ref)
        )
        raise fail(
            key,
            f"environment file {env_ref} {problem}; give a path to an Azure ML environment YAML, "
            "or azureml:NAME:VERSION / azureml:NAME@latest",
        )
    if kind == "registry" and not _valid_registry_ref(env_ref):
        raise fail(
            f"environment.{flavour}",
            "registry references look like "
            "azureml://registries/REGISTRY/environments/NAME/labels/latest (or /versions/V)",
        )
    if kind == "workspace" and not _valid_workspace_ref(env_ref):
        raise fail(
            f"environment.{flavour}",
            "workspace references look like azureml:NAME:VERSION or azureml:NAME@latest",
        )

    code = Path(config.code)
    if not code.is_dir():
        problem = (
            "is a file, not a folder"
            if code.exists()
            else "does not exist" + _relative_hint(config, "code", config.code)
        )
        raise fail("code", f"code folder {config.code} {problem}")

    inputs = dict(config.inputs)
    if config.command is not None:
        command, command_key = config.command, "command"
    else:
        assert config.script is not None  # the model guarantees command xor script
        if not (code / config.script).is_file():
            raise fail("script", f"script {config.script!r} not found in the code folder {config.code}")
        args = dict(config.args)
        for arg, value in args.items():
            for item in value if isinstance(value, list) else [value]:
                problem = placeholder_problem(item) if isinstance(item, str) else None
                if problem is not None:
                    raise fail(f"args.{arg}", problem)
        if config.sweep is not None:
            from .sweep_space import input_for, input_name

            for arg, entry in config.sweep.search_space.items():
                name = input_name(arg)
                if name in inputs:
                    raise fail(
                        f"sweep.search_space.{arg}", f"input {name!r} already exists; rename the input"
                    )
                inputs[name] = input_for(entry, args.get(arg))
                args[arg] = f"${{{{inputs.{name}}}}}"
        command, command_key = script_command(config.script, args), "args"
    problem = placeholder_problem(command)
    if problem is not None:
        raise fail(command_key, problem)
    for kind_, name in placeholders(command):
        declared = inputs if kind_ == "inputs" else config.outputs if kind_ == "outputs" else None
        if declared is None:
            raise fail(command_key, f"${{{{{kind_}.{name}}}}} is only valid inside a sweep trial")
        if name not in declared:
            have = ", ".join(sorted(declared)) or "none"
            raise fail(
                command_key,
                f"${{{{{kind_}.{name}}}}} names no declared {kind_[:-1]} (declared: {have}); "
                f"add it under `{kind_}:`",
            )

    shm_size = config.shm_size or (GPU_DEFAULT_SHM_SIZE if config.use_gpu else None)
    return JobSpec(
        experiment=config.experiment,
        code=code,
        command=command,
        use_gpu=config.use_gpu,
        environment=EnvironmentRef(env_ref, kind),
        compute=compute,
        instance_type=instance_type,
        instance_count=config.instance_count,
        distribution=config.distribution,
        shm_size=shm_size,
        timeout=config.timeout,
        inputs=inputs,
        outputs=dict(config.outputs),
        user_environment_variables=dict(config.environment_variables),
        display_name=config.display_name,
        description=config.description,
        tags=dict(config.tags),
        queue=config.queue,
        sweep=config.sweep,
        script=config.script,
        args=dict(config.args),
        objective_metric=config.sweep.objective.metric if config.sweep else None,
        preflight=config.preflight,
        workspace=config.workspace,
        source=config.source,
        locations=dict(config.locations),
        record=config.model_dump(mode="json", exclude_none=True),
    )


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
    a ``--set`` (which has no file) the current folder. Empty for an absolute path given with --set."""
    file, _ = config.locate(key_path)
    if file is not None and file.startswith("--set "):
        if Path(path).is_absolute():
            return ""
        return " (a relative path from --set is relative to the current folder)"
    # paths from a file were made absolute when it was loaded: the user may still have written a relative one
    return " (a relative path is relative to the config file's folder)"


def _valid_registry_ref(ref: str) -> bool:
    parts = ref.split("/")
    return (
        len(parts) == 8
        and parts[4] == "environments"
        and parts[6] in ("labels", "versions")
        and all(parts[3:])
    )


def _valid_workspace_ref(ref: str) -> bool:
    body = ref.removeprefix("azureml:")
    if "@" in body:
        name, label = body.split("@", 1)
        return bool(name and label)
    name, sep, version = body.partition(":")
    return bool(name and sep and version)

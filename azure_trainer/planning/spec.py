"""Planning: a validated :class:`JobConfig` becomes one resolved :class:`JobSpec`.

The spec is what both backends consume: the local runner and the Azure ML builder. ``use_gpu`` is
applied here and only here: the compute, environment, shared memory and the contract's environment
variables all follow from it. Pure: no network, no azure.ai.ml, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config.model import Distribution, InputConfig, JobConfig, OutputConfig, Queue, Sweep
from ..contract import contract_env
from ..errors import ConfigError, require_job_config
from .command_line import placeholder_problem, placeholders, script_command

GPU_DEFAULT_SHM_SIZE = "16g"  # Azure ML's default is 2g: too small for DataLoader workers on a GPU node.

EnvironmentKind = Literal["registry", "workspace", "file"]


@dataclass(frozen=True)
class EnvironmentRef:
    """Where the job's environment comes from: a registry or workspace asset, or a local YAML file."""

    ref: str
    kind: EnvironmentKind

    @property
    def registry(self) -> str | None:
        """The registry name of ``azureml://registries/NAME/...`` references."""
        if self.kind != "registry":
            return None
        return self.ref.split("/")[3]

    @property
    def name_version(self) -> tuple[str, str | None, str | None]:
        """``(name, version, label)`` of a registry or workspace reference."""
        if self.kind == "registry":
            parts = self.ref.split("/")  # azureml://registries/R/environments/NAME/(versions/V|labels/L)
            name = parts[5]
            version = parts[7] if len(parts) > 7 and parts[6] == "versions" else None
            label = parts[7] if len(parts) > 7 and parts[6] == "labels" else None
            return name, version, label
        if self.kind == "workspace":
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
    source: str | None = None

    @property
    def environment_variables(self) -> dict[str, str]:
        """What the job runs with: its own variables plus the contract's (which win)."""
        objective = self.sweep.objective.metric if self.sweep else None
        return {**self.user_environment_variables, **contract_env(self.use_gpu, objective)}

    @property
    def processes_per_node(self) -> int:
        return self.distribution.process_count_per_instance if self.distribution else 1

    @property
    def world_size(self) -> int:
        return self.instance_count * self.processes_per_node

    @property
    def flavour(self) -> str:
        return "gpu" if self.use_gpu else "cpu"


def classify_environment(ref: str) -> EnvironmentKind:
    """Tell a registry reference, a workspace reference and a local environment YAML apart."""
    if ref.startswith("azureml://registries/"):
        return "registry"
    if ref.startswith("azureml:"):
        return "workspace"
    return "file"


def plan(config: JobConfig) -> JobSpec:
    """Resolve ``config`` for its ``use_gpu`` into a :class:`JobSpec`; raise ConfigError if it cannot run."""
    require_job_config(config, "plan")
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
        source=config.source,
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

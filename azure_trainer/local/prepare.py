"""From a :class:`JobSpec` to a :class:`LocalLaunch`: everything a local run will do, decided without doing it.

``prepare(spec, options, host, run_dir)`` is pure: it reads no clock, probes no GPU and starts nothing.
What it needs to know of this machine comes in a :class:`Host` (the caller, :func:`~.runner.run_local`,
measures it once), so tests check the argv, environment, files and warnings of any job on any
"machine" without a process. :func:`~.execute.execute` then carries the launch out.

How the job becomes local:

* ``${{inputs.X}}`` -> the input's local data (:mod:`.inputs`); ``${{outputs.X}}`` -> ``RUN_DIR/outputs/X``.
  Values travel in environment variables (:func:`~azure_trainer.planning.command_line.localize_command`),
  so no path is ever parsed by the shell.
* the command runs with ``bash -c`` in the code folder, a leading ``python`` replaced by the interpreter
  running azure-trainer; environment = ours + the job's ``environment_variables`` (with the use_gpu
  contract) + the placeholder variables.
* distributed jobs (a ``distribution``, or ``nproc > 1``) run through torchrun on this machine, one agent
  per node (``resources.instance_count``), every worker under a small wrapper (``_rank_tee.py``) that
  prefixes its lines ``[rank N]``; a multi-node job without a distribution runs the command once per node.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..contract import (
    COLLECTIVE_TIMEOUT_ENV,
    DEFAULT_COLLECTIVE_TIMEOUT_S,
    DISTRIBUTED_ENV,
    EXIT_NO_GPU,
    PREEMPT_AT_STEP_ENV,
    REQUIRE_GPU_ENV,
    STATUS_FILE_ENV,
)
from ..errors import LocalRunError
from ..planning.command_line import localize_command
from ..planning.spec import JobSpec
from ..secrets_guard import redact_text
from .inputs import resolve_inputs
from .run_folder import command_sh_text, config_yaml_text, secret_names, shown_command

TRAIN_EXTRA = "pip install 'azure-trainer[train]'"
NO_GPU_WARNING = (
    "use_gpu is true but no CUDA device is visible here: training on the CPU; "
    "--strict-device fails like the cloud"
)
RANK_TEE = Path(__file__).with_name("_rank_tee.py")
_LEADING_PYTHON = re.compile(
    r"""^(\s*)(?:python3?(?:\.\d+)?|'python3?(?:\.\d+)?'|"python3?(?:\.\d+)?")(?=\s|$)"""
)
_OUTER_LAUNCH_ENV = (*DISTRIBUTED_ENV, "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", PREEMPT_AT_STEP_ENV)
"""Variables of an outer launch that must not leak into ours (torchrun sets its own)."""


@dataclass(frozen=True)
class LocalOptions:
    """How to run the job here (``run-local``'s flags; see :func:`~.runner.run_local`)."""

    inputs: Mapping[str, str] = field(default_factory=dict)
    nproc: int | None = None
    """Processes per node (torchrun's --nproc-per-node); None: the job's ``process_count_per_instance``."""
    strict_device: bool = False
    preempt_after: float | None = None
    preempt_at_step: int | None = None
    timeout: float | None = None
    """Seconds per start of the command; None: the job's own ``limits.timeout``; 0: no limit."""
    timeout_origin: str = "--timeout"
    """Where :attr:`timeout` came from, for the run's note (a local sweep's trial: the sweep's limits)."""
    mlflow_store: Path | None = None
    """The MLflow file store to log into (a local sweep's, shared by its trials); None: ``RUN_DIR/mlruns``."""

    def check(self) -> None:
        """Raise LocalRunError for values no run can use (before anything is created)."""
        if self.preempt_after is not None and self.preempt_at_step is not None:
            raise LocalRunError("give --preempt-after or --preempt-at-step, not both")
        if self.preempt_after is not None and not (
            math.isfinite(self.preempt_after) and self.preempt_after > 0
        ):
            raise LocalRunError(f"--preempt-after {self.preempt_after}: give a number of seconds > 0")
        if self.preempt_at_step is not None and self.preempt_at_step < 1:
            raise LocalRunError(f"--preempt-at-step {self.preempt_at_step}: give a step >= 1")
        if self.nproc is not None and self.nproc < 1:
            raise LocalRunError(f"--nproc {self.nproc}: give a number of processes >= 1")
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout >= 0):
            raise LocalRunError(f"--timeout {self.timeout}: give a number of seconds >= 0 (0: no limit)")

    @property
    def rehearsing(self) -> bool:
        return self.preempt_after is not None or self.preempt_at_step is not None


@dataclass(frozen=True)
class Host:
    """What a local run needs to know of this machine, measured once by the caller."""

    python: str
    """The interpreter that runs a leading ``python`` (the one running azure-trainer, which has torch)."""
    environ: Mapping[str, str]
    cpu_count: int = 1
    has_bash: bool = True
    has_torch: bool = True
    cuda: bool | None = None
    """Whether torch sees a CUDA device (None: not probed, because the job did not need to know)."""
    port: int = 29500
    """A free TCP port on 127.0.0.1 for torchrun's rendezvous."""


@dataclass(frozen=True)
class Agent:
    """One process run-local starts: the command itself, or one node's torchrun agent."""

    argv: list[str]
    """What is started (torchrun's workers, and plain nodes' commands, wrapped in ``_rank_tee.py``)."""
    shown: list[str]
    """The same as a person would type it (no wrapper): shown, and written to command.sh."""
    env: dict[str, str] = field(default_factory=dict)
    """Added to the launch's environment for this process (a node's NODE_RANK)."""


@dataclass(frozen=True)
class LocalLaunch:
    """Everything a local run will do: what :func:`~.execute.execute` carries out."""

    run_dir: Path
    cwd: Path
    agents: list[Agent]
    """One per node: several for a multi-node job, as Azure ML starts one per node."""
    env: dict[str, str]
    """The child's whole environment."""
    shell_text: str
    """The job's command as given to ``bash -c`` (placeholders as ``"${AZT_...}"`` references)."""
    files: dict[str, str]
    """Files of the run folder to write before the start: name -> text (config.yaml, command.sh)."""
    output_dirs: list[Path]
    """Folders to create before the start (the job's outputs)."""
    warnings: list[str]
    nodes: int
    nproc: int
    """Processes in all (nodes x processes per node)."""
    distributed: bool
    """Whether the processes run under torchrun (ranks, and hang detection across them)."""
    time_limit: float | None
    time_limit_origin: str
    strict_device: bool
    cuda: bool | None
    mlflow_store: Path | None
    """The local MLflow store the script logs into; None when the user's MLFLOW_TRACKING_URI points elsewhere."""
    preempt_after: float | None = None
    preempt_at_step: int | None = None
    collective_timeout: float = DEFAULT_COLLECTIVE_TIMEOUT_S
    """Seconds the ranks still running may wait for one that has exited before they count as hung."""
    redact: Callable[[str], str] | None = field(default=None, repr=False)
    """Hides the job's secrets in a line of the script's output (see :class:`~.supervisor.Console`)."""

    @property
    def wrapped(self) -> bool:
        """Whether its processes run under ``_rank_tee.py`` (ranks, or several nodes)."""
        return self.distributed or self.nodes > 1

    @property
    def launcher(self) -> list[str]:
        """The first node's launch as a person would type it."""
        return self.agents[0].shown

    @property
    def outputs_dir(self) -> Path:
        return self.run_dir / "outputs"

    @property
    def rehearsing(self) -> bool:
        return self.preempt_after is not None or self.preempt_at_step is not None

    @property
    def gpu_required(self) -> bool:
        """Whether the script is told a GPU is required (the cloud's fail-fast, kept by --strict-device)."""
        return self.env.get(REQUIRE_GPU_ENV) == "1"

    def attempt_env(self, number: int, extra: Mapping[str, str] = ()) -> dict[str, str]:
        """The environment of start ``number`` of the command (1, or 2 when a rehearsal restarts it), plus
        ``extra`` (e.g. the MLflow run it logs into)."""
        env = {**self.env, **dict(extra)}
        env[STATUS_FILE_ENV] = str(status_file(self.run_dir, number))
        if number == 1 and self.preempt_at_step is not None:
            env[PREEMPT_AT_STEP_ENV] = str(self.preempt_at_step)
        return env


def status_file(run_dir: Path, attempt: int) -> Path:
    """Where the script reports attempt ``attempt``'s status events (the contract's status channel)."""
    return run_dir / ".azure-trainer" / f"status-{attempt}.jsonl"


def prepare(spec: JobSpec, options: LocalOptions, host: Host, run_dir: Path) -> LocalLaunch:
    """Decide everything about running ``spec`` here, in the run folder ``run_dir``; raise LocalRunError
    when it cannot run here (a missing input, no bash, no torch for a job that needs it)."""
    options.check()
    if spec.sweep is not None:
        raise LocalRunError(
            "this is a sweep job: run its trials with azure_trainer.run_local_sweep (the CLI's run-local does it)"
        )
    if spec.remote_code is not None:
        raise LocalRunError(
            f"the job's code is on Azure ML ({spec.remote_code}){spec.where(f'{spec.runs_key}code')}; "
            "run-local needs a local folder: --set code=PATH"
        )
    if not host.has_bash:
        raise LocalRunError("run-local needs bash (Azure ML runs the command with bash); none is on PATH")
    warnings: list[str] = []
    values = resolve_inputs(spec, options.inputs, warnings)
    nodes = spec.instance_count
    per_node = options.nproc or spec.processes_per_node
    _check_process_count(spec, options, nodes, per_node)
    distributed = spec.distribution is not None or per_node > 1
    warnings += _launch_warnings(spec, nodes, per_node, distributed, host)
    require_gpu = _require_gpu(spec, options, host, warnings)

    outputs = run_dir / "outputs"
    output_dirs = [outputs]
    for name, out in spec.outputs.items():
        target = outputs / name
        output_dirs.append(target.parent if out.type == "uri_file" else target)
        values[("outputs", name)] = str(target)
    shell_text, placeholder_env = localize_command(spec.command, values)
    shell_text, python_replaced = _use_python(shell_text, host.python)
    if not python_replaced and re.search(r"(?:^|[;&|(\s])python3?\s", shell_text):
        warnings.append(
            "the command does not start with python: `python` inside it is the first on PATH "
            f"({os.path.dirname(host.python)} is put first)"
        )

    job_env = dict(spec.environment_variables)
    if require_gpu is not None:
        job_env[REQUIRE_GPU_ENV] = require_gpu
    collective_timeout = _collective_timeout(spec, job_env)
    store = _mlflow_store(job_env, host, options, run_dir)
    extras = _local_extras(job_env, host, nodes * per_node, distributed, store, spec.experiment_name)
    if distributed:
        extras[COLLECTIVE_TIMEOUT_ENV] = f"{collective_timeout:g}"
    exports = {**job_env, **extras, **placeholder_env}
    env = {k: v for k, v in host.environ.items() if k not in _OUTER_LAUNCH_ENV}
    env["PATH"] = os.path.dirname(host.python) + os.pathsep + env.get("PATH", "")  # `python` = this one
    env.update(exports)

    agents = _agents(["bash", "-c", shell_text], host, nodes, per_node, distributed)
    time_limit, origin = _time_limit(spec, options)
    cwd = spec.code_dir if spec.code_dir is not None else run_dir  # no code: Azure ML runs in an empty folder
    files = {
        "config.yaml": config_yaml_text(spec),
        "command.sh": command_sh_text(
            spec, exports, secret_names(spec, job_env), [(a.shown, a.env) for a in agents], cwd=cwd
        ),
    }
    # what is shown and recorded (stderr, log.txt, run.json) has the command's secrets as ***
    shell_text = shown_command(spec, shell_text)
    agents = [dataclasses.replace(a, shown=[shown_command(spec, w) for w in a.shown]) for a in agents]
    return LocalLaunch(
        run_dir=run_dir,
        cwd=cwd,
        agents=agents,
        env=env,
        shell_text=shell_text,
        files=files,
        output_dirs=output_dirs,
        warnings=warnings,
        nodes=nodes,
        nproc=nodes * per_node,
        distributed=distributed,
        time_limit=time_limit,
        time_limit_origin=origin,
        strict_device=options.strict_device,
        cuda=host.cuda,
        mlflow_store=store,
        preempt_after=options.preempt_after,
        preempt_at_step=options.preempt_at_step,
        collective_timeout=collective_timeout,
        redact=functools.partial(redact_text, job=spec),
    )


def _agents(bash: list[str], host: Host, nodes: int, per_node: int, distributed: bool) -> list[Agent]:
    """The processes to start: one per node, as Azure ML starts one per node.

    Distributed: a torchrun agent per node on this machine (static rendezvous on 127.0.0.1), so node
    ``i``'s processes get ``NODE_RANK=i``, ``LOCAL_RANK`` 0..P-1 and ``RANK = i*P + LOCAL_RANK`` of
    ``WORLD_SIZE = N*P``, the values Azure ML's distribution gives them. Not distributed: each node runs
    the command once; several nodes get ``NODE_RANK`` to tell them apart.
    """
    tee = [host.python, "-u", str(RANK_TEE), "--"]
    if not distributed:
        if nodes == 1:
            return [Agent(bash, bash)]
        return [Agent([*tee, *bash], bash, {"NODE_RANK": str(i)}) for i in range(nodes)]
    agents = []
    for node in range(nodes):
        torchrun = [
            host.python, "-m", "torch.distributed.run", "--nnodes", str(nodes), "--node-rank", str(node),
            "--nproc-per-node", str(per_node), "--master-addr", "127.0.0.1", "--master-port", str(host.port),
            "--no-python",
        ]  # fmt: skip
        agents.append(Agent([*torchrun, *tee, *bash], [*torchrun, *bash], {"NODE_RANK": str(node)}))
    return agents


def _collective_timeout(spec: JobSpec, job_env: Mapping[str, str]) -> float:
    """The job's AZURE_TRAINER_COLLECTIVE_TIMEOUT_S, else the default; LocalRunError when unusable."""
    raw = job_env.get(COLLECTIVE_TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_COLLECTIVE_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise LocalRunError(
            f"environment_variables.{COLLECTIVE_TIMEOUT_ENV}={raw!r}{spec.where('environment_variables')}: "
            "give a number of seconds > 0"
        )
    return value


MAX_LOCAL_PROCESSES = 128
"""The most processes (nodes x processes per node) run-local starts on this one machine."""


def _check_process_count(spec: JobSpec, options: LocalOptions, nodes: int, per_node: int) -> None:
    """LocalRunError when the job would start more than :data:`MAX_LOCAL_PROCESSES` processes here (a
    typo such as ``--nproc 100000`` would otherwise fork until the machine gives out)."""
    if nodes * per_node <= MAX_LOCAL_PROCESSES:
        return
    source = f"--nproc {options.nproc}" if options.nproc else "distribution.process_count_per_instance"
    raise LocalRunError(
        f"run-local would start {nodes * per_node} processes here ({nodes} node(s) x {per_node} from "
        f"{source}); it starts at most {MAX_LOCAL_PROCESSES} on one machine: rehearse a smaller job, e.g. "
        "--nproc 2 --set resources.instance_count=1"
    )


_NOT_REHEARSED = {
    "mpi": "the OMPI_* variables of mpirun are not",
    "tensorflow": "TF_CONFIG, which Azure ML sets for each worker, is not",
    "ray": "no Ray cluster is started (on Azure ML the job's nodes form one)",
}
"""What Azure ML does for a distribution type that a local torchrun rehearsal does not."""


def _launch_warnings(spec: JobSpec, nodes: int, per_node: int, distributed: bool, host: Host) -> list[str]:
    warnings = []
    if spec.distribution is None and per_node > 1:
        warnings.append(
            f"the job has no `distribution`: Azure ML would run one process per node; --nproc {per_node} "
            f"starts {per_node} per node through torchrun here"
        )
    if spec.code is not None and spec.code_dir != spec.code:
        warnings.append(
            f"code is one file, {spec.code.name}: on Azure ML it is alone in the job's folder; here the "
            f"command runs in its folder, {spec.code_dir}, where other files are visible too"
        )
    if distributed:
        require_torch(host, "a distributed job (run through torchrun)")
        kind = spec.distribution.type if spec.distribution is not None else None
        if kind in _NOT_REHEARSED:
            warnings.append(
                f"distribution type {kind} runs through torchrun locally: RANK/WORLD_SIZE/LOCAL_RANK are "
                f"set, {_NOT_REHEARSED[kind]}"
            )
    return warnings


def _require_gpu(spec: JobSpec, options: LocalOptions, host: Host, warnings: list[str]) -> str | None:
    """The contract's AZURE_TRAINER_REQUIRE_GPU for this run: the cloud's "1" is kept only with
    --strict-device when there is no GPU here (else the script trains on the CPU, with a warning)."""
    if not spec.use_gpu:
        return None
    require_torch(host, "use_gpu: true (checking for a CUDA device)")
    if host.cuda:
        return None
    if options.strict_device:
        warnings.append(
            "use_gpu is true and no CUDA device is visible here; --strict-device: the script "
            f"should stop at once with exit {EXIT_NO_GPU}, as on a CPU-only cloud node"
        )
        return None
    warnings.append(NO_GPU_WARNING)
    return "0"


def require_torch(host: Host, why: str) -> None:
    """Raise a :class:`LocalRunError` saying how to install PyTorch when ``host``'s Python lacks it
    (``why`` names what needs it, e.g. "a distributed run")."""
    if not host.has_torch:
        raise LocalRunError(
            f"{why} needs PyTorch, which is not installed for {host.python}; install the train extra: "
            f"{TRAIN_EXTRA}"
        )


def _mlflow_store(
    job_env: Mapping[str, str], host: Host, options: LocalOptions, run_dir: Path
) -> Path | None:
    """The local MLflow store of this run, unless the job or the user's environment names a tracking URI."""
    if "MLFLOW_TRACKING_URI" in job_env or "MLFLOW_TRACKING_URI" in host.environ:
        return None
    return options.mlflow_store or run_dir / "mlruns"


def _local_extras(
    job_env: Mapping[str, str], host: Host, nproc: int, distributed: bool, store: Path | None, experiment: str
) -> dict[str, str]:
    """Variables a local run adds where neither the job nor the user's environment set them."""

    def unset(name: str) -> bool:
        return name not in job_env and name not in host.environ

    extra: dict[str, str] = {}
    if store is not None:
        extra["MLFLOW_TRACKING_URI"] = store.as_uri()
        if unset("MLFLOW_EXPERIMENT_NAME"):
            extra["MLFLOW_EXPERIMENT_NAME"] = experiment  # where Azure ML puts the job's run
        if "MLFLOW_ALLOW_FILE_STORE" not in host.environ:
            extra["MLFLOW_ALLOW_FILE_STORE"] = "true"  # mlflow >= 3 refuses a file store unless told
    if unset("PYTHONUNBUFFERED"):
        extra["PYTHONUNBUFFERED"] = "1"  # live output through our pipes
    if distributed or nproc > 1:
        if unset("OMP_NUM_THREADS"):
            extra["OMP_NUM_THREADS"] = str(max(1, host.cpu_count // nproc))
    return extra


def _use_python(shell_text: str, python: str) -> tuple[str, bool]:
    """Replace a leading ``python``/``python3`` token by ``python`` (the interpreter that has torch)."""
    match = _LEADING_PYTHON.match(shell_text)
    if not match:
        return shell_text, False
    return match.group(1) + shlex.quote(python) + shell_text[match.end() :], True


def _time_limit(spec: JobSpec, options: LocalOptions) -> tuple[float | None, str]:
    if options.timeout is not None:
        return (options.timeout or None), options.timeout_origin
    return (float(spec.timeout) if spec.timeout else None), "the job's `limits.timeout`"

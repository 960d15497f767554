"""``run-local``: the job's exact command on this machine, from the same :class:`JobSpec` Azure ML gets.

One spec, two backends: :func:`azure_trainer.spec.plan` resolves the config once; the builder turns the
spec into an Azure ML command job, this module runs it here:

* ``${{inputs.X}}`` -> the input's ``--input`` path, its ``local_path``, or its ``path`` when that is
  local (literal inputs: their value); ``${{outputs.X}}`` -> ``RUN_DIR/outputs/X`` (created).
  Values travel in environment variables (:func:`~azure_trainer.command_line.localize_command`), so no
  path is ever parsed by the shell.
* the command runs with ``bash -c`` in the code folder, a leading ``python`` replaced by the
  interpreter running azure-trainer; environment = ours + the job's ``environment_variables`` (with
  the use_gpu contract) + the placeholder variables.
* distributed jobs (a ``distribution``, or ``nproc > 1``) run through torchrun on one node with
  ``--nproc`` (default instance_count x process_count_per_instance) processes; every line is
  prefixed ``[rank N]`` by a small per-worker wrapper (``_rank_tee.py``).
* the child runs in its own session; SIGINT/SIGTERM to us becomes SIGTERM to the child's process
  group(s) (the script checkpoints and exits 75); after a grace period, or a second Ctrl-C, SIGKILL.
* the preemption rehearsal sends SIGTERM mid-run (after N seconds, or at step N via
  ``AZURE_TRAINER_PREEMPT_AT_STEP``), reruns the same command and checks that it resumed and finished.

The run folder holds config.yaml, command.sh, log.txt, run.json and outputs/.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ..command_line import localize_command, placeholders
from ..config.loader import REMOTE_PREFIXES
from ..config.model import InputSpec, JobConfig
from ..contract import (
    DISTRIBUTED_ENV,
    EXIT_NO_GPU,
    EXIT_OK,
    EXIT_PREEMPTED,
    PREEMPT_AT_STEP_ENV,
    REQUIRE_GPU_ENV,
)
from ..errors import LocalRunError
from ..spec import JobSpec, plan

__all__ = ["Attempt", "LocalRunResult", "Rehearsal", "parse_input_args", "run_local"]

GRACE_S = 30.0
"""Seconds a child gets between SIGTERM and SIGKILL (Azure ML gives a preempted node about as long)."""

TRAIN_EXTRA = "pip install 'azure-trainer[train]'"
NO_GPU_WARNING = (
    "use_gpu is true but no CUDA device is visible here: training on the CPU; "
    "--strict-device fails like the cloud"
)
EXIT_REHEARSAL_INCONCLUSIVE = 1

_RANK_TEE = Path(__file__).with_name("_rank_tee.py")
_LEADING_PYTHON = re.compile(
    r"""^(\s*)(?:python3?(?:\.\d+)?|'python3?(?:\.\d+)?'|"python3?(?:\.\d+)?")(?=\s|$)"""
)
_RANK_PREFIX = re.compile(r"^\[rank (\d+)\] ")
_DEVICE_LINE = re.compile(r"\bdevice: (cuda|cpu|mps)\b")
_GLOBAL_STEP = re.compile(r"global step (\d+)")
_ANY_STEP = re.compile(r"\bstep[ =:]+(\d+)")
_RESUMED = re.compile(r"\bresum(?:ed|ing)\b.*\b(?:from|at)\b", re.I)
_PREEMPTED = re.compile(r"\bpreempted\b.*\bcheckpoint", re.I)


# ---------------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One start of the job's command (a preemption rehearsal has two)."""

    number: int
    exit_code: int
    duration_s: float
    sigterm_at_s: float | None = None
    """Seconds after the start when SIGTERM was sent (rehearsal or Ctrl-C), None if never."""
    preempt_at_step: int | None = None
    """The AZURE_TRAINER_PREEMPT_AT_STEP this attempt ran with."""
    preempted_at_step: int | None = None
    """The global step the script says it checkpointed at when it stopped on SIGTERM."""
    resumed_from_step: int | None = None
    """The global step the script says it resumed from (log line, else metrics.jsonl)."""
    device: str | None = None
    interrupted: bool = False
    """Stopped by Ctrl-C / SIGTERM to run-local."""


@dataclass
class Rehearsal:
    """The verdict of a preemption rehearsal."""

    verdict: str  # "passed" | "failed" | "inconclusive"
    message: str
    trigger: str  # e.g. "after 5s", "at step 40"
    preempted_at_step: int | None = None
    resumed_from_step: int | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


@dataclass
class LocalRunResult:
    """What :func:`run_local` did; also written to ``RUN_DIR/run.json``."""

    exit_code: int
    run_dir: Path
    duration_s: float
    device: str | None
    final_metrics: dict[str, Any]
    command: str
    """The shell text run with ``bash -c`` (placeholders as ``"${AZT_...}"`` references)."""
    launcher: list[str] = field(default_factory=list)
    """The argv started (bash -c ..., or torchrun ... bash -c ...)."""
    nproc: int = 1
    distributed: bool = False
    resumed_from_step: int | None = None
    """Step the (last) attempt resumed from, if it resumed from a checkpoint."""
    preemption: Rehearsal | None = None
    attempts: list[Attempt] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def test_accuracy(self) -> float | None:
        value = self.final_metrics.get("test_accuracy")
        return value if isinstance(value, (int, float)) else None

    @property
    def resumed(self) -> bool:
        return bool(self.resumed_from_step)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        data["test_accuracy"] = self.test_accuracy
        data["resumed"] = self.resumed
        return data

    def summary(self) -> str:
        """A few lines for the end of ``run-local``."""
        lines = [
            f"run folder: {self.run_dir}",
            f"exit code:  {self.exit_code}{_explain_exit(self.exit_code)}",
            f"duration:   {self.duration_s:.1f}s on {self.device or 'an unknown device'}"
            + (f", {self.nproc} processes" if self.distributed else ""),
        ]
        if self.test_accuracy is not None:
            lines.append(f"test_accuracy: {self.test_accuracy:.4f}")
        if self.resumed_from_step and self.preemption is None:
            lines.append(f"resumed from a checkpoint at step {self.resumed_from_step}")
        if self.preemption is not None:
            lines.append(
                f"preemption rehearsal: {self.preemption.verdict.upper()} — {self.preemption.message}"
            )
        return "\n".join(lines)


def _explain_exit(code: int) -> str:
    if code == EXIT_OK:
        return " (finished)"
    if code == EXIT_PREEMPTED:
        return " (preempted: checkpoint written; rerun with the same --output-dir to resume)"
    if code == EXIT_NO_GPU:
        return " (a GPU was required and no CUDA device is visible)"
    if code > 128 and code - 128 < 65:
        with contextlib.suppress(ValueError):
            return f" (killed by {signal.Signals(code - 128).name})"
    return ""


# ---------------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------------


def parse_input_args(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["data=./d", ...]`` (``--input NAME=PATH``) -> ``{"data": "./d"}``; LocalRunError if malformed."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        name = name.strip()
        if not sep or not name or not path:
            raise LocalRunError(f"--input {item!r}: expected NAME=PATH, e.g. --input data=./data")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise LocalRunError(f"--input {item!r}: {name!r} is not an input name (letters, digits, _ . -)")
        if name in result:
            raise LocalRunError(f"--input {name}=... is given twice; give each input once")
        result[name] = path
    return result


def _literal(value: Any) -> str:
    return str(value)  # as the Azure ML SDK renders literal inputs (True/False for booleans)


def _where(config: JobConfig, key_path: str) -> str:
    file, line = config.locate(key_path)
    if not file:
        return ""
    return f" ({file}:{line})" if line else f" ({file})"


def _check_path(
    config: JobConfig, name: str, item: InputSpec, path: Path, source: str, key: str | None
) -> str:
    where = _where(config, key) if key else ""
    how = f"give it with --input {name}=PATH, or set `local_path:` under inputs.{name} in the config"
    if not path.exists():
        raise LocalRunError(f"input {name!r}: {source} {path} does not exist{where}; {how}")
    if item.type == "uri_file" and path.is_dir():
        raise LocalRunError(
            f"input {name!r} is a uri_file but {source} {path} is a folder{where}; give a file"
        )
    if item.type in ("uri_folder", "mltable") and not path.is_dir():
        raise LocalRunError(
            f"input {name!r} is a {item.type} but {source} {path} is not a folder{where}; "
            "give a folder (or declare the input `type: uri_file`)"
        )
    return str(path)


def _resolve_inputs(
    config: JobConfig, spec: JobSpec, given: Mapping[str, str], warnings: list[str]
) -> dict[tuple[str, str], str | None]:
    """The local value of each input: ``{("inputs", name): value or None}``."""
    unknown = sorted(set(given) - set(spec.inputs))
    if unknown:
        have = ", ".join(sorted(spec.inputs)) or "none: the job declares no inputs"
        raise LocalRunError(
            f"--input {unknown[0]}=...: the job has no input named {unknown[0]!r} (its inputs: {have})"
        )
    used = {name for kind, name in placeholders(spec.command) if kind == "inputs"}
    values: dict[tuple[str, str], str | None] = {}
    for name, item in spec.inputs.items():
        key = ("inputs", name)
        if name in given:
            raw = given[name]
            if item.is_literal:
                values[key] = raw
            else:
                values[key] = _check_path(
                    config, name, item, Path(raw).expanduser().resolve(), f"--input {name}=", None
                )
        elif item.is_literal:
            values[key] = None if item.default is None else _literal(item.default)
        elif item.local_path:
            values[key] = _check_path(
                config, name, item, Path(item.local_path), "local_path", f"inputs.{name}.local_path"
            )
        elif item.path and not item.path.startswith(REMOTE_PREFIXES):
            values[key] = _check_path(config, name, item, Path(item.path), "path", f"inputs.{name}.path")
        elif item.optional:
            values[key] = None
        elif name in used:
            raise LocalRunError(
                f"input {name!r} has no local data: its path {item.path} is on Azure ML"
                f"{_where(config, f'inputs.{name}')}; give it with --input {name}=PATH, "
                f"or add `local_path: PATH` under inputs.{name} in the config"
            )
        else:
            values[key] = None
            warnings.append(
                f"input {name!r} has no local data (path {item.path}); the command does not use it"
            )
    return values


# ---------------------------------------------------------------------------------------------------
# run folder, command, environment
# ---------------------------------------------------------------------------------------------------


def _make_run_dir(experiment: str, run_dir: str | Path | None) -> Path:
    if run_dir is not None:
        path = Path(run_dir).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise LocalRunError(f"--output-dir {run_dir}: exists and is not a folder")
        path.mkdir(parents=True, exist_ok=True)
        return path
    base = Path.cwd() / "runs"
    stem = f"{experiment}-{datetime.now():%Y%m%d-%H%M%S}"
    for i in range(1, 1000):
        path = base / (stem if i == 1 else f"{stem}-{i}")
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path.resolve()
        except FileExistsError:
            continue
    raise LocalRunError(f"cannot find a free run folder name under {base}")  # pragma: no cover


def _use_this_python(shell_text: str) -> tuple[str, bool]:
    """Replace a leading ``python``/``python3`` token by this interpreter (which has torch)."""
    match = _LEADING_PYTHON.match(shell_text)
    if not match:
        return shell_text, False
    return match.group(1) + shlex.quote(sys.executable) + shell_text[match.end() :], True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def _require_torch(why: str) -> None:
    if not _torch_available():
        raise LocalRunError(
            f"{why} needs PyTorch, which is not installed for {sys.executable}; "
            f"install the train extra: {TRAIN_EXTRA}"
        )


def _cuda_available() -> bool:
    """Whether PyTorch sees a CUDA device; skips importing torch (1-2 s) where no GPU can exist."""
    if "torch" not in sys.modules:
        if sys.platform == "darwin":
            return False
        if sys.platform.startswith("linux") and not (
            glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/dxg")
        ):
            return False  # no NVIDIA device node (nor WSL's GPU bridge): torch would say False too
    import torch  # lazy, and only for jobs that need the answer

    return bool(torch.cuda.is_available())


def _redact(config: JobConfig, env: Mapping[str, str], warnings: list[str]) -> dict[str, str]:
    try:
        from ..secrets_guard import redact_env
    except ImportError:  # pragma: no cover - the guard ships with the package
        warnings.append("azure_trainer.secrets_guard is missing: environment values are written unredacted")
        return dict(env)
    try:
        return redact_env(env, config.preflight.allow_env)
    except TypeError:  # pragma: no cover - an older redact_env(env)
        return redact_env(env)


def _write_config_yaml(config: JobConfig, path: Path, warnings: list[str]) -> None:
    import yaml

    data = config.model_dump(mode="json", exclude_none=True)
    if data.get("environment_variables"):
        data["environment_variables"] = _redact(config, data["environment_variables"], warnings)
    header = (
        "# The resolved job config of this local run (extends merged, --set and --gpu/--cpu applied).\n"
        f"# Source: {config.source or '(built in code)'}. Secret-looking environment values are ***.\n"
    )
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _write_command_sh(
    path: Path, cwd: Path, exports: Mapping[str, str], secret_names: set[str], argv: list[str]
) -> None:
    lines = [
        "#!/usr/bin/env bash",
        "# The exact command of this azure-trainer run-local run. Rerun it with: bash command.sh",
        "# (outputs land in the same folders; a script that resumes from its checkpoints will resume).",
        "set -e",
        f"cd {shlex.quote(str(cwd))}",
    ]
    for name, value in exports.items():
        if name in secret_names:
            lines.append(
                f'export {name}="${{{name}:?{name} looks like a secret and is not written here; '
                'export it first}"'
            )
        else:
            lines.append(f"export {name}={shlex.quote(value)}")
    lines.append("exec " + " ".join(shlex.quote(a) for a in argv))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o755)


def _last_metrics(outputs_dir: Path, since: float = 0.0) -> dict[str, Any]:
    """The last JSON line of the newest ``metrics.jsonl`` under ``outputs_dir`` written after ``since``."""
    files = [p for p in outputs_dir.rglob("metrics.jsonl") if p.is_file()] if outputs_dir.is_dir() else []
    files = [p for p in files if p.stat().st_mtime >= since]  # a reused run folder: not an old run's
    for path in sorted(files, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in reversed(text.splitlines()):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                return record
    return {}


# ---------------------------------------------------------------------------------------------------
# running one attempt: output, signals
# ---------------------------------------------------------------------------------------------------


class _Console:
    """Where the child's lines and our notes go: the terminal (unless quiet) and log.txt."""

    def __init__(self, log: TextIO, stream: bool, console: TextIO | None) -> None:
        self.log = log
        self.stream = stream
        self.console = console
        self.lock = threading.Lock()

    def _out(self, is_err: bool) -> TextIO:
        if self.console is not None:
            return self.console
        return sys.stderr if is_err else sys.stdout

    def line(self, text: str, is_err: bool) -> None:
        with self.lock:
            self.log.write(text + "\n")
            self.log.flush()
            if self.stream:
                out = self._out(is_err)
                try:
                    out.write(text + "\n")
                    out.flush()
                except (OSError, ValueError):  # a closed terminal must not stop the run
                    pass

    def note(self, text: str) -> None:
        """One of run-local's own messages (stderr, and log.txt marked [run-local])."""
        with self.lock:
            self.log.write(f"[run-local] {text}\n")
            self.log.flush()
            if self.stream:
                out = self._out(True)
                with contextlib.suppress(OSError, ValueError):
                    out.write(f"run-local: {text}\n")
                    out.flush()


class _Watcher:
    """Parses the script's lines: device, resumed-from step, preempted-at step."""

    def __init__(self) -> None:
        self.device: str | None = None
        self.resumed_from_step: int | None = None
        self.preempted_at_step: int | None = None
        self.gpu_required = False

    def __call__(self, line: str) -> None:
        rank = _RANK_PREFIX.match(line)
        body = line[rank.end() :] if rank else line
        if rank and rank.group(1) != "0":  # other ranks: only their device, if rank 0 says nothing
            m = _DEVICE_LINE.search(body) if self.device is None else None
            if m:
                self.device = m.group(1)
            return
        if self.device is None:
            m = _DEVICE_LINE.search(body)
            if m:
                self.device = m.group(1)
        if self.resumed_from_step is None and _RESUMED.search(body):
            self.resumed_from_step = _step_of(body)
        if _PREEMPTED.search(body):
            step = _step_of(body)
            if step is not None:
                self.preempted_at_step = step
        if "GPU required" in body:
            self.gpu_required = True


def _step_of(text: str) -> int | None:
    m = _GLOBAL_STEP.search(text)
    if m:
        return int(m.group(1))
    steps = _ANY_STEP.findall(text)
    return int(steps[-1]) if steps else None


_ACTIVE: set[_Supervisor] = set()
"""Supervisors with a running child: a caller running jobs from worker threads (a parallel local
sweep) cannot receive signals there, so it stops them all with :func:`terminate_all`."""


def terminate_all(why: str) -> None:
    """SIGTERM every job that run_local is running in this process (they may checkpoint)."""
    for supervisor in list(_ACTIVE):
        supervisor.terminate(why)


class _Supervisor:
    """Runs the child in its own session(s); turns our SIGINT/SIGTERM into SIGTERM for it, then SIGKILL."""

    def __init__(self, console: _Console, grace_s: float = GRACE_S) -> None:
        self.console = console
        self.grace_s = grace_s
        self.proc: subprocess.Popen | None = None
        self.state_dir: Path | None = None
        self.interrupted = 0  # how many SIGINT/SIGTERM we received
        self.term_sent_at: float | None = None
        self.killed = False

    # -- signals to the child ------------------------------------------------------------------

    def _worker_groups(self) -> list[int]:
        if self.state_dir is None:
            return []
        groups = []
        for path in self.state_dir.glob("pgid-*"):
            with contextlib.suppress(OSError, ValueError):
                groups.append(int(path.read_text().strip()))
        return groups

    def _signal(self, groups: list[int], sig: signal.Signals) -> None:
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)

    def terminate(self, why: str) -> None:
        """SIGTERM the child's process group (distributed: the workers' groups, torchrun reports)."""
        if self.proc is None or self.proc.poll() is not None or self.term_sent_at is not None:
            return
        workers = self._worker_groups()
        self.console.note(
            f"{why}: sending SIGTERM to the job (it may checkpoint; SIGKILL in {self.grace_s:.0f}s"
            + (
                ", Ctrl-C again to kill now)"
                if threading.current_thread() is threading.main_thread()
                else ")"
            )
        )
        self._signal(workers or [self.proc.pid], signal.SIGTERM)
        self.term_sent_at = time.monotonic()

    def kill(self, why: str) -> None:
        if self.proc is None or self.killed:
            return
        self.console.note(f"{why}: sending SIGKILL")
        self._signal([*self._worker_groups(), self.proc.pid], signal.SIGKILL)
        self.killed = True

    def _on_signal(self, signum: int, frame: Any) -> None:  # noqa: ARG002
        self.interrupted += 1
        name = signal.Signals(signum).name
        if self.term_sent_at is None:
            self.terminate(f"{name} received")
        elif signum == signal.SIGINT or self.interrupted > 1:
            self.kill(f"{name} received again")

    @contextlib.contextmanager
    def handling_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- one run ------------------------------------------------------------------------------------

    def run(
        self,
        argv: list[str],
        env: Mapping[str, str],
        cwd: Path,
        *,
        on_line: Callable[[str], None],
        sigterm_after: float | None = None,
        distributed: bool = False,
    ) -> tuple[int, float | None]:
        """Run ``argv`` to its end; returns ``(exit code, seconds after start when SIGTERM was sent)``."""
        self.term_sent_at, self.killed = None, False
        _ACTIVE.add(self)
        with contextlib.ExitStack() as stack:
            stack.callback(_ACTIVE.discard, self)
            if distributed:
                self.state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="azt-ranks-")))
                argv = [a.replace("{STATE_DIR}", str(self.state_dir)) for a in argv]
            else:
                self.state_dir = None
            started = time.monotonic()
            try:
                self.proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as exc:
                raise LocalRunError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
            readers = [
                threading.Thread(target=self._read, args=(self.proc.stdout, False, on_line), daemon=True),
                threading.Thread(target=self._read, args=(self.proc.stderr, True, on_line), daemon=True),
            ]
            for t in readers:
                t.start()
            sigterm_at: float | None = None
            while True:
                try:
                    rc = self.proc.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                now = time.monotonic()
                if sigterm_after is not None and sigterm_at is None and now - started >= sigterm_after:
                    sigterm_at = now - started
                    self.terminate(f"preemption rehearsal, {sigterm_after:g}s in")
                if (
                    self.term_sent_at is not None
                    and not self.killed
                    and now - self.term_sent_at > self.grace_s
                ):
                    self.kill(f"the job did not exit {self.grace_s:.0f}s after SIGTERM")
            if sigterm_at is None and self.term_sent_at is not None:
                sigterm_at = self.term_sent_at - started
            # torchrun is gone; a worker it could not stop must not outlive us (it would hold the pipes).
            if distributed:
                time.sleep(0.05)
                self._signal(self._worker_groups(), signal.SIGKILL)
            for t in readers:
                t.join(timeout=10)
            code = rc if rc >= 0 else 128 - rc
            if distributed:
                code = self._ranks_exit_code(code)
            self.proc = None
            return code, sigterm_at

    def _read(self, pipe, is_err: bool, on_line: Callable[[str], None]) -> None:
        for raw in iter(pipe.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.console.line(text, is_err)
            with contextlib.suppress(Exception):
                on_line(text)
        pipe.close()

    def _ranks_exit_code(self, launcher_code: int) -> int:
        """The script's exit code across ranks: the first rank to fail (by time), else 0, else torchrun's."""
        assert self.state_dir is not None
        results: list[tuple[float, int, str]] = []
        for path in self.state_dir.glob("exit-*"):
            with contextlib.suppress(OSError, ValueError):
                code_s, when_s = path.read_text().split()
                results.append((float(when_s), int(code_s), path.name.removeprefix("exit-")))
        failed = sorted(r for r in results if r[1] != 0)
        if failed:
            _, code, rank = failed[0]
            others = ", ".join(f"rank {r} {c}" for _, c, r in failed[1:])
            if code != EXIT_PREEMPTED:
                self.console.note(
                    f"rank {rank} exited {code} first"
                    + (f" (then {others})" if others else "")
                    + "; torchrun's report names the per-rank wrapper _rank_tee.py"
                )
            return code
        if results and launcher_code == 0:
            return 0
        return launcher_code if launcher_code != 0 else (0 if results else 1)


# ---------------------------------------------------------------------------------------------------
# the API
# ---------------------------------------------------------------------------------------------------


def run_local(
    config: JobConfig,
    *,
    inputs: Mapping[str, str] | None = None,
    run_dir: str | Path | None = None,
    nproc: int | None = None,
    strict_device: bool = False,
    preempt_after: float | None = None,
    preempt_at_step: int | None = None,
    stream: bool = True,
    console: TextIO | None = None,
) -> LocalRunResult:
    """Run ``config``'s job on this machine, as Azure ML would run it, and return what happened.

    ``inputs`` maps input names to local paths (``--input``); ``run_dir`` is the run folder (default
    ``./runs/<experiment>-<time>``; an existing folder is reused, so a rerun resumes from its
    checkpoints); ``nproc`` overrides the number of processes of a distributed job. ``strict_device``
    keeps the cloud's fail-fast when ``use_gpu`` is true and there is no GPU here (the script exits 78)
    instead of training on the CPU. ``preempt_after`` (seconds) / ``preempt_at_step`` run the preemption
    rehearsal. ``stream`` echoes the job's output (and run-local's notes) live; ``console`` sends all of
    it to one stream (e.g. sys.stderr) instead of stdout/stderr. log.txt gets it either way.

    Raises :class:`LocalRunError` (bad input, missing torch, ...) or ConfigError before anything runs.
    """
    if config.sweep is not None:
        raise LocalRunError(
            "this job has a `sweep:` section: run its trials with azure_trainer.local.run_local_sweep "
            "(the CLI's run-local does it), or drop it with --set sweep=null"
        )
    if preempt_after is not None and preempt_at_step is not None:
        raise LocalRunError("give --preempt-after or --preempt-at-step, not both")
    if preempt_after is not None and not preempt_after > 0:
        raise LocalRunError(f"--preempt-after {preempt_after}: give a number of seconds > 0")
    if preempt_at_step is not None and preempt_at_step < 1:
        raise LocalRunError(f"--preempt-at-step {preempt_at_step}: give a step >= 1")
    if nproc is not None and nproc < 1:
        raise LocalRunError(f"--nproc {nproc}: give a number of processes >= 1")

    spec = plan(config)
    warnings: list[str] = []
    values: dict[tuple[str, str], str | None] = _resolve_inputs(config, spec, inputs or {}, warnings)
    n = nproc or spec.world_size
    distributed = spec.distribution is not None or n > 1
    if distributed:
        _require_torch("a distributed job (run through torchrun)")
        if spec.distribution is not None and spec.distribution.type == "mpi":
            warnings.append(
                "distribution type mpi runs through torchrun locally: RANK/WORLD_SIZE/LOCAL_RANK are "
                "set, the OMPI_* variables of mpirun are not"
            )
    if shutil.which("bash") is None:
        raise LocalRunError("run-local needs bash (Azure ML runs the command with bash); none is on PATH")

    cuda: bool | None = None
    require_gpu = spec.environment_variables.get(REQUIRE_GPU_ENV)
    if spec.use_gpu:
        _require_torch("use_gpu: true (checking for a CUDA device)")
        cuda = _cuda_available()
        if not cuda:
            if strict_device:
                warnings.append(
                    "use_gpu is true and no CUDA device is visible here; --strict-device: the script "
                    f"should stop at once with exit {EXIT_NO_GPU}, as on a CPU-only cloud node"
                )
            else:
                warnings.append(NO_GPU_WARNING)
                require_gpu = "0"

    run_path = _make_run_dir(spec.experiment, run_dir)
    outputs_dir = run_path / "outputs"
    outputs_dir.mkdir(exist_ok=True)
    for name, out in spec.outputs.items():
        target = outputs_dir / name
        if out.type == "uri_file":
            target.parent.mkdir(parents=True, exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
        values[("outputs", name)] = str(target)

    shell_text, placeholder_env = localize_command(spec.command, values)
    shell_text, python_replaced = _use_this_python(shell_text)

    # -- environment: ours + the job's + the placeholders (+ the distributed launch's) ------------
    job_env = dict(spec.environment_variables)
    if require_gpu is not None:
        job_env[REQUIRE_GPU_ENV] = require_gpu
    extra: dict[str, str] = {}
    if "MLFLOW_TRACKING_URI" not in job_env and "MLFLOW_TRACKING_URI" not in os.environ:
        extra["MLFLOW_TRACKING_URI"] = (run_path / "mlruns").as_uri()
    if "PYTHONUNBUFFERED" not in job_env and "PYTHONUNBUFFERED" not in os.environ:
        extra["PYTHONUNBUFFERED"] = "1"  # live output through our pipes
    if distributed:
        extra["NODE_RANK"] = "0"
        if "OMP_NUM_THREADS" not in job_env and "OMP_NUM_THREADS" not in os.environ:
            extra["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n))
    env = dict(os.environ)
    for name in (*DISTRIBUTED_ENV, "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", PREEMPT_AT_STEP_ENV):
        env.pop(name, None)  # an outer launch's values must not leak in; torchrun sets its own
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # `python` = this one
    exports = {**job_env, **extra, **placeholder_env}
    env.update(exports)

    # -- the launch --------------------------------------------------------------------------------
    bash = ["bash", "-c", shell_text]
    if distributed:
        port = _free_port()
        torchrun = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "1",
            "--nproc-per-node",
            str(n),
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
            "--no-python",
        ]
        launcher = [*torchrun, *bash]
        argv = [*torchrun, sys.executable, "-u", str(_RANK_TEE), "{STATE_DIR}", "--", *bash]
    else:
        launcher = argv = bash
    if not python_replaced and re.search(r"(?:^|[;&|(\s])python3?\s", shell_text):
        warnings.append(
            "the command does not start with python: `python` inside it is the first on PATH "
            f"({os.path.dirname(sys.executable)} is put first)"
        )

    secret_names = {k for k, v in _redact(config, job_env, []).items() if v != job_env[k]}
    _write_config_yaml(config, run_path / "config.yaml", warnings)
    _write_command_sh(run_path / "command.sh", spec.code, exports, secret_names, launcher)

    log = (run_path / "log.txt").open("a", encoding="utf-8")
    out = _Console(log, stream, console)
    sup = _Supervisor(out)
    attempts: list[Attempt] = []
    rehearsal: Rehearsal | None = None
    started, started_wall = time.monotonic(), time.time() - 1.0
    try:
        out.note(f"{datetime.now():%Y-%m-%d %H:%M:%S} run folder {run_path}")
        for w in warnings:
            out.note(f"warning: {w}")
        out.note(
            f"in {spec.code}: {' '.join(shlex.quote(a) for a in launcher)}"
            + (f"  ({n} processes, torchrun)" if distributed else "")
        )
        with sup.handling_signals():
            first_env = dict(env)
            if preempt_at_step is not None:
                first_env[PREEMPT_AT_STEP_ENV] = str(preempt_at_step)
            attempts.append(
                _attempt(1, sup, argv, first_env, spec.code, distributed, preempt_after, preempt_at_step)
            )
            rehearsing = preempt_after is not None or preempt_at_step is not None
            if rehearsing and not sup.interrupted:
                rehearsal = _rehearse(
                    attempts,
                    sup,
                    out,
                    argv,
                    env,
                    spec.code,
                    distributed,
                    outputs_dir,
                    preempt_after,
                    preempt_at_step,
                )
    except BaseException:
        log.close()
        raise
    duration = time.monotonic() - started
    last = attempts[-1] if attempts else None
    exit_code = last.exit_code if last else 1
    if rehearsal is not None and rehearsal.verdict != "passed" and exit_code == 0:
        exit_code = EXIT_REHEARSAL_INCONCLUSIVE
    metrics = _last_metrics(outputs_dir, started_wall)
    device = next((a.device for a in reversed(attempts) if a.device), None)
    if device is None and last is not None:
        if cuda is None and _torch_available():
            with contextlib.suppress(Exception):
                cuda = _cuda_available()
        device = None if cuda is None else ("cuda" if cuda else "cpu")
    resumed = last.resumed_from_step if last else None
    if resumed is None and isinstance(metrics.get("resumed_from_step"), int):
        resumed = metrics["resumed_from_step"]
    result = LocalRunResult(
        exit_code=exit_code,
        run_dir=run_path,
        duration_s=round(duration, 3),
        device=device,
        final_metrics=metrics,
        command=shell_text,
        launcher=launcher,
        nproc=n,
        distributed=distributed,
        resumed_from_step=resumed,
        preemption=rehearsal,
        attempts=attempts,
        warnings=warnings,
        interrupted=bool(sup.interrupted),
    )
    try:
        if last is not None:
            _explain(out, result, strict_device, sup.interrupted)
        (run_path / "run.json").write_text(
            json.dumps(result.to_dict(), indent=2, default=str) + "\n", encoding="utf-8"
        )
    finally:
        log.close()
    return result


def _attempt(
    number: int,
    sup: _Supervisor,
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    distributed: bool,
    sigterm_after: float | None,
    preempt_at_step: int | None,
) -> Attempt:
    watcher = _Watcher()
    t0 = time.monotonic()
    code, sigterm_at = sup.run(
        argv, env, cwd, on_line=watcher, sigterm_after=sigterm_after, distributed=distributed
    )
    return Attempt(
        number=number,
        exit_code=code,
        duration_s=round(time.monotonic() - t0, 3),
        sigterm_at_s=None if sigterm_at is None else round(sigterm_at, 3),
        preempt_at_step=preempt_at_step,
        preempted_at_step=watcher.preempted_at_step,
        resumed_from_step=watcher.resumed_from_step,
        device=watcher.device,
        interrupted=bool(sup.interrupted),
    )


def _rehearse(
    attempts: list[Attempt],
    sup: _Supervisor,
    out: _Console,
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    distributed: bool,
    outputs_dir: Path,
    preempt_after: float | None,
    preempt_at_step: int | None,
) -> Rehearsal:
    first = attempts[0]
    trigger = f"after {preempt_after:g}s" if preempt_after is not None else f"at step {preempt_at_step}"
    if first.exit_code == EXIT_OK:
        if preempt_at_step is not None:
            why = (
                f"the run finished without stopping at step {preempt_at_step}: either it has fewer steps, or "
                f"the script does not implement {PREEMPT_AT_STEP_ENV} (use --preempt-after SECONDS instead)"
            )
        elif first.sigterm_at_s is None:
            why = (
                f"the run finished in {first.duration_s:.1f}s, before SIGTERM was due; "
                "use a smaller --preempt-after"
            )
        else:
            why = (
                "SIGTERM landed but the run still finished with exit 0 "
                "(too late, or the script ignores SIGTERM)"
            )
        return _verdict(out, Rehearsal("inconclusive", why, trigger))
    if first.exit_code != EXIT_PREEMPTED:
        if first.exit_code == 128 + signal.SIGTERM:
            why = (
                "the script was killed by SIGTERM without handling it (exit 143): no checkpoint. Install a "
                "SIGTERM handler that checkpoints and exits 75 — or SIGTERM came before the script set its "
                "handler up (try a larger --preempt-after)"
            )
        else:
            why = f"expected exit {EXIT_PREEMPTED} (checkpointed after SIGTERM), got {first.exit_code}"
        return _verdict(out, Rehearsal("failed", why, trigger, first.preempted_at_step))
    stopped = first.preempted_at_step
    out.note(
        f"preemption rehearsal: attempt 1 exited {EXIT_PREEMPTED}"
        + (f" after a checkpoint at step {stopped}" if stopped is not None else "")
        + "; restarting the same command with the same outputs and checkpoints"
    )
    second = _attempt(2, sup, argv, env, cwd, distributed, None, None)
    attempts.append(second)
    if sup.interrupted:
        return _verdict(out, Rehearsal("inconclusive", "interrupted during the restart", trigger, stopped))
    resumed = second.resumed_from_step
    metrics = _last_metrics(outputs_dir)
    if resumed is None and isinstance(metrics.get("resumed_from_step"), int):
        resumed = second.resumed_from_step = metrics["resumed_from_step"]
    acc = metrics.get("test_accuracy")
    acc_text = f", test_accuracy {acc:.4f}" if isinstance(acc, (int, float)) else ""
    if second.exit_code != EXIT_OK:
        return _verdict(
            out,
            Rehearsal("failed", f"the restarted run exited {second.exit_code}", trigger, stopped, resumed),
        )
    if not resumed:
        if stopped == 0:
            return _verdict(
                out,
                Rehearsal(
                    "inconclusive",
                    "SIGTERM landed before the first training step (checkpoint at step 0), so there "
                    "was nothing to resume; use a larger --preempt-after / --preempt-at-step",
                    trigger,
                    stopped,
                    resumed,
                ),
            )
        return _verdict(
            out,
            Rehearsal(
                "failed",
                "the restarted run started again from step 0 instead of resuming: does the script load the "
                "newest checkpoint from the same --checkpoint-dir (an output of the job)?",
                trigger,
                stopped,
                resumed,
            ),
        )
    if stopped is not None and resumed != stopped:
        return _verdict(
            out,
            Rehearsal(
                "failed",
                f"SIGTERM at step {stopped} wrote a checkpoint, but the restart resumed at step {resumed}: "
                f"{abs(stopped - resumed)} steps lost",
                trigger,
                stopped,
                resumed,
            ),
        )
    at = f"step {stopped}" if stopped is not None else trigger
    return _verdict(
        out,
        Rehearsal(
            "passed",
            f"SIGTERM at {at} → checkpoint → resumed at step {resumed} → finished{acc_text}",
            trigger,
            stopped,
            resumed,
        ),
    )


def _verdict(out: _Console, rehearsal: Rehearsal) -> Rehearsal:
    out.note(f"preemption rehearsal: {rehearsal.verdict.upper()} — {rehearsal.message}")
    return rehearsal


def _explain(out: _Console, result: LocalRunResult, strict_device: bool, interrupted: int) -> None:
    code = result.exit_code
    last = result.attempts[-1]
    if last.exit_code == EXIT_NO_GPU:
        if strict_device:
            out.note(
                f"the script exited {EXIT_NO_GPU}: use_gpu is true and no CUDA device is visible here "
                "(--strict-device) — the cloud fails the same way on a node without a GPU. Drop "
                "--strict-device to train on the CPU, or run with --cpu."
            )
        else:
            out.note(
                f"the script exited {EXIT_NO_GPU}: it requires a GPU (e.g. --device cuda) and no CUDA device "
                "is visible here"
            )
    elif last.exit_code == EXIT_PREEMPTED and result.preemption is None:
        out.note(
            f"the script checkpointed and exited {EXIT_PREEMPTED} (preempted); resume with "
            f"--output-dir {shlex.quote(str(result.run_dir))}"
        )
    elif interrupted and code != EXIT_OK:
        out.note(f"interrupted; the job exited {code}")

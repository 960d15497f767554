"""Running one start of the job's command: its output teed to the console and log.txt, watched, and
its signals handled.

* the child runs in its own session; SIGINT/SIGTERM to us becomes SIGTERM to the child's process
  group(s) (the script checkpoints and exits 75); after a grace period, or a second Ctrl-C, SIGKILL.
* distributed jobs run through torchrun (one agent per node), every worker under a small wrapper
  (``_rank_tee.py``) that prefixes its lines ``[rank N]`` and records its process group and exit code for
  us; ranks still running long after another rank exited are hung in a collective, and are stopped.
* what the script says about itself (device, resume, preemption) is not read from its output: it comes
  through the contract's status channel (:mod:`.status`), read after each start.
* :func:`terminate_all` stops every job running in this process (from any thread).
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from ..contract import EXIT_PREEMPTED
from ..errors import LocalRunError

__all__ = ["GRACE_S", "RANK_STATE_ENV", "Console", "Supervisor", "terminate_all"]

RANK_STATE_ENV = "AZT_RANK_STATE_DIR"
"""Where each torchrun worker's ``_rank_tee.py`` records its process group and exit code."""

EXIT_HUNG = 124
"""The job's exit code when ranks hung in a collective and were stopped (a timeout, as timeout(1) has it)."""

AGENT_EXIT_GRACE_S = 5.0
"""Seconds torchrun agents may take to leave once every rank has exited."""

GRACE_S = 30.0
"""Seconds a child gets between SIGTERM and SIGKILL (Azure ML gives a preempted node about as long)."""

_RANK_PREFIX = re.compile(r"^\[(?:rank \d+|node \d+)\] ")


class Console:
    """Where the child's lines and our notes go: the terminal (unless quiet) and log.txt.

    ``redact`` rewrites every line first: a script that prints one of the job's secrets (argparse echoing
    a bad ``--password`` value, a debug print of its environment) must not put it on the screen or in
    log.txt either.
    """

    def __init__(
        self, log: TextIO, stream: bool, console: TextIO | None, redact: Callable[[str], str] | None = None
    ) -> None:
        self.log = log
        self.stream = stream
        self.console = console
        self.redact = redact or (lambda text: text)
        self.lock = threading.Lock()

    def _out(self, is_err: bool) -> TextIO:
        if self.console is not None:
            return self.console
        return sys.stderr if is_err else sys.stdout

    def line(self, text: str, is_err: bool) -> None:
        text = self.redact(text)
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

    def log_only(self, text: str) -> None:
        """A line for log.txt alone (torchrun's own chatter)."""
        text = self.redact(text)
        with self.lock:
            self.log.write(text + "\n")
            self.log.flush()

    def note(self, text: str) -> None:
        """One of run-local's own messages (stderr, and log.txt marked [run-local])."""
        text = self.redact(text)
        with self.lock:
            self.log.write(f"[run-local] {text}\n")
            self.log.flush()
            if self.stream:
                out = self._out(True)
                with contextlib.suppress(OSError, ValueError):
                    out.write(f"run-local: {text}\n")
                    out.flush()


_ACTIVE: set[Supervisor] = set()
"""Supervisors with a running child: a caller running jobs from worker threads (a parallel local
sweep) cannot receive signals there, so it stops them all with :func:`terminate_all`."""


def terminate_all(why: str) -> None:
    """SIGTERM every job that run_local is running in this process (they may checkpoint)."""
    for supervisor in list(_ACTIVE):
        supervisor.terminate(why)


class Supervisor:
    """Runs the job's processes (one, or one per node) in their own sessions; turns our SIGINT/SIGTERM
    into SIGTERM for them, then SIGKILL; stops ranks hung in a collective."""

    def __init__(self, console: Console, grace_s: float = GRACE_S, time_limit: float | None = None) -> None:
        self.console = console
        self.grace_s = grace_s
        self.time_limit = time_limit
        """Seconds each run may take before it is stopped like a job past its ``limits.timeout``."""
        self.timed_out = False
        self.hung: list[str] = []
        """The ranks found hung in the last run (still running long after another rank exited)."""
        self.procs: list[subprocess.Popen] = []
        self.state_dir: Path | None = None
        self.interrupted = 0  # how many SIGINT/SIGTERM we received
        self.term_sent_at: float | None = None
        self.killed = False

    # -- signals to the children ---------------------------------------------------------------

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

    def _running(self) -> bool:
        return any(proc.poll() is None for proc in self.procs)

    def terminate(self, why: str) -> None:
        """SIGTERM the job: the workers' process groups (torchrun reports), else each child's own group."""
        if not self._running() or self.term_sent_at is not None:
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
        self._signal(workers or [proc.pid for proc in self.procs], signal.SIGTERM)
        self.term_sent_at = time.monotonic()

    def kill(self, why: str) -> None:
        if not self.procs or self.killed:
            return
        self.console.note(f"{why}: sending SIGKILL")
        self._signal([*self._worker_groups(), *(proc.pid for proc in self.procs)], signal.SIGKILL)
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
        processes: list[tuple[list[str], Mapping[str, str]]],
        cwd: Path,
        *,
        sigterm_after: float | None = None,
        wrapped: bool = False,
        ranks: int | None = None,
        collective_timeout: float | None = None,
    ) -> tuple[int, float | None]:
        """Run ``processes`` (argv, environment) side by side to their end; return ``(exit code, seconds
        after the start when SIGTERM was sent)``.

        ``wrapped``: they run their workers under ``_rank_tee.py`` (which reports each rank's exit code);
        ``ranks``: how many torchrun ranks to expect, for the hang check (None: no check).
        """
        self.term_sent_at, self.killed, self.timed_out, self.hung = None, False, False, []
        self.released = False  # agents killed at their exit barrier once every rank had exited
        self.launcher_tail: collections.deque[str] = collections.deque(maxlen=40)
        _ACTIVE.add(self)
        with contextlib.ExitStack() as stack:
            stack.callback(_ACTIVE.discard, self)
            self.state_dir = None
            if wrapped:
                self.state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="azt-ranks-")))
            started = time.monotonic()
            readers = self._start(processes, cwd)
            sigterm_at = None
            while self._running():
                time.sleep(0.1)
                sigterm_at = self._tick(
                    time.monotonic() - started, sigterm_after, sigterm_at, ranks, collective_timeout
                )
            if sigterm_at is None and self.term_sent_at is not None:
                sigterm_at = self.term_sent_at - started
            if wrapped:  # a worker its launcher could not stop must not outlive us (it would hold the pipes)
                time.sleep(0.05)
                self._signal(self._worker_groups(), signal.SIGKILL)
            for reader in readers:
                reader.join(timeout=10)
            codes = [
                proc.returncode if proc.returncode >= 0 else 128 - proc.returncode for proc in self.procs
            ]
            launcher_code = next((c for c in codes if c != 0), 0)
            self.procs = []
            return (self._ranks_exit_code(launcher_code) if wrapped else launcher_code), sigterm_at

    def _start(
        self, processes: list[tuple[list[str], Mapping[str, str]]], cwd: Path
    ) -> list[threading.Thread]:
        readers = []
        for argv, env in processes:
            if self.state_dir is not None:
                env = {**env, RANK_STATE_ENV: str(self.state_dir)}
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as exc:
                self.kill("a process of the job could not start")
                raise LocalRunError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
            self.procs.append(proc)
            for pipe, is_err in ((proc.stdout, False), (proc.stderr, True)):
                reader = threading.Thread(target=self._read, args=(pipe, is_err), daemon=True)
                reader.start()
                readers.append(reader)
        return readers

    def _tick(
        self,
        elapsed: float,
        sigterm_after: float | None,
        sigterm_at: float | None,
        ranks: int | None,
        collective_timeout: float | None,
    ) -> float | None:
        """One look at the running job: the rehearsal's SIGTERM, the time limit, hung ranks, the grace."""
        if sigterm_after is not None and sigterm_at is None and elapsed >= sigterm_after:
            sigterm_at = elapsed
            self.terminate(f"preemption rehearsal, {sigterm_after:g}s in")
        if self.time_limit is not None and self.term_sent_at is None and elapsed >= self.time_limit:
            self.timed_out = True
            self.terminate(f"the job's time limit ({self.time_limit:g}s) has passed")
        if ranks is not None and collective_timeout is not None and self.term_sent_at is None:
            self._check_hung(ranks, collective_timeout)
        if ranks is not None:
            self._release_agents(ranks)
        if (
            self.term_sent_at is not None
            and not self.killed
            and time.monotonic() - self.term_sent_at > self.grace_s
        ):
            self.kill(f"the job did not exit {self.grace_s:.0f}s after SIGTERM")
        return sigterm_at

    def _check_hung(self, ranks: int, collective_timeout: float) -> None:
        """Ranks still running ``collective_timeout`` s after another rank exited wait in a collective
        for it, and would until the process group's own timeout (gloo's default: 30 minutes)."""
        exits = self._exits()
        if not exits or len(exits) >= ranks:
            return
        first_at, first_code, first_rank = min(exits)
        if time.time() - first_at < collective_timeout:
            return
        done = {rank for _, _, rank in exits}
        self.hung = [str(r) for r in range(ranks) if str(r) not in done]
        self.console.note(
            f"rank(s) {', '.join(self.hung)} hung: still running {collective_timeout:g}s after rank {first_rank} "
            f"exited {first_code} (stuck in a collective waiting for it; the limit is "
            f"AZURE_TRAINER_COLLECTIVE_TIMEOUT_S)"
        )
        self.terminate("hung ranks")

    def _release_agents(self, ranks: int) -> None:
        """Once every rank has exited, the job is over: torchrun agents of several nodes may still wait at
        their exit barrier for a node that failed (up to 5 minutes, deaf to SIGTERM while they wait); after
        a short grace they are killed: their workers are done, nothing is lost."""
        exits = self._exits()
        if len(exits) < ranks or time.time() - max(when for when, _, _ in exits) < AGENT_EXIT_GRACE_S:
            return
        for proc in self.procs:
            if proc.poll() is None:
                self.released = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)

    def _exits(self) -> list[tuple[float, int, str]]:
        """``(unix time, exit code, rank)`` of every wrapped worker that has exited."""
        if self.state_dir is None:
            return []
        results = []
        for path in self.state_dir.glob("exit-*"):
            with contextlib.suppress(OSError, ValueError):
                code_s, when_s = path.read_text().split()
                results.append((float(when_s), int(code_s), path.name.removeprefix("exit-")))
        return results

    def _read(self, pipe, is_err: bool) -> None:
        launcher_lines = self.state_dir is not None  # wrapped: unprefixed lines are the launcher's own
        for raw in iter(pipe.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\n")
            if launcher_lines and not _RANK_PREFIX.match(text):
                # torchrun's warnings and its screen-long ChildFailedError traceback repeat what the ranks
                # said; they go to log.txt, and to the console only if no rank reported (see below).
                self.console.log_only(text)
                self.launcher_tail.append(text)
                continue
            self.console.line(text, is_err)
        pipe.close()

    def _ranks_exit_code(self, launcher_code: int) -> int:
        """The script's exit code across ranks: the first rank to fail (by time), else 0, else the launcher's;
        124 when ranks hung and none failed."""
        results = self._exits()
        failed = sorted(r for r in results if r[1] != 0 and r[2] not in self.hung)
        if failed:
            _, code, rank = failed[0]
            others = ", ".join(f"{_label(r)} {c}" for _, c, r in failed[1:])
            if code != EXIT_PREEMPTED:
                self.console.note(
                    f"{_label(rank)} exited {code} first"
                    + (f" (then {others})" if others else "")
                    + ("; torchrun's own report is in log.txt" if not rank.startswith("node") else "")
                )
            return code
        if self.hung:
            return EXIT_HUNG
        if launcher_code != 0 and not results:
            # torchrun failed before any rank ran: its own output is all there is to go on.
            for line in self.launcher_tail:
                self.console.note(f"torchrun: {line}")
        if results and (launcher_code == 0 or self.released):
            return 0
        return launcher_code if launcher_code != 0 else (0 if results else 1)


def _label(rank: str) -> str:
    """``rank 3``, or ``node 1`` for a node of a multi-node job without a distribution."""
    return rank if rank.startswith("node") else f"rank {rank}"

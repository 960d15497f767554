"""Running one start of the job's command: its output teed to the console and log.txt, watched, and
its signals handled.

* the child runs in its own session; SIGINT/SIGTERM to us becomes SIGTERM to the child's process
  group(s) (the script checkpoints and exits 75); after a grace period, or a second Ctrl-C, SIGKILL.
* distributed jobs run through torchrun, every worker under a small wrapper (``_rank_tee.py``) that
  prefixes its lines ``[rank N]`` and records its process group and exit code for us.
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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from ..contract import EXIT_PREEMPTED
from ..errors import LocalRunError

__all__ = ["GRACE_S", "RANK_STATE_ENV", "Console", "Supervisor", "terminate_all"]

RANK_STATE_ENV = "AZT_RANK_STATE_DIR"
"""Where each torchrun worker's ``_rank_tee.py`` records its process group and exit code."""

GRACE_S = 30.0
"""Seconds a child gets between SIGTERM and SIGKILL (Azure ML gives a preempted node about as long)."""

_RANK_PREFIX = re.compile(r"^\[rank (\d+)\] ")


class Console:
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

    def log_only(self, text: str) -> None:
        """A line for log.txt alone (torchrun's own chatter)."""
        with self.lock:
            self.log.write(text + "\n")
            self.log.flush()

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


_ACTIVE: set[Supervisor] = set()
"""Supervisors with a running child: a caller running jobs from worker threads (a parallel local
sweep) cannot receive signals there, so it stops them all with :func:`terminate_all`."""


def terminate_all(why: str) -> None:
    """SIGTERM every job that run_local is running in this process (they may checkpoint)."""
    for supervisor in list(_ACTIVE):
        supervisor.terminate(why)


class Supervisor:
    """Runs the child in its own session(s); turns our SIGINT/SIGTERM into SIGTERM for it, then SIGKILL."""

    def __init__(self, console: Console, grace_s: float = GRACE_S, time_limit: float | None = None) -> None:
        self.console = console
        self.grace_s = grace_s
        self.time_limit = time_limit
        """Seconds each run may take before it is stopped like a job past its ``timeout``."""
        self.timed_out = False
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
        sigterm_after: float | None = None,
        distributed: bool = False,
    ) -> tuple[int, float | None]:
        """Run ``argv`` to its end; returns ``(exit code, seconds after start when SIGTERM was sent)``."""
        self.term_sent_at, self.killed, self.timed_out = None, False, False
        self.launcher_tail: collections.deque[str] = collections.deque(maxlen=40)
        _ACTIVE.add(self)
        with contextlib.ExitStack() as stack:
            stack.callback(_ACTIVE.discard, self)
            if distributed:
                self.state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="azt-ranks-")))
                env = {**env, RANK_STATE_ENV: str(self.state_dir)}
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
                threading.Thread(target=self._read, args=(self.proc.stdout, False), daemon=True),
                threading.Thread(target=self._read, args=(self.proc.stderr, True), daemon=True),
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
                    self.time_limit is not None
                    and self.term_sent_at is None
                    and now - started >= self.time_limit
                ):
                    self.timed_out = True
                    self.terminate(f"the job's timeout ({self.time_limit:g}s) has passed")
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

    def _read(self, pipe, is_err: bool) -> None:
        launcher_lines = self.state_dir is not None  # distributed: unprefixed lines are torchrun's own
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
                    + "; torchrun's own report is in log.txt"
                )
            return code
        if launcher_code != 0 and len(results) < 1:
            # torchrun failed before any rank ran: its own output is all there is to go on.
            for line in self.launcher_tail:
                self.console.note(f"torchrun: {line}")
        if results and launcher_code == 0:
            return 0
        return launcher_code if launcher_code != 0 else (0 if results else 1)

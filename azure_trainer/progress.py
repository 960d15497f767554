"""Progress on long work, and the CLI's tables, drawn with rich on stderr.

A display is shown only to a person: stdout and stderr are terminals, ``TERM`` is not ``dumb``, and
neither ``--quiet`` nor ``--json`` was given (``--json`` output is never mixed with anything). rich
honours ``NO_COLOR`` (no colour, anywhere) and ``FORCE_COLOR``. Everything here imports rich when it
draws, not at import time, so the CLI's start-up does not pay for it.

* :class:`SweepProgress`: a local sweep's trials done/running/failed, the best value so far and the ETA
  (``run_local_sweep(progress=...)`` calls it);
* :func:`waiting`: a spinner with a status line while waiting (a job to start, the first log line);
* :func:`scan_progress` / :func:`report_scan`: files counted while the snapshot scan walks a large folder;
* :func:`table`: a plain-text table (no colour, no box) for results printed on stdout.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

SHOW_AFTER_S = 0.5
"""Work that ends sooner shows no display at all."""


def interactive(*, quiet: bool = False, json: bool = False) -> bool:
    """Whether to draw progress: a person at a terminal who did not ask for quiet or JSON output."""
    if quiet or json or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(sys.stdout) and _isatty(sys.stderr)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def console(file: Any = None) -> Any:
    """A rich Console on stderr (or ``file``); rich reads NO_COLOR / FORCE_COLOR / TERM itself."""
    from rich.console import Console

    return Console(file=file, stderr=file is None, highlight=False)


# -- a local sweep ---------------------------------------------------------------------------------


class SweepProgress:
    """The sweep's line: ``trials ━━━━━╸━━━ 3/8 · 2 running · 1 failed · best val_accuracy 0.9740 (trial 0) · 0:02:10``.

    The hook :func:`azure_trainer.local.sweeps.run_local_sweep` calls: :meth:`begin` (how many trials,
    the objective), :meth:`trial_started` and :meth:`trial_finished` (a TrialResult), from any thread.
    Used as a context manager around the sweep; a no-op object when not :func:`interactive`.
    """

    def __init__(self, enabled: bool = True, file: Any = None) -> None:
        self.enabled = enabled
        self.file = file
        self.running = 0
        self.failed = 0
        self.done = 0
        self.best: tuple[float, int] | None = None
        self.metric = ""
        self.goal = "maximize"
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> SweepProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("trials"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(),
                console=console(self.file),
                transient=True,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def begin(self, total: int, metric: str, goal: str) -> None:
        self.metric, self.goal = metric, goal
        if self._progress is not None:
            self._task = self._progress.add_task("sweep", total=total, status=self.status())

    def trial_started(self, index: int, params: dict[str, Any]) -> None:
        self.running += 1
        self._refresh()

    def trial_finished(self, trial: Any) -> None:
        self.running = max(0, self.running - 1)
        self.done += 1
        if getattr(trial, "ok", False):
            value = float(trial.objective)
            better = self.best is None or (
                value > self.best[0] if self.goal == "maximize" else value < self.best[0]
            )
            if better:
                self.best = (value, trial.index)
        else:
            self.failed += 1
        self._refresh(advance=1)

    def status(self) -> str:
        text = f"· {self.running} running · {self.failed} failed"
        if self.best is not None:
            text += f" · best {self.metric} {self.best[0]:.4f} (trial {self.best[1]})"
        return text

    def _refresh(self, advance: int = 0) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=advance, status=self.status())


# -- waiting ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def waiting(message: str, *, enabled: bool = True, file: Any = None) -> Iterator[Callable[[str], None]]:
    """A spinner with ``message`` and the time waited, gone when the block ends; yields
    ``update(text)`` to change the message (e.g. the job's status)."""
    if not enabled:
        yield lambda text: None
        return
    start = time.monotonic()
    state = {"text": message}

    def line() -> str:
        return f"{state['text']} ({int(time.monotonic() - start)} s)"

    status = _spinner(line(), file)

    def update(text: str) -> None:
        state["text"] = text
        status.update(line())

    try:
        yield update
    finally:
        status.stop()


class _Spinner:
    """A one-line spinner on stderr that leaves stdout alone (rich's Status would redirect it), so the
    output it waits for is written where it belongs."""

    def __init__(self, text: str, file: Any) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        self._spinner = Spinner("dots", text)
        self._live = Live(
            self._spinner, console=console(file), transient=True, redirect_stdout=False, redirect_stderr=False
        )
        self._live.start()

    def update(self, text: str) -> None:
        self._spinner.update(text=text)

    def stop(self) -> None:
        self._live.stop()


def _spinner(text: str, file: Any) -> _Spinner:
    return _Spinner(text, file)


class FirstOutput:
    """A stream wrapper that calls ``on_first()`` before the first write: stops a :func:`waiting`
    spinner the moment the first log line arrives, so the two never share the screen."""

    def __init__(self, stream: Any, on_first: Callable[[], None]) -> None:
        self._stream = stream
        self._on_first: Callable[[], None] | None = on_first

    def write(self, text: str) -> int:
        if self._on_first is not None and text:
            first, self._on_first = self._on_first, None
            first()
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# -- the snapshot scan -----------------------------------------------------------------------------

_SCAN = contextvars.ContextVar[Callable[[int], None] | None]("azure_trainer_scan_progress", default=None)


def report_scan(files_seen: int) -> None:
    """Called by the snapshot scan now and then with the files it has listed so far."""
    hook = _SCAN.get()
    if hook is not None:
        hook(files_seen)


@contextlib.contextmanager
def scan_progress(*, enabled: bool = True, file: Any = None) -> Iterator[None]:
    """Within the block, a snapshot scan that takes longer than :data:`SHOW_AFTER_S` shows how many
    files it has listed (quick scans show nothing)."""
    if not enabled:
        yield
        return
    start = time.monotonic()
    shown: dict[str, Any] = {}

    def hook(files_seen: int) -> None:
        if "status" not in shown:
            if time.monotonic() - start < SHOW_AFTER_S:
                return
            shown["status"] = _spinner("", file)
        shown["status"].update(f"scanning the code snapshot: {files_seen:,} files listed")

    token = _SCAN.set(hook)
    try:
        yield
    finally:
        _SCAN.reset(token)
        if "status" in shown:
            shown["status"].stop()


# -- tables ----------------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Sequence[int] = ()) -> str:
    """A plain-text table (header, then one line per row; columns ``right`` right-aligned), laid out
    by rich: no colour and no box, so it reads the same in a terminal, a log and a pipe."""
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    t = Table(box=None, show_edge=False, pad_edge=False, header_style="", expand=False)
    for i, name in enumerate(header):
        t.add_column(Text(str(name)), justify="right" if i in right else "left", overflow="fold")
    for row in rows:
        t.add_row(*(Text(str(c)) for c in row))  # Text: `my [file].bin` is not rich markup
    out = io.StringIO()
    Console(file=out, width=10_000, color_system=None, force_terminal=False, highlight=False).print(t)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    return "\n".join(line for line in lines if line.strip())

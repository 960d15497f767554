"""The offline workspace: a persistent fake Azure ML in a folder, to try every command without a
subscription (``--workspace local:DIR``, or ``AZUREML_WORKSPACE_NAME=local:DIR``).

It is the project's fake Azure ML (:class:`azure_trainer.testing.FakeAzureML`, bodies in the published REST
shapes) kept in DIR by a :class:`~azure_trainer.testing.FolderStore`, and the real ``MLClient`` talks to
it: ``submit``, ``status``, ``logs``, ``list``, ``cancel`` and ``download`` run the same code they run
against Azure ML, across separate invocations. A job created there starts a simulated run in the
background (:mod:`.offline_runner`) that does what a compute node would: it runs the job on this machine
through ``run_local`` and reports status, log and outputs back into the folder. The workspace's clusters
(``gpu-cluster``, ``cpu-cluster``), environments, quotas and prices are the fake's examples, not anyone's
subscription.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import _sdk

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "offline"
WORKSPACE = "offline"
POLL_S = 1.0
"""How often ``logs`` polls an offline job (the SDK's default is 2 s and up)."""


class OfflineWorkspace:
    """An offline workspace, open for a ``with`` block: ``with OfflineWorkspace(DIR) as ws: ws.ml_client()``.

    ``simulate=False`` keeps jobs as they are created (nothing runs them; tests move them along).
    """

    def __init__(self, folder: str | os.PathLike[str], *, simulate: bool = True, quiet: bool = False) -> None:
        self.folder = Path(folder).expanduser().resolve()  # as local:DIR is: links and runs need it absolute
        self.simulate = simulate
        self.quiet = quiet  # no "created the offline workspace" note
        self._stack = contextlib.ExitStack()
        self.fake: Any = None

    def __enter__(self) -> OfflineWorkspace:
        from ..testing import FakeAzureML, FolderStore, StoreError

        store = FolderStore(self.folder)
        try:
            store.check()
            created = not store.exists
            self.fake = FakeAzureML(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, store=store)
        except (StoreError, OSError) as exc:
            raise ConfigError(f"offline workspace {self.folder}: {exc}") from None
        if created and not self.quiet:
            print(
                f"azure-trainer: created the offline workspace {self.folder} (a simulation: its clusters, "
                "quotas and prices are examples)",
                file=sys.stderr,
            )
        self.fake.studio_url = lambda name: (self.folder / "runs" / name / "run").as_uri()
        if self.simulate:
            self.fake.on_job_created = self._start_run
            self.fake.on_job_cancel = self._stop_run
        self.fake.before_request = self._reap_lost_runs
        self._stack.enter_context(_sdk.blob_storage_through(self.fake))
        self._stack.enter_context(_sdk.stream_polling_interval(POLL_S))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def ml_client(self, **kwargs: Any) -> Any:
        """The real ``MLClient`` for this workspace (a credential is never asked for a token offline);
        ``kwargs`` go to MLClient (e.g. ``show_progress=False``)."""
        from ..testing import FakeCredential
        from .build import quiet_sdk_logs

        quiet_sdk_logs()
        from azure.ai.ml import MLClient

        return MLClient(
            FakeCredential(), SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE, transport=self.fake, **kwargs
        )

    # -- the simulated runs (called by the fake inside a request's transaction) --
    def _start_run(self, name: str) -> None:
        folder = self.folder / "runs" / name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "runner.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "azure_trainer.azureml.offline_runner", str(self.folder), name],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives this command, as a job outlives `submit`
            )
        self.fake.state.runs[name] = {"pid": proc.pid}

    def _stop_run(self, name: str) -> bool:
        pid = self.fake.state.runs.get(name, {}).get("pid")
        if pid is None or not _alive(pid):
            return False
        os.kill(pid, signal.SIGTERM)  # the runner stops the job as run-local does, then marks it Canceled
        return True

    def _reap_lost_runs(self) -> None:
        """A job whose runner is gone (killed, machine restarted) failed; say where to look."""
        from .lifecycle import TERMINAL_STATES

        for name, run in self.fake.state.runs.items():
            job = self.fake.jobs.get(name)
            pid = run.get("pid")
            if job is None or pid is None or job["properties"]["status"] in TERMINAL_STATES or _alive(pid):
                continue
            if job["properties"]["status"] == "CancelRequested":  # stopped before it could say so
                self.fake.set_job_status(name, "Canceled")
                continue
            runner_log = self.folder / "runs" / name / "runner.log"
            append_log(
                self.fake, name, f"azure-trainer: the simulated run stopped unexpectedly; see {runner_log}\n"
            )
            self.fake.set_job_status(name, "Failed")


STD_LOG = "user_logs/std_log.txt"


def append_log(fake: Any, name: str, text: str) -> None:
    """Add ``text`` to job ``name``'s std_log.txt (what ``logs`` streams and ``download`` saves)."""
    fake.append_job_log(name, text, STD_LOG)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a finished child of ours is reaped, not counted)."""
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    except ChildProcessError:
        pass  # not our child (another invocation started it)
    except OSError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

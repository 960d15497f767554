"""The simulated run of a job in an offline workspace (``python -m azure_trainer.azureml.offline_runner
DIR NAME``, started by :mod:`.offline` when the job is created).

It does what a compute node does, on this machine: read the job as Azure ML received it (command, code
snapshot, environment variables, literal inputs, outputs, distribution, nodes, ``limits.timeout``), run
it with :func:`azure_trainer.local.run_local`, and report back into the workspace: the status
(Preparing, Running, then Completed, Failed or Canceled, with ``StartTimeUtc`` / ``EndTimeUtc``), the log
as ``user_logs/std_log.txt`` while it runs, and the run's outputs into the job's artifact folder
(``outputs/NAME/...``), where ``download`` finds them. A cancel sends it SIGTERM; the job is stopped as
run-local stops it (SIGTERM to its processes, SIGKILL after the grace period). It runs in this Python,
not in the job's environment image, and simulates command jobs only (a sweep fails with a pointer to
``run-local``, which runs sweeps); data inputs must be in the workspace's own storage.
"""

from __future__ import annotations

import copy
import re
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from ..errors import AzureTrainerError

ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


class NotRunnable(AzureTrainerError):
    """The offline workspace cannot simulate this job (the job fails with this message)."""


def main(argv: list[str] | None = None) -> int:
    """The runner process of one offline-workspace job: ``main([FOLDER, NAME])`` simulates job NAME of
    the workspace in FOLDER and returns its exit code; the job ends Canceled or Failed, never left Running."""
    from ..testing import FakeAzureML, FolderStore

    folder, name = argv if argv is not None else sys.argv[1:]
    fake = FakeAzureML(store=FolderStore(folder))
    signal.signal(signal.SIGTERM, _cancelled)  # until run_local takes SIGTERM over (and after)
    try:
        return simulate(fake, name, Path(folder) / "runs" / name)
    except KeyboardInterrupt:  # cancelled before or after the job's own process ran
        _finish(fake, name, "Canceled", "azure-trainer: cancelled\n")
        return 130
    except BaseException as exc:  # the job must not stay Running when its runner dies of a bug
        traceback.print_exc()
        _finish(fake, name, "Failed", f"azure-trainer: the simulated run failed: {exc}\n")
        return 1


def _cancelled(signum: int, frame: Any) -> None:  # noqa: ARG001
    raise KeyboardInterrupt


def simulate(fake: Any, name: str, work: Path) -> int:
    """Run job ``name`` of the offline workspace behind ``fake`` in folder ``work``; its exit code."""
    from ..local import run_local

    with fake.transaction():
        job = copy.deepcopy(fake.jobs[name])
        if fake.jobs[name]["properties"]["status"] == "CancelRequested":
            fake.set_job_status(name, "Canceled")
            return 0
        fake.set_job_status(name, "Preparing")
    try:
        spec = job_spec(job, fake, work)
    except NotRunnable as exc:
        _finish(fake, name, "Failed", f"azure-trainer: {exc}\n")
        return 1
    with fake.transaction():
        fake.set_job_status(name, "Running")
    run_dir = work / "run"
    pump = _LogPump(fake, name, run_dir / "log.txt")
    pump.start()
    try:
        result = run_local(spec, run_dir=run_dir, stream=False)
    except AzureTrainerError as exc:
        pump.stop()
        _finish(fake, name, "Failed", f"azure-trainer: {exc}\n")
        return 1
    pump.stop()
    with fake.transaction():
        _upload_outputs(fake, name, run_dir / "outputs")
        cancelled = fake.jobs[name]["properties"]["status"] == "CancelRequested"
        status = "Canceled" if cancelled else "Completed" if result.exit_code == 0 else "Failed"
        # what the script logged, where Azure ML keeps it: the job's MLflow run (`report --job` reads it)
        mlflow_status = {"Completed": "FINISHED", "Failed": "FAILED"}.get(status, "KILLED")
        fake.log_mlflow_run(name, result.metric_history, status=mlflow_status)
        fake.set_job_status(name, status)
    return result.exit_code


def job_spec(job: dict[str, Any], fake: Any, work: Path) -> Any:
    """The :class:`~azure_trainer.planning.spec.JobSpec` of a job's REST body (its code downloaded into
    ``work/code``); :class:`NotRunnable` for what cannot run here."""
    from ..config.model import Distribution, InputConfig, OutputConfig, Resources
    from ..planning.spec import EnvironmentRef, JobSpec

    props = job["properties"]
    if props.get("jobType") != "Command":
        raise NotRunnable(
            f"the offline workspace simulates command jobs, not {props.get('jobType')} jobs; run a sweep "
            "on this machine with `azure-trainer run-local JOB.yaml`"
        )
    code = _download_code(fake, props.get("codeId"), work / "code")
    inputs = {}
    for input_name, item in (props.get("inputs") or {}).items():
        if item.get("jobInputType") == "literal":
            inputs[input_name] = InputConfig.model_validate(str(item.get("value", "")))  # a literal
        else:
            where = item.get("uri") or "a local path the SDK did not upload"
            raise NotRunnable(
                f"input {input_name} ({where}) is data, which the offline workspace does not hold; try "
                f"the job with `azure-trainer run-local JOB.yaml --input {input_name}=PATH`"
            )
    outputs = {
        output_name: OutputConfig(type=item.get("jobOutputType") or "uri_folder")
        for output_name, item in (props.get("outputs") or {}).items()
        if output_name != "default"
    }
    distribution = _distribution(props.get("distribution"), Distribution)
    tags = dict(props.get("tags") or {})
    env = dict(props.get("environmentVariables") or {})
    use_gpu = (
        tags.get("azure-trainer.use_gpu", "").lower() == "true" or env.get("AZURE_TRAINER_REQUIRE_GPU") == "1"
    )
    return JobSpec(
        type="command",
        experiment_name=props.get("experimentName") or "Default",
        code=code,
        command=props.get("command") or "",
        use_gpu=use_gpu,
        environment=EnvironmentRef(props.get("environmentId") or "azureml:offline:1", "workspace"),
        resources=Resources(instance_count=int((props.get("resources") or {}).get("instanceCount") or 1)),
        distribution=distribution,
        timeout=_seconds((props.get("limits") or {}).get("timeout")),
        inputs=inputs,
        outputs=outputs,
        user_environment_variables={k: str(v) for k, v in env.items()},
        display_name=props.get("displayName"),
        tags=tags,
    )


def _distribution(body: dict[str, Any] | None, model: Any) -> Any:
    if not body:
        return None
    kind = str(body.get("distributionType", "")).lower()
    if kind not in ("pytorch", "mpi"):
        raise NotRunnable(f"the offline workspace runs PyTorch and MPI distributions, not {kind}")
    return model(type=kind, process_count_per_instance=int(body.get("processCountPerInstance") or 1))


def _seconds(duration: str | None) -> int | None:
    match = ISO_DURATION.match(duration or "")
    if not duration or match is None:
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return round(((days * 24 + hours) * 60 + minutes) * 60 + seconds) or None


def _download_code(fake: Any, code_id: str | None, target: Path) -> Path:
    """The job's code snapshot, as uploaded, written into ``target``."""
    from urllib.parse import unquote, urlsplit

    target.mkdir(parents=True, exist_ok=True)
    if not code_id:
        return target
    match = re.search(r"/codes/([^/]+)/versions/([^/]+)$", code_id)
    with fake.transaction():
        version = fake.codes.get(match.group(1), {}).get(match.group(2)) if match else None
        if version is None:
            raise NotRunnable(f"the job's code {code_id} is not in the offline workspace")
        uri = urlsplit(version["properties"]["codeUri"])
        account = uri.netloc.split(".")[0]
        container, _, prefix = unquote(uri.path).lstrip("/").partition("/")
        for blob_name in fake.blobs.names(account, container):
            if prefix and not blob_name.startswith(prefix.rstrip("/") + "/"):
                continue
            relative = blob_name[len(prefix) :].lstrip("/") if prefix else blob_name
            path = (target / relative).resolve()
            if target.resolve() not in path.parents:
                continue  # a name that would leave the folder is not ours to write
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(fake.blobs.get(account, container, blob_name) or b"")
    return target


def _upload_outputs(fake: Any, name: str, outputs: Path) -> None:
    """The run's outputs into the job's artifact folder (``outputs/NAME/...``); call in a transaction."""
    if not outputs.is_dir():
        return
    for path in sorted(p for p in outputs.rglob("*") if p.is_file()):
        fake.add_job_output_file(name, f"outputs/{path.relative_to(outputs).as_posix()}", path.read_bytes())


def _finish(fake: Any, name: str, status: str, note: str) -> None:
    from .offline import append_log

    with fake.transaction():
        append_log(fake, name, note)
        if fake.jobs[name]["properties"]["status"] not in ("Completed", "Failed", "Canceled"):
            fake.set_job_status(name, status)


class _LogPump:
    """Copies the run's log.txt into the job's std_log.txt while it grows (what ``logs`` streams)."""

    def __init__(self, fake: Any, name: str, log: Path, every_s: float = 0.5) -> None:
        self.fake, self.name, self.log, self.every_s = fake, name, log, every_s
        self._stop = threading.Event()
        self._sent = -1
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._copy()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._copy()

    def _copy(self) -> None:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        if len(text) == self._sent:
            return
        with self.fake.transaction():
            self.fake.add_job_log(self.name, text, "user_logs/std_log.txt")
        self._sent = len(text)


if __name__ == "__main__":
    sys.exit(main())

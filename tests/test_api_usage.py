"""The Python API called with the wrong kind of value: ApiUsageError (also a TypeError), one clear line,
raised before anything runs or reaches Azure."""

from __future__ import annotations

from pathlib import Path

import pytest

import azure_trainer as at
from azure_trainer import ApiUsageError, AzureTrainerError

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "jobs" / "digits.yaml"


@pytest.fixture(scope="module")
def config():
    return at.load_config(JOB)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda c: at.load_config({"experiment": "x"}),
            "load_config() takes the path of a job YAML file, not dict",
        ),
        (lambda c: at.load_config(None), "not NoneType"),
        (lambda c: at.load_config(JOB, "args.epochs=3"), "not one string"),
        (lambda c: at.load_config(JOB, [3]), "list of 'KEY.PATH=VALUE' strings"),
        (lambda c: at.load_config(JOB, 5), "strings, not int"),
        (lambda c: at.load_config(JOB, use_gpu=0), "use_gpu=...) takes True, False or None"),
        (lambda c: at.build_job(42), "build_job() takes a JobSpec (azure_trainer.plan(config)), a JobConfig"),
        (lambda c: at.plan({"a": 1}), "plan() takes a JobConfig"),
        (
            lambda c: at.to_yaml(42),
            "to_yaml() takes a JobSpec, a JobConfig or a job file's path, or the job from",
        ),
        (lambda c: at.preflight({"a": 1}), "preflight() takes a JobSpec"),
        (lambda c: at.preflight(c, "client"), "preflight() takes an azure.ai.ml.MLClient (or None), not str"),
        (lambda c: at.submit(None), "submit() takes a JobSpec"),
        (lambda c: at.submit(c, "client", preflight=False), "takes an azure.ai.ml.MLClient"),
        (lambda c: at.submit(c, name=5, dry_run=True, preflight=False), "submit(name=...) takes a job name"),
        (lambda c: at.submit(c, workspace=["a"]), "submit(workspace=...) takes a dict"),
        (lambda c: at.run_local(["jobs/digits.yaml"]), "run_local() takes a JobSpec"),
        (lambda c: at.run_local(c, nproc="2"), "run_local(nproc=...) takes an int"),
        (lambda c: at.run_local(c, timeout="5"), "run_local(timeout=...) takes a number of seconds"),
        (lambda c: at.run_local(c, inputs=["data=/tmp"]), "run_local(inputs=...) takes a mapping"),
        (lambda c: at.build_job(c, name=5), "build_job(name=...) takes a job name string, not int"),
        (lambda c: at.to_yaml(c, relative_to=5), "to_yaml(relative_to=...) takes a folder path, not int"),
        (lambda c: at.to_yaml(c, relative_to="out\x00"), "to_yaml(relative_to='out\\x00'): a path holds no"),
        (lambda c: at.run_local(c, run_dir=7), "run_local(run_dir=...) takes a folder path, not int"),
        (lambda c: at.run_local_sweep(3.5), "run_local_sweep() takes a JobSpec"),
        (lambda c: at.run_local_sweep(c, trials="2"), "run_local_sweep(trials=...) takes an int"),
    ],
)
def test_wrong_kinds_of_values_are_clear_api_errors(config, call, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written: no run folder appears here
    with pytest.raises(ApiUsageError) as info:
        call(config)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, AzureTrainerError)
    assert info.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: at.build_job(c, name="bad name"),
        lambda c: at.build_job(c, name=""),
        lambda c: at.submit(c, name="", dry_run=True, preflight=False),
        lambda c: at.submit(c, name="../x", dry_run=True, preflight=False),
    ],
)
def test_a_bad_job_name_is_refused_by_every_function_that_takes_one(config, call):
    """Not built into a job Azure ML would refuse, and '' is not taken for 'no name'."""
    with pytest.raises(at.ConfigError, match="bad job name '.*': job names use letters, digits"):
        call(config)


def test_every_backend_takes_a_spec_a_config_or_a_path_and_they_agree():
    """One hand-off: a JobSpec as it is; a JobConfig or a path is planned once, to the same spec."""
    config = at.load_config(JOB)
    spec = at.plan(config)
    for job in (spec, config, JOB, str(JOB)):
        built = at.build_job(job, name="same-name")
        assert built.command == spec.command and built.compute == spec.compute
        assert at.to_yaml(built) == at.to_yaml(at.build_job(spec, name="same-name"))

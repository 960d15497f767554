"""Tests of the Azure ML side: build_job(spec) -> azure.ai.ml job (load_job of the job's CLI v2 document),
to_yaml(spec) -> the CLI v2 YAML ``export`` writes, and the export command.

No network and no credentials: building and dumping SDK entities is local. See test_cli_v2_corpus.py for
the field-by-field comparison with load_job over thirty real-world job files.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import warnings
from pathlib import Path

import pytest
import yaml

from azure_trainer.azureml.build import build_job, sdk_problem, to_yaml
from azure_trainer.cli import main
from azure_trainer.config import load_config
from azure_trainer.contract import contract_env
from azure_trainer.errors import ApiUsageError, ConfigError
from azure_trainer.planning.spec import plan

pytest.importorskip("azure.ai.ml")

from azure.ai.ml import load_job  # noqa: E402
from azure.ai.ml.entities import Command, Environment  # noqa: E402
from azure.ai.ml.sweep import SweepJob  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
JOBS = sorted((REPO / "jobs").glob("*.yaml"))
TRAIN_SCRIPTS = REPO / "train_scripts"
GPU_ENV_YAML = REPO / "environments" / "gpu.yaml"
CPU_ENV_YAML = REPO / "environments" / "cpu.yaml"
REGISTRY_REF = "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest"

FULL_JOB = f"""
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
name: full-job-1
experiment_name: exp-1
display_name: my run
description: everything at once
tags: {{team: ml, n: "3"}}
properties: {{purpose: tests}}
code: {TRAIN_SCRIPTS}
script: train.py
args:
  lr: 0.1
  name: "it's a \\"test\\" $HOME; `id`"
  amp: true
  off: false
  layers: [1, 2, 3]
  data: ${{{{inputs.data}}}}
  out: ${{{{outputs.model}}}}
use_gpu: true
compute: {{gpu: azureml:gpu-cluster, cpu: cpu-cluster}}
environment: {{gpu: azureml:torch-gpu:7, cpu: azureml:torch-cpu@latest}}
inputs:
  data: {{type: uri_folder, path: azureml:digits:2, mode: download}}
  table: {{type: uri_file, path: azureml://datastores/workspaceblobstore/paths/x.csv, mode: ro_mount}}
outputs:
  model: {{type: uri_folder, mode: upload}}
  ckpt: {{type: uri_folder, mode: rw_mount}}
resources: {{instance_count: 2, shm_size: 32g, docker_args: --ipc=host}}
distribution: {{type: pytorch, process_count_per_instance: 4}}
limits: {{timeout: 7200}}
queue_settings: {{job_tier: Standard, priority: HIGH}}
identity: {{type: user_identity}}
services: {{lab: {{type: jupyter_lab, nodes: all}}}}
environment_variables: {{OMP_NUM_THREADS: 4, NCCL_DEBUG: INFO}}
"""


@pytest.fixture(autouse=True)
def _quiet_experimental_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def job_file(tmp_path: Path, extra: str, name: str = "job.yaml") -> Path:
    head = f"experiment_name: exp\ncode: {TRAIN_SCRIPTS}\nscript: train.py\n"
    return write(tmp_path / name, head + textwrap.dedent(extra).lstrip("\n"))


def spec_of(path: Path, *overrides: str, use_gpu: bool | None = None):
    return plan(load_config(path, list(overrides), use_gpu=use_gpu))


def exported(spec, tmp_path: Path, name: str = "exported.yaml"):
    """``to_yaml(spec)`` written to tmp_path/name (local paths relative to it) and read back by load_job."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = to_yaml(spec, relative_to=path.parent)
    path.write_text(text, encoding="utf-8")
    return text, load_job(path)


def input_data(node_input):
    return getattr(node_input, "_data", node_input)


# ---------------------------------------------------------------------------------------------
# the sample jobs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_gpu", [True, False], ids=["gpu", "cpu"])
@pytest.mark.parametrize("job", JOBS, ids=[p.name for p in JOBS])
def test_sample_job_builds_and_exports(job, use_gpu, tmp_path):
    spec = spec_of(job, use_gpu=use_gpu)
    built = build_job(spec)
    assert isinstance(built, SweepJob if spec.sweep else Command)
    text, loaded = exported(spec, tmp_path)
    doc = yaml.safe_load(text)
    assert doc["type"] == spec.type and "component" not in doc
    trial = doc["trial"] if spec.sweep else doc
    assert trial["environment_variables"] == contract_env(use_gpu, spec.objective_metric)
    assert doc["compute"] == ("gpu-cluster" if use_gpu else "cpu-cluster")
    assert trial.get("resources", {}).get("shm_size") == ("16g" if use_gpu else None)
    assert doc["experiment_name"] == spec.experiment_name == loaded.experiment_name
    assert doc["tags"]["azure-trainer.use_gpu"] == str(use_gpu).lower()
    assert loaded.compute == ("gpu-cluster" if use_gpu else "cpu-cluster")
    assert not any(k in doc for k in ("use_gpu", "script", "args", "extends", "preflight", "workspace"))


def test_the_sweep_sample_exports_its_search_as_written(tmp_path):
    spec = spec_of(REPO / "jobs" / "digits-sweep.yaml")
    text, loaded = exported(spec, tmp_path)
    doc = yaml.safe_load(text)
    assert doc["search_space"]["lr"] == {"type": "loguniform", "min_value": -8.1, "max_value": -4.6}
    assert "inputs" not in doc  # searched parameters are not also fixed inputs
    assert "--lr ${{search_space.lr}}" in doc["trial"]["command"]
    assert loaded.search_space["lr"].min_value == -8.1  # natural-log exponents, as written
    assert (loaded.objective.primary_metric, loaded.objective.goal) == ("val_accuracy", "maximize")
    assert loaded.early_termination.slack_factor == 0.1 and loaded.sampling_algorithm == "random"


# ---------------------------------------------------------------------------------------------
# what the built job carries
# ---------------------------------------------------------------------------------------------


def test_full_job_fields(tmp_path):
    job = build_job(spec_of(write(tmp_path / "job.yaml", FULL_JOB)))
    assert isinstance(job, Command)
    assert (job.name, job.experiment_name, job.display_name) == ("full-job-1", "exp-1", "my run")
    assert job.description == "everything at once" and job.properties == {"purpose": "tests"}
    assert job.tags == {"team": "ml", "n": "3", "azure-trainer.use_gpu": "true"}
    assert job.compute == "gpu-cluster"
    assert job.environment == "torch-gpu:7"  # as load_job reads azureml:torch-gpu:7
    assert job.command.startswith("python train.py --lr 0.1 --name ")
    assert "--amp --layers 1 2 3 --data ${{inputs.data}} --out ${{outputs.model}}" in job.command
    assert "--off" not in job.command
    assert (job.distribution.type, job.distribution.process_count_per_instance) == ("pytorch", 4)
    assert (job.resources.instance_count, job.resources.shm_size, job.resources.docker_args) == (
        2, "32g", "--ipc=host"
    )  # fmt: skip
    assert job.limits.timeout == 7200
    assert (job.queue_settings.job_tier, job.queue_settings.priority) == ("standard", "high")
    assert type(job.identity).__name__ == "UserIdentityConfiguration"
    assert job.services["lab"].type == "jupyter_lab"
    assert job.environment_variables == {
        "OMP_NUM_THREADS": "4",
        "NCCL_DEBUG": "INFO",
        "AZURE_TRAINER_REQUIRE_GPU": "1",
    }
    data = input_data(job.inputs["data"])
    assert (data.type, data.path, data.mode) == ("uri_folder", "digits:2", "download")
    assert input_data(job.outputs["ckpt"]).mode == "rw_mount"
    assert Path(str(job.code)) == TRAIN_SCRIPTS


def test_full_job_on_cpu(tmp_path):
    job = build_job(spec_of(write(tmp_path / "job.yaml", FULL_JOB), use_gpu=False))
    assert job.compute == "cpu-cluster" and job.environment == "torch-cpu@latest"
    assert job.environment_variables["AZURE_TRAINER_REQUIRE_GPU"] == "0"
    assert job.tags["azure-trainer.use_gpu"] == "false"
    assert job.resources.shm_size == "32g"  # a value the file sets is kept on both devices


def test_a_name_given_to_build_job_wins_over_the_files(tmp_path):
    spec = spec_of(write(tmp_path / "job.yaml", FULL_JOB))
    assert build_job(spec).name == "full-job-1"
    assert build_job(spec, name="other-2").name == "other-2"


def test_no_distribution_no_queue_no_timeout_nothing_invented(tmp_path):
    job = build_job(spec_of(job_file(tmp_path, "environment: azureml:e:1\n")))
    assert job.distribution is None and job.queue_settings is None and job.limits is None
    assert job.resources is None or not job.resources.instance_count  # Azure ML's default, not ours


@pytest.mark.parametrize("use_gpu, size", [(True, "Standard_NC6s_v3"), (False, "Standard_DS3_v2")])
def test_serverless_instance_type(tmp_path, use_gpu, size):
    path = job_file(
        tmp_path,
        """
        environment: azureml:e:1
        resources: {instance_type: {gpu: Standard_NC6s_v3, cpu: Standard_DS3_v2}}
        """,
    )
    spec = spec_of(path, use_gpu=use_gpu)
    job = build_job(spec)
    assert job.compute is None and job.resources.instance_type == size
    text, loaded = exported(spec, tmp_path)
    assert "compute" not in yaml.safe_load(text) and loaded.resources.instance_type == size


@pytest.mark.parametrize("use_gpu, env_file", [(True, GPU_ENV_YAML), (False, CPU_ENV_YAML)])
def test_an_environment_file_becomes_an_anonymous_environment_as_in_az_ml(tmp_path, use_gpu, env_file):
    path = job_file(
        tmp_path, f"compute: c\nenvironment: {{gpu: file:{GPU_ENV_YAML}, cpu: file:{CPU_ENV_YAML}}}\n"
    )
    spec = spec_of(path, use_gpu=use_gpu)
    job = build_job(spec)
    assert isinstance(job.environment, Environment) and job.environment._is_anonymous
    declared = yaml.safe_load(env_file.read_text())
    assert job.environment.image == declared["image"]
    assert ("cuda" in job.environment.image) is use_gpu
    text, loaded = exported(spec, tmp_path / "out")
    assert yaml.safe_load(text)["environment"] == f"file:{os.path.relpath(env_file, tmp_path / 'out')}"
    assert isinstance(loaded.environment, Environment) and loaded.environment.image == declared["image"]


def test_an_inline_environment_is_built_and_exported_inline(tmp_path):
    write(tmp_path / "conda.yml", "dependencies: [python=3.11, {pip: [numpy]}]\n")
    path = job_file(tmp_path, "environment: {image: python:3.11-slim, conda_file: conda.yml}\n")
    spec = spec_of(path)
    job = build_job(spec)
    assert job.environment.image == "python:3.11-slim"
    assert job.environment.conda_file == {"dependencies": ["python=3.11", {"pip": ["numpy"]}]}
    text, loaded = exported(spec, tmp_path / "out")
    assert yaml.safe_load(text)["environment"] == {"image": "python:3.11-slim", "conda_file": "../conda.yml"}
    assert loaded.environment.conda_file == job.environment.conda_file


def test_literal_inputs_are_bound_by_value(tmp_path):
    path = job_file(
        tmp_path,
        """
        environment: azureml:e:1
        inputs:
          n: 5
          lr: {value: "0.5"}
          flag: true
        args:
          n: ${{inputs.n}}
          lr: ${{inputs.lr}}
          flag: ${{inputs.flag}}
        """,
    )
    spec = spec_of(path)
    job = build_job(spec)
    assert {k: input_data(v) for k, v in job.inputs.items()} == {"n": 5, "lr": "0.5", "flag": True}
    text, loaded = exported(spec, tmp_path)
    assert yaml.safe_load(text)["inputs"] == {"n": 5, "lr": {"value": "0.5"}, "flag": True}
    assert set(loaded.inputs) == {"n", "lr", "flag"}


# ---------------------------------------------------------------------------------------------
# what azure-ai-ml refuses: one located line, not its screen of JSON
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc, key, message",
    [
        ({"command": "x", "environment": {"imag": "x"}}, "environment.imag", "Unknown field."),
        ({"command": "x", "environment": "azureml:e:1", "limits": {"timeout": "soon"}}, "limits.timeout", "Not a valid integer."),
        ({"command": "x", "environment": "azureml:e:1", "inputs": {"a": {"type": "string"}}}, "inputs.a", ""),
    ],
)  # fmt: skip
def test_an_azure_ai_ml_validation_error_is_reduced_to_its_field(tmp_path, doc, key, message):
    path = write(tmp_path / "raw.yml", yaml.safe_dump(doc))
    with pytest.raises(Exception) as info:
        load_job(path)
    found_key, found = sdk_problem(info.value)
    assert found_key.startswith(key) and message in found and "\n" not in found, (found_key, found)


def test_a_document_azure_ai_ml_refuses_is_a_located_config_error(tmp_path, monkeypatch):
    """Should azure-ai-ml refuse what the config layer accepted, the error is one line at the key."""
    from azure_trainer.azureml import document

    path = job_file(tmp_path, "environment: azureml:e:1\nlimits:\n  timeout: 60\n")
    real = document.job_document

    def broken(spec, *, name=None):
        doc = real(spec, name=name)
        doc["limits"] = {"timeout": "soon"}
        return doc

    monkeypatch.setattr("azure_trainer.azureml.build.job_document", broken)
    with pytest.raises(ConfigError) as info:
        build_job(spec_of(path))
    err = info.value
    assert (err.key_path, err.line) == ("limits.timeout", 6)
    assert str(err).endswith("limits.timeout: azure-ai-ml does not accept the job: Not a valid integer.")


def test_to_yaml_takes_a_spec_a_config_a_path_or_an_sdk_job(tmp_path):
    path = job_file(tmp_path, "environment: azureml:e:1\n")
    spec = spec_of(path)
    text = to_yaml(spec, relative_to=tmp_path)
    assert to_yaml(load_config(path), relative_to=tmp_path) == to_yaml(path, relative_to=tmp_path) == text
    sdk_dump = yaml.safe_load(to_yaml(build_job(spec)))  # azure-ai-ml's own dump of a job object
    assert sdk_dump["command"] == spec.command and "component" not in sdk_dump
    with pytest.raises(ApiUsageError, match="to_yaml\\(\\) takes a JobSpec"):
        to_yaml(42)


# ---------------------------------------------------------------------------------------------
# export: the job file as Azure ML reads it, portable
# ---------------------------------------------------------------------------------------------


def test_export_round_trip_full_job(tmp_path):
    spec = spec_of(write(tmp_path / "job.yaml", FULL_JOB))
    text, loaded = exported(spec, tmp_path)
    doc = yaml.safe_load(text)
    assert text.startswith("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n")
    assert doc["code"] == os.path.relpath(TRAIN_SCRIPTS, tmp_path)
    assert doc["compute"] == "gpu-cluster" and doc["environment"] == "azureml:torch-gpu:7"
    assert doc["resources"] == {"instance_count": 2, "shm_size": "32g", "docker_args": "--ipc=host"}
    assert doc["queue_settings"] == {"job_tier": "standard", "priority": "high"}
    built = build_job(spec)
    for field in (
        "command",
        "compute",
        "environment",
        "environment_variables",
        "experiment_name",
        "name",
        "tags",
    ):
        assert getattr(loaded, field) == getattr(built, field), field
    assert loaded.limits.timeout == 7200 and loaded.resources.docker_args == "--ipc=host"


def test_export_is_deterministic(tmp_path):
    path = write(tmp_path / "job.yaml", FULL_JOB)
    assert to_yaml(spec_of(path)) == to_yaml(spec_of(path))


def test_export_o_writes_paths_relative_to_the_output_and_the_file_moves(tmp_path, monkeypatch):
    """`export -o DIR/job.yml`: code, local inputs, environment files and build contexts relative to DIR,
    so the project can be moved (or cloned elsewhere) and `az ml job create -f` still finds them."""
    project = tmp_path / "project"
    shutil.copytree(TRAIN_SCRIPTS, project / "train_scripts", ignore=shutil.ignore_patterns("__pycache__"))
    write(project / "envs" / "env.yml", "image: python:3.11\nconda_file: conda.yml\n")
    write(project / "envs" / "conda.yml", "dependencies: [python=3.11]\n")
    (project / "envs" / "ctx").mkdir()
    (project / "data").mkdir()
    write(
        project / "jobs" / "job.yml",
        """
        code: ../train_scripts
        command: python train.py --data ${{inputs.data}}
        environment: {gpu: file:../envs/env.yml, cpu: {build: {path: ../envs/ctx}}}
        compute: {gpu: g, cpu: c}
        inputs:
          data: {path: ../data, local_path: ../data}
        """,
    )
    monkeypatch.chdir(tmp_path)
    (project / "exported").mkdir()
    for flag in ("--gpu", "--cpu"):
        out = project / "exported" / f"job{flag}.yml"
        assert main(["export", "project/jobs/job.yml", flag, "-o", str(out)]) == 0
        doc = yaml.safe_load(out.read_text())
        assert doc["code"] == "../train_scripts" and doc["inputs"]["data"] == {"path": "../data"}
        assert doc["environment"] == (
            "file:../envs/env.yml" if flag == "--gpu" else {"build": {"path": "../envs/ctx"}}
        )
    moved = tmp_path / "elsewhere"
    shutil.move(str(project), moved)
    loaded = load_job(moved / "exported" / "job--gpu.yml")
    assert (moved / "exported" / loaded.code).resolve() == (
        moved / "train_scripts"
    ).resolve()  # load_job keeps it relative
    assert loaded.environment.conda_file == {"dependencies": ["python=3.11"]}


@pytest.mark.parametrize(
    "flag, compute, require", [("--gpu", "gpu-cluster", "1"), ("--cpu", "cpu-cluster", "0")]
)
def test_cli_export_to_file(tmp_path, capsys, monkeypatch, flag, compute, require):
    monkeypatch.chdir(REPO)
    out = tmp_path / "exported.yaml"
    assert main(["export", "jobs/digits.yaml", flag, "--set", "args.epochs=2", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and f"wrote {out}" in captured.err
    loaded = load_job(out)
    assert loaded.compute == compute
    assert loaded.environment_variables["AZURE_TRAINER_REQUIRE_GPU"] == require
    assert loaded.command.startswith("python train.py --epochs 2 --seed 0 ")
    assert loaded.experiment_name == "digits" and set(loaded.outputs) == {"model", "checkpoints"}
    assert (loaded.resources.shm_size if loaded.resources else None) == ("16g" if flag == "--gpu" else None)


def test_cli_export_to_stdout_equals_to_yaml(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["export", "jobs/digits-ddp.yaml", "--gpu"]) == 0
    out = capsys.readouterr().out
    assert out == to_yaml(spec_of(REPO / "jobs" / "digits-ddp.yaml", use_gpu=True))
    doc = yaml.safe_load(out)
    assert doc["distribution"] == {"type": "pytorch", "process_count_per_instance": 1}
    assert doc["resources"] == {"instance_count": 2, "shm_size": "16g"}
    assert doc["environment"] == REGISTRY_REF and doc["code"] == "train_scripts"


def test_cli_export_unwritable_output(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code = main(["export", "jobs/digits.yaml", "-o", str(tmp_path / "no" / "such" / "dir" / "x.yaml")])
    assert code == 2  # a bad -o is bad input
    err = capsys.readouterr().err
    assert err.startswith("azure-trainer: error: -o ") and "cannot write there" in err
    assert err.count("\n") == 1


def test_export_and_dry_run_never_print_a_secret(tmp_path, capsys):
    """Secret-looking env values are written as *** (unless allowed), with a warning naming the variable."""
    from azure_trainer import submit

    secret = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "t.py").write_text("")
    job = tmp_path / "job.yaml"
    job.write_text(
        "experiment_name: e\ncode: src\nscript: t.py\nenvironment: azureml:env:1\n"
        f"environment_variables: {{GITHUB_TOKEN: {secret}, MODE: fast, BUILD_ID: {secret}}}\n"
        "preflight: {allow: [BUILD_ID]}\n"
    )
    assert main(["export", str(job)]) == 0
    out, err = capsys.readouterr()
    assert secret not in out.replace(f"BUILD_ID: {secret}", "")  # only the explicitly allowed one stays
    assert "GITHUB_TOKEN: '***'" in out and "MODE: fast" in out
    assert "GITHUB_TOKEN looked like secrets" in err and secret not in err
    dry = submit(load_config(job), None, dry_run=True, preflight=False)
    assert "GITHUB_TOKEN: '***'" in dry.job_yaml and dry.job_yaml.count(secret) == 1


def _io_job(tmp_path: Path, args: dict, inputs: dict) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "train.py").write_text("print(1)\n")
    (tmp_path / "localdata").mkdir(exist_ok=True)
    job = tmp_path / "job.yaml"
    job.write_text(
        yaml.safe_dump(
            {
                "experiment_name": "e",
                "code": "src",
                "script": "train.py",
                "args": args,
                "environment": "azureml:env:1",
                "compute": "c",
                "inputs": inputs,
            }
        )
    )
    return job


def test_export_keeps_input_paths_as_written(tmp_path, capsys):
    paths = {
        "https": "https://acct.blob.core.windows.net/c/d",
        "wasbs": "wasbs://c@acct.blob.core.windows.net/d",
        "store": "azureml://datastores/workspaceblobstore/paths/digits/",
        "asset": "azureml:digits@latest",
        "version": "azureml:digits:3",
        "local": "./localdata",
    }
    inputs = {name: {"type": "uri_folder", "path": p} for name, p in paths.items()}
    args = {name: f"${{{{inputs.{name}}}}}" for name in paths}
    out = tmp_path / "out" / "job.yaml"
    out.parent.mkdir()
    assert main(["export", str(_io_job(tmp_path, args, inputs)), "-o", str(out)]) == 0
    written = {name: i["path"] for name, i in yaml.safe_load(out.read_text())["inputs"].items()}
    # the SDK's own dump would write "azureml:https://..." and "azureml:/abs/localdata"
    assert written == {**paths, "local": "../localdata"}
    loaded = {name: i.path for name, i in load_job(out).inputs.items()}
    assert {k: loaded[k] for k in ("https", "wasbs", "store")} == {
        k: paths[k] for k in ("https", "wasbs", "store")
    }


def test_export_and_validate_write_secret_arguments_and_paths_as_stars(tmp_path, capsys):
    key = "sk-" + "SUPERSECRET" + "abcdefghijklmnop1234"
    sas = "https://a.blob.core.windows.net/c?sv=2022-11-02&se=2030-01-01&sr=c&" + "sig=" + "abcdef" * 4
    job = _io_job(
        tmp_path,
        {"data": "${{inputs.d}}", "api-key": key, "lr": 0.1},
        {"d": {"type": "uri_folder", "path": sas}},
    )
    assert main(["export", str(job)]) == 0
    out, err = capsys.readouterr()
    exported_doc = yaml.safe_load(out)
    assert "--api-key *** " in exported_doc["command"]
    assert exported_doc["inputs"]["d"]["path"] == sas.replace(
        "abcdef" * 4, "***"
    )  # only the signature hidden
    assert "argument `--api-key`, input d's path looked like secrets" in err
    assert main(["validate", str(job)]) == 1  # the offline checks refuse both, before any sign-in
    out, err = capsys.readouterr()
    assert key not in out + err and "sig=" not in out + err and "--api-key ***" in out
    assert "secret-in-args" in out and "secret-in-input-path" in out


def test_a_sweep_exports_its_trials_secrets_as_stars_too(tmp_path, capsys):
    secret = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    job = write(
        tmp_path / "s.yml",
        f"""
        type: sweep
        trial:
          command: python x.py --lr ${{{{search_space.lr}}}}
          environment: azureml:e:1
          environment_variables: {{GITHUB_TOKEN: {secret}}}
        search_space: {{lr: {{type: choice, values: [0.1, 0.2]}}}}
        objective: {{primary_metric: acc, goal: maximize}}
        limits: {{max_total_trials: 2}}
        """,
    )
    assert main(["export", str(job)]) == 0
    out, err = capsys.readouterr()
    assert (
        secret not in out + err
        and yaml.safe_load(out)["trial"]["environment_variables"]["GITHUB_TOKEN"] == "***"
    )


@pytest.mark.slow
def test_export_in_a_fresh_interpreter_prints_nothing_from_the_sdk_on_stderr():
    """azure-ai-ml's first import sets its own logger to INFO with a stderr handler, so SDK log noise must
    be silenced after that import: the sample's GPU environment file has a ``name``, for which
    azure-ai-ml logs "the provided asset name ... will not be used for anonymous registration"."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "azure_trainer", "export", "jobs/digits.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["environment"] == "file:environments/gpu.yaml"
    assert result.stderr == ""

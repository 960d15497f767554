"""Tests of the Azure ML side: build_job(config) -> azure.ai.ml job, to_yaml(job) -> CLI v2 YAML, export.

No network and no credentials: building and dumping SDK entities is local.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
import yaml

from azure_trainer.azureml.build import build_job, to_yaml
from azure_trainer.cli import main
from azure_trainer.config import load_config
from azure_trainer.errors import ConfigError

pytest.importorskip("azure.ai.ml")

from azure.ai.ml import load_job  # noqa: E402
from azure.ai.ml.entities import Command, Environment  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
JOBS = sorted((REPO / "jobs").glob("*.yaml"))
TRAIN_SCRIPTS = REPO / "train_scripts"
GPU_ENV_YAML = REPO / "environments" / "gpu.yaml"
CPU_ENV_YAML = REPO / "environments" / "cpu.yaml"
REGISTRY_REF = "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest"

FULL_JOB = f"""
experiment: exp-1
display_name: my run
description: everything at once
tags: {{team: ml, n: 3}}
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
compute: {{gpu: gpu-cluster, cpu: cpu-cluster}}
environment: {{gpu: azureml:torch-gpu:7, cpu: azureml:torch-cpu@latest}}
inputs:
  data: {{type: uri_folder, path: azureml:digits:2, mode: download}}
  table: {{type: uri_file, path: azureml://datastores/workspaceblobstore/paths/x.csv, mode: ro_mount}}
outputs:
  model: {{type: uri_folder, mode: upload}}
  ckpt: {{type: uri_folder, mode: rw_mount}}
instance_count: 2
distribution: {{type: pytorch, process_count_per_instance: 4}}
shm_size: 32g
timeout: 7200
queue: {{job_tier: Standard, priority: HIGH}}
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
    head = f"experiment: exp\ncode: {TRAIN_SCRIPTS}\nscript: train.py\n"
    return write(tmp_path / name, head + textwrap.dedent(extra).lstrip("\n"))


def strip_azureml(ref: object) -> object:
    return ref.removeprefix("azureml:") if isinstance(ref, str) else ref


def export_and_load(job, tmp_path: Path, name: str = "exported.yaml"):
    text = to_yaml(job)
    path = tmp_path / name
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
    config = load_config(job, use_gpu=use_gpu)
    built = build_job(config)
    text, loaded = export_and_load(built, tmp_path)
    doc = yaml.safe_load(text)
    is_sweep = config.sweep is not None
    assert doc["type"] == ("sweep" if is_sweep else "command")
    assert "component" not in doc
    trial = doc["trial"] if is_sweep else doc
    assert trial["environment_variables"]["AZURE_TRAINER_REQUIRE_GPU"] == ("1" if use_gpu else "0")
    assert strip_azureml(doc["compute"]) == ("gpu-cluster" if use_gpu else "cpu-cluster")
    assert trial["resources"].get("shm_size") == ("16g" if use_gpu else None)
    assert doc["experiment_name"] == config.experiment
    assert doc["tags"]["azure-trainer.use_gpu"] == str(use_gpu).lower()
    assert loaded.experiment_name == config.experiment
    assert loaded.compute == ("gpu-cluster" if use_gpu else "cpu-cluster")


# ---------------------------------------------------------------------------------------------
# what the built job carries
# ---------------------------------------------------------------------------------------------


def test_full_job_fields(tmp_path):
    job = build_job(load_config(write(tmp_path / "job.yaml", FULL_JOB)))
    assert isinstance(job, Command)
    assert job.experiment_name == "exp-1"
    assert job.display_name == "my run"
    assert job.description == "everything at once"
    assert job.tags == {"team": "ml", "n": "3", "azure-trainer.use_gpu": "true"}
    assert job.compute == "gpu-cluster"
    assert job.environment == "azureml:torch-gpu:7"
    assert job.command.startswith("python train.py --lr 0.1 --name ")
    assert "--amp --layers 1 2 3 --data ${{inputs.data}} --out ${{outputs.model}}" in job.command
    assert "--off" not in job.command
    assert job.distribution.type == "pytorch"
    assert job.distribution.process_count_per_instance == 4
    assert job.resources.instance_count == 2
    assert job.resources.shm_size == "32g"
    assert job.limits.timeout == 7200
    assert (job.queue_settings.job_tier, job.queue_settings.priority) == ("standard", "high")
    assert job.environment_variables == {
        "OMP_NUM_THREADS": "4",
        "NCCL_DEBUG": "INFO",
        "AZURE_TRAINER_REQUIRE_GPU": "1",
    }
    data = input_data(job.inputs["data"])
    assert (data.type, data.path, data.mode) == ("uri_folder", "azureml:digits:2", "download")
    table = input_data(job.inputs["table"])
    assert (table.type, table.mode) == ("uri_file", "ro_mount")
    model = input_data(job.outputs["model"])
    assert (model.type, model.mode) == ("uri_folder", "upload")
    assert input_data(job.outputs["ckpt"]).mode == "rw_mount"
    assert Path(str(job.code)) == TRAIN_SCRIPTS


def test_full_job_on_cpu(tmp_path):
    job = build_job(load_config(write(tmp_path / "job.yaml", FULL_JOB), use_gpu=False))
    assert job.compute == "cpu-cluster"
    assert job.environment == "azureml:torch-cpu@latest"
    assert job.environment_variables["AZURE_TRAINER_REQUIRE_GPU"] == "0"
    assert job.tags["azure-trainer.use_gpu"] == "false"
    assert job.resources.shm_size == "32g"  # explicit value wins on both devices


def test_mpi_distribution(tmp_path):
    path = job_file(
        tmp_path,
        """
        environment: azureml:e:1
        instance_count: 3
        distribution: {type: mpi, process_count_per_instance: 2}
        """,
    )
    job = build_job(load_config(path))
    assert job.distribution.type == "mpi"
    assert job.distribution.process_count_per_instance == 2
    assert job.resources.instance_count == 3


def test_no_distribution_no_queue_no_timeout(tmp_path):
    job = build_job(load_config(job_file(tmp_path, "environment: azureml:e:1\n")))
    assert job.distribution is None
    assert job.queue_settings is None
    assert job.limits is None or job.limits.timeout is None
    assert job.resources.instance_count == 1
    assert job.resources.shm_size is None


@pytest.mark.parametrize("use_gpu, size", [(True, "Standard_NC6s_v3"), (False, "Standard_DS3_v2")])
def test_serverless_instance_type(tmp_path, use_gpu, size):
    path = job_file(
        tmp_path,
        """
        environment: azureml:e:1
        instance_type: {gpu: Standard_NC6s_v3, cpu: Standard_DS3_v2}
        """,
    )
    job = build_job(load_config(path, use_gpu=use_gpu))
    assert job.compute is None
    assert job.resources.instance_type == size
    text, loaded = export_and_load(job, tmp_path)
    assert "compute" not in yaml.safe_load(text)
    assert loaded.resources.instance_type == size


@pytest.mark.parametrize("ref", [REGISTRY_REF, "azureml:my-env:3", "azureml:my-env@latest"])
def test_environment_reference_is_passed_as_is(tmp_path, ref):
    job = build_job(load_config(job_file(tmp_path, f"environment: {ref}\n")))
    assert job.environment == ref


@pytest.mark.parametrize("use_gpu, env_file", [(True, GPU_ENV_YAML), (False, CPU_ENV_YAML)])
def test_local_environment_yaml_becomes_an_environment_entity(tmp_path, use_gpu, env_file):
    path = job_file(
        tmp_path,
        f"""
        compute: c
        environment: {{gpu: {GPU_ENV_YAML}, cpu: {CPU_ENV_YAML}}}
        """,
    )
    job = build_job(load_config(path, use_gpu=use_gpu))
    assert isinstance(job.environment, Environment)
    declared = yaml.safe_load(env_file.read_text())
    assert job.environment.image == declared["image"]
    assert job.environment.name == declared["name"]
    assert ("cuda" in job.environment.image) is use_gpu
    _, loaded = export_and_load(job, tmp_path)
    assert isinstance(loaded.environment, Environment)
    assert loaded.environment.image == declared["image"]


def test_invalid_environment_yaml_is_a_config_error(tmp_path):
    write(tmp_path / "env.yaml", "name: e\nimage: [not, an, image]\nunknown_field: 1\n")
    path = job_file(tmp_path, "environment: env.yaml\n")
    with pytest.raises(ConfigError) as info:
        build_job(load_config(path))
    assert info.value.key_path == "environment.cpu"


def test_literal_inputs_are_built(tmp_path):
    path = job_file(
        tmp_path,
        """
        environment: azureml:e:1
        inputs:
          n: 5
          lr: {type: number, default: 0.5}
        args:
          n: ${{inputs.n}}
          lr: ${{inputs.lr}}
        """,
    )
    job = build_job(load_config(path))
    assert job.component.inputs["n"].type == "integer"
    assert job.component.inputs["n"].default == 5
    assert job.component.inputs["lr"].default == 0.5


def test_exported_literal_inputs_keep_their_values(tmp_path):
    # BUG: literal inputs are built as Input(type=..., default=...), which sets the *component's* default
    # but binds no value to the job's input; to_yaml dumps the CommandJob, so the exported YAML has no
    # `inputs.n` at all while the command still says ${{inputs.n}} (az ml job create -f then fails / the
    # value is lost). Fix in builder.build_job: bind literal inputs by value (inputs[name] = item.default).
    path = job_file(
        tmp_path,
        """
        environment: azureml:e:1
        inputs:
          n: 5
          flag: true
        args:
          n: ${{inputs.n}}
          flag: ${{inputs.flag}}
        """,
    )
    text, loaded = export_and_load(build_job(load_config(path)), tmp_path)
    assert yaml.safe_load(text)["inputs"] == {"n": 5, "flag": True}
    assert set(loaded.inputs) == {"n", "flag"}


@pytest.mark.parametrize(
    "extra, key",
    [
        ("args: {data: '${{inputs.data}}'}\n", "args"),
        ("args: {out: '${{outputs.model}}'}\ninputs: {model: {path: azureml:m:1}}\n", "args"),
    ],
)
def test_placeholder_to_undeclared_name_is_config_error(tmp_path, extra, key):
    path = job_file(tmp_path, "environment: azureml:e:1\n" + extra)
    with pytest.raises(ConfigError) as info:
        build_job(load_config(path))
    assert info.value.key_path == key
    assert "names no declared" in info.value.detail


def test_command_placeholder_to_undeclared_output(tmp_path):
    path = write(
        tmp_path / "job.yaml",
        f"""
        experiment: e
        code: {TRAIN_SCRIPTS}
        command: python train.py --data ${{{{inputs.data}}}} --out ${{{{outputs.nope}}}}
        environment: azureml:e:1
        inputs: {{data: {{path: azureml:d:1}}}}
        outputs: {{model: {{}}}}
        """,
    )
    with pytest.raises(ConfigError) as info:
        build_job(load_config(path))
    assert (info.value.key_path, info.value.line) == ("command", 3)
    assert "outputs.nope" in info.value.detail and "declared: model" in info.value.detail


def test_job_name_is_passed(tmp_path):
    job = build_job(load_config(job_file(tmp_path, "environment: azureml:e:1\n")), name="my-job-1")
    assert job.name == "my-job-1"


# ---------------------------------------------------------------------------------------------
# export round trip: to_yaml -> file -> azure.ai.ml.load_job
# ---------------------------------------------------------------------------------------------


def test_export_round_trip_full_job(tmp_path):
    job = build_job(load_config(write(tmp_path / "job.yaml", FULL_JOB)))
    text, loaded = export_and_load(job, tmp_path)
    doc = yaml.safe_load(text)
    assert text.startswith("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n")
    assert "component" not in doc
    assert doc["type"] == "command"

    assert loaded.command == job.command
    assert loaded.compute == "gpu-cluster"
    assert strip_azureml(loaded.environment) == "torch-gpu:7"
    assert loaded.distribution.type == "pytorch"
    assert loaded.distribution.process_count_per_instance == 4
    assert loaded.environment_variables == job.environment_variables
    assert set(loaded.inputs) == {"data", "table"}
    data = input_data(loaded.inputs["data"])
    assert (data.type, strip_azureml(data.path), data.mode) == ("uri_folder", "digits:2", "download")
    table = input_data(loaded.inputs["table"])
    assert (table.type, table.path, table.mode) == (
        "uri_file",
        "azureml://datastores/workspaceblobstore/paths/x.csv",
        "ro_mount",
    )
    assert set(loaded.outputs) == {"model", "ckpt"}
    assert input_data(loaded.outputs["model"]).mode == "upload"
    assert input_data(loaded.outputs["ckpt"]).mode == "rw_mount"
    assert loaded.resources.instance_count == 2
    assert loaded.resources.shm_size == "32g"
    assert (loaded.queue_settings.job_tier, loaded.queue_settings.priority) == ("standard", "high")
    assert loaded.experiment_name == "exp-1"
    assert loaded.display_name == "my run"
    assert loaded.limits.timeout == 7200
    assert loaded.tags == {"team": "ml", "n": "3", "azure-trainer.use_gpu": "true"}
    # and dumping the loaded job again gives the same document
    assert yaml.safe_load(to_yaml(loaded)) == doc


def test_export_is_deterministic(tmp_path):
    path = write(tmp_path / "job.yaml", FULL_JOB)
    assert to_yaml(build_job(load_config(path))) == to_yaml(build_job(load_config(path)))


@pytest.mark.parametrize(
    "flag, compute, require", [("--gpu", "gpu-cluster", "1"), ("--cpu", "cpu-cluster", "0")]
)
def test_cli_export_to_file(tmp_path, capsys, monkeypatch, flag, compute, require):
    monkeypatch.chdir(REPO)
    out = tmp_path / "exported.yaml"
    assert main(["export", "jobs/digits.yaml", flag, "--set", "args.epochs=2", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"wrote {out}" in captured.err
    text = out.read_text()
    assert "component:" not in text
    loaded = load_job(out)
    assert loaded.compute == compute
    assert loaded.environment_variables["AZURE_TRAINER_REQUIRE_GPU"] == require
    assert loaded.command.startswith("python train.py --epochs 2 --seed 0 ")
    assert loaded.experiment_name == "digits"
    assert set(loaded.outputs) == {"model", "checkpoints"}
    assert loaded.resources.shm_size == ("16g" if flag == "--gpu" else None)


def test_cli_export_to_stdout_equals_to_yaml(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["export", "jobs/digits-ddp.yaml", "--gpu"]) == 0
    out = capsys.readouterr().out
    assert out == to_yaml(build_job(load_config("jobs/digits-ddp.yaml", use_gpu=True)))
    doc = yaml.safe_load(out)
    assert doc["distribution"] == {"type": "pytorch", "process_count_per_instance": 1}
    assert doc["resources"]["instance_count"] == 2
    assert doc["environment"] == REGISTRY_REF


def test_cli_export_unwritable_output(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code = main(["export", "jobs/digits.yaml", "-o", str(tmp_path / "no" / "such" / "dir" / "x.yaml")])
    assert code == 2  # a bad -o is bad input
    err = capsys.readouterr().err
    assert err.startswith("azure-trainer: error: -o ") and "cannot write there" in err
    assert err.count("\n") == 1


def test_export_and_dry_run_never_print_a_secret(tmp_path, capsys):
    """Secret-looking env values are written as *** (unless allowed), with a warning naming the variable."""
    from azure_trainer import load_config, submit
    from azure_trainer.cli import main

    secret = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "t.py").write_text("")
    job = tmp_path / "job.yaml"
    job.write_text(
        "experiment: e\ncode: src\nscript: t.py\nenvironment: azureml:env:1\n"
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
                "experiment": "e",
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
    from azure.ai.ml import load_job

    from azure_trainer.cli import main

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
    out = tmp_path / "out.yaml"
    assert main(["export", str(_io_job(tmp_path, args, inputs)), "-o", str(out)]) == 0
    written = {name: i["path"] for name, i in yaml.safe_load(out.read_text())["inputs"].items()}
    # the SDK's own dump would write "azureml:https://..." and "azureml:/abs/localdata"
    assert written == {**paths, "local": str((tmp_path / "localdata").resolve())}
    loaded = {name: i.path for name, i in load_job(out).inputs.items()}
    assert {k: loaded[k] for k in ("https", "wasbs", "store")} == {
        k: paths[k] for k in ("https", "wasbs", "store")
    }


def test_export_and_validate_write_secret_arguments_and_paths_as_stars(tmp_path, capsys):
    from azure_trainer.cli import main

    key = "sk-" + "SUPERSECRET" + "abcdefghijklmnop1234"
    sas = "https://a.blob.core.windows.net/c?sv=2022-11-02&se=2030-01-01&sr=c&" + "sig=" + "abcdef" * 4
    job = _io_job(
        tmp_path,
        {"data": "${{inputs.d}}", "api-key": key, "lr": 0.1},
        {"d": {"type": "uri_folder", "path": sas}},
    )
    assert main(["export", str(job)]) == 0
    out, err = capsys.readouterr()
    exported = yaml.safe_load(out)
    assert "--api-key *** " in exported["command"]
    assert exported["inputs"]["d"]["path"] == sas.replace("abcdef" * 4, "***")  # only the signature hidden
    assert "argument `--api-key`, input d's path looked like secrets" in err
    assert main(["validate", str(job)]) == 1  # the offline checks refuse both, before any sign-in
    out, err = capsys.readouterr()
    assert key not in out + err and "sig=" not in out + err and "--api-key ***" in out
    assert "secret-in-args" in out and "secret-in-input-path" in out

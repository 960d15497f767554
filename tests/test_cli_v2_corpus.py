"""An Azure ML CLI v2 job YAML is an azure-trainer job config, as it is.

Every file of ``tests/fixtures/cli_v2/{command,sweep}`` (written for these tests, each modelled on a public
azureml-examples job or an azure-ai-ml test config, named in its first comment) is validated, planned,
built and exported, and compared field by field with what ``azure.ai.ml.load_job`` builds from the same
file: the CLI v2 document of the job (``_to_dict``) and the REST body it would send (``_to_rest_object``).
The only differences allowed are the ones README documents ``use_gpu`` adding: the contract's
``AZURE_TRAINER_*`` variables and the ``azure-trainer.use_gpu`` tag. The SDK is imported once, for the
module; nothing here starts a process.
"""

from __future__ import annotations

import copy
import os
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from azure_trainer.cli import main
from azure_trainer.config import load_config
from azure_trainer.contract import contract_env
from azure_trainer.planning.spec import plan

CORPUS = Path(__file__).resolve().parent / "fixtures" / "cli_v2"
FILES = sorted([*CORPUS.glob("command/*.yml"), *CORPUS.glob("sweep/*.yml")])
USE_GPU_TAG = "azure-trainer.use_gpu"


@pytest.fixture(scope="module")
def sdk():
    """azure.ai.ml, imported once for the module (its logs quieted as the CLI quiets them)."""
    from azure_trainer.azureml.build import quiet_sdk_logs

    quiet_sdk_logs()
    import azure.ai.ml

    return azure.ai.ml


def job_dict(job: Any) -> dict[str, Any]:
    """A built job as its CLI v2 document, as azure-ai-ml writes it."""
    from azure_trainer.azureml import _sdk

    return _sdk.job_of_node(job)._to_dict()


def rest_body(job: Any) -> dict[str, Any]:
    """What creating the job would send (the REST body), as plain data. An anonymous environment is sent
    once registered, by its name and content hash: it stands for itself by those two."""
    from azure_trainer.azureml import _sdk

    body = _sdk.job_of_node(job)._to_rest_object().as_dict()
    props = body["properties"]
    for holder in (props, props.get("trial") or {}):
        env = holder.get("environmentId")
        if env is not None and not isinstance(env, str):
            holder["environmentId"] = f"{env.name}:{env.version}"
    return body


def absolute(path: Any, folder: Path) -> Any:
    """A local path (as azure-ai-ml keeps it: maybe relative, maybe with its ``azureml:`` dump prefix) made
    absolute against ``folder``; anything else as it is."""
    if not isinstance(path, str):
        return path
    bare = re.sub(r"^azureml:(?=[./]|file:)", "", path).removeprefix("file:")
    if bare.startswith((".", "/")) or bare.startswith("..") or (folder / bare).exists():
        return str((folder / bare).resolve())
    return path


def normalise_paths(doc: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Local code and input paths made absolute (load_job keeps them relative to the file's folder)."""
    doc = copy.deepcopy(doc)
    props = (
        doc.get("properties")
        if isinstance(doc.get("properties"), dict) and "jobType" in doc["properties"]
        else None
    )
    for holder in [doc, doc.get("trial"), props, (props or {}).get("trial")]:
        if not isinstance(holder, dict):
            continue
        for key in ("code", "codeId"):
            if key in holder:
                holder[key] = absolute(holder[key], folder)
        for item in (holder.get("inputs") or {}).values():
            if isinstance(item, dict):
                for key in ("path", "uri"):
                    if key in item:
                        item[key] = absolute(item[key], folder)
    return doc


def without_additions(doc: dict[str, Any], use_gpu: bool, metric: str | None) -> dict[str, Any]:
    """``doc`` (ours) with exactly the documented additions taken out; fails if any is missing or wrong."""
    doc = copy.deepcopy(doc)
    props = doc["properties"] if "jobType" in doc.get("properties", {}) else doc
    tags = props["tags"]
    assert tags.pop(USE_GPU_TAG) == str(use_gpu).lower()
    holder = props.get("trial", props)
    key = "environmentVariables" if "environmentVariables" in holder else "environment_variables"
    env = holder[key]
    for name, value in contract_env(use_gpu, metric).items():
        assert env.pop(name) == value
    return doc


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_corpus_file_builds_what_load_job_builds(path: Path, sdk, capsys, monkeypatch, tmp_path):
    from azure_trainer.azureml.build import build_job, to_yaml

    monkeypatch.chdir(tmp_path)  # az ml's default experiment name is the folder's: the same for both
    assert path.read_text(encoding="utf-8").startswith("# follows: "), "name what the file follows"
    theirs = sdk.load_job(path)

    # validate: the CLI accepts it as it is
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    assert ": valid\n" in capsys.readouterr().out

    spec = plan(load_config(path))
    ours = build_job(spec)
    assert type(ours) is type(theirs)
    metric = spec.objective_metric
    folder = path.parent
    expected = normalise_paths(job_dict(theirs), folder)
    assert normalise_paths(without_additions(job_dict(ours), False, metric), folder) == expected
    expected_rest = normalise_paths(rest_body(theirs), folder)
    assert normalise_paths(without_additions(rest_body(ours), False, metric), folder) == expected_rest

    # export: written relative to where it is saved, read back by load_job: the same job again
    out = tmp_path / "exported" / "job.yml"
    out.parent.mkdir()
    out.write_text(to_yaml(spec, relative_to=out.parent), encoding="utf-8")
    exported = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert not any(isinstance(v, str) and v.startswith(str(CORPUS)) for v in _leaves(exported)), (
        "an exported local path is absolute"
    )
    again = sdk.load_job(out)
    assert normalise_paths(without_additions(job_dict(again), False, metric), out.parent) == expected
    assert_same_fields(path, exported, metric)


def _leaves(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return [leaf for v in obj.values() for leaf in _leaves(v)]
    if isinstance(obj, list):
        return [leaf for v in obj for leaf in _leaves(v)]
    return [obj]


def _key_paths(obj: Any, prefix: str = "") -> set[str]:
    if not isinstance(obj, dict):
        return set()
    out = set()
    for key, value in obj.items():
        here = f"{prefix}.{key}" if prefix else str(key)
        out.add(here)
        if key not in ("properties", "conda_file") or prefix.endswith("resources"):
            out |= _key_paths(value, here)
    return out


def assert_same_fields(path: Path, exported: dict[str, Any], metric: str | None) -> None:
    """The exported file has the original's keys, and only the documented additions besides."""
    original = yaml.safe_load(path.read_text(encoding="utf-8"))
    runs = "trial." if original.get("type") == "sweep" else ""
    added = {"$schema", "type", "tags", f"tags.{USE_GPU_TAG}", f"{runs}environment_variables"}
    added |= {f"{runs}environment_variables.{name}" for name in contract_env(False, metric)}
    assert _key_paths(exported) - _key_paths(original) <= added
    assert _key_paths(original) - _key_paths(exported) <= {"$schema"}


def test_the_corpus_covers_what_real_jobs_use():
    """At least 25 files, and among them every distribution, sampling and early-termination kind, inline
    and file environments, every input and output type and mode, services, identity, queue settings,
    serverless and multi-node jobs."""
    assert len(FILES) >= 25
    docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in FILES]
    runs = [d.get("trial", d) for d in docs]
    distributions = {r["distribution"]["type"] for r in runs if "distribution" in r}
    assert distributions == {"pytorch", "mpi", "tensorflow", "ray"}
    sweeps = [d for d in docs if d.get("type") == "sweep"]
    sampling = {
        s["sampling_algorithm"]
        if isinstance(s["sampling_algorithm"], str)
        else s["sampling_algorithm"]["type"]
        for s in sweeps
    }
    assert sampling == {"random", "grid", "bayesian"}
    assert {s["early_termination"]["type"] for s in sweeps if "early_termination" in s} == {
        "bandit",
        "median_stopping",
        "truncation_selection",
    }
    kinds = {e["type"] for s in sweeps for e in s["search_space"].values()}
    assert kinds == {"choice", "randint", "uniform", "loguniform", "quniform", "qloguniform", "normal",
                     "lognormal", "qnormal", "qlognormal"}  # fmt: skip
    envs = [r["environment"] for r in runs]
    assert any(isinstance(e, str) and e.startswith("file:") for e in envs)
    assert any(isinstance(e, dict) and "build" in e for e in envs)
    assert any(isinstance(e, dict) and "image" in e for e in envs)
    assert any(isinstance(e, str) and e.startswith("azureml://registries/") for e in envs)
    inputs = [
        i for d in docs for i in (d.get("inputs") or {}).values() if isinstance(i, dict) and "path" in i
    ]
    assert {i.get("type", "uri_folder") for i in inputs} >= {
        "uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model"
    }  # fmt: skip
    assert {i["mode"] for i in inputs if "mode" in i} >= {
        "ro_mount",
        "download",
        "direct",
        "eval_mount",
        "eval_download",
    }
    outputs = [o for d in docs for o in (d.get("outputs") or {}).values() if o]
    assert {o["mode"] for o in outputs if "mode" in o} >= {"rw_mount", "upload", "mount", "direct"}
    assert {o.get("type", "uri_folder") for o in outputs} >= {
        "uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model", "triton_model"
    }  # fmt: skip
    assert any(None in (d.get("outputs") or {}).values() for d in docs)
    assert any("services" in d for d in docs) and {d["identity"]["type"].lower() for d in docs if "identity" in d} >= {
        "user_identity", "managed", "amltoken"
    }  # fmt: skip
    assert any("queue_settings" in d for d in docs)
    assert any("compute" not in d for d in docs), "a serverless job"
    assert any(
        (r.get("resources") or {}).get("instance_count", 1) > 1 and "distribution" not in r for r in runs
    )


# ---------------------------------------------------------------------------------------------
# what use_gpu adds to a CLI v2 job, and nothing else
# ---------------------------------------------------------------------------------------------

CIFAR = CORPUS / "command" / "pytorch-cifar-distributed.yml"


def with_use_gpu(tmp_path: Path, source: Path, extra: str) -> Path:
    """``source`` (a corpus job) plus azure-trainer's additions, written next to the corpus files' folders
    so its relative paths keep meaning the same."""
    text = source.read_text(encoding="utf-8")
    text = re.sub(r"^compute: .*$", "", text, flags=re.M) + textwrap.dedent(extra)
    out = source.parent / f".use-gpu-{os.getpid()}-{source.name}"
    out.write_text(text, encoding="utf-8")
    return out


@pytest.fixture
def gpu_variant(tmp_path, request):
    made: list[Path] = []

    def make(source: Path, extra: str) -> Path:
        path = with_use_gpu(tmp_path, source, extra)
        made.append(path)
        return path

    yield make
    for path in made:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize("use_gpu", [True, False], ids=["gpu", "cpu"])
def test_use_gpu_adds_only_what_readme_documents(use_gpu, gpu_variant, sdk, tmp_path, monkeypatch):
    """The azureml-examples PyTorch job with `use_gpu` and a {gpu, cpu} compute builds the original job
    on the chosen compute, plus resources.shm_size 16g (GPU only, when unset), the contract's variables
    and the use_gpu tag."""
    from azure_trainer.azureml.build import build_job

    monkeypatch.chdir(tmp_path)
    variant = gpu_variant(
        CIFAR, "use_gpu: true\ncompute:\n  gpu: azureml:gpu-cluster\n  cpu: azureml:cpu-cluster\n"
    )
    ours = job_dict(build_job(plan(load_config(variant, use_gpu=use_gpu))))
    theirs = job_dict(sdk.load_job(CIFAR))
    theirs["compute"] = "azureml:gpu-cluster" if use_gpu else "azureml:cpu-cluster"
    if use_gpu:
        theirs["resources"]["shm_size"] = "16g"
    assert normalise_paths(without_additions(ours, use_gpu, None), CIFAR.parent) == normalise_paths(
        theirs, CIFAR.parent
    )


def test_use_gpu_keeps_a_shm_size_the_file_sets(gpu_variant, sdk, monkeypatch, tmp_path):
    from azure_trainer.azureml.build import build_job

    monkeypatch.chdir(tmp_path)
    source = CORPUS / "command" / "registry-environment.yml"  # shm_size: 32g
    variant = gpu_variant(source, "use_gpu: true\ncompute: {gpu: gpu-cluster, cpu: cpu-cluster}\n")
    ours = job_dict(build_job(plan(load_config(variant))))
    assert ours["resources"]["shm_size"] == "32g"
    assert ours["environment_variables"]["AZURE_TRAINER_REQUIRE_GPU"] == "1"


def test_an_invented_value_is_never_exported(sdk, tmp_path, monkeypatch):
    """No experiment name, process count, inputs or shared memory the file did not write; az ml's default
    experiment name is said in validate's summary instead."""
    from azure_trainer.azureml.build import to_yaml

    monkeypatch.chdir(tmp_path)
    job = CORPUS / "command" / "dask-nyctaxi.yml"
    text = job.read_text(encoding="utf-8").replace("experiment_name: dask-nyctaxi-example\n", "")
    path = job.parent / f".no-experiment-{os.getpid()}.yml"
    path.write_text(text, encoding="utf-8")
    try:
        spec = plan(load_config(path))
        exported = yaml.safe_load(to_yaml(spec))
        from azure_trainer.planning.summary import summarize

        summary = summarize(spec)
    finally:
        path.unlink()
    assert "experiment_name" not in exported
    assert exported["distribution"] == {"type": "pytorch"}  # no process_count_per_instance
    assert exported["resources"] == {"instance_count": 4}  # no shm_size without use_gpu
    assert set(exported["inputs"]) == {"nyc_taxi_dataset"}
    assert spec.experiment_name == tmp_path.name.replace(" ", "")
    assert f"experiment   {spec.experiment_name} (az ml's default: the current folder's name" in summary


def test_a_command_block_keeps_to_its_column_in_the_summary():
    """A `command: |` block of two lines (code-file.yml, after hello-model-as-input.yml): each line under the
    value column, no blank line for the block's final newline."""
    from azure_trainer.planning.summary import summarize

    lines = summarize(plan(load_config(CORPUS / "command" / "code-file.yml"))).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  command "))
    column = lines[at].index("ls ")
    assert lines[at + 1] == " " * column + "python main.py --model ${{inputs.my_model}}"
    assert lines[at + 2].startswith("  inputs ")
    assert "" not in lines


def test_the_readme_example_is_the_corpus_job_plus_use_gpu(sdk, tmp_path, monkeypatch):
    """README's config section opens with the azureml-examples CIFAR job gaining use_gpu and a {gpu, cpu}
    compute: it validates, and on each side builds the corpus job on that compute plus the documented extras."""
    from azure_trainer.azureml.build import build_job

    monkeypatch.chdir(tmp_path)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The job config") :]
    example = section[
        section.index("```yaml\n") + len("```yaml\n") : section.index("```\n", section.index("```yaml"))
    ]
    path = CORPUS / f".readme-{os.getpid()}.yml"  # next to src/, as `code: src` says
    path.write_text(example, encoding="utf-8")
    try:
        for use_gpu in (True, False):
            ours = job_dict(build_job(plan(load_config(path, use_gpu=use_gpu))))
            theirs = job_dict(sdk.load_job(CIFAR))
            theirs["compute"] = "azureml:gpu-cluster" if use_gpu else "azureml:cpu-cluster"
            if use_gpu:
                theirs["resources"]["shm_size"] = "16g"
            assert normalise_paths(without_additions(ours, use_gpu, None), CORPUS) == normalise_paths(
                theirs, CIFAR.parent
            )
    finally:
        path.unlink()

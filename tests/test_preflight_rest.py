"""Azure ML as it really answers: the api-versions azure-ai-ml sends, the fake's bodies against the
published examples (tests/fixtures/rest, each naming the example it follows), and preflight reading
bodies of exactly those shapes through the real MLClient."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from azure_trainer import load_config, plan, preflight, submit
from azure_trainer.azureml.environment_device import environment_device
from azure_trainer.azureml.lifecycle import list_jobs
from azure_trainer.config.model import Resources

FIXTURES = Path(__file__).parent / "fixtures" / "rest"
GPU_ENV = "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest"


def fixture(name: str) -> dict:
    doc = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert doc["follows"].startswith(("preview/", "stable/")) and doc["api-version"] in doc["follows"]
    return doc


def body(name: str):
    return copy.deepcopy(fixture(name)["body"])


def write_job(tmp_path: Path, body_yaml: str = "") -> Path:
    """A job config; ``body_yaml``'s top-level keys replace the defaults (None removes one)."""
    code = tmp_path / "src"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text("print('hi')\n")
    config = {
        "experiment_name": "exp",
        "code": "src",
        "script": "train.py",
        "use_gpu": True,
        "compute": {"gpu": "gpu-cluster", "cpu": "cpu-cluster"},
        "environment": {"gpu": GPU_ENV, "cpu": "azureml:pytorch-cpu:1"},
        "limits": {"timeout": 3600},
    }
    config.update(yaml.safe_load(textwrap.dedent(body_yaml)) or {})
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({k: v for k, v in config.items() if v is not None}))
    return job


def sweep_of(search_space: str, limits: str = "{max_total_trials: 2}") -> str:
    """A CLI v2 sweep job body for write_job: the defaults' code, script and environment move into its trial."""
    trial = {
        "code": "src",
        "script": "train.py",
        "environment": {"gpu": GPU_ENV, "cpu": "azureml:pytorch-cpu:1"},
    }
    return (
        "type: sweep\ncode: ~\nscript: ~\nargs: ~\nenvironment: ~\n"
        f"trial: {json.dumps(trial)}\nsampling_algorithm: random\n"
        f"search_space: {search_space}\nobjective: {{primary_metric: acc, goal: maximize}}\nlimits: {limits}\n"
    )


def codes(findings) -> list[str]:
    return sorted(f.code for f in findings)


def by_code(findings, code):
    (finding,) = [f for f in findings if f.code == code]
    return finding


@pytest.fixture
def published(fake):
    """The fake, answering with the fixtures' bodies: computes, the region's VM sizes and usages."""
    for name in (
        "compute_amlcompute_retired_size",
        "compute_amlcompute_lowpriority",
        "compute_computeinstance",
        "compute_kubernetes",
    ):
        compute = body(name)
        fake.computes[compute["name"]] = compute
    fake.vm_sizes.clear()
    fake.vm_sizes.update({size["name"]: size for size in body("vm_sizes_eastus")["value"]})
    fake.usages[:] = body("usages_eastus")["value"]
    fake.add_compute("gpu-cluster", "Standard_NC24ads_A100_v4", max_nodes=8)
    fake.add_compute("cpu-cluster", "Standard_DS3_v2", max_nodes=8)
    return fake


# -- shapes: the fake's bodies against the published examples ---------------------------------------------


def shape(obj, free=frozenset()):
    """A body's structure: dict keys (recursively), list items merged, scalars as None. Keys in ``free``
    hold user data (names of instance types, tags...), so only their values' structure counts."""
    if isinstance(obj, dict):
        if free & {"*"}:
            return {"*": _merge([shape(v, free - {"*"}) for v in obj.values()])}
        return {
            k: shape(v, {f[len(k) + 1 :] or "*" for f in free if f.startswith(k + ".") or f == k})
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_merge([shape(v, free) for v in obj])]
    return None


def _merge(shapes):
    dicts = [s for s in shapes if isinstance(s, dict)]
    if not dicts:
        return next((s for s in shapes if s is not None), None)
    merged: dict = {}
    for s in dicts:
        for k, v in s.items():
            merged[k] = _merge([merged.get(k), v])
    return merged


def mismatches(actual, published, path=""):
    """Where ``actual``'s structure differs from ``published``'s (a null on either side matches anything)."""
    if actual is None or published is None:
        return []
    if isinstance(actual, dict) and isinstance(published, dict):
        out = [f"{path}.{k}: not in the published body" for k in actual.keys() - published.keys()]
        out += [f"{path}.{k}: missing" for k in published.keys() - actual.keys()]
        for k in actual.keys() & published.keys():
            out += mismatches(actual[k], published[k], f"{path}.{k}")
        return out
    if isinstance(actual, list) and isinstance(published, list):
        return mismatches(actual[0], published[0], path + "[]")
    return (
        []
        if type(actual) is type(published)
        else [f"{path}: {type(actual).__name__} vs {type(published).__name__}"]
    )


@pytest.mark.parametrize(
    "fixture_name, make",
    [
        ("compute_amlcompute_retired_size", lambda f: f.add_compute("nc6-cluster", "Standard_NC6", 1)),
        (
            "compute_amlcompute_lowpriority",
            lambda f: f.add_compute("a", "Standard_NC24ads_A100_v4", priority="LowPriority"),
        ),
        ("compute_computeinstance", lambda f: f.add_compute_instance("box", "Standard_NC4as_T4_v3")),
        (
            "compute_kubernetes",
            lambda f: f.add_kubernetes_compute("aks", {"defaultinstancetype": 0, "gpu-1": 1}),
        ),
        ("environment_serving_image_named_gpu", lambda f: f.add_environment("e", image="docker.io/x")),
        ("datastore_get", lambda f: f.datastores["workspaceblobstore"]),
    ],
)
def test_the_fakes_resources_have_the_published_shapes(fake, fixture_name, make):
    free = {"properties.properties.instanceTypes", "properties.tags", "properties.properties.nodeSelector"}
    if fixture_name.startswith("environment"):
        free |= {"properties.properties"}
    assert mismatches(shape(make(fake), free), shape(body(fixture_name), free)) == []


def test_the_fakes_vm_sizes_and_usages_have_the_published_shapes(fake):
    published_size = body("vm_sizes_eastus")["value"][0]
    assert mismatches(shape(fake.vm_sizes["Standard_DS3_v2"]), shape(published_size)) == []
    published_usages = body("usages_eastus")["value"]
    for entry in fake.usages:
        assert mismatches(shape(entry), shape(published_usages[0])) == [], entry
    # names in words, the three scopes told apart by the id, as published
    fake.set_usage("standardDSv2Family", 1, 24, scope="workspace")
    fake.set_usage("standardDSv2Family", 1, 24, scope="compute", compute="cpu-cluster")
    ours = {(u["name"]["value"], _scope(u["id"])) for u in fake.usages if "DSv2" in u["name"]["value"]}
    theirs = {(u["name"]["value"], _scope(u["id"])) for u in published_usages if "DSv2" in u["name"]["value"]}
    assert ours == theirs - {("Standard DSv2 Family Cluster Dedicated vCPUs", "workspace:someone-elses-ws")}
    regional = {u["name"]["value"]: u["limit"] for u in fake.usages if u["name"]["value"].startswith("Total")}
    assert set(regional) == {
        "Total Cluster Dedicated Regional vCPUs",
        "Total Cluster LowPriority Regional vCPUs",
    }
    assert {
        u["limit"]
        for u in fake.usages
        if "LowPriority Family" in u["name"]["value"] or "Family Cluster LowPriority" in u["name"]["value"]
    } == {-1}


def _scope(usage_id: str) -> str:
    match = re.search(r"/workspaces/([^/]+)(?:/computes/([^/]+))?/usages/", usage_id)
    if match is None:
        return "subscription"
    return f"compute:{match.group(2)}" if match.group(2) else f"workspace:{match.group(1)}"


def test_the_workspace_code_and_upload_answers_have_the_published_shapes(ml, fake, tmp_path):
    submit(load_config(write_job(tmp_path)), ml)
    answers = {
        "workspace_get": r"/workspaces/ws-fake\?",
        "code_version_created": r"/codes/[^/]+/versions/1\?",
        "pending_upload": r"/startPendingUpload\?",
    }
    for fixture_name, url in answers.items():
        (rec,) = [r for r in fake.requests_matching(None, url) if r.response_json is not None][:1]
        assert (
            mismatches(
                shape(rec.response_json, {"properties.tags", "properties.properties"}),
                shape(body(fixture_name), {"properties.tags", "properties.properties"}),
            )
            == []
        ), fixture_name


def test_a_created_command_job_answers_as_the_published_example(ml, fake, tmp_path):
    result = submit(load_config(write_job(tmp_path, "distribution: {type: pytorch}\n")), ml)
    (put,) = [r for r in fake.requests_matching("PUT", r"/jobs/") if r.status < 300]
    assert (put.query["api-version"], put.status) == ("2025-01-01-preview", 201)
    answer, example = put.response_json, body("job_command_created")
    assert answer.keys() == example.keys()
    # nothing the service would not send; what it adds is there
    published_keys = example["properties"].keys() | {"isArchived"}  # isArchived: the 2024-01-01 examples
    assert answer["properties"].keys() <= published_keys, answer["properties"].keys() - published_keys
    assert answer["properties"]["status"] == example["properties"]["status"] == "NotStarted"
    assert result.status == "NotStarted" and answer["properties"]["parameters"] == {}
    for service in answer["properties"]["services"].values():
        assert service.keys() <= {
            "jobServiceType",
            "port",
            "endpoint",
            "status",
            "errorMessage",
            "properties",
            "nodes",
        }
    assert answer["properties"]["properties"]["_azureml.ClusterName"] == "gpu-cluster"
    assert answer["properties"]["outputs"]["default"]["uri"].endswith(f"ExperimentRun/dcid.{result.name}")


def test_api_versions_on_the_wire(ml, fake, tmp_path, monkeypatch):
    """What azure-ai-ml 1.35 sends, call by call: the api-versions whose published examples the fake and
    the fixtures follow (tests/fixtures/rest/README.md). A new SDK that changes one fails here first."""
    monkeypatch.chdir(tmp_path)
    job = write_job(tmp_path)
    name = submit(load_config(job), ml).name
    sweep = write_job(
        tmp_path,
        sweep_of("{lr: {type: choice, values: [0.1, 0.2]}}"),
    )
    sweep_name = submit(load_config(sweep), ml).name
    ml.jobs.get(name)
    list(ml.jobs.list())
    ml.jobs.begin_cancel(name).result()
    ml.environments.get("pytorch-cpu", version="1")
    fake.set_job_status(sweep_name, "Completed")
    ml.jobs.download(sweep_name, download_path=str(tmp_path / "dl"))
    seen: dict[tuple[str, str], set] = {}
    for rec in fake.requests:
        if "management.azure.com" not in rec.host:
            continue
        call = re.sub(r"^.*/providers/Microsoft\.MachineLearningServices", "", rec.path)
        call = re.sub(r"^/workspaces/[^/]+", "/workspaces/W", call)
        call = re.sub(
            r"/(jobs|computes|environments|codes|datastores|versions|locations)/[^/]+", r"/\1/X", call
        )
        call = re.sub(r"/mfeOperationResults/.+", "/mfeOperationResults/X", call)
        seen.setdefault((rec.method, call.lstrip("/")), set()).add(rec.query.get("api-version"))
    expected = {
        ("GET", "workspaces/W"): {"2024-10-01-preview", "2023-08-01-preview"},
        ("GET", "locations/X/vmSizes"): {"2023-08-01-preview"},
        ("GET", "locations/X/usages"): {"2023-08-01-preview"},
        ("GET", "workspaces/W/computes/X"): {"2023-08-01-preview"},
        ("GET", "workspaces/W/environments/X/versions/X"): {"2023-04-01-preview"},
        ("POST", "workspaces/W/codes/X/versions/X/startPendingUpload"): {"2023-04-01"},
        ("PUT", "workspaces/W/codes/X/versions/X"): {"2023-04-01"},
        ("PUT", "workspaces/W/jobs/X"): {"2025-01-01-preview", "2024-01-01-preview"},  # command, sweep
        ("GET", "workspaces/W/jobs/X"): {"2024-01-01-preview"},
        ("GET", "workspaces/W/jobs"): {"2024-01-01-preview"},
        ("POST", "workspaces/W/jobs/X/cancel"): {"2023-04-01-preview"},
        ("GET", "workspaces/W/datastores/X"): {"2024-10-01-preview"},
    }
    for call, versions in expected.items():
        assert seen.get(call, set()) <= versions and seen.get(call), (call, seen.get(call))
    sweep_put = [r for r in fake.requests_matching("PUT", rf"/jobs/{sweep_name}\?")][0]
    assert (
        sweep_put.query["api-version"] == "2024-01-01-preview"
        and sweep_put.response_json["properties"]["status"] == "Preparing"
    )


def test_job_lists_page_with_next_link(fake):
    paged = type(fake)(page_size=2)
    for i in range(5):
        paged.jobs[f"j{i}"] = {**copy.deepcopy(body("job_completed")), "name": f"j{i}"}
        paged.jobs[f"j{i}"]["systemData"]["createdAt"] = f"2026-01-0{i + 1}T00:00:00.000Z"
    with paged.patch_sdk():
        ml = paged.ml_client()
        assert [j["name"] for j in list_jobs(ml, limit=20)] == ["j4", "j3", "j2", "j1", "j0"]
        lists = paged.requests_matching("GET", r"/jobs\?")
        assert [r.query.get("$skipToken") for r in lists] == [None, "2", "4"]
        assert "nextLink" in lists[0].response_json and "nextLink" not in lists[-1].response_json
        assert lists[0].response_json.keys() == fixture("jobs_list_page")["body"].keys()
        paged.requests.clear()
        assert len(list_jobs(ml, limit=3)) == 3
        assert len(paged.requests_matching("GET", r"/jobs\?")) == 2  # a limit reads only the pages it needs


def test_cancel_answers_202_with_a_location_header_only(ml, fake, tmp_path):
    name = submit(load_config(write_job(tmp_path)), ml).name
    ml.jobs.begin_cancel(name).result()
    (cancel,) = fake.requests_matching("POST", r"/cancel\?")
    published = fixture("job_cancel_accepted")
    assert cancel.status == published["status"] == 202
    assert cancel.response_headers.keys() == published["headers"].keys() == {"Location"}
    assert cancel.response_json is None
    (poll,) = fake.requests_matching("GET", r"/mfeOperationResults/")
    assert poll.url == cancel.response_headers["Location"] and poll.status == 200
    assert fake.jobs[name]["properties"]["status"] == "Canceled"


# -- preflight reads those shapes --------------------------------------------------------------------------


def test_quota_is_read_by_the_published_usage_names(published, tmp_path):
    ml = published.ml_client()
    # 6 x Standard_DS3_v2 = 24 vCPUs; the subscription, this workspace and the cluster: 2 of 24 in use
    cpu_job = write_job(
        tmp_path, "resources: {instance_count: 6}\ndistribution: {type: pytorch}\nuse_gpu: false\n"
    )
    finding = by_code(preflight(load_config(cpu_job), ml), "quota")
    assert (
        finding.severity == "warning"
        and "24 dedicated vCPUs" in finding.message
        and "2 of 24" in finding.message
    )
    assert "Standard DSv2 Family Cluster Dedicated vCPUs" in finding.message
    # another workspace's limit of 0 is not this workspace's
    assert "quota-exceeded" not in codes(preflight(load_config(cpu_job), ml))
    # 5 x Standard_NC24ads_A100_v4 = 120 vCPUs against a limit of 48: it can never run
    gpu_job = write_job(tmp_path, "resources: {instance_count: 5}\ndistribution: {type: pytorch}\n")
    finding = by_code(preflight(load_config(gpu_job), ml), "quota-exceeded")
    assert (
        finding.is_error and "needs 120 dedicated vCPUs" in finding.message and "allows 48" in finding.message
    )
    assert "quota" not in codes(preflight(load_config(gpu_job), ml))
    assert codes(preflight(load_config(write_job(tmp_path)), ml)) == []  # 24 + 2 of 48: fine


def test_low_priority_quota_is_the_regional_total_and_minus_one_is_no_limit(published, tmp_path):
    ml = published.ml_client()
    spot = "compute: a100-spot\noutputs: {checkpoints: {type: uri_folder, mode: rw_mount}}\ndistribution: {type: pytorch}\n"
    assert "quota" not in codes(preflight(load_config(write_job(tmp_path, spot)), ml))  # 18 + 24 of 50
    two = preflight(load_config(write_job(tmp_path, spot + "resources: {instance_count: 2}\n")), ml)
    assert "18 of 50" in by_code(two, "quota").message and "low-priority" in by_code(two, "quota").message
    three = preflight(load_config(write_job(tmp_path, spot + "resources: {instance_count: 3}\n")), ml)
    assert (
        by_code(three, "quota-exceeded").is_error
        and "Total Cluster LowPriority Regional vCPUs" in by_code(three, "quota-exceeded").message
    )


def test_a_family_the_region_does_not_list_is_quota_unknown(published, tmp_path):
    published.add_vm_size("Standard_NV36ads_A10_v5", gpus=1, vcpus=36, family="StandardNVADSA10v5Family")
    published.add_compute("a10", "Standard_NV36ads_A10_v5")
    findings = preflight(load_config(write_job(tmp_path, "compute: a10\n")), published.ml_client())
    assert by_code(findings, "quota-unknown").severity == "warning"


def test_low_priority_or_spot_without_a_checkpoint_output_is_warned_about(published, tmp_path):
    ml = published.ml_client()
    warned = by_code(
        preflight(load_config(write_job(tmp_path, "compute: a100-spot\n")), ml),
        "preemptible-without-checkpoint",
    )
    assert "low-priority" in warned.message and "--checkpoint-dir" in warned.message
    with_output = "compute: a100-spot\nargs: {checkpoint-dir: '${{outputs.ckpt}}'}\noutputs: {ckpt: {type: uri_folder}}\n"
    assert "preemptible-without-checkpoint" not in codes(
        preflight(load_config(write_job(tmp_path, with_output)), ml)
    )
    spot = (
        "compute: ~\nresources: {instance_type: Standard_NC24ads_A100_v4}\nqueue_settings: {job_tier: spot}\n"
    )
    warned = by_code(preflight(load_config(write_job(tmp_path, spot)), ml), "preemptible-without-checkpoint")
    assert "job_tier is spot" in warned.message


def test_nodes_are_checked_whenever_the_max_is_known(published, tmp_path):
    ml = published.ml_client()
    # the published example's cluster: STANDARD_NC6 (in no size list), maxNodeCount 1
    findings = preflight(
        load_config(
            write_job(
                tmp_path,
                "compute: nc6-cluster\nresources: {instance_count: 2}\ndistribution: {type: pytorch}\n",
            )
        ),
        ml,
    )
    assert codes(findings) == ["too-many-nodes", "vm-size-unknown"]
    assert (
        by_code(findings, "too-many-nodes").is_error
        and "at most 1 node" in by_code(findings, "too-many-nodes").message
    )


def test_a_compute_instance_is_one_node_with_its_vm_sizes_gpus(published, tmp_path):
    ml = published.ml_client()
    assert "gpu-on-cpu-vm" not in codes(
        preflight(load_config(write_job(tmp_path, "compute: my-t4-box\n")), ml)
    )
    two = preflight(
        load_config(
            write_job(
                tmp_path,
                "compute: my-t4-box\nresources: {instance_count: 2}\ndistribution: {type: pytorch}\n",
            )
        ),
        ml,
    )
    assert "compute instance 'my-t4-box' has at most 1 node" in by_code(two, "too-many-nodes").message
    assert "quota" not in codes(two)  # a compute instance holds its cores already


def test_kubernetes_instance_types_give_the_gpus(published, tmp_path):
    ml = published.ml_client()
    spec = plan(load_config(write_job(tmp_path, "compute: aks-gpu\n")))
    findings = preflight(spec, ml)  # the default instance type asks for no GPU
    assert (
        "instance type defaultinstancetype of Kubernetes compute 'aks-gpu' has no GPU"
        in by_code(findings, "gpu-on-cpu-vm").message
    )
    assert codes(preflight(dataclasses.replace(spec, resources=Resources(instance_type="gpu-1")), ml)) == []
    unknown = by_code(
        preflight(dataclasses.replace(spec, resources=Resources(instance_type="gpu-8")), ml),
        "instance-type-unknown",
    )
    assert "(it has: defaultinstancetype, gpu-1)" in unknown.message


def test_cuda_or_not_comes_from_the_image_and_the_pins_the_name_only_a_hint(published, tmp_path):
    ml = published.ml_client()
    for name in ("environment_serving_image_named_gpu", "environment_ubuntu_torch_cu121"):
        env = body(name)
        env_name = env["id"].split("/environments/")[1].split("/")[0]
        published.environments.setdefault(env_name, {})[env["name"]] = env
    serving = write_job(
        tmp_path, 'environment: {gpu: "azureml:pytorch-gpu:1", cpu: "azureml:pytorch-cpu:1"}\n'
    )
    finding = by_code(preflight(load_config(serving), ml), "environment-device-unknown")
    assert finding.severity == "warning" and "docker.io/tensorflow/serving:latest" in finding.message
    assert "only its name 'pytorch-gpu' suggests CUDA" in finding.message
    cu121 = write_job(tmp_path, 'environment: {gpu: "azureml:torch-cu121:3", cpu: "azureml:torch-cu121:3"}\n')
    assert codes(preflight(load_config(cu121), ml)) == []  # Ubuntu image + torch+cu121: CUDA
    on_cpu = preflight(load_config(cu121, use_gpu=False), ml)
    assert "torch==2.5.1+cu121" in by_code(on_cpu, "cuda-environment-on-cpu").message


@pytest.mark.parametrize(
    "image, conda, name, device, evidence",
    [
        (
            "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
            {"dependencies": [{"pip": ["torch==2.5.1+cu121"]}]},
            None,
            "cuda",
            "packages",
        ),
        (
            "mcr.microsoft.com/azureml/curated/acpt-pytorch-2.2-cuda12.1:23",
            {"dependencies": [{"pip": ["torch==2.2.2+cpu"]}]},
            None,
            "cpu",
            "packages",
        ),
        (
            "ubuntu:22.04",
            {
                "dependencies": [
                    {"pip": ["--extra-index-url https://download.pytorch.org/whl/cu118", "torch==2.4.0"]}
                ]
            },
            None,
            "cuda",
            "packages",
        ),
        ("ubuntu:22.04", {"dependencies": ["pytorch=2.2", "pytorch-cuda=12.1"]}, None, "cuda", "packages"),
        (
            "ubuntu:22.04",
            {"dependencies": [{"pip": ["torch==2.3.0", "nvidia-cudnn-cu12==8.9.2.26"]}]},
            None,
            "cuda",
            "packages",
        ),
        ("ubuntu:22.04", {"dependencies": ["pytorch", "cpuonly"]}, None, "cpu", "packages"),
        ("nvcr.io/nvidia/pytorch:24.01-py3", None, None, "cuda", "image"),
        (
            "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
            {"dependencies": [{"pip": ["torch==2.2.2"]}]},
            "gpu-env",
            "cpu",
            "image",
        ),
        ("docker.io/tensorflow/serving:latest", None, "pytorch-gpu", "cuda", "name"),
        ("docker.io/tensorflow/serving:latest", None, "serving", "unknown", None),
        (
            None,
            "dependencies:\n  - pip:\n    - torch==2.5.1+cu124\n",
            None,
            "cuda",
            "packages",
        ),  # conda file as YAML text
    ],
)
def test_environment_device_evidence(image, conda, name, device, evidence):
    guess = environment_device(image, conda, name)
    assert (guess.device, guess.evidence) == (device, evidence)


# -- no traceback from the SDK -----------------------------------------------------------------------------


def test_an_empty_discovery_answer_on_download_is_one_line(fake, tmp_path, capsys, monkeypatch):
    from azure_trainer.cli import main

    for var, value in (
        ("AZURE_SUBSCRIPTION_ID", fake.subscription_id),
        ("AZURE_RESOURCE_GROUP", fake.resource_group),
        ("AZUREML_WORKSPACE_NAME", fake.workspace_name),
    ):
        monkeypatch.setenv(var, value)
    name = submit(load_config(write_job(tmp_path)), fake.ml_client()).name
    fake.set_job_status(name, "Completed")
    fake.fail_next("GET", r"/discovery", status=200, body=b"", times=10)
    capsys.readouterr()
    code = main(["download", name, "-o", str(tmp_path / "dl")], client_factory=fake.client_factory())
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"downloading job {name}: Azure ML sent an answer that could not be read" in err


def test_an_sdk_validation_error_is_one_line(ml):
    from azure_trainer import AzureMLError
    from azure_trainer.azureml.errors import translated

    with pytest.raises(AzureMLError) as info:
        with translated("looking up environment pytorch-cpu"):
            ml.environments.get("pytorch-cpu")  # neither version nor label: the SDK's ValidationException
    assert str(info.value).startswith("looking up environment pytorch-cpu: ") and "\n" not in str(info.value)


def test_a_created_sweep_the_sdk_cannot_read_is_reported_as_submitted(ml, fake, tmp_path):
    published_space = body("job_sweep_created")["properties"]["searchSpace"]  # {"lr": {}}, as published

    def answer_as_published(name):
        fake.jobs[name]["properties"]["searchSpace"] = {k: dict(v) for k, v in published_space.items()}

    fake.on_job_created = answer_as_published
    sweep = write_job(
        tmp_path,
        sweep_of("{lr: {type: choice, values: [0.1, 0.2]}}"),
    )
    result = submit(load_config(sweep), ml)
    assert result.name in fake.jobs and len(fake.requests_matching("PUT", r"/jobs/")) == 1
    assert result.status == "Submitted"
    (warning,) = result.warnings
    assert f"job {result.name} was created, but azure-ai-ml could not read Azure ML's answer" in warning
    assert f"azure-trainer status {result.name}" in warning

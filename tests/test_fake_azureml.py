"""The real azure-ai-ml MLClient driven over azure_trainer.testing.FakeAzureML (no network)."""

from __future__ import annotations

import re

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from azure_trainer.testing import (
    FailingCredential,
    FakeAzureML,
    FakeCredential,
    block_network,
)

azure_ai_ml = pytest.importorskip("azure.ai.ml")
from azure.ai.ml import command  # noqa: E402


@pytest.fixture
def code_dir(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    (d / "train.py").write_text("print('training')\n")
    (d / "util.py").write_text("X = 1\n")
    return d


def _job(code_dir, name="my-job-1", env="azureml:pytorch-cpu:1", compute="cpu-cluster", experiment="e"):
    return command(
        code=str(code_dir),
        command="python train.py",
        environment=env,
        compute=compute,
        experiment_name=experiment,
        name=name,
    )


# ---------------------------------------------------------------------------------------------- credentials
def test_fake_credential_is_a_token_credential():
    from azure.core.credentials import SupportsTokenInfo, TokenCredential

    cred = FakeCredential()
    assert isinstance(cred, TokenCredential) and isinstance(cred, SupportsTokenInfo)
    tok = cred.get_token("https://management.azure.com/.default")
    assert tok.token == "fake-token" and tok.expires_on > 4_000_000_000
    assert cred.get_token_info("https://management.azure.com/.default").token == "fake-token"


def test_failing_credential_surfaces_as_client_authentication_error(fake):
    ml = fake.ml_client(credential=FailingCredential())
    with pytest.raises(ClientAuthenticationError, match="az login"):
        ml.compute.get("gpu-cluster")
    assert fake.requests == []  # the token is fetched before anything is sent


def test_failing_credential_can_mimic_credential_unavailable():
    from azure.identity import CredentialUnavailableError

    with pytest.raises(CredentialUnavailableError):
        FailingCredential(CredentialUnavailableError).get_token("scope")


# ---------------------------------------------------------------------------------------------- compute
def test_compute_get_list_sizes_usage(ml, fake):
    c = ml.compute.get("gpu-cluster")
    assert (c.type, c.size, c.max_instances, c.min_instances) == (
        "amlcompute",
        "STANDARD_NC24ADS_A100_V4",
        2,
        0,
    )
    assert {x.name for x in ml.compute.list()} == {"gpu-cluster", "cpu-cluster"}

    sizes = {s.name: s for s in ml.compute.list_sizes()}
    a100 = sizes["Standard_NC24ads_A100_v4"]
    assert a100.gpus == 1 and a100.family == "standardNCADSA100v4Family"
    # azure-ai-ml 1.35.2 quirk: VmSize copies the REST JSON into __dict__, the snake_case fields stay None
    assert a100.v_cp_us is None and a100.vCPUs == 24 and a100.memoryGB == 220.0
    assert sizes["Standard_DS3_v2"].gpus == 0

    fake.set_usage("standardNCADSH100v5Family", 40, 80)
    # quirk: name is a dict, currentValue camelCase; the published names are words, not the family id
    usage = {(u.name["value"], u.id) for u in ml.compute.list_usage() if u.currentValue == 40}
    assert usage == {
        (
            "Standard NCADSH100v5 Family Cluster Dedicated vCPUs",
            f"/subscriptions/{fake.subscription_id}/usages/Standard_NCADSH100v5_Family_Cluster_Dedicated_vCPUs",
        )
    }
    assert fake.requests_matching("GET", r"/locations/eastus/usages\?")


def test_unknown_compute_is_resource_not_found(ml, fake):
    with pytest.raises(ResourceNotFoundError, match="computes/nope"):
        ml.compute.get("nope")
    assert fake.requests[-1].status == 404


def test_added_compute_is_visible(ml, fake):
    fake.add_vm_size("Standard_NC40ads_H100_v5", gpus=1, vcpus=40, family="standardNCADSH100v5Family")
    fake.add_compute("h100", "Standard_NC40ads_H100_v5", max_nodes=1)
    assert ml.compute.get("h100").size.lower() == "standard_nc40ads_h100_v5"


# ---------------------------------------------------------------------------------------------- environments
def test_workspace_environment_by_version_and_latest(ml, fake):
    env = ml.environments.get("pytorch-cpu", version="1")
    assert env.image.startswith("mcr.microsoft.com/azureml/") and env.conda_file["name"] == "pytorch-cpu"
    fake.add_environment("pytorch-cpu", version="2", image="myacr.azurecr.io/pt:2")
    assert ml.environments.get("pytorch-cpu", label="latest").version == "2"
    latest_req = fake.requests[-1]
    assert latest_req.query["$top"] == "1" and "createdtime desc" in latest_req.query["$orderBy"]


def test_unknown_workspace_environment(ml):
    with pytest.raises(ResourceNotFoundError):
        ml.environments.get("nope", version="1")
    # by label the SDK lists versions and raises its own ValidationException on an empty list
    with pytest.raises(azure_ai_ml.exceptions.ValidationException, match="does not exist"):
        ml.environments.get("nope", label="latest")


def test_registry_environment(fake):
    reg = fake.ml_client(registry_name="azureml")
    env = reg.environments.get("acpt-pytorch-2.2-cuda12.1", label="latest")
    assert env.image == "mcr.microsoft.com/azureml/curated/acpt-pytorch-2.2-cuda12.1:23"
    assert env.id == "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/versions/23"
    assert fake.requests_matching("GET", r"/registrymanagement/v1\.0/registries/azureml/discovery")
    assert fake.requests_matching("GET", r"^https://cert-eastus\.experiments\.azureml\.net/mferp/")
    with pytest.raises(ResourceNotFoundError):
        reg.environments.get("nope", version="1")


# ---------------------------------------------------------------------------------------------- jobs
def test_create_job_uploads_code_and_sends_one_put(ml, fake, code_dir):
    job = ml.jobs.create_or_update(_job(code_dir))

    puts = fake.requests_matching("PUT", r"/workspaces/ws-fake/jobs/my-job-1\?")
    assert len(puts) == 1
    props = puts[0].json["properties"]
    assert props["jobType"] == "Command" and props["command"] == "python train.py"
    assert props["computeId"] == f"{fake.workspace_arm_id}/computes/cpu-cluster"
    assert props["environmentId"] == f"{fake.workspace_arm_id}/environments/pytorch-cpu/versions/1"
    assert props["experimentName"] == "e"
    assert re.fullmatch(rf"{re.escape(fake.workspace_arm_id)}/codes/[^/]+/versions/1", props["codeId"])

    # the code snapshot went through the fake blob store, then a code version was registered
    blob_puts = [
        r for r in fake.requests_matching("PUT", r"\.blob\.core\.windows\.net/") if "comp=" not in r.url
    ]
    assert sorted(r.path.rsplit("/", 1)[-1] for r in blob_puts) == ["train.py", "util.py"]
    assert any(r.body == b"print('training')\n" for r in blob_puts)
    code_put = fake.requests_matching("PUT", r"/codes/[^/]+/versions/1\?")
    assert len(code_put) == 1 and code_put[0].json["properties"]["codeUri"].startswith(
        "https://fakestorageacct.blob"
    )

    # a command job's PUT goes at 2025-01-01-preview, whose published 201 answers NotStarted
    assert puts[0].query["api-version"] == "2025-01-01-preview" and puts[0].status == 201
    assert job.status == "NotStarted"
    assert job.studio_url.startswith("https://ml.azure.com/runs/my-job-1")
    assert fake.jobs["my-job-1"]["properties"]["status"] == "NotStarted"
    # create_or_update resolved names to ARM ids locally: no GET of compute or environment
    assert not fake.requests_matching("GET", r"/(computes|environments)/")


def test_same_code_is_not_uploaded_twice(ml, fake, code_dir):
    ml.jobs.create_or_update(_job(code_dir, name="a"))
    n_blob = len(fake.requests_matching(None, r"\.blob\.core\.windows\.net/"))
    ml.jobs.create_or_update(_job(code_dir, name="b"))
    assert len(fake.requests_matching(None, r"\.blob\.core\.windows\.net/")) == n_blob
    assert fake.job_body("a")["properties"]["codeId"] == fake.job_body("b")["properties"]["codeId"]


def test_registry_environment_reference_is_passed_through(ml, fake, code_dir):
    ref = "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest"
    ml.jobs.create_or_update(_job(code_dir, env=ref, compute="gpu-cluster"))
    assert fake.job_body("my-job-1")["properties"]["environmentId"] == ref
    assert not fake.requests_matching(None, r"registries")


def test_transient_errors_on_job_put_are_retried(ml, fake, code_dir):
    fake.fail_next("PUT", r"/jobs/my-job-1\?", status=503, times=2)
    ml.jobs.create_or_update(_job(code_dir))
    assert [r.status for r in fake.requests_matching("PUT", r"/jobs/")] == [503, 503, 201]
    assert list(fake.jobs) == ["my-job-1"]
    # azure-core backoff (0, then 0.8*2 s) is asked of transport.sleep: recorded, not slept
    assert fake.sleeps and max(fake.sleeps) < 5


def test_429_retry_after_is_honoured(ml, fake, code_dir):
    fake.fail_next("PUT", r"/jobs/", status=429, retry_after=7)
    ml.jobs.create_or_update(_job(code_dir))
    assert [r.status for r in fake.requests_matching("PUT", r"/jobs/")] == [429, 201]
    assert 7.0 in fake.sleeps and len(fake.jobs) == 1


def test_persistent_errors_surface(ml, fake, code_dir):
    fake.fail_next("PUT", r"/jobs/", status=400, body={"error": {"code": "UserError", "message": "bad job"}})
    with pytest.raises(HttpResponseError, match="bad job"):
        ml.jobs.create_or_update(_job(code_dir))
    assert fake.jobs == {}


def test_job_on_unknown_compute_is_rejected_by_the_service(ml, fake, code_dir):
    with pytest.raises(HttpResponseError, match="Compute 'nope' not found"):
        ml.jobs.create_or_update(_job(code_dir, compute="nope"))


def test_get_list_cancel(ml, fake, code_dir):
    ml.jobs.create_or_update(_job(code_dir, name="j1", experiment="e1"))
    ml.jobs.create_or_update(_job(code_dir, name="j2", experiment="e2"))
    assert {j.name for j in ml.jobs.list()} == {"j1", "j2"}

    fake.set_job_status("j1", "Running")
    assert ml.jobs.get("j1").status == "Running"

    assert ml.jobs.begin_cancel("j1").result() is None
    assert fake.requests_matching("POST", r"/jobs/j1/cancel\?")
    assert ml.jobs.get("j1").status == "Canceled"

    fake.set_job_status("j2", "Completed")
    with pytest.raises(HttpResponseError, match="terminal"):
        ml.jobs.begin_cancel("j2").result()
    with pytest.raises(ResourceNotFoundError):
        ml.jobs.get("nope")


def test_status_script_advances_on_each_get(ml, fake, code_dir):
    ml.jobs.create_or_update(_job(code_dir))
    fake.script_job_status("my-job-1", "Running", "Completed")
    assert [ml.jobs.get("my-job-1").status for _ in range(3)] == ["Running", "Completed", "Completed"]


def test_stream_prints_logs_until_completion(ml, fake, code_dir, capsys):
    ml.jobs.create_or_update(_job(code_dir))
    fake.add_job_log("my-job-1", "epoch 1 loss 0.50\nepoch 2 loss 0.25\n")
    fake.script_job_status("my-job-1", "Running", "Running", "Completed")
    ml.jobs.stream("my-job-1")
    out = capsys.readouterr().out
    assert "RunId: my-job-1" in out and "epoch 2 loss 0.25" in out and "Execution Summary" in out
    assert fake.jobs["my-job-1"]["properties"]["status"] == "Completed"


def test_stream_of_failed_job_raises(ml, fake, code_dir):
    ml.jobs.create_or_update(_job(code_dir))
    fake.script_job_status("my-job-1", "Running", "Failed")
    with pytest.raises(azure_ai_ml.exceptions.JobException):
        ml.jobs.stream("my-job-1")


def test_download_writes_logs_and_outputs(ml, fake, code_dir, tmp_path):
    ml.jobs.create_or_update(_job(code_dir))
    fake.add_job_log("my-job-1", "hello\n")
    fake.add_job_output_file("my-job-1", "outputs/model.pt", b"\x00weights")
    with pytest.raises(azure_ai_ml.exceptions.JobException, match="Download is allowed only"):
        ml.jobs.download("my-job-1", download_path=tmp_path / "dl")
    fake.set_job_status("my-job-1", "Completed")
    ml.jobs.download("my-job-1", download_path=tmp_path / "dl")
    assert (tmp_path / "dl/artifacts/user_logs/std_log.txt").read_text() == "hello\n"
    assert (tmp_path / "dl/artifacts/outputs/model.pt").read_bytes() == b"\x00weights"


def test_append_job_log_adds_to_the_log_or_starts_it(ml, fake, code_dir, tmp_path):
    ml.jobs.create_or_update(_job(code_dir))
    fake.append_job_log("my-job-1", "note\n", "user_logs/runner.txt")  # no such log yet: started
    fake.add_job_log("my-job-1", "hello\n")
    fake.append_job_log("my-job-1", "world\n")
    fake.set_job_status("my-job-1", "Completed")
    ml.jobs.download("my-job-1", download_path=tmp_path / "dl")
    assert (tmp_path / "dl/artifacts/user_logs/std_log.txt").read_text() == "hello\nworld\n"
    assert (tmp_path / "dl/artifacts/user_logs/runner.txt").read_text() == "note\n"


def test_unknown_urls_are_recorded_not_sent():
    fake = FakeAzureML()
    with block_network() as attempts:
        with pytest.raises(HttpResponseError, match="FakeAzureML has no route"):
            fake.ml_client().online_endpoints.get("nope")
    assert attempts == [] and len(fake.unhandled) == 1 and fake.unhandled[0].status == 501


def test_recorded_request_unpacks(ml, fake):
    ml.compute.get("cpu-cluster")
    method, url, body = fake.requests[-1]
    assert method == "GET" and "/computes/cpu-cluster" in url and body == b""
    assert fake.requests[-1].headers["Authorization"] == "Bearer fake-token"


def test_block_network_blocks_real_requests():
    import requests

    from azure_trainer.testing.network import NetworkBlockedError

    with block_network() as attempts:
        with pytest.raises((NetworkBlockedError, requests.exceptions.ConnectionError)):
            requests.get("https://management.azure.com/", timeout=1)
    assert attempts and attempts[0][0] in ("getaddrinfo", "connect")


def test_a_fake_kept_in_a_folder_is_shared_by_its_instances(tmp_path, code_dir):
    from azure_trainer.testing import FolderStore

    first = FakeAzureML(store=FolderStore(tmp_path / "ws"))
    with first.patch_sdk():
        first.ml_client().jobs.create_or_update(_job(code_dir))
    second = FakeAzureML(store=FolderStore(tmp_path / "ws"))  # another process, later: it reads the folder
    with second.patch_sdk():
        job = second.ml_client().jobs.get("my-job-1")
    assert job.status == "NotStarted" and job.compute == "cpu-cluster"
    assert sorted(second.computes) == ["cpu-cluster", "gpu-cluster"]  # seeded once, when it was made
    with second.transaction():
        second.set_job_status("my-job-1", "Completed")
    with first.patch_sdk():  # the first instance sees the change at its next request
        assert first.ml_client().jobs.get("my-job-1").status == "Completed"
    # the code snapshot's blobs were saved once each, by content
    blobs = sorted(p.name for p in (tmp_path / "ws" / "blobs").iterdir())
    assert len(blobs) == 2 and all(len(name) == 64 for name in blobs)

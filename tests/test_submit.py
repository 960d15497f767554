"""Preflight and submit through the real MLClient over FakeAzureML (the SDK's own serialisation runs),
and the workspace resolution order."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from azure_trainer import (
    AzureMLError,
    ConfigError,
    PreflightError,
    load_config,
    plan,
    preflight,
    submit,
)
from azure_trainer.azureml.workspace import resolve_workspace
from azure_trainer.testing import FailingCredential

GPU_ENV = "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest"


def write_job(tmp_path: Path, body: str = "") -> Path:
    """A job config in tmp_path; ``body`` is YAML whose top-level keys replace the defaults."""
    code = tmp_path / "src"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(  # argparse, as the offline check of the job's options expects
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--epochs', type=int)\n"
        "p.add_argument('--db-password')\np.parse_args()\n"
    )
    config = {
        "experiment_name": "exp",
        "code": "src",
        "script": "train.py",
        "args": {"epochs": 2},
        "use_gpu": True,
        "compute": {"gpu": "gpu-cluster", "cpu": "cpu-cluster"},
        "environment": {"gpu": GPU_ENV, "cpu": "azureml:pytorch-cpu:1"},
        "limits": {"timeout": 3600},  # a GPU job without one gets the no-timeout warning
    }
    config.update(yaml.safe_load(textwrap.dedent(body)) or {})
    config = {k: v for k, v in config.items() if v is not None}
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(config))
    return job


def job_puts(fake):
    return fake.requests_matching("PUT", r"/jobs/[^/?]+(\?|$)")


def codes(findings):
    return sorted(f.code for f in findings)


# -- submit -----------------------------------------------------------------------------------------


def test_gpu_job_on_gpu_cluster_sends_exactly_one_put(tmp_path, fake, ml):
    job = write_job(tmp_path, "distribution: {type: pytorch, process_count_per_instance: 1}\n")
    result = submit(load_config(job), ml)
    assert result.status in ("Queued", "Starting", "Preparing", "NotStarted", "Running")
    puts = job_puts(fake)
    assert len(puts) == 1
    props = puts[0].json["properties"]
    assert props["computeId"].endswith("/computes/gpu-cluster")
    assert props["environmentId"] == GPU_ENV
    assert props["distribution"] == {"distributionType": "PyTorch", "processCountPerInstance": 1}
    assert props["command"] == "python train.py --epochs 2"
    assert props["environmentVariables"]["AZURE_TRAINER_REQUIRE_GPU"] == "1"
    assert props["experimentName"] == "exp"
    assert puts[0].url.split("?")[0].endswith("/jobs/" + result.name)
    assert result.name.startswith("exp-")
    assert result.studio_url and result.name in result.studio_url


def test_cpu_flag_selects_the_cpu_cluster_and_environment(tmp_path, fake, ml):
    result = submit(load_config(write_job(tmp_path), use_gpu=False), ml)
    props = job_puts(fake)[0].json["properties"]
    assert props["computeId"].endswith("/computes/cpu-cluster")
    assert props["environmentId"].endswith("/environments/pytorch-cpu/versions/1")
    assert props["environmentVariables"]["AZURE_TRAINER_REQUIRE_GPU"] == "0"
    assert result.findings == []


def test_gpu_job_on_a_cpu_vm_size_is_refused_before_any_put(tmp_path, fake, ml):
    job = write_job(tmp_path, "compute: {gpu: cpu-cluster, cpu: cpu-cluster}\n")
    with pytest.raises(PreflightError) as info:
        submit(load_config(job), ml)
    assert "gpu-on-cpu-vm" in codes(info.value.findings)
    assert "nothing was submitted" in str(info.value)
    assert job_puts(fake) == []
    assert fake.requests_matching("POST", "startPendingUpload") == []  # no code upload either


def test_transient_503s_on_the_put_are_retried_and_one_job_exists(tmp_path, fake, ml):
    fake.fail_next("PUT", r"/jobs/[^/?]+\?", status=503, times=2)
    result = submit(load_config(write_job(tmp_path)), ml)
    assert len(job_puts(fake)) == 3  # two 503s, then the accepted one
    assert list(fake.jobs) == [result.name]
    assert {p.url for p in job_puts(fake)} == {job_puts(fake)[0].url}  # same name every time


def test_a_put_that_keeps_failing_is_a_clear_error(tmp_path, fake, ml):
    fake.fail_next("PUT", r"/jobs/[^/?]+\?", status=500, times=50)
    with pytest.raises(AzureMLError, match=r"submitting job exp-.*: Azure ML answered 500"):
        submit(load_config(write_job(tmp_path)), ml)
    assert fake.jobs == {}


def test_dry_run_sends_no_write_and_returns_the_yaml(tmp_path, fake, ml):
    result = submit(load_config(write_job(tmp_path)), ml, dry_run=True)
    assert result.status == "dry-run"
    assert "command: python train.py --epochs 2" in result.job_yaml
    writes = [r for r in fake.requests if r.method in ("PUT", "POST", "PATCH", "DELETE")]
    # listSecrets/usages-style reads are POSTs in ARM; none of ours may be a write to jobs/codes/blobs.
    assert [r for r in writes if "/jobs/" in r.url or "/codes/" in r.url or "blob" in r.host] == []


def test_dry_run_without_preflight_needs_no_client(tmp_path):
    result = submit(load_config(write_job(tmp_path)), None, dry_run=True, preflight=False)
    assert result.status == "dry-run" and result.job_yaml.startswith("$schema:")


def test_not_logged_in_gives_the_login_message(tmp_path, fake):
    ml = fake.ml_client(credential=FailingCredential())
    with pytest.raises(AzureMLError, match="az login") as info:
        submit(load_config(write_job(tmp_path)), ml)
    assert "Traceback" not in str(info.value) and "\n" not in str(info.value)
    assert fake.requests == []


# -- preflight ----------------------------------------------------------------------------------------


def test_clean_gpu_job_has_no_findings(tmp_path, ml):
    assert preflight(load_config(write_job(tmp_path)), ml) == []


def test_unknown_compute_is_an_error_naming_the_existing_ones(tmp_path, ml):
    findings = preflight(
        load_config(write_job(tmp_path, "compute: {gpu: gpu-clustr, cpu: cpu-cluster}\n")), ml
    )
    (finding,) = [f for f in findings if f.code == "compute-not-found"]
    assert finding.is_error and "'gpu-clustr'" in finding.message and "gpu-cluster" in finding.message


def test_unknown_environment_is_an_error(tmp_path, ml):
    body = 'environment: {gpu: "azureml://registries/azureml/environments/nope/labels/latest", cpu: "azureml:nope:3"}\n'
    for use_gpu in (True, False):
        findings = preflight(load_config(write_job(tmp_path, body), use_gpu=use_gpu), ml)
        assert "environment-not-found" in codes(findings), use_gpu


def test_cpu_environment_under_use_gpu_is_an_error_and_cuda_without_it_a_warning(tmp_path, ml):
    swapped = f'environment: {{gpu: "azureml:pytorch-cpu:1", cpu: "{GPU_ENV}"}}\n'
    gpu = preflight(load_config(write_job(tmp_path, swapped)), ml)
    assert [(f.severity, f.code) for f in gpu] == [("error", "cpu-environment")]
    cpu = preflight(load_config(write_job(tmp_path, swapped), use_gpu=False), ml)
    assert [(f.severity, f.code) for f in cpu] == [("warning", "cuda-environment-on-cpu")]


def test_local_environment_files_are_classified(tmp_path, ml):
    repo = Path(__file__).resolve().parents[1]
    body = f"environment: {{gpu: file:{repo / 'environments/cpu.yaml'}, cpu: file:{repo / 'environments/gpu.yaml'}}}\n"
    # the torch pin is judged apart (torch-version-mismatch, against the torch installed here)
    device_codes = lambda findings: [c for c in codes(findings) if c != "torch-version-mismatch"]  # noqa: E731
    assert device_codes(preflight(load_config(write_job(tmp_path, body)), ml)) == ["cpu-environment"]
    body = f"environment: {{gpu: file:{repo / 'environments/gpu.yaml'}, cpu: file:{repo / 'environments/cpu.yaml'}}}\n"
    assert device_codes(preflight(load_config(write_job(tmp_path, body)), ml)) == []
    assert device_codes(preflight(load_config(write_job(tmp_path, body), use_gpu=False), ml)) == []


def test_cpu_job_on_gpu_vm_is_a_warning(tmp_path, ml):
    job = write_job(tmp_path, "compute: gpu-cluster\n")
    findings = preflight(load_config(job, use_gpu=False), ml)
    assert [(f.severity, f.code) for f in findings] == [("warning", "idle-gpus")]


def test_more_processes_than_gpus_and_more_nodes_than_the_cluster(tmp_path, fake, ml):
    # gpu-cluster: Standard_NC24ads_A100_v4 (1 GPU), at most 2 nodes.
    body = "resources: {instance_count: 3}\ndistribution: {type: pytorch, process_count_per_instance: 2}\n"
    findings = preflight(load_config(write_job(tmp_path, body)), ml)
    assert {"too-many-processes", "too-many-nodes"} <= set(codes(findings))
    assert all(f.is_error for f in findings if f.code.startswith("too-many"))


def test_vm_size_names_match_case_insensitively(tmp_path, fake, ml):
    fake.add_compute("h100", "standard_nc40ads_h100_v5", max_nodes=2)
    findings = preflight(load_config(write_job(tmp_path, "compute: {gpu: h100, cpu: cpu-cluster}\n")), ml)
    assert findings == []


def test_serverless_instance_type(tmp_path, ml):
    body = "compute: ~\nresources: {instance_type: {gpu: Standard_NC24ads_A100_v4, cpu: Standard_DS3_v2}}\n"
    assert preflight(load_config(write_job(tmp_path, body)), ml) == []
    body = "compute: ~\nresources: {instance_type: {gpu: Standard_DS3_v2, cpu: Standard_DS3_v2}}\n"
    assert codes(preflight(load_config(write_job(tmp_path, body)), ml)) == ["gpu-on-cpu-vm"]
    body = "compute: ~\nresources: {instance_type: {gpu: Standard_Imaginary_v9, cpu: Standard_DS3_v2}}\n"
    assert codes(preflight(load_config(write_job(tmp_path, body)), ml)) == ["instance-type-unknown"]


def test_quota_warning_when_the_family_is_full(tmp_path, fake, ml):
    family = fake.vm_sizes["Standard_NC24ads_A100_v4"]["family"]  # gpu-cluster's VM size: 24 vCPUs
    fake.set_usage(family, current=24, limit=24)
    findings = preflight(load_config(write_job(tmp_path)), ml)
    assert codes(findings) == ["quota"]
    assert findings[0].severity == "warning" and "24 of 24" in findings[0].message


def test_secrets_in_environment_variables_are_errors_unless_allowed(tmp_path, ml):
    body = "environment_variables: {WANDB_API_KEY: abcdef0123456789abcdef0123456789, MODE: fast}\n"
    findings = preflight(load_config(write_job(tmp_path, body)), ml)
    assert codes(findings) == ["secret-in-env"]
    assert "abcdef0123456789" not in findings[0].message
    allowed = body + "preflight: {allow: [WANDB_API_KEY]}\n"
    assert preflight(load_config(write_job(tmp_path, allowed)), ml) == []


def test_secrets_on_the_command_line_or_in_input_paths_stop_the_submission(tmp_path, ml):
    sas = "https://a.blob.core.windows.net/c?sv=2022-11-02&se=2030-01-01&sr=c&" + "sig=" + "x" * 40
    body = f"args: {{epochs: 2, db-password: hunter2pw}}\ninputs: {{data: {{type: uri_folder, path: '{sas}'}}}}\n"
    findings = preflight(load_config(write_job(tmp_path, body)), ml)
    assert codes(findings) == ["secret-in-args", "secret-in-input-path"]
    assert all(f.is_error for f in findings)
    assert "hunter2" not in _messages(findings) and "sig=" not in _messages(findings)


def _messages(findings):
    return "\n".join(f.message for f in findings)


def test_snapshot_findings_come_through(tmp_path, ml):
    job = write_job(tmp_path)
    data = tmp_path / "src" / "data"
    data.mkdir()
    for i in range(2001):
        (data / f"{i}.bin").touch()
    assert "snapshot-too-many-files" in codes(preflight(load_config(job), ml))
    (tmp_path / "src" / ".amlignore").write_text("data/\n")
    assert preflight(load_config(job), ml) == []


def test_links_out_of_the_code_folder_are_refused_even_without_preflight(tmp_path, fake, ml):
    # azure-ai-ml follows links when it uploads the snapshot: --no-preflight must not send ~/.ssh/id_rsa
    job = write_job(tmp_path)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "id_rsa").write_text("PRIVATE KEY\n")
    (tmp_path / "src" / "key_link").symlink_to(tmp_path / "outside" / "id_rsa")
    with pytest.raises(PreflightError, match=r"even without preflight.*key_link -> .*outside/id_rsa") as err:
        submit(load_config(job), ml, preflight=False)
    assert [f.code for f in err.value.findings] == ["snapshot-link-outside"]
    assert job_puts(fake) == [] and fake.blobs.names() == []
    waived = load_config(job, ["preflight.skip=[snapshot-link-outside]"])
    assert submit(waived, ml, preflight=False).created is not None  # the job says so: its choice


def test_skip_drops_named_findings(tmp_path, ml):
    job = write_job(tmp_path, "compute: gpu-cluster\npreflight: {skip: [idle-gpus]}\n")
    assert preflight(load_config(job, use_gpu=False), ml) == []


def test_a_plan_keeps_the_preflight_settings_of_its_config(tmp_path, ml):
    """Issue 10: preflight(plan(cfg)) dropped preflight.allow/skip, so an allow-listed key failed with the plan."""
    body = (
        "compute: gpu-cluster\n"
        "environment_variables: {MY_API_KEY: abcdef0123456789abcdef0123456789,"
        " OTHER_TOKEN: 0123456789abcdef0123456789abcdef}\n"
        "preflight: {allow: [MY_API_KEY], skip: [idle-gpus]}\n"
    )
    config = load_config(write_job(tmp_path, body), use_gpu=False)
    spec = plan(config)
    assert spec.preflight.allow == ["MY_API_KEY"] and spec.preflight.skip == ["idle-gpus"]
    from_config, from_plan = preflight(config, ml), preflight(spec, ml)
    assert from_plan == from_config
    assert [(f.code, "OTHER_TOKEN" in f.message) for f in from_plan] == [("secret-in-env", True)]
    assert "MY_API_KEY" not in _messages(from_plan)


# -- workspace resolution --------------------------------------------------------------------------


def test_workspace_order_cli_then_env_then_config_then_config_json(tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"subscription_id": "sub-json", "resource_group": "rg-json", "workspace_name": "ws-json"})
    )
    config_ws = load_config(
        write_job(tmp_path, "workspace: {resource_group: rg-config, name: ws-config}\n")
    ).workspace
    env = {"AZUREML_WORKSPACE_NAME": "ws-env"}
    ws = resolve_workspace({"name": "ws-cli"}, config_ws, environ=env, search_from=tmp_path)
    assert (ws.subscription_id, ws.resource_group, ws.name) == ("sub-json", "rg-config", "ws-cli")
    ws = resolve_workspace({}, config_ws, environ=env, search_from=tmp_path)
    assert ws.name == "ws-env"
    ws = resolve_workspace({}, None, environ={}, search_from=tmp_path)
    assert (ws.subscription_id, ws.resource_group, ws.name) == ("sub-json", "rg-json", "ws-json")


def test_config_json_is_found_in_a_parent_azureml_folder(tmp_path):
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(
        json.dumps({"subscription_id": "s", "resource_group": "r", "workspace_name": "w"})
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert resolve_workspace({}, None, environ={}, search_from=deep).name == "w"


def test_missing_workspace_parts_are_named(tmp_path):
    with pytest.raises(AzureMLError, match="--resource-group / AZURE_RESOURCE_GROUP") as info:
        resolve_workspace({"subscription_id": "s", "name": "w"}, None, environ={}, search_from=tmp_path)
    assert "--subscription" not in str(info.value)


def test_config_json_with_a_wrong_type_names_the_file_and_key(tmp_path):
    from azure_trainer.errors import ConfigError

    path = tmp_path / "config.json"
    path.write_text(json.dumps({"subscription_id": 5, "resource_group": "r", "workspace_name": "w"}))
    with pytest.raises(ConfigError) as info:
        resolve_workspace({}, None, environ={}, search_from=tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: subscription_id: must be a string") and "\n" not in message
    assert info.value.exit_code == 2
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        resolve_workspace({}, None, environ={}, search_from=tmp_path)


# -- sign-in problems --------------------------------------------------------------------------------------

SP_ENV = {
    "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000001",
    "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000002",
    "AZURE_CLIENT_SECRET": "s3cr3t-value",
}
CHAIN_HEAD = "DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted credentials:\n"
DNS_FAILURE = (
    "Authentication failed: HTTPSConnection(host='login.microsoftonline.com', port=443): Failed to resolve "
    "'login.microsoftonline.com' ([Errno -2] Name or service not known)"
)


def sign_in_error(message, env, monkeypatch, cause=None):
    from azure.core.exceptions import ClientAuthenticationError

    from azure_trainer.azureml.errors import translated

    for var in list(SP_ENV) + ["AZURE_CLIENT_CERTIFICATE_PATH"]:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    with pytest.raises(AzureMLError) as info:
        with translated("getting job j1"):
            raise ClientAuthenticationError(message=message) from cause
    assert "\n" not in str(info.value) and "s3cr3t" not in str(info.value)
    return str(info.value)


def test_unreachable_login_endpoint_is_a_network_error_not_a_login_hint(monkeypatch):
    message = sign_in_error(CHAIN_HEAD + f"\tEnvironmentCredential: {DNS_FAILURE}\n", SP_ENV, monkeypatch)
    assert message.startswith(
        "getting job j1: cannot reach Azure (network/DNS/proxy: login.microsoftonline.com: Name or service not known)"
    )
    assert "az login" not in message and "set AZURE_" not in message


def test_unreachable_login_endpoint_through_the_cause_chain(monkeypatch):
    from azure.core.exceptions import ServiceRequestError

    cause = ServiceRequestError("HTTPSConnection(host='login.microsoftonline.com', port=443): timed out")
    message = sign_in_error("Authentication failed: see the cause", SP_ENV, monkeypatch, cause=cause)
    assert "cannot reach Azure (network/DNS/proxy: login.microsoftonline.com" in message


def test_rejected_service_principal_is_named_without_the_secret(monkeypatch):
    rejected = (
        CHAIN_HEAD + "\tEnvironmentCredential: Authentication failed: AADSTS7000215: Invalid client secret "
        "provided. Ensure the secret being sent is the client secret value s3cr3t-value.\r\nTrace ID: 1\n"
    )
    message = sign_in_error(rejected, SP_ENV, monkeypatch)
    assert "service principal in AZURE_TENANT_ID / AZURE_CLIENT_ID was rejected" in message
    assert "(AADSTS7000215: Invalid client secret provided)" in message
    assert "set AZURE_" not in message and "az login" not in message


def test_not_signed_in_keeps_the_login_hint_with_or_without_service_principal_variables(monkeypatch):
    from azure_trainer.testing.credentials import NOT_LOGGED_IN_MESSAGE

    for env in ({}, SP_ENV):
        message = sign_in_error(NOT_LOGGED_IN_MESSAGE, env, monkeypatch)
        assert "not signed in to Azure: run `az login`" in message and "cannot reach" not in message


def test_secret_echoed_by_a_rejection_is_never_printed(monkeypatch):
    echoed = CHAIN_HEAD + "\tEnvironmentCredential: Authentication failed: bad secret s3cr3t-value\n"
    message = sign_in_error(echoed, SP_ENV, monkeypatch)
    assert "was rejected (Authentication failed: bad secret ***)" in message


def test_unreachable_login_endpoint_through_the_real_mlclient(tmp_path, fake, monkeypatch):
    for var, value in SP_ENV.items():
        monkeypatch.setenv(var, value)
    credential = FailingCredential(message=CHAIN_HEAD + f"\tEnvironmentCredential: {DNS_FAILURE}\n")
    with pytest.raises(
        AzureMLError, match=r"cannot reach Azure \(network/DNS/proxy: login\.microsoftonline\.com"
    ):
        submit(load_config(write_job(tmp_path)), fake.ml_client(credential=credential))
    assert fake.requests == []


# -- exactly once, and honest about it (issue 16) -----------------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch):
    """Our own retry waits, recorded instead of slept (azure-core's go to the fake's transport)."""
    import azure_trainer.azureml.submit as submit_module

    waited: list[float] = []
    monkeypatch.setattr(submit_module.time, "sleep", waited.append)
    return waited


def test_a_lost_create_answer_and_a_failing_look_up_say_the_job_may_exist(tmp_path, fake, ml, sleeps):
    fake.fail_next("PUT", r"/jobs/lost-1\?", lost_response=True, times=20)  # stored, every answer lost
    fake.fail_next("GET", r"/jobs/lost-1\?", error="reset", times=20)  # and asking fails too
    with pytest.raises(AzureMLError) as info:
        submit(load_config(write_job(tmp_path)), ml, name="lost-1")
    message = str(info.value)
    assert "\n" not in message and "it may have been created" in message
    assert "`azure-trainer status lost-1`" in message and "resubmit with `--name lost-1`" in message
    assert "Connection aborted" not in message and "the connection was reset" in message
    assert list(fake.jobs) == ["lost-1"] and sleeps == []
    # the retry the message suggests: the job is found, nothing is sent again
    fake.clear_failures()
    puts = len(fake.requests_matching("PUT", r"/jobs/lost-1\?"))
    again = submit(load_config(write_job(tmp_path)), ml, name="lost-1")
    assert again.created is False and again.name == "lost-1" and list(fake.jobs) == ["lost-1"]
    assert "exists already" in again.warnings[0]
    assert len(fake.requests_matching("PUT", r"/jobs/lost-1\?")) == puts  # no PUT the second time


def test_a_lost_create_answer_is_found_by_name(tmp_path, fake, ml):
    fake.fail_next("PUT", r"/jobs/[^/?]+\?", lost_response=True, times=20)
    result = submit(load_config(write_job(tmp_path)), ml)
    assert result.created and list(fake.jobs) == [result.name] and result.warnings == []


def test_a_retried_submit_with_the_same_name_never_makes_a_second_job(tmp_path, fake, ml):
    first = submit(load_config(write_job(tmp_path)), ml, name="once-1")
    second = submit(load_config(write_job(tmp_path)), ml, name="once-1")
    assert first.created and not second.created and second.status == first.status
    assert len(job_puts(fake)) == 1 and list(fake.jobs) == ["once-1"]
    other = write_job(tmp_path, "experiment_name: another\n")
    with pytest.raises(ConfigError, match="job name 'once-1' is taken by another job"):
        submit(load_config(other), ml, name="once-1")
    assert len(job_puts(fake)) == 1


def test_a_reset_on_start_pending_upload_is_retried(tmp_path, fake, ml, sleeps):
    fake.fail_next("POST", r"/startPendingUpload\?", error="reset")  # a POST: azure-core does not retry it
    result = submit(load_config(write_job(tmp_path)), ml)
    assert list(fake.jobs) == [result.name] and len(job_puts(fake)) == 1
    assert [r.status for r in fake.requests_matching("POST", "startPendingUpload")] == [0, 200]
    assert sleeps == [1.0]


def test_a_429_on_a_blob_upload_is_retried_after_its_retry_after(tmp_path, fake, ml, sleeps):
    fake.fail_next("PUT", r"\.blob\.core\.windows\.net/.*/train\.py", status=429, retry_after=7, body=b"")
    result = submit(load_config(write_job(tmp_path)), ml)  # azure-storage does not retry a 429
    assert list(fake.jobs) == [result.name] and sleeps == [7.0]


def test_a_retry_after_too_long_to_wait_is_reported(tmp_path, fake, ml, sleeps):
    fake.fail_next("PUT", r"\.blob\.core\.windows\.net/.*/train\.py", status=429, retry_after=3600, body=b"")
    with pytest.raises(AzureMLError, match="throttling"):
        submit(load_config(write_job(tmp_path)), ml)
    assert sleeps == [] and fake.jobs == {}


def test_upload_resets_are_retried_a_bounded_number_of_times_and_said_in_words(tmp_path, fake, ml, sleeps):
    fake.fail_next("POST", r"/startPendingUpload\?", error="reset", times=50)
    with pytest.raises(AzureMLError) as info:
        submit(load_config(write_job(tmp_path)), ml)
    message = str(info.value)
    assert "cannot reach Azure ML (the connection was reset" in message and "tried 3 times" in message
    assert "Connection aborted" not in message and "ConnectionResetError" not in message
    assert len(fake.requests_matching("POST", "startPendingUpload")) == 3 and sleeps == [1.0, 2.0]
    assert fake.jobs == {}


def test_a_failing_workspace_get_is_reported_as_the_workspaces(tmp_path, fake, ml):
    fake.fail_next("GET", r"/workspaces/ws-fake\?", status=500, times=20)
    with pytest.raises(AzureMLError) as info:
        preflight(load_config(write_job(tmp_path)), ml)
    assert str(info.value).startswith("getting workspace ws-fake: Azure ML answered 500")
    assert "VM sizes" not in str(info.value)

"""The Azure-facing CLI commands (submit and the job lifecycle): the real MLClient over FakeAzureML,
handed to ``main`` by injection (``client_factory``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from azure_trainer.cli import main

REPO = Path(__file__).resolve().parents[1]
GPU_ENV = "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest"


@pytest.fixture
def client(fake, monkeypatch):
    """The fake, its workspace named by the environment (the CLI resolves it, then asks the factory)."""
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", fake.subscription_id)
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", fake.resource_group)
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", fake.workspace_name)
    return fake


@pytest.fixture
def job(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    path = tmp_path / "job.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        experiment_name: cli-exp
        code: src
        script: train.py
        use_gpu: true
        compute: {{gpu: gpu-cluster, cpu: cpu-cluster}}
        environment: {{gpu: "{GPU_ENV}", cpu: "azureml:pytorch-cpu:1"}}
        """)
    )
    return path


def run(capsys, *argv, fake=None, credential=None):
    """``azure-trainer ARGV`` in-process; with ``fake``, its client factory is injected."""
    factory = fake.client_factory(credential) if fake is not None else None
    code = main(list(argv), client_factory=factory)
    out, err = capsys.readouterr()
    return code, out, err


def job_puts(fake):
    return [r for r in fake.requests_matching("PUT", r"/jobs/[^/?]+\?") if r.status < 300]


def test_submit_prints_name_and_studio_url(client, job, capsys, monkeypatch):
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", "some-other-workspace")
    code, out, err = run(capsys, "submit", str(job), "--workspace", client.workspace_name, fake=client)
    assert code == 0, err
    name = out.split()[1]
    assert name.startswith("cli-exp-") and "studio: " in out and name in out
    assert list(client.jobs) == [name]
    # the flag wins over AZUREML_WORKSPACE_NAME; the rest comes from the environment
    assert {ws.name for ws in client.client_workspaces} == {client.workspace_name}
    assert client.client_workspaces[0].sources[2] == "command line"


def test_submit_json_and_cpu_flag(client, job, capsys):
    code, out, _ = run(capsys, "submit", str(job), "--cpu", "--json", fake=client)
    data = json.loads(out)
    assert code == 0 and data["status"] and data["findings"] == []
    (put,) = job_puts(client)
    assert put.json["properties"]["computeId"].endswith("/computes/cpu-cluster")


def test_submit_refused_by_preflight_exits_1_with_the_table(client, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--set", "compute.gpu=cpu-cluster", fake=client)
    assert code == 1
    assert "gpu-on-cpu-vm" in err and "nothing was submitted" in err and "Traceback" not in err
    assert job_puts(client) == [] and client.requests_matching("POST", "startPendingUpload") == []


def test_no_preflight_skips_the_checks(client, job, capsys):
    argv = ["submit", str(job), "--set", "compute.gpu=cpu-cluster", "--no-preflight"]
    code, out, err = run(capsys, *argv, fake=client)
    assert code == 0, err
    assert (
        client.requests_matching("GET", r"/computes/|/vmSizes|/usages") == [] and len(job_puts(client)) == 1
    )


def test_dry_run_prints_yaml_and_creates_nothing(client, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--dry-run", fake=client)
    assert code == 0 and out.startswith("$schema:") and "type: command" in out
    assert "was not submitted" in err
    assert job_puts(client) == []
    assert client.requests_matching("GET", r"/computes/gpu-cluster\?")  # the checks did run


def test_submit_stream_follows_the_job(client, job, capsys):
    client.add_job_log("streamed-1", "epoch 1 loss 0.5\n")
    client.script_job_status("streamed-1", "Running", "Running", "Running", "Completed")
    code, out, err = run(capsys, "submit", str(job), "--stream", "--name", "streamed-1", fake=client)
    assert code == 0, err
    assert "submitted streamed-1" in out and "epoch 1 loss 0.5" in out and "job streamed-1: Completed" in out
    assert client.requests_matching("GET", r"/runs/streamed-1/details")


def test_status_list_cancel_download_logs(client, job, capsys, tmp_path):
    run(capsys, "submit", str(job), fake=client)
    name = next(iter(client.jobs))
    code, out, _ = run(capsys, "status", name, "--json", fake=client)
    assert code == 0 and json.loads(out)["name"] == name and json.loads(out)["experiment"] == "cli-exp"
    code, out, _ = run(capsys, "status", name, fake=client)
    assert code == 0 and "status" in out and "JobStatus." not in out
    code, out, _ = run(capsys, "list", "--json", "--experiment", "cli-exp", fake=client)
    assert [j["name"] for j in json.loads(out)] == [name]
    code, out, _ = run(capsys, "list", "--experiment", "other", fake=client)
    assert out.strip() == "no jobs"
    code, out, _ = run(capsys, "cancel", name, fake=client)
    assert code == 0 and client.requests_matching("POST", rf"/jobs/{name}/cancel\?")
    assert client.jobs[name]["properties"]["status"] == "Canceled"
    client.add_job_output_file(name, "outputs/model.pt", b"weights")
    code, out, _ = run(capsys, "download", name, "-o", str(tmp_path / "dl"), fake=client)
    assert code == 0 and (tmp_path / "dl" / "artifacts" / "outputs" / "model.pt").read_bytes() == b"weights"
    code, out, _ = run(capsys, "logs", name, fake=client)
    assert code == 1 and "Canceled" in out


def test_logs_ctrl_c_stops_watching_without_cancelling(client, job, capsys):
    run(capsys, "submit", str(job), fake=client)
    name = next(iter(client.jobs))
    client.fail_next("GET", rf"/runs/{name}/details", error=KeyboardInterrupt())
    code, out, err = run(capsys, "logs", name, fake=client)
    assert code == 130 and "keeps running" in err
    assert client.requests_matching("POST", "/cancel") == []


def test_logs_reconnect_after_a_dropped_connection(client, job, capsys, monkeypatch):
    import azure_trainer.azureml.lifecycle as lifecycle

    run(capsys, "submit", str(job), fake=client)
    name = next(iter(client.jobs))
    client.script_job_status(name, "Running", "Completed")
    # enough failures to outlast azure-core's own retries of one stream, twice
    details = rf"/runs/{name}/details"
    attempts_per_stream = 4
    client.fail_next("GET", details, error="unreachable", times=2 * attempts_per_stream)
    monkeypatch.setattr(lifecycle.time, "sleep", lambda s: None)
    code, out, err = run(capsys, "logs", name, fake=client)
    assert code == 0, err
    assert out.count("reconnecting") == 2 and f"job {name}: Completed" in out


@pytest.mark.parametrize("command", ["status", "logs", "cancel", "download"])
def test_bad_job_name_is_a_one_line_error(client, capsys, command):
    code, out, err = run(capsys, command, "bad name;rm", fake=client)
    assert code == 2 and err.count("\n") == 1 and "bad job name" in err
    assert client.requests == [] and client.client_workspaces == []


def test_unknown_job_is_a_clear_error(client, capsys):
    code, out, err = run(capsys, "status", "no-such-job", fake=client)
    assert code == 1 and "getting job no-such-job: not found" in err and "Traceback" not in err


def test_unreachable_workspace_is_one_line(client, capsys):
    client.fail_next("GET", r"/jobs\?", error="unreachable", times=20)
    code, out, err = run(capsys, "list", fake=client)
    assert code == 1 and "cannot reach Azure ML" in err and err.count("\n") == 1, err


@pytest.mark.slow  # the real credential chain: seconds of sign-in attempts
def test_not_logged_in_through_the_real_client_factory(job, tmp_path):
    """The real path: DefaultAzureCredential with nothing to sign in with gives the login hint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    env.update(
        AZURE_SUBSCRIPTION_ID="00000000-0000-0000-0000-000000000000",
        AZURE_RESOURCE_GROUP="rg",
        AZUREML_WORKSPACE_NAME="ws",
        HOME=str(tmp_path),
        PATH="/usr/bin:/bin",
        AZURE_CONFIG_DIR=str(tmp_path),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "azure_trainer", "status", "some-job"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "az login" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


# -- checking order, exit codes and messages without a workspace ------------------------------------------


# -- odd answers from the service ------------------------------------------------------------------------
# Each fault is served to the command's first call (the job's GET, the list or the cancel POST), before it
# reaches the fake's state, so no job is needed. HTML_PAGE is what a proxy or gateway sends instead of
# Azure's JSON error (ErrorResponse) body.

HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body></html>"
)
FAULTS = {
    "500": (dict(status=500, times=50), ["Azure ML answered 500", "try again in a few minutes"]),
    "404": (dict(status=404), ["not found"]),
    "401": (dict(status=401, times=5), ["Azure rejected the sign-in", "az login"]),
    "403": (dict(status=403), ["access denied", "AzureML Data Scientist"]),
    "429 Retry-After": (dict(status=429, retry_after=3, times=50), ["throttling", "retry"]),
    "502 HTML page": (
        dict(status=502, body=HTML_PAGE, headers={"Content-Type": "text/html"}, times=50),
        ["Azure ML answered 502", "try again in a few minutes"],
    ),
    "200 empty": (dict(status=200, body=b""), ["Azure ML sent an answer that could not be read"]),
    "200 truncated": (
        dict(status=200, body=b'{"id": "/subscriptions/x", "properties": {"status": "Compl'),
        ["Azure ML sent an answer that could not be read"],
    ),
    "200 HTML page": (
        dict(status=200, body=HTML_PAGE, headers={"Content-Type": "text/html"}),
        ["Azure ML sent an answer that could not be read"],
    ),
    "200 a list, not the resource": (dict(status=200, body=[]), ["azure-ai-ml failed"]),
}
FAULTED_CALLS = {
    "status": (["status", "j1"], "GET", r"/jobs/j1\?", "getting job j1"),
    "logs": (["logs", "j1"], "GET", r"/jobs/j1\?", "getting job j1"),
    "cancel": (["cancel", "j1"], "POST", r"/jobs/j1/cancel\?", "cancelling job j1"),
    "download": (["download", "j1", "-o", "dl"], "GET", r"/jobs/j1\?", "downloading job j1"),
    "list": (["list"], "GET", r"/jobs\?", "listing jobs"),
    "report": (["report", "--job", "j1", "-o", "r.html"], "GET", r"/jobs/j1\?", "getting job j1"),
}


def _reads_the_body(command: str, fault: str) -> bool:
    return not (FAULTED_CALLS[command][1] == "POST" and FAULTS[fault][0]["status"] == 200)


@pytest.mark.parametrize(
    "command, fault",
    [(c, f) for c in FAULTED_CALLS for f in FAULTS if _reads_the_body(c, f)],
)
def test_an_odd_answer_from_azure_ml_is_one_line_naming_the_call(
    client, capsys, tmp_path, monkeypatch, command, fault
):
    monkeypatch.chdir(tmp_path)
    argv, method, url, action = FAULTED_CALLS[command]
    failure, expected = FAULTS[fault]
    client.fail_next(method, url, **failure)
    code, out, err = run(capsys, *argv, fake=client)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"azure-trainer: error: {action}: ")
    for words in expected:
        assert words in err, err
    if fault == "404" and command != "list":
        assert "check the job name and the workspace (`azure-trainer list` shows" in err
    assert "<html" not in err.lower()
    assert list(tmp_path.iterdir()) == []  # no half-made download folder, no report


@pytest.mark.parametrize("fault", [f for f in FAULTS if not _reads_the_body("cancel", f)])
def test_cancel_reads_no_body_so_an_odd_2xx_answer_is_accepted(client, capsys, fault):
    """The SDK's cancel uses only the status code of its 202/200 answer: an odd body cannot fail it."""
    client.fail_next("POST", r"/jobs/j1/cancel\?", **FAULTS[fault][0])
    code, out, err = run(capsys, "cancel", "j1", fake=client)
    assert code == 0 and "Traceback" not in err, err
    assert client.requests_matching("POST", r"/jobs/j1/cancel\?")  # the answer was served


def test_a_gateway_page_on_a_download_is_named_as_such_and_storage_logs_stay_quiet(
    client, job, capsys, tmp_path
):
    run(capsys, "submit", str(job), "--name", "page-1", fake=client)
    client.set_job_status("page-1", "Completed")
    client.add_job_output_file("page-1", "outputs/a.txt", "x")
    client.fail_next("GET", r"blob\.core\.windows\.net", status=502, body=HTML_PAGE, times=50)
    code, out, err = run(capsys, "download", "page-1", "-o", str(tmp_path / "dl"), fake=client)
    assert code == 1 and err.count("\n") == 1, err  # azure-storage's own warning is not printed
    assert "downloading job page-1: Azure ML answered 502: an HTML page titled '502 Bad Gateway'" in err


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_secret_echoed_in_an_error_answer_is_not_printed(client, capsys, json_flag):
    sas = "https://acct.blob.core.windows.net/c/x?sv=2021-08-06&se=2030-01-01&sr=b&sp=r&sig=" + "S1g" * 15
    body = {"error": {"code": "BadRequest", "message": f"cannot read {sas} with key AccountKey={'K' * 86}=="}}
    client.fail_next("GET", r"/jobs\?", status=400, body=body)
    code, out, err = run(capsys, "list", *json_flag, fake=client)
    assert code == 1 and "listing jobs: Azure ML answered 400: (BadRequest) cannot read" in err
    assert "S1gS1g" not in out + err and "K" * 20 not in out + err and "sig=***" in err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--workspace", "", "--workspace is empty"),
        ("--workspace", "local:ws\x00x", "--workspace 'local:ws\\x00x': holds a control character"),
        ("--subscription", " ", "--subscription is empty"),
        ("--resource-group", "rg\nother", "--resource-group 'rg\\nother': holds a control character"),
    ],
)
def test_a_blank_or_broken_workspace_flag_is_bad_input(client, capsys, flag, value, message):
    """Not silently skipped for the environment's value, and no traceback."""
    code, out, err = run(capsys, "list", flag, value, fake=client)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert client.requests == [] and client.client_workspaces == []


@pytest.fixture
def no_workspace(monkeypatch, tmp_path):
    """The real client factory, in a folder with no config.json, with no workspace in the environment."""
    for var in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("azure_trainer.azureml.workspace.find_config_json", lambda start=".": None)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", ["status", "logs", "cancel", "download"])
def test_bad_job_name_is_checked_before_the_workspace(no_workspace, capsys, command):
    code, out, err = run(capsys, command, "../../etc")
    assert code == 2 and "bad job name" in err and "workspace" not in err and err.count("\n") == 1


@pytest.mark.parametrize("name", ["../x", ""])
def test_bad_submit_name_is_checked_before_the_workspace(no_workspace, job, capsys, name):
    code, out, err = run(capsys, "submit", str(job), "--name", name)
    assert code == 2 and f"bad job name {name!r}" in err and "workspace" not in err


@pytest.mark.parametrize("limit", ["-1", "0"])
def test_bad_limit_is_bad_input_checked_before_the_workspace(no_workspace, capsys, limit):
    code, out, err = run(capsys, "list", "--limit", limit)
    assert code == 2 and f"--limit must be 1 or more, not {limit}" in err and "workspace" not in err


@pytest.mark.parametrize(
    "argv", [["status", "j1"], ["logs", "j1"], ["cancel", "j1"], ["download", "j1"], ["list"]]
)
def test_no_workspace_message_of_commands_without_a_job_config(no_workspace, capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 1 and "no Azure ML workspace given" in err and err.count("\n") == 1
    assert "job config" not in err and "config.json" in err
    assert not (no_workspace / "downloads").exists()


def test_no_workspace_message_of_submit_names_the_job_config(no_workspace, job, capsys):
    code, out, err = run(capsys, "submit", str(job))
    assert code == 1 and "add `workspace:` to the job config" in err and "--no-preflight" not in err


def test_no_workspace_on_a_dry_run_points_to_the_offline_dry_run(no_workspace, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--dry-run")
    assert code == 1 and "`submit --dry-run --no-preflight` prints the job YAML offline" in err
    code, out, err = run(capsys, "submit", str(job), "--dry-run", "--no-preflight")
    assert code == 0 and out.startswith("$schema:")


# -- --json failures are JSON too --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, exit_code",
    [
        (["status", "j1", "--json"], 1),
        (["list", "--json"], 1),
        (["status", "bad/name", "--json"], 2),
        (["list", "--limit", "0", "--json"], 2),
    ],
)
def test_json_failures_of_status_and_list_print_one_json_object(no_workspace, capsys, argv, exit_code):
    code, out, err = run(capsys, *argv)
    data = json.loads(out)
    assert code == exit_code and data["exit_code"] == exit_code
    assert data["error"] and data["error"] in err and err.count("\n") == 1


def test_submit_json_without_a_workspace_prints_json(no_workspace, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--json")
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1 and "no Azure ML workspace given" in data["error"]
    assert err.count("\n") == 1


def test_submit_json_with_a_bad_config_prints_json(no_workspace, capsys):
    code, out, err = run(capsys, "submit", "missing.yaml", "--json")
    assert code == 2 and json.loads(out)["exit_code"] == 2 and "missing.yaml" in json.loads(out)["error"]


def test_submit_json_not_signed_in_prints_json(client, job, capsys):
    from azure_trainer.testing import FailingCredential

    code, out, err = run(capsys, "submit", str(job), "--json", fake=client, credential=FailingCredential())
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1 and "az login" in data["error"] and "Traceback" not in err
    assert client.requests == []


def test_submit_json_preflight_failure_has_error_and_exit_code(client, job, capsys):
    argv = ["submit", str(job), "--json", "--set", "compute.gpu=cpu-cluster"]
    code, out, err = run(capsys, *argv, fake=client)
    data = json.loads(out)
    assert code == 1 and data["status"] == "preflight-failed" and data["exit_code"] == 1
    assert "nothing was submitted" in data["error"] and data["findings"]


# -- download folders ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["afile", "afile/sub", "", "a\x00b"])
def test_download_into_an_unusable_folder_is_bad_input(client, capsys, tmp_path, output):
    (tmp_path / "afile").write_text("x")
    argv = ["download", "j1", "-o", str(tmp_path / output) if output else ""]
    code, out, err = run(capsys, *argv, fake=client)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and "-o" in err
    assert client.requests == [] and client.client_workspaces == []


def test_download_folder_that_cannot_be_created_is_bad_input(client, capsys, tmp_path, monkeypatch):
    import errno

    def refuse(self, *args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    code, out, err = run(capsys, "download", "j1", "-o", str(tmp_path / "x" / "y"), fake=client)
    assert code == 2 and "cannot create the download folder" in err and err.count("\n") == 1
    assert client.requests_matching("GET", r"/jobs/") == []


def test_failed_download_leaves_no_empty_folder(client, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "download", "no-such-job", fake=client)
    assert code == 1 and "not found" in err
    assert not (tmp_path / "downloads").exists()
    code, out, err = run(capsys, "download", "no-such-job", "-o", "new/deep/dir", fake=client)
    assert code == 1 and not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    code, out, err = run(capsys, "download", "no-such-job", "-o", "mine/dl", fake=client)
    assert code == 1 and (tmp_path / "mine").is_dir() and not (tmp_path / "mine" / "dl").exists()


def test_failed_download_keeps_what_was_written(client, job, capsys, tmp_path):
    run(capsys, "submit", str(job), "--name", "half-1", fake=client)
    client.set_job_status("half-1", "Completed")
    client.add_job_output_file("half-1", "outputs/a.txt", "first")
    client.add_job_output_file("half-1", "outputs/b.txt", "second")
    # every try of the second file's download is reset: azure-storage's retries give up
    client.fail_next("GET", r"dcid\.half-1/outputs/b\.txt", error="reset", times=50)
    code, out, err = run(capsys, "download", "half-1", "-o", str(tmp_path / "dl"), fake=client)
    assert code == 1 and err.count("\n") == 1 and "downloading job half-1" in err, err
    assert (tmp_path / "dl" / "artifacts" / "outputs" / "a.txt").read_text() == "first"


# -- sign-in problems ------------------------------------------------------------------------------------


@pytest.mark.slow  # the real credential chain: seconds of sign-in attempts
def test_unreachable_login_endpoint_with_a_service_principal_is_a_network_error(
    monkeypatch, tmp_path, capsys
):
    """The real DefaultAzureCredential and MLClient, service-principal variables set, DNS failing."""
    import socket

    for var in [k for k in os.environ if k.startswith(("AZURE_", "IDENTITY_", "MSI_"))]:
        monkeypatch.delenv(var)
    for var in [k for k in os.environ if k.lower() in ("https_proxy", "http_proxy", "all_proxy")]:
        monkeypatch.delenv(var)  # the failing lookup must be the sign-in endpoint's, not a proxy's
    for var, value in {
        "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000001",
        "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000002",
        "AZURE_CLIENT_SECRET": "s3cr3t-value-never-printed",
        "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
        "AZURE_RESOURCE_GROUP": "rg",
        "AZUREML_WORKSPACE_NAME": "ws",
        "AZURE_CONFIG_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(var, value)
    looked_up = []

    def no_dns(host, *args, **kwargs):
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "status", "some-job")
    assert code == 1 and err.count("\n") == 1, err
    assert "cannot reach Azure (network/DNS/proxy: login.microsoftonline.com" in err
    assert "set AZURE_TENANT_ID" not in err and "s3cr3t" not in err
    assert "login.microsoftonline.com" in looked_up


# -- the offline workspace (--workspace local:DIR): a persistent fake Azure ML in a folder ----------------


def offline_job(tmp_path: Path, script: str, name: str = "job.yaml") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "train.py").write_text(textwrap.dedent(script))
    path = tmp_path / name
    path.write_text(
        textwrap.dedent("""\
        experiment_name: offline-exp
        code: src
        script: train.py
        args: {out: "${{outputs.model}}"}
        compute: cpu-cluster
        environment: azureml:pytorch-cpu:1
        outputs: {model: {type: uri_folder}}
        limits: {timeout: 600}
        """)
    )
    return path


def test_an_offline_workspace_is_made_on_first_use_and_never_in_a_folder_of_yours(tmp_path, capsys):
    from azure_trainer.testing import block_network

    with block_network() as attempts:
        code, out, err = run(capsys, "list", "--workspace", f"local:{tmp_path / 'ws'}")
    assert code == 0 and out.strip() == "no jobs" and attempts == []
    assert "created the offline workspace" in err and (tmp_path / "ws" / "offline-workspace.json").is_file()
    code, out, err = run(capsys, "list", "--workspace", f"local:{tmp_path / 'ws'}")
    assert code == 0 and "created" not in err  # the second time it is there
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    code, out, err = run(capsys, "list", "--workspace", f"local:{tmp_path / 'mine'}")
    assert code == 2 and err.count("\n") == 1 and "is not an offline workspace" in err
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]
    code, out, err = run(capsys, "list", "--workspace", "local:")
    assert code == 2 and "give the offline workspace's folder" in err
    for argv, folder in ((["-q", "list"], "quiet"), (["list", "--json"], "json")):  # results and errors only
        code, out, err = run(capsys, *argv, "--workspace", f"local:{tmp_path / folder}")
        assert code == 0 and err == "" and (tmp_path / folder / "offline-workspace.json").is_file(), err


def test_an_offline_workspace_keeps_its_jobs_across_invocations(tmp_path, capsys, monkeypatch):
    from azure_trainer import load_config, submit
    from azure_trainer.azureml.offline import OfflineWorkspace

    folder = tmp_path / "ws"
    job = offline_job(tmp_path, "print('hi')\n")
    with OfflineWorkspace(folder, simulate=False) as workspace:  # nothing runs it: a fast test
        result = submit(load_config(job), workspace.ml_client(), name="kept-1")
    assert result.status == "NotStarted" and result.cost is not None
    capsys.readouterr()
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", f"local:{folder}")  # the environment names it too
    code, out, _ = run(capsys, "status", "kept-1", "--json")
    assert (
        code == 0
        and json.loads(out)["status"] == "NotStarted"
        and json.loads(out)["compute"] == "cpu-cluster"
    )
    code, out, _ = run(capsys, "list")
    assert code == 0 and "kept-1" in out and "NotStarted" in out
    code, out, _ = run(capsys, "cancel", "kept-1")
    assert code == 0 and "cancel requested" in out
    code, out, _ = run(capsys, "status", "kept-1")
    assert "Canceled" in out and "never started running" in out
    code, out, err = run(capsys, "submit", str(job), "--dry-run")
    assert code == 0 and out.startswith("$schema:") and "cost: 1 x Standard_DS3_v2 (dedicated)" in err
    code, out, _ = run(capsys, "list", "--json")
    assert [j["name"] for j in json.loads(out)] == ["kept-1"]  # the dry run made nothing


def test_an_offline_workspace_opened_from_python_with_a_relative_folder_works(tmp_path, monkeypatch, capsys):
    """README's ``with OfflineWorkspace(DIR) as ws: submit(spec, ws.ml_client())`` with DIR relative to the
    current folder, as the CLI's ``local:./offline-ws`` is (the Studio link is a file URI, which needs an
    absolute path; the simulated run starts in the job's own folder)."""
    from azure_trainer import load_config, submit
    from azure_trainer.azureml.offline import OfflineWorkspace

    job = offline_job(tmp_path, "print('hi')\n")
    monkeypatch.chdir(tmp_path)
    with OfflineWorkspace("ws", simulate=False) as workspace:
        result = submit(load_config(job), workspace.ml_client(), name="rel-1")
    assert result.status == "NotStarted"
    assert result.studio_url == (tmp_path / "ws" / "runs" / "rel-1" / "run").as_uri()
    assert workspace.folder == tmp_path / "ws"


def test_a_submit_not_at_a_terminal_prints_nothing_after_the_code_upload(tmp_path, capsys, monkeypatch):
    """With its bar off, the SDK still ends each code upload with a colour reset and two blank lines on
    stderr; README: progress (azure-ai-ml's upload bar included) only for a person at a terminal."""
    import functools

    from azure_trainer.azureml import offline

    # nothing runs the job (a quick test): the offline workspace as the CLI opens it, without simulating
    monkeypatch.setattr(
        offline, "OfflineWorkspace", functools.partial(offline.OfflineWorkspace, simulate=False)
    )
    job = offline_job(tmp_path, "print('hi')\n")
    code, out, err = run(
        capsys, "submit", str(job), "--name", "up-1", "--workspace", f"local:{tmp_path / 'ws'}"
    )
    assert code == 0 and "submitted up-1" in out, err
    assert (tmp_path / "ws").is_dir() and "\x1b[" not in err and "\n\n" not in err, repr(err)
    assert err.strip().splitlines()[-1].startswith("cost: 1 x Standard_DS3_v2")


def wait_for(capsys, folder, name, statuses, timeout_s=120.0):
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        code, out, _ = run(capsys, "status", name, "--json", "--workspace", f"local:{folder}")
        status = json.loads(out)["status"]
        if status in statuses or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


@pytest.mark.slow
def test_an_offline_workspace_runs_the_job_and_every_command_works_on_it(tmp_path, capsys):
    """submit, logs, status, list and download across separate invocations; the job runs in the
    background through run-local, as a compute node would run it."""
    folder = tmp_path / "ws"
    script = """\
        import os, sys
        out = sys.argv[sys.argv.index("--out") + 1]
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, "model.txt"), "w").write("weights")
        print("trained on", os.environ["AZURE_TRAINER_REQUIRE_GPU"] == "1" and "gpu" or "cpu", flush=True)
        import json, time  # a metric, through the contract's status channel
        with open(os.environ["AZURE_TRAINER_STATUS_FILE"], "a") as status:
            status.write(json.dumps({"event": "metrics", "rank": 0, "time": time.time(), "step": 1,
                                     "values": {"loss": 0.5}}) + "\\n")
        """
    job = offline_job(tmp_path, script)
    code, out, err = run(capsys, "submit", str(job), "--name", "run-1", "--workspace", f"local:{folder}")
    assert code == 0 and "submitted run-1 (NotStarted)" in out, err
    assert "Uploading" not in err  # the SDK's upload bar, like every progress display, only at a terminal
    assert f"studio: {(folder / 'runs' / 'run-1' / 'run').as_uri()}" in out
    code, out, err = run(capsys, "logs", "run-1", "--workspace", f"local:{folder}")
    assert code == 0 and "job run-1: Completed" in out and "trained on cpu" in out, out + err
    code, out, _ = run(capsys, "status", "run-1", "--workspace", f"local:{folder}")
    assert "Completed" in out and "x 1 node of Standard_DS3_v2 (dedicated): about USD" in out
    code, out, _ = run(
        capsys, "download", "run-1", "-o", str(tmp_path / "dl"), "--workspace", f"local:{folder}"
    )
    assert code == 0
    assert (tmp_path / "dl" / "artifacts" / "outputs" / "model" / "model.txt").read_text() == "weights"
    assert "trained on cpu" in (tmp_path / "dl" / "artifacts" / "user_logs" / "std_log.txt").read_text()
    code, out, _ = run(capsys, "list", "--workspace", f"local:{folder}")
    assert "run-1" in out and "Completed" in out
    # README: every Azure command works on the offline workspace, `report --job` too (the job's MLflow run)
    page = tmp_path / "report-run-1.html"
    code, out, err = run(
        capsys, "report", "--job", "run-1", "-o", str(page), "--json", "--workspace", f"local:{folder}"
    )
    assert code == 0 and page.is_file() and json.loads(out)["metrics"] == ["loss"], out + err


@pytest.mark.slow
def test_cancelling_an_offline_job_stops_it(tmp_path, capsys):
    import time

    folder = tmp_path / "ws"
    job = offline_job(tmp_path, "import time\nprint('working', flush=True)\ntime.sleep(300)\n")
    code, out, err = run(capsys, "submit", str(job), "--name", "long-1", "--workspace", f"local:{folder}")
    assert code == 0, err
    assert wait_for(capsys, folder, "long-1", {"Running", "Failed", "Completed"}) == "Running"
    log_file = folder / "runs" / "long-1" / "run" / "log.txt"
    deadline = time.monotonic() + 120
    while (
        "working" not in (log_file.read_text() if log_file.exists() else "") and time.monotonic() < deadline
    ):
        time.sleep(0.2)  # the job's own process is running
    code, out, err = run(capsys, "cancel", "long-1", "--workspace", f"local:{folder}")
    assert code == 0, err
    assert wait_for(capsys, folder, "long-1", {"Canceled", "Failed", "Completed"}, timeout_s=60) == "Canceled"
    assert "SIGTERM received" in log_file.read_text()


def test_a_submit_whose_outcome_is_unknown_names_the_job_and_how_to_check(client, job, capsys):
    client.fail_next("PUT", r"/jobs/maybe-1\?", lost_response=True, times=20)
    client.fail_next("GET", r"/jobs/maybe-1\?", error="reset", times=20)
    code, out, err = run(capsys, "submit", str(job), "--name", "maybe-1", fake=client)
    last = err.strip().splitlines()[-1]
    assert code == 1 and "Traceback" not in err and out == ""
    assert last.startswith("azure-trainer: error: submitting job maybe-1: cannot reach Azure ML")
    assert "it may have been created: check with `azure-trainer status maybe-1`" in last
    client.clear_failures()
    code, out, err = run(capsys, "submit", str(job), "--name", "maybe-1", fake=client)
    assert (
        code == 0
        and out.startswith("already submitted maybe-1 (NotStarted)")
        and "nothing was sent again" in err
    )
    assert list(client.jobs) == ["maybe-1"]

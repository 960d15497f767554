"""The Azure-facing CLI commands (submit and the job lifecycle) over the duck-typed FakeMLClient."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from azure_trainer.cli import main
from azure_trainer.testing import FakeMLClient

REPO = Path(__file__).resolve().parents[1]
GPU_ENV = "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest"


_FACTORY: list = []  # the client factory of the running test (set by the `client` fixture)


@pytest.fixture
def client(monkeypatch):
    """A fake client handed to the CLI by injection; the workspace comes from the environment."""
    fake_client = FakeMLClient()
    seen = []
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", "rg-cli")
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", "ws-env")

    def factory(workspace):
        seen.append(workspace)
        return fake_client

    _FACTORY.append(factory)
    fake_client.seen_workspaces = seen
    yield fake_client
    _FACTORY.remove(factory)


@pytest.fixture
def job(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    path = tmp_path / "job.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        experiment: cli-exp
        code: src
        script: train.py
        use_gpu: true
        compute: {{gpu: gpu-cluster, cpu: cpu-cluster}}
        environment: {{gpu: "{GPU_ENV}", cpu: "azureml:pytorch-cpu:1"}}
        """)
    )
    return path


def run(capsys, *argv):
    code = main(list(argv), client_factory=_FACTORY[-1] if _FACTORY else None)
    out, err = capsys.readouterr()
    return code, out, err


def test_submit_prints_name_and_studio_url(client, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--workspace", "ws-cli")
    assert code == 0, err
    name = out.split()[1]
    assert name.startswith("cli-exp-") and "studio: " in out
    assert client.fake.jobs[name]
    assert client.seen_workspaces[0].name == "ws-cli"  # the flag wins over AZUREML_WORKSPACE_NAME


def test_submit_json_and_cpu_flag(client, job, capsys):
    code, out, _ = run(capsys, "submit", str(job), "--cpu", "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] and data["findings"] == []
    call = client.calls_to("jobs.create_or_update")[0]
    assert call.args[0].compute == "cpu-cluster"


def test_submit_refused_by_preflight_exits_1_with_the_table(client, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--set", "compute.gpu=cpu-cluster")
    assert code == 1
    assert "gpu-on-cpu-vm" in err and "nothing was submitted" in err and "Traceback" not in err
    assert client.calls_to("jobs.create_or_update") == []


def test_no_preflight_skips_the_checks(client, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--set", "compute.gpu=cpu-cluster", "--no-preflight")
    assert code == 0, err
    assert client.calls_to("compute.get") == [] and len(client.calls_to("jobs.create_or_update")) == 1


def test_dry_run_prints_yaml_and_creates_nothing(client, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--dry-run")
    assert code == 0 and out.startswith("$schema:") and "type: command" in out
    assert "was not submitted" in err
    assert client.calls_to("jobs.create_or_update") == []
    assert client.calls_to("compute.get")  # the checks did run


def test_submit_stream_follows_the_job(client, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--stream")
    assert code == 0, err
    assert "Completed" in out and client.calls_to("jobs.stream")


def test_status_list_cancel_download_logs(client, job, capsys, tmp_path):
    run(capsys, "submit", str(job))
    name = next(iter(client.fake.jobs))
    code, out, _ = run(capsys, "status", name, "--json")
    assert code == 0 and json.loads(out)["name"] == name and json.loads(out)["experiment"] == "cli-exp"
    code, out, _ = run(capsys, "status", name)
    assert code == 0 and "status" in out and "JobStatus." not in out
    code, out, _ = run(capsys, "list", "--json", "--experiment", "cli-exp")
    assert [j["name"] for j in json.loads(out)] == [name]
    code, out, _ = run(capsys, "list", "--experiment", "other")
    assert out.strip() == "no jobs"
    code, out, _ = run(capsys, "cancel", name)
    assert code == 0 and client.calls_to("jobs.begin_cancel")
    client.fake.set_job_status(name, "Completed")
    client.fake.add_job_output_file(name, "model.pt", b"weights")
    code, out, _ = run(capsys, "download", name, "-o", str(tmp_path / "dl"))
    assert code == 0 and client.calls_to("jobs.download")
    assert any(p.name == "model.pt" for p in (tmp_path / "dl").rglob("*"))
    code, out, _ = run(capsys, "logs", name)
    assert code == 0 and "Completed" in out


def test_logs_ctrl_c_stops_watching_without_cancelling(client, job, capsys, monkeypatch):
    run(capsys, "submit", str(job))
    name = next(iter(client.fake.jobs))

    def interrupted(_name):
        raise KeyboardInterrupt

    monkeypatch.setattr(client.jobs, "stream", interrupted)
    code, out, err = run(capsys, "logs", name)
    assert code == 130 and "keeps running" in err
    assert client.calls_to("jobs.begin_cancel") == []


def test_logs_reconnect_after_a_dropped_connection(client, job, capsys, monkeypatch):
    from azure.core.exceptions import ServiceRequestError

    import azure_trainer.azureml.lifecycle as lifecycle

    run(capsys, "submit", str(job))
    name = next(iter(client.fake.jobs))
    client.fail_next("jobs.stream", ServiceRequestError("connection reset"), times=2)
    monkeypatch.setattr(lifecycle.time, "sleep", lambda s: None)
    code, out, err = run(capsys, "logs", name)
    assert code == 0 and out.count("reconnecting") == 2
    assert len(client.calls_to("jobs.stream")) == 3


@pytest.mark.parametrize("command", ["status", "logs", "cancel", "download"])
def test_bad_job_name_is_a_one_line_error(client, capsys, command):
    code, out, err = run(capsys, command, "bad name;rm")
    assert code == 2 and err.count("\n") == 1 and "bad job name" in err
    assert client.calls == []


def test_unknown_job_is_a_clear_error(client, capsys):
    code, out, err = run(capsys, "status", "no-such-job")
    assert code == 1 and "getting job no-such-job: not found" in err and "Traceback" not in err


def test_unreachable_workspace_is_one_line(client, capsys, monkeypatch):
    from azure.core.exceptions import ServiceRequestError

    client.fail_next("jobs.list", ServiceRequestError("Name or service not known"))
    code, out, err = run(capsys, "list")
    assert code == 1 and "cannot reach Azure ML" in err and err.count("\n") == 1


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


def test_bad_submit_name_is_checked_before_the_workspace(no_workspace, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--name", "../x")
    assert code == 2 and "bad job name" in err and "workspace" not in err


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
    from azure.core.exceptions import ClientAuthenticationError

    from azure_trainer.testing.credentials import NOT_LOGGED_IN_MESSAGE

    client.fail_next("compute.get", ClientAuthenticationError(message=NOT_LOGGED_IN_MESSAGE))
    code, out, err = run(capsys, "submit", str(job), "--json")
    data = json.loads(out)
    assert code == 1 and data["exit_code"] == 1 and "az login" in data["error"] and "Traceback" not in err


def test_submit_json_preflight_failure_has_error_and_exit_code(client, job, capsys):
    code, out, err = run(capsys, "submit", str(job), "--json", "--set", "compute.gpu=cpu-cluster")
    data = json.loads(out)
    assert code == 1 and data["status"] == "preflight-failed" and data["exit_code"] == 1
    assert "nothing was submitted" in data["error"] and data["findings"]


# -- download folders ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["afile", "afile/sub", ""])
def test_download_into_an_unusable_folder_is_bad_input(client, capsys, tmp_path, output):
    (tmp_path / "afile").write_text("x")
    code, out, err = run(capsys, "download", "j1", "-o", str(tmp_path / output) if output else "")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and "-o" in err
    assert client.calls == []


def test_download_folder_that_cannot_be_created_is_bad_input(client, capsys, tmp_path, monkeypatch):
    import errno

    def refuse(self, *args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    code, out, err = run(capsys, "download", "j1", "-o", str(tmp_path / "x" / "y"))
    assert code == 2 and "cannot create the download folder" in err and err.count("\n") == 1
    assert client.calls_to("jobs.download") == []


def test_failed_download_leaves_no_empty_folder(client, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "download", "no-such-job")
    assert code == 1 and "not found" in err
    assert not (tmp_path / "downloads").exists()
    code, out, err = run(capsys, "download", "no-such-job", "-o", "new/deep/dir")
    assert code == 1 and not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    code, out, err = run(capsys, "download", "no-such-job", "-o", "mine/dl")
    assert code == 1 and (tmp_path / "mine").is_dir() and not (tmp_path / "mine" / "dl").exists()


def test_failed_download_keeps_what_was_written(client, capsys, tmp_path, monkeypatch):
    from azure.core.exceptions import ServiceResponseError

    def half_then_fail(name, *, download_path, **kwargs):
        (Path(download_path) / "artifacts").mkdir()
        raise ServiceResponseError("connection reset")

    monkeypatch.setattr(client.jobs, "download", half_then_fail)
    code, out, err = run(capsys, "download", "j1", "-o", str(tmp_path / "dl"))
    assert code == 1 and (tmp_path / "dl" / "artifacts").is_dir()


# -- sign-in problems ------------------------------------------------------------------------------------


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

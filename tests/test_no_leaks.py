"""Nothing leaks, nothing is overwritten (issue 16, items 1-3).

* No output shows a secret: validate's summary, export's YAML, preflight's findings (offline), run-local's
  run-folder files, its shown and recorded command, and its error messages, for a job holding secrets in
  every form a shell or argparse accepts.
* No user file is overwritten: run folders are recognised by azure-trainer's marker only (another job's
  folder and the code folder are refused), ``export -o`` never writes over the job's own config and asks
  for ``--force`` for any other file, ``download -o`` refuses a folder with files in it unless ``--force``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from guard_jobs import (
    DB_URL,
    GITHUB_TOKEN,
    OPENAI_KEY,
    PASSWORD,
    SAS,
    SAS_URL,
    URL_PASSWORD,
    spec,
    write_job,
)

from azure_trainer import ConfigError, LocalRunError, load_config, plan
from azure_trainer.cli import main

SECRETS = [PASSWORD, GITHUB_TOKEN, OPENAI_KEY, URL_PASSWORD, SAS.split("sig=")[1]]
COMMAND = (
    f"DB_PASSWORD={PASSWORD} python main.py --data ${{{{inputs.data}}}} -p {PASSWORD} "
    f"--api-token={GITHUB_TOKEN} -k'{OPENAI_KEY}' --db {DB_URL} --learning_rate 0.01"
)


def _no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret[:4]}... leaked"


def _leaky_job(root: Path) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    return write_job(
        root,
        command=COMMAND,
        preflight={"skip": ["unknown-script-arg"]},  # validate would start the script for its --help
        environment_variables={"HF_TOKEN": GITHUB_TOKEN, "SEED": "1"},
        inputs={
            "data": {"type": "uri_folder", "path": SAS_URL, "local_path": "data"},
            "remote": {"type": "uri_folder", "path": SAS_URL},
            "db_password": PASSWORD,  # a literal input
        },
    )


# ---------------------------------------------------------------------------------------------
# no output shows a secret
# ---------------------------------------------------------------------------------------------


def test_validate_and_export_show_no_secret(tmp_path, capsys, monkeypatch):
    from azure.ai.ml import load_job

    monkeypatch.chdir(tmp_path)
    job = _leaky_job(tmp_path)
    assert main(["validate", str(job)]) == 1  # the offline checks refuse the secrets before any sign-in
    out, err = capsys.readouterr()
    _no_secret(out + err)
    assert "-p ***" in out and "--api-token=***" in out and "postgres://admin:***@db" in out
    assert "secret-in-args" in out and "secret-in-input-path" in out and "secret-in-env" in out
    assert main(["validate", str(job), "--json"]) == 1
    _no_secret(capsys.readouterr().out)

    assert main(["export", str(job), "-o", "job.cli.yaml"]) == 0
    out, err = capsys.readouterr()
    exported = (tmp_path / "job.cli.yaml").read_text()
    _no_secret(exported + out + err)
    assert "written as ***" in err
    data = yaml.safe_load(exported)
    assert data["environment_variables"]["HF_TOKEN"] == "***"
    assert data["inputs"]["data"]["path"].endswith("sig=***")
    loaded = load_job(tmp_path / "job.cli.yaml")  # still a job the SDK reads
    assert "-p ***" in loaded.command


def test_submit_dry_run_yaml_shows_no_secret(tmp_path, monkeypatch):
    from azure_trainer import submit

    monkeypatch.chdir(tmp_path)
    result = submit(load_config(_leaky_job(tmp_path)), None, dry_run=True, preflight=False)
    _no_secret(result.job_yaml)
    assert "-p ***" in yaml.safe_load(result.job_yaml)["command"]


def test_offline_findings_name_every_secret_and_show_none(tmp_path):
    from azure_trainer.azureml.offline_findings import offline_findings

    findings = offline_findings(plan(load_config(_leaky_job(tmp_path))))
    codes = [f.code for f in findings]
    assert codes.count("secret-in-env") == 1 and codes.count("secret-in-input-path") == 2
    messages = "\n".join(f.message for f in findings)
    for what in ("`DB_PASSWORD=`", "`-p` (`--password` of the script)", "`--api-token`", "`-k`", "`--db`"):
        assert what in messages, what
    assert "Input `db_password`" in messages
    _no_secret(messages)


def test_an_attached_short_option_is_a_secret_not_an_unknown_option(tmp_path, capsys):
    # -pVALUE with the script's -p/--password: argparse accepts it, so the --help check (which runs the
    # script's real argparse here) must not call it unknown, and no line may show the value
    job = write_job(tmp_path, command=f"python main.py -p{PASSWORD} --learning_rate 0.01")
    assert main(["validate", str(job)]) == 1
    out, err = capsys.readouterr()
    _no_secret(out + err)
    assert "secret-in-args" in out and "unknown-script-arg" not in out
    assert "-p***" in out and "\n  env " in out  # the summary's next row keeps its label
    assert main(["validate", str(job), "--json"]) == 1
    _no_secret(capsys.readouterr().out)


def test_a_finding_that_quotes_the_command_shows_no_secret(tmp_path, capsys):
    # -x is not the script's: unknown-script-arg names the word, and the word holds a GitHub token
    job = write_job(tmp_path, command=f"python main.py -x{GITHUB_TOKEN}")
    assert main(["validate", str(job), "--json"]) == 1
    out = capsys.readouterr().out
    _no_secret(out)
    codes = [f["code"] for f in json.loads(out)[0]["findings"]]
    assert "unknown-script-arg" in codes and any(c.endswith("secret-in-args") for c in codes)


def test_preflight_skip_applies_to_the_offline_findings(tmp_path):
    from azure_trainer.azureml.offline_findings import offline_findings

    job = _leaky_job(tmp_path)
    skipping = ["secret-in-env", "secret-in-args", "secret-in-input-path", "unknown-script-arg"]
    assert offline_findings(plan(load_config(job, [f"preflight.skip={skipping}"]))) == []


def _host():
    from azure_trainer.local.prepare import Host

    return Host(python="/opt/py/bin/python3", environ={"PATH": "/usr/bin"}, cpu_count=2, port=40000)


def test_run_local_writes_and_shows_no_secret(tmp_path):
    from azure_trainer.local.prepare import LocalOptions, prepare

    launch_spec = plan(load_config(_leaky_job(tmp_path)))
    launch = prepare(launch_spec, LocalOptions(), _host(), tmp_path / "run")
    assert (
        PASSWORD in launch.agents[0].argv[-1] and launch.env["HF_TOKEN"] == GITHUB_TOKEN
    )  # the job gets them...
    shown = "\n".join(
        [
            launch.shell_text,
            *launch.launcher,
            *launch.agents[0].shown,
            *launch.warnings,
            *launch.files.values(),
        ]
    )
    _no_secret(shown)  # ...nothing shown, recorded or written holds them
    config = yaml.safe_load(launch.files["config.yaml"].split("\n", 2)[2])
    assert (
        config["inputs"]["db_password"]["value"] == "***"
        and config["environment_variables"]["HF_TOKEN"] == "***"
    )
    command_sh = launch.files["command.sh"]
    assert 'export HF_TOKEN="${HF_TOKEN:?HF_TOKEN looks like a secret' in command_sh
    assert "${AZT_SECRET_1}" in command_sh and "${AZT_SECRET_5}" in command_sh
    assert 'export AZT_SECRET_2="${AZT_SECRET_2:?argument -p (--password of the script)' in command_sh


@pytest.mark.slow  # runs the job
def test_run_local_end_to_end_leaves_no_secret_in_the_run_folder_or_the_console(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    job = _leaky_job(tmp_path)
    code = main(["run-local", str(job), "--run-dir", "run", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    _no_secret(out + err)
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file() and "outputs" not in path.parts and "mlruns" not in path.parts:
            _no_secret(path.read_text(errors="replace"))
    assert json.loads(out)["command"].count("***") >= 4


@pytest.mark.parametrize(
    "args",
    [
        [f"--password={PASSWORD}"],  # the list form of args, as argparse would read it
        ["--epochs", "3", "--api-token", GITHUB_TOKEN],  # longer than the 60 characters a "got" shows
        [{"db_password": PASSWORD}],
    ],
)
def test_a_config_error_quoting_the_value_shows_no_secret(tmp_path, capsys, args):
    job = write_job(tmp_path, script="main.py", args=args)
    data = yaml.safe_load(job.read_text())
    del data["command"]  # script + args instead
    job.write_text(yaml.safe_dump(data))
    assert main(["validate", str(job)]) == 2
    err = capsys.readouterr().err
    _no_secret(err)
    assert "args: Input should be a valid dictionary (got [" in err and "***" in err
    assert err.count("\n") == 1


def test_input_messages_hide_credentials(tmp_path):
    from azure_trainer.local.inputs import resolve_inputs

    job_spec = plan(load_config(_leaky_job(tmp_path)))
    with pytest.raises(LocalRunError) as caught:
        resolve_inputs(job_spec, {"data": f"https://user:{URL_PASSWORD}@host/x"}, [])
    assert "is not on this machine" in str(caught.value)
    with pytest.raises(LocalRunError) as missing:
        resolve_inputs(job_spec, {"data": f"./creds?{SAS}"}, [])
    warnings: list[str] = []
    resolve_inputs(job_spec, {}, warnings)  # `remote` is on Azure ML and unused: a warning naming it
    for text in (str(caught.value), str(missing.value), *warnings):
        _no_secret(text)
        assert "\n" not in text
    assert any("sig=***" in w for w in warnings)
    used = spec(tmp_path / "u", "python main.py --data ${{inputs.d}}", inputs={"d": {"path": SAS_URL}})
    with pytest.raises(LocalRunError, match="is on Azure ML") as remote:
        resolve_inputs(used, {}, [])
    _no_secret(str(remote.value))


# ---------------------------------------------------------------------------------------------
# run folders: only azure-trainer's, only this job's
# ---------------------------------------------------------------------------------------------


def test_a_folder_of_the_users_is_never_a_run_folder(tmp_path):
    """The audit's case: a folder holding a log.txt and command.sh counted as a run folder."""
    from azure_trainer.local.run_folder import check_run_dir

    mine = tmp_path / "mine"
    (mine / "outputs" / "model").mkdir(parents=True)
    for name in ("log.txt", "command.sh", "config.yaml", "run.json"):
        (mine / name).write_text("the user's own")
    with pytest.raises(LocalRunError, match="holds other files and is not a run folder") as caught:
        check_run_dir(mine, spec(tmp_path))
    assert "older azure-trainer" in str(caught.value)
    (mine / ".azure-trainer").mkdir()
    (mine / ".azure-trainer" / "folder.json").write_text("{not json")
    with pytest.raises(LocalRunError, match="is not a run folder"):
        check_run_dir(mine, spec(tmp_path))
    assert all((mine / n).read_text() == "the user's own" for n in ("log.txt", "command.sh", "config.yaml"))


def test_the_code_folder_is_never_a_run_folder(tmp_path):
    from azure_trainer.local.run_folder import check_run_dir

    job = spec(tmp_path)
    with pytest.raises(LocalRunError, match="is the job's code folder"):
        check_run_dir(job.code, job)
    with pytest.raises(LocalRunError, match="is the job's code folder"):
        check_run_dir(job.code / ".." / "src", job)


def test_a_run_folder_is_reused_by_its_job_and_refused_to_any_other(tmp_path):
    from azure_trainer.local.run_folder import MARKER, check_run_dir, create_folder

    job = spec(tmp_path, experiment="digits", source=str(tmp_path / "job.yaml"))
    run_dir = create_folder(check_run_dir(tmp_path / "r", job), "r", job)
    (run_dir / "log.txt").write_text("run 1\n")
    marker = json.loads((run_dir / MARKER).read_text())
    assert marker["kind"] == "run" and marker["experiment"] == "digits"
    assert marker["source"] == str((tmp_path / "job.yaml").resolve())
    assert marker["fingerprint"].startswith("sha256:")
    assert check_run_dir(run_dir, job) == run_dir  # a rerun of the same job resumes in it
    more_epochs = spec(tmp_path, "python main.py --epochs 40", experiment="digits", source=job.source)
    assert check_run_dir(run_dir, more_epochs) == run_dir  # other settings, same job
    other = spec(tmp_path, experiment="cifar", source=str(tmp_path / "other.yaml"))
    with pytest.raises(LocalRunError, match=r"is the run folder of another job \(experiment 'digits'"):
        check_run_dir(run_dir, other)
    with pytest.raises(LocalRunError, match="is a run folder, not a sweep folder"):
        check_run_dir(run_dir, job, "sweep")


def test_the_marker_holds_no_secret(tmp_path):
    from azure_trainer.local.run_folder import marker_text

    job = spec(tmp_path, f"python main.py --password {PASSWORD}", env={"HF_TOKEN": GITHUB_TOKEN})
    text = marker_text(job, "run")
    _no_secret(text)
    safe = spec(tmp_path, "python main.py --password ***", env={"HF_TOKEN": "***"})
    assert json.loads(text)["fingerprint"] == json.loads(marker_text(safe, "run"))["fingerprint"]


def test_run_local_refuses_a_users_folder_before_writing_anything(tmp_path, capsys):
    job = write_job(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "log.txt").write_text("mine")
    assert main(["run-local", str(job), "--run-dir", str(mine)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["log.txt"] and (mine / "log.txt").read_text() == "mine"


def test_a_sweep_folder_is_marked_and_checked_like_a_run_folder(tmp_path):
    from azure_trainer.local.run_folder import MARKER, check_run_dir, create_folder

    job = spec(tmp_path)
    root = create_folder(check_run_dir(tmp_path / "sweep", job, "sweep"), "sweep", job, "sweep")
    assert json.loads((root / MARKER).read_text())["kind"] == "sweep"
    (root / "trial-000").mkdir()
    assert check_run_dir(root, job, "sweep") == root
    with pytest.raises(LocalRunError, match="is a sweep folder, not a run folder"):
        check_run_dir(root, job)


# ---------------------------------------------------------------------------------------------
# export -o
# ---------------------------------------------------------------------------------------------


def test_export_never_overwrites_the_jobs_own_config(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = write_job(tmp_path, "base.yaml")
    job = tmp_path / "job.yaml"
    job.write_text("extends: base.yaml\nexperiment_name: child\n")
    (tmp_path / "link.yaml").symlink_to(base)
    before = {p: p.read_text() for p in (base, job)}
    for target in ("job.yaml", "base.yaml", "link.yaml", "./sub/../job.yaml"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        assert main(["export", str(job), "-o", target, "--force"]) == 2
        err = capsys.readouterr().err
        assert "is the job's own config" in err and err.count("\n") == 1
    assert {p: p.read_text() for p in (base, job)} == before


def test_export_overwrites_another_file_only_with_force(tmp_path, capsys):
    job = write_job(tmp_path)
    out = tmp_path / "exported.yaml"
    out.write_text("keep me")
    assert main(["export", str(job), "-o", str(out)]) == 2
    assert "exists; pass --force to overwrite it" in capsys.readouterr().err and out.read_text() == "keep me"
    assert main(["export", str(job), "-o", str(out), "--force"]) == 0
    assert out.read_text().startswith("$schema: ")
    assert main(["export", str(job), "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    new = tmp_path / "new.yaml"
    assert main(["export", str(job), "-o", str(new)]) == 0 and new.read_text().startswith("$schema: ")


def test_a_failed_export_write_leaves_the_old_file(tmp_path, monkeypatch):
    from azure_trainer.cli.export import write_whole

    target = tmp_path / "out.yaml"
    target.write_text("old")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ConfigError, match="cannot write there: No space left on device"):
        write_whole(target, "new", shown="out.yaml")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.yaml"]


# ---------------------------------------------------------------------------------------------
# download -o
# ---------------------------------------------------------------------------------------------


def test_download_into_a_folder_with_files_needs_force(tmp_path):
    from azure_trainer.azureml.lifecycle import download_target

    (tmp_path / "empty").mkdir()
    assert download_target("job-1", tmp_path / "empty") == tmp_path / "empty"
    assert download_target("job-1", tmp_path / "new" / "deep") == tmp_path / "new" / "deep"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already holds files.*--force"):
        download_target("job-1", tmp_path / "full")
    assert download_target("job-1", tmp_path / "full", force=True) == tmp_path / "full"


def test_download_refuses_before_signing_in(tmp_path, capsys, monkeypatch):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")

    def no_client(workspace):
        raise AssertionError("the client must not be built")

    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME"):
        monkeypatch.setenv(name, "x")
    assert main(["download", "job-1", "-o", str(tmp_path / "full")], client_factory=no_client) == 2
    err = capsys.readouterr().err
    assert "already holds files" in err and err.count("\n") == 1


def test_download_with_force_keeps_the_users_other_files(fake, ml, tmp_path, capsys, monkeypatch):
    from azure.ai.ml import command

    code = tmp_path / "code"
    code.mkdir()
    (code / "main.py").write_text("print('hi')\n")
    ml.jobs.create_or_update(
        command(
            name="job-1",
            code=str(code),
            command="python main.py",
            environment="azureml:env:1",
            compute="cpu-cluster",
        )
    )
    fake.add_job_output_file("job-1", "outputs/model.pt", b"weights")
    fake.set_job_status("job-1", "Completed")
    target = tmp_path / "results"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME"):
        monkeypatch.setenv(name, "x")
    assert main(["download", "job-1", "-o", str(target)], client_factory=lambda ws: ml) == 2
    assert not (target / "artifacts").exists()
    capsys.readouterr()
    assert main(["download", "job-1", "-o", str(target), "--force"], client_factory=lambda ws: ml) == 0
    assert (target / "artifacts" / "outputs" / "model.pt").read_bytes() == b"weights"
    assert (target / "notes.txt").read_text() == "mine"

"""Tests of the core CLI: --version, --help, validate, schema (and the committed schema file), and import
hygiene: the CLI, --help and validate never import azure.ai.ml or torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from azure_trainer import __version__
from azure_trainer.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
JOBS = sorted((REPO / "jobs").glob("*.yaml"))
SCHEMA_FILE = REPO / "azure-trainer.schema.json"
HEAVY = ("azure.ai.ml", "torch")


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def run_python(code: str, *, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


# ---------------------------------------------------------------------------------------------
# import hygiene (fresh interpreters)
# ---------------------------------------------------------------------------------------------

_CHECK_MODULES = f"""
import json, sys
print("MODULES=" + json.dumps({{name: name in sys.modules for name in {HEAVY!r}}}))
"""


def loaded_heavy(stdout: str) -> dict[str, bool]:
    line = [ln for ln in stdout.splitlines() if ln.startswith("MODULES=")]
    assert line, stdout
    return json.loads(line[-1].removeprefix("MODULES="))


def test_importing_the_cli_imports_neither_azure_ai_ml_nor_torch():
    result = run_python("import azure_trainer.cli\n" + _CHECK_MODULES)
    assert result.returncode == 0, result.stderr
    assert loaded_heavy(result.stdout) == {"azure.ai.ml": False, "torch": False}


def test_importing_the_package_and_config_layer_is_light():
    result = run_python(
        "import azure_trainer, azure_trainer.config, azure_trainer.planning.spec, "
        "azure_trainer.planning.command_line, azure_trainer.config.schema\n" + _CHECK_MODULES
    )
    assert result.returncode == 0, result.stderr
    assert loaded_heavy(result.stdout) == {"azure.ai.ml": False, "torch": False}


@pytest.mark.parametrize(
    "argv, expected_code",
    [
        (["--help"], 0),
        (["validate", "--help"], 0),
        (["submit", "--help"], 0),
        (["run-local", "--help"], 0),
        (["validate", "jobs/digits.yaml"], 0),
        (["validate", "jobs/digits.yaml", "--cpu"], 0),
        (["validate", "jobs/digits-ddp.yaml", "--gpu", "--set", "args.epochs=1"], 0),
        (["validate", "tests/bad_configs/unknown_nested_key.yaml"], 2),
        (["schema"], 0),
        (["--version"], 0),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_light_commands_do_not_import_heavy_modules(argv, expected_code):
    code = (
        textwrap.dedent(f"""
    import sys
    from azure_trainer.cli import main
    try:
        code = main({argv!r})
    except SystemExit as exc:   # argparse's --help / --version
        code = exc.code
    sys.stdout.flush()
    print("EXIT=" + str(code))
    """)
        + _CHECK_MODULES
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert f"EXIT={expected_code}" in result.stdout, result.stdout + result.stderr
    assert loaded_heavy(result.stdout) == {"azure.ai.ml": False, "torch": False}


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["run-local", "--help"]], ids=" ".join)
def test_help_and_version_do_not_load_the_config_layer(argv):
    """--help stays at the interpreter's floor: pydantic and the YAML loader come with the first job file."""
    code = textwrap.dedent(f"""
    import json, sys
    from azure_trainer.cli import main
    try:
        main({argv!r})
    except SystemExit:
        pass
    sys.stdout.flush()
    print("LOADED=" + json.dumps([m for m in ("pydantic", "yaml", "azure_trainer.config") if m in sys.modules]))
    """)
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "LOADED=[]", result.stdout[-300:]


def test_the_probe_sees_what_validate_imports():
    """Positive control for the checks above: the same probe reports the modules validate does load."""
    result = run_python(
        textwrap.dedent("""
    import json, sys
    from azure_trainer.cli import main
    assert main(["validate", "jobs/digits.yaml"]) == 0
    print("MODULES=" + json.dumps({m: m in sys.modules for m in ("azure_trainer.planning.spec", "pydantic", "yaml")}))
    """)
    )
    assert result.returncode == 0, result.stderr
    assert loaded_heavy(result.stdout) == {
        "azure_trainer.planning.spec": True,
        "pydantic": True,
        "yaml": True,
    }


# ---------------------------------------------------------------------------------------------
# --version, --help
# ---------------------------------------------------------------------------------------------


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"azure-trainer {__version__}\n"


def test_version_matches_package_metadata():
    from importlib.metadata import version

    assert __version__ == version("azure-trainer")


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: azure-trainer")
    for command in (
        "validate",
        "export",
        "schema",
        "run-local",
        "submit",
        "status",
        "logs",
        "cancel",
        "download",
        "list",
    ):
        assert command in out


def test_python_dash_m_help_and_version():
    result = subprocess.run(
        [sys.executable, "-m", "azure_trainer", "--version"], capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout) == (0, f"azure-trainer {__version__}\n")
    result = subprocess.run(
        [sys.executable, "-m", "azure_trainer", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "usage: azure-trainer" in result.stdout


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "azure-trainer: error:" in capsys.readouterr().err


def test_gpu_and_cpu_are_mutually_exclusive(capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate", "jobs/digits.yaml", "--gpu", "--cpu"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "jobs/digits.yaml", "--gpu", "--cpu"],
        ["run-local", "jobs/digits.yaml", "--nproc", "abc"],
        ["run-local", "jobs/digits.yaml", "--preempt-after", "3", "--preempt-at-step", "4"],
        ["frobnicate"],
    ],
)
def test_usage_errors_are_one_line(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert ": error: " in err and "--help)" in err


def test_the_cli_leaves_the_environment_its_children_inherit_alone(capsys, in_repo, monkeypatch):
    """The CLI skips pydantic's plugin discovery in its own process only: run-local's script, the
    ``--help`` probe and the offline workspace's runner inherit os.environ, and a script of the user's
    that uses pydantic plugins must get them locally as on Azure ML."""
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    assert main(["validate", "jobs/digits.yaml"]) == 0
    assert "PYDANTIC_DISABLE_PLUGINS" not in os.environ


def test_debug_is_accepted_after_the_command(capsys, in_repo, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment_name: x\ncode: .\ncommand: echo\nenvironment: azureml:e:1\nunknown_key: 1\n")
    assert main(["validate", str(bad)]) == 2  # without --debug: a one-line error
    from azure_trainer.errors import ConfigError

    with pytest.raises(ConfigError):  # --debug, after the command: the exception itself, for its traceback
        main(["validate", str(bad), "--debug"])


@pytest.mark.parametrize("command", [["export", "jobs/digits.yaml"], ["schema"]])
def test_output_file_errors_are_bad_input(capsys, in_repo, tmp_path, command):
    assert main([*command, "-o", str(tmp_path / "missing" / "out.txt")]) == 2
    assert "cannot write there: No such file or directory" in capsys.readouterr().err
    assert main([*command, "-o", ""]) == 2
    assert "give a file name" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["export", "jobs/digits.yaml"], ["schema"]])
def test_an_output_name_with_a_nul_byte_is_bad_input(capsys, in_repo, command):
    assert main([*command, "-o", "out\x00.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'out\\x00.yaml': not a usable file name (it holds a NUL byte)" in err


@pytest.mark.parametrize(
    ("existing", "text"),
    [
        ("job.yaml", "command: python train.py\nenvironment: azureml:env:1\n"),  # the user's job config
        ("notes.json", '{"$id": "someone-else"}'),  # a JSON file that is not our schema
        ("broken.json", b"\xff\xfe not text"),
    ],
)
def test_schema_never_overwrites_a_file_that_is_not_a_schema_without_force(tmp_path, capsys, existing, text):
    target = tmp_path / existing
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["schema", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists and is not a schema azure-trainer wrote; pass --force" in err
    assert target.read_bytes() == (text if isinstance(text, bytes) else text.encode())
    assert main(["schema", "-o", str(target), "--force"]) == 0
    assert json.loads(target.read_text())["title"] == "azure-trainer job config"


def test_schema_replaces_an_earlier_schema_without_force(tmp_path, capsys):
    """So `azure-trainer schema -o azure-trainer.schema.json` regenerates the committed file."""
    target = tmp_path / "s.json"
    target.write_text(
        SCHEMA_FILE.read_text().replace('"title": "azure-trainer job config"', '"title": "old"')
    )
    assert main(["schema", "-o", str(target)]) == 0
    assert json.loads(target.read_text())["title"] == "azure-trainer job config"


SAS_URL = (
    "https://acct.blob.core.windows.net/c/x?sv=2021-08-06&se=2030-01-01&sr=b&sp=r&sig=" + "Ab1" * 15 + "%3D"
)
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJtYW5hZ2VtZW50In0." + "c2ln" * 10


@pytest.mark.parametrize("secret", [SAS_URL, f"Authorization: Bearer {JWT}", "AccountKey=" + "A" * 86 + "=="])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_an_error_message_never_prints_a_secret_it_carries(capsys, monkeypatch, secret, json_flag):
    """An error's text may echo what a service answered (a SAS URL, a token): the CLI prints it redacted."""
    from azure_trainer.cli import _common, status
    from azure_trainer.errors import AzureMLError

    def fail(args, ctx):
        with _common.json_errors(args.json):
            raise AzureMLError(f"getting job j1: Azure ML answered 400: (Bad) request for {secret} failed")

    monkeypatch.setattr(status, "run", fail)
    assert main(["status", "j1", *json_flag]) == 1
    out, err = capsys.readouterr()
    assert "getting job j1: Azure ML answered 400: (Bad) request for" in err and "***" in err
    for part in ("Ab1Ab1Ab1", JWT, "A" * 40):
        assert part not in out + err
    if json_flag:
        assert "***" in json.loads(out)["error"]


def test_an_error_message_cannot_drive_the_terminal(capsys, monkeypatch):
    from azure_trainer.cli import status
    from azure_trainer.errors import AzureMLError

    def fail(args, ctx):
        raise AzureMLError("getting job j1: Azure ML answered 400: \x1b[2J\x1b]0;owned\x07 cleared")

    monkeypatch.setattr(status, "run", fail)
    assert main(["status", "j1"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert (
        err
        == "azure-trainer: error: getting job j1: Azure ML answered 400: \\x1b[2J\\x1b]0;owned\\x07 cleared\n"
    )


def test_parser_collects_repeated_set():
    args = build_parser().parse_args(["validate", "j.yaml", "--set", "a=1", "--set", "b.c=2", "--cpu"])
    assert (args.job, args.overrides, args.use_gpu) == ("j.yaml", ["a=1", "b.c=2"], False)
    assert build_parser().parse_args(["validate", "j.yaml"]).use_gpu is None


# ---------------------------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag, device, compute, env",
    [
        ("--gpu", "true (gpu", "gpu-cluster", "environments/gpu.yaml (file)"),
        ("--cpu", "false (cpu", "cpu-cluster", "environments/cpu.yaml (file)"),
    ],
)
def test_validate_prints_a_summary(capsys, in_repo, flag, device, compute, env):
    assert main(["validate", "jobs/digits.yaml", flag, "--set", "args.epochs=2"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert lines[0] == "jobs/digits.yaml: valid"
    rows = {line.split()[0]: line.split(None, 1)[1] for line in lines[1:]}
    assert rows["experiment"] == "digits"
    assert rows["use_gpu"].startswith(device)
    assert rows["compute"] == compute
    assert rows["environment"].endswith(env)
    assert rows["command"].startswith("python train.py --epochs 2 --seed 0 ")
    assert ("AZURE_TRAINER_REQUIRE_GPU=1" in rows["env"]) is (flag == "--gpu")
    assert ("shm_size" in rows) is (flag == "--gpu")


@pytest.mark.parametrize("job", JOBS, ids=[p.name for p in JOBS])
def test_validate_every_sample_job(capsys, in_repo, job):
    for flag in ("--gpu", "--cpu"):
        assert main(["validate", str(job.relative_to(REPO)), flag]) == 0
        assert capsys.readouterr().out.startswith(f"jobs/{job.name}: valid\n")


def test_validate_does_not_print_secret_values(capsys, in_repo, tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(
        f"extends: {REPO / 'jobs' / 'digits.yaml'}\n"
        "environment_variables: {WANDB_API_KEY: sk-verysecretvalue1234567890abcdef}\n"
    )
    assert main(["validate", str(job), "--cpu"]) == 1  # secret-in-env: refused offline
    out, err = capsys.readouterr()
    assert "WANDB_API_KEY=" in out and "secret-in-env" in out
    assert "sk-verysecretvalue1234567890abcdef" not in out + err


# ---------------------------------------------------------------------------------------------
# schema
# ---------------------------------------------------------------------------------------------


def test_schema_prints_valid_json(capsys):
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    command, sweep = schema["$defs"]["CommandJobConfig"], schema["$defs"]["SweepJobConfig"]
    assert (
        schema["then"]["$ref"] == "#/$defs/SweepJobConfig"
        and schema["else"]["$ref"] == "#/$defs/CommandJobConfig"
    )
    for key in (
        "experiment_name", "use_gpu", "compute", "resources", "environment", "script", "args", "inputs",
        "outputs", "distribution", "limits", "queue_settings", "services", "identity", "extends",
    ):  # fmt: skip
        assert key in command["properties"], key
    for key in ("trial", "search_space", "sampling_algorithm", "objective", "early_termination", "limits"):
        assert key in sweep["properties"], key
    assert command["properties"]["use_gpu"]["type"] == "boolean"
    assert schema["else"]["else"]["required"] == ["environment"]  # without extends
    assert set(schema["then"]["else"]["required"]) == {"type", "trial", "search_space", "objective", "limits"}
    assert command.get("additionalProperties") is False and sweep.get("additionalProperties") is False


def test_schema_to_file(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["title"] == "azure-trainer job config"
    assert f"wrote {out}" in capsys.readouterr().err


def test_committed_schema_is_up_to_date(capsys):
    """Regenerate with: azure-trainer schema -o azure-trainer.schema.json"""
    assert SCHEMA_FILE.is_file(), "run: azure-trainer schema -o azure-trainer.schema.json"
    assert main(["schema"]) == 0
    assert SCHEMA_FILE.read_text(encoding="utf-8") == capsys.readouterr().out, (
        "azure-trainer.schema.json is stale; run: azure-trainer schema -o azure-trainer.schema.json"
    )


def test_sample_jobs_point_editors_at_the_schema():
    for job in JOBS:
        ref = next(line for line in job.read_text().splitlines() if "yaml-language-server: $schema=" in line)
        assert (job.parent / ref.split("$schema=", 1)[1].strip()).resolve() == SCHEMA_FILE


def _schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("job", JOBS, ids=[p.name for p in JOBS])
def test_sample_jobs_satisfy_the_schema(job):
    # a file with `extends:` is a partial config: its required keys come from the base
    errors = [e.message for e in _schema_validator().iter_errors(yaml.safe_load(job.read_text()))]
    assert errors == []


def test_schema_rejects_what_the_loader_rejects():
    validator = _schema_validator()
    assert not validator.is_valid({"command": "x", "environment": "azureml:e:1", "typo": 1})
    assert not validator.is_valid({"command": "x", "environment": "azureml:e:1", "use_gpu": "maybe"})
    assert not validator.is_valid({"code": ".", "command": "x"})  # no environment
    assert not validator.is_valid({})  # a file without `extends` needs an environment


@pytest.mark.parametrize(
    "shorthand",
    [
        {"compute": "gpu-cluster"},
        {"resources": {"instance_type": "Standard_NC6s_v3"}},
        {"environment": "azureml:torch:1"},
        {"inputs": {"epochs": 3, "name": "x"}},
        {"tags": {"n": 3}},
        {"environment_variables": {"OMP_NUM_THREADS": 4}},
        {"identity": {"type": "AMLToken"}},
        {"distribution": {"type": "PyTorch"}},
    ],
    ids=lambda d: next(iter(d)),
)
def test_schema_accepts_the_documented_shorthands(shorthand):
    """What the loader accepts (single values for {gpu, cpu} fields, bare literal inputs, numbers as tag and
    variable values, azure-ai-ml's casings), an editor using the schema accepts too."""
    from azure_trainer.config import validate_config

    doc = {
        "experiment_name": "e",
        "code": str(REPO / "train_scripts"),
        "script": "train.py",
        "environment": {"gpu": "azureml:g:1", "cpu": "azureml:c:1"},
        **shorthand,
    }
    validate_config(doc)  # the loader accepts it ...
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _schema_validator().iter_errors(doc)]
    assert errors == []  # ... so the editor schema must too

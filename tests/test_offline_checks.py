"""The checks that need no Azure, run by ``validate`` before any sign-in: the script's options, a local
environment file, secrets, both sides of a ``{gpu, cpu}`` job. Scripts here are users' scripts, not the
reference script."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from azure_trainer import load_config, plan
from azure_trainer.checks import offline_checks
from azure_trainer.checks.environment_file import local_torch_version, torch_pin
from azure_trainer.checks.script_args import entry_script
from azure_trainer.cli import main

FIX = Path(__file__).resolve().parent / "fixtures" / "offline"


def job(tmp_path: Path, body: str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"code: {FIX / 'code'}\n" + textwrap.dedent(body))
    return path


def validate(capsys, path: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["validate", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


BASE = """\
experiment_name: offline
environment: azureml:test-env:1
"""


@pytest.mark.slow
def test_a_misspelled_option_is_an_error_before_any_cluster_queues(capsys, tmp_path):
    path = job(
        tmp_path, BASE + "script: train_mlp.py\nargs: {epochs: 2, learning-rate: 0.1, batch_size: 8}\n"
    )
    code, out, err = validate(capsys, path)
    assert code == 1 and "1 error" not in err and "error(s) found before any sign-in" in err
    assert "train_mlp.py has no option --learning-rate (from args.learning-rate)" in out
    assert "train_mlp.py has no option --batch_size (from args.batch_size)" in out
    assert "did you mean --batch-size?" in out  # close enough to suggest
    assert "it accepts: --batch-size, --dry-run, --epochs" in out  # not close to anything: the list
    fixed = job(
        tmp_path, BASE + "script: train_mlp.py\nargs: {epochs: 2, lr: 0.1, batch-size: 8}\n", "ok.yaml"
    )
    code, out, _ = validate(capsys, fixed)
    assert code == 0 and "unknown-script-arg" not in out


@pytest.mark.slow
def test_a_command_and_an_abbreviation_are_judged_as_argparse_would(capsys, tmp_path):
    path = job(
        tmp_path,
        BASE + "command: python train_mlp.py --epoch 3 --lr=0.5 --output-dir ${{outputs.m}}\n"
        "outputs: {m: {type: uri_folder}}\n",
    )
    code, out, _ = validate(capsys, path)
    assert code == 0  # argparse accepts a unique prefix...
    assert "script-arg-abbreviated" in out and "--epoch (from command) is an abbreviation of" in out


@pytest.mark.slow
def test_a_script_that_cannot_be_probed_is_unchecked_never_blocked(capsys, tmp_path):
    # a parser in the folder (train_mlp.py): --help is run, and its failure said
    code, out, _ = validate(capsys, job(tmp_path, BASE + "script: no_help.py\nargs: {anything: 1}\n"))
    assert code == 0 and "script-args-unchecked" in out
    assert "the options of no_help.py were not checked: `python no_help.py --help` exited 1" in out
    # no parser anywhere in the folder: not run at all
    code_dir = tmp_path / "no_parser"
    code_dir.mkdir()
    (code_dir / "no_help.py").write_text((FIX / "code" / "no_help.py").read_text())
    path = tmp_path / "p.yaml"
    path.write_text(BASE + f"code: {code_dir}\nscript: no_help.py\nargs: {{anything: 1}}\n")
    code, out, _ = validate(capsys, path)
    assert code == 0 and "the options of no_help.py were not checked: no argument parser" in out


# Scripts in the shapes ordinary CLIs take (written for these tests): argparse subcommands, a click group,
# and parse_known_args, which ignores what it does not know.
SUBCOMMANDS = """\
import argparse
p = argparse.ArgumentParser()
p.add_argument("--seed", type=int, default=0)
train = p.add_subparsers(dest="cmd", required=True).add_parser("train")
train.add_argument("--lr", type=float, default=0.1)
print(p.parse_args())
"""
CLICK_GROUP = """\
import click
@click.group()
@click.option("--verbose", is_flag=True)
def cli(verbose):
    pass
@cli.command()
@click.option("--lr", type=float, default=0.1)
def train(lr):
    print(lr)
if __name__ == "__main__":
    cli()
"""
KNOWN_ARGS = """\
import argparse
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
args, rest = p.parse_known_args()
print(args, rest)
"""


@pytest.mark.slow
def validate_script(capsys, tmp_path, source: str, command: str):
    """validate a job whose code folder holds main.py with ``source``, run as ``python main.py COMMAND``."""
    code_dir = tmp_path / "src"
    code_dir.mkdir()
    (code_dir / "main.py").write_text(source)
    path = tmp_path / "j.yaml"
    path.write_text(BASE + f"code: {code_dir}\ncommand: python main.py {command}\n")
    return validate(capsys, path)


@pytest.mark.parametrize(
    ("source", "command"),
    [(SUBCOMMANDS, "--seed 1 train --lr 0.5"), (CLICK_GROUP, "--verbose train --lr 0.5")],
)
def test_a_script_with_subcommands_is_unchecked_never_blocked(capsys, tmp_path, source, command):
    """The subcommand's options are not in the top-level --help: `--lr` was refused as unknown."""
    code, out, _ = validate_script(capsys, tmp_path, source, command)
    assert code == 0 and "unknown-script-arg" not in out
    assert "`python main.py --help` lists subcommands" in out


@pytest.mark.slow
def test_an_option_parse_known_args_ignores_is_a_warning(capsys, tmp_path):
    code, out, _ = validate_script(capsys, tmp_path, KNOWN_ARGS, "--lr 0.5 --lrr 3")
    assert code == 0 and "WARNING   unknown-script-arg" in out
    assert (
        "main.py does not list option --lrr (from command); its code parses with parse_known_args"
        in " ".join(out.split())
    )


@pytest.mark.slow
def test_a_script_without_an_argument_parser_is_never_run_by_validate(capsys, tmp_path):
    code_dir = tmp_path / "src"
    code_dir.mkdir()
    marker = tmp_path / "trained"
    (code_dir / "train.py").write_text(f"open({str(marker)!r}, 'w').write('it ran')\n")  # trains at once
    path = tmp_path / "j.yaml"
    path.write_text(BASE + f"code: {code_dir}\nscript: train.py\nargs: {{epochs: 1}}\n")
    code, out, _ = validate(capsys, path)
    assert code == 0 and "script-args-unchecked" in out and not marker.exists()


@pytest.mark.slow
def test_the_help_probe_is_cached_by_the_code_folder_content(capsys, tmp_path, monkeypatch):
    code_dir = tmp_path / "src"
    code_dir.mkdir()
    (code_dir / "counted_help.py").write_text((FIX / "code" / "counted_help.py").read_text())
    count = tmp_path / "count.txt"
    monkeypatch.setenv("COUNT_FILE", str(count))
    path = tmp_path / "j.yaml"
    path.write_text(BASE + f"code: {code_dir}\nscript: counted_help.py\nargs: {{lr: 0.1}}\n")
    for _ in range(3):
        assert validate(capsys, path)[0] == 0
    assert count.read_text().count("ran") == 1
    (code_dir / "counted_help.py").write_text(
        (FIX / "code" / "counted_help.py").read_text() + "\n# changed\n"
    )
    assert validate(capsys, path)[0] == 0
    assert count.read_text().count("ran") == 2  # the script changed: probed again


def test_which_options_a_job_passes():
    spec = plan(load_config(FIX / ".." / "local" / "argv.yaml"))  # a command with placeholders
    script, flags = entry_script(spec)
    assert script == "echo_argv.py"
    assert [f for f, _ in flags] == ["--data", "--dq", "--sq", "--file", "--lr", "--extra", "--out"]
    bash = plan(load_config(FIX / ".." / "local" / "argv.yaml", ["command=bash run.sh --x 1"]))
    assert entry_script(bash) is None  # not a Python script: nothing to probe


def test_a_cpu_only_environment_file_under_use_gpu_is_an_error_and_an_old_torch_a_warning(capsys, tmp_path):
    path = job(
        tmp_path,
        "experiment_name: offline\nscript: no_help.py\nuse_gpu: true\ncompute: gpu-cluster\n"
        f"environment: file:{FIX / 'envs' / 'cpu-image.yaml'}\npreflight: {{skip: [script-args-unchecked]}}\n",
    )
    code, out, _ = validate(capsys, path)
    assert code == 1 and "cpu-environment" in out and "is CPU-only" in out
    if local_torch_version() not in (None, (1, 13)):
        assert "torch-version-mismatch" in out and "pins torch 1.13 but this machine runs torch" in out
    assert "not checked offline (they need the workspace" in out


def test_the_other_side_of_a_gpu_cpu_job_is_checked_as_warnings(capsys, tmp_path):
    envs = FIX / "envs"
    path = job(
        tmp_path,
        "experiment_name: offline\nscript: no_help.py\nuse_gpu: true\ncompute: {gpu: g, cpu: c}\n"
        f"environment: {{gpu: file:{envs / 'cuda-image.yaml'}, cpu: file:{envs / 'cuda-image.yaml'}}}\n"
        "preflight: {skip: [script-args-unchecked]}\n",
    )
    code, out, _ = validate(capsys, path)
    assert code == 0  # the side that runs is fine...
    assert "on the CPU side (--cpu): use_gpu is false but environment file" in out  # ...the other is warned
    broken = job(
        tmp_path,
        "experiment_name: offline\nscript: no_help.py\nuse_gpu: true\ncompute: {gpu: g, cpu: c}\n"
        f"environment: {{gpu: file:{envs / 'cuda-image.yaml'}, cpu: file:{tmp_path / 'gone.yaml'}}}\n"
        "preflight: {skip: [script-args-unchecked]}\n",
        "broken.yaml",
    )
    code, out, _ = validate(capsys, broken)
    assert code == 0 and "other-side-invalid" in out and "gone.yaml not found" in out


def test_secrets_are_found_offline_and_never_printed(capsys, tmp_path):
    path = job(
        tmp_path,
        BASE
        + "script: no_help.py\nenvironment_variables: {WANDB_API_KEY: 0123456789abcdef0123456789abcdef01234567}\n"
        "preflight: {skip: [script-args-unchecked]}\n",
    )
    code, out, err = validate(capsys, path)
    assert code == 1 and "secret-in-env" in out
    assert "0123456789abcdef0123456789abcdef01234567" not in out + err


def test_torch_pins_are_read_from_conda_and_pip_lines():
    assert torch_pin({"dependencies": ["python=3.11", {"pip": ["torch==2.5.1+cu121"]}]}) == (2, 5)
    assert torch_pin({"dependencies": ["pytorch=2.2.0", "pytorch-cuda=12.1"]}) == (2, 2)
    assert torch_pin({"dependencies": [{"pip": ["torchvision==0.20", "numpy"]}]}) is None


def test_offline_checks_drop_skipped_codes():
    spec = plan(load_config(FIX / ".." / "local" / "argv.yaml"))  # MY_API_KEY: a secret
    assert any(f.code == "secret-in-env" for f in offline_checks(spec).findings)
    skipped = plan(load_config(FIX / ".." / "local" / "argv.yaml", ["preflight.skip=[secret-in-env]"]))
    assert not any(f.code == "secret-in-env" for f in offline_checks(skipped).findings)


def _not_signed_in(workspace):
    from azure_trainer.errors import AzureMLError

    raise AzureMLError("not signed in to Azure: run `az login`")


def test_submit_checks_both_sides_before_sign_in_and_keeps_their_warnings_when_sign_in_fails(
    capsys, tmp_path
):
    """`submit --dry-run` runs validate's checks, the other side's too, and prints their warnings and
    what waits for the workspace before it signs in: a failed sign-in no longer hides them."""
    envs = FIX / "envs"
    path = job(
        tmp_path,
        "experiment_name: offline\nscript: no_help.py\nuse_gpu: true\ncompute: {gpu: g, cpu: c}\n"
        f"environment: {{gpu: file:{envs / 'cuda-image.yaml'}, cpu: file:{tmp_path / 'gone.yaml'}}}\n"
        "preflight: {skip: [script-args-unchecked]}\n",
    )
    argv = [
        "submit",
        str(path),
        "--dry-run",
        "--subscription",
        "s",
        "--resource-group",
        "rg",
        "--workspace",
        "ws",
    ]
    code = main(argv, client_factory=_not_signed_in)
    err = capsys.readouterr().err
    assert code == 1 and "not signed in" in err
    assert "other-side-invalid" in err and "gone.yaml not found" in err
    assert "checks before sign-in: 1 warning(s); next, in the workspace: the compute" in err
    code = main(
        [*argv, "--set", "preflight.skip=[script-args-unchecked,other-side-invalid]"],
        client_factory=_not_signed_in,
    )
    err = capsys.readouterr().err
    assert code == 1 and "other-side-invalid" not in err and "checks before sign-in: passed" in err

"""The conventions of the tools our users already use: shell completion, validate over many files with
--json, --json (errors too) on every command that prints a result, --quiet, NO_COLOR, progress only for
a person at a terminal, plain tables, exit codes that are documented and true, and a Pythonic API."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from azure_trainer import load_config, progress
from azure_trainer.cli import main
from azure_trainer.cli.main import build_parser
from azure_trainer.errors import ApiUsageError, ConfigError
from azure_trainer.exit_codes import EXIT_CODES, explain
from azure_trainer.local.results import Attempt, LocalRunResult, Rehearsal
from azure_trainer.local.sweeps import LocalSweepResult, TrialResult

REPO = Path(__file__).resolve().parents[1]
JOBS = sorted(str(p.relative_to(REPO)) for p in (REPO / "jobs").glob("*.yaml"))
BAD = "tests/bad_configs/unknown_top_key.yaml"
COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-9](;[0-9]+)*m|\x1b\[38;")


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def cli(capsys, *argv, fake=None):
    code = main(list(argv), client_factory=fake.client_factory() if fake else None)
    out, err = capsys.readouterr()
    return code, out, err


# -- completion -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o"),
        ("zsh", "#compdef azure-trainer"),
        ("fish", "complete --command azure-trainer"),
    ],
)
def test_completion_prints_each_shells_script(capsys, shell, marker):
    code, out, _ = cli(capsys, "completion", shell)
    assert code == 0 and marker in out and "_ARGCOMPLETE" in out


def complete_line(line: str, monkeypatch, tmp_path) -> list[str]:
    """What the shell would be offered for ``line`` (argcomplete's protocol, in-process)."""
    import argcomplete

    out = tmp_path / "completions"
    for key, value in {
        "_ARGCOMPLETE": "1",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
    }.items():
        monkeypatch.setenv(key, value)

    class Finder(argcomplete.CompletionFinder):
        def _init_debug_stream(self):  # not fd 9 (pytest's faulthandler holds it)
            argcomplete.io.debug_stream = sys.stderr

    with pytest.raises(SystemExit):
        Finder()(build_parser(), exit_method=sys.exit)
    return sorted(w.strip() for w in out.read_text().split("\x0b") if w.strip())


def test_completion_knows_commands_and_options_from_the_parser(monkeypatch, tmp_path):
    assert complete_line("azure-trainer re", monkeypatch, tmp_path) == ["report"]
    assert complete_line("azure-trainer run-local --pre", monkeypatch, tmp_path) == [
        "--preempt-after",
        "--preempt-at-step",
    ]
    assert "fish" in complete_line("azure-trainer completion ", monkeypatch, tmp_path)


@pytest.mark.slow
def test_bash_completes_through_the_installed_script():
    script = subprocess.run(
        [sys.executable, "-m", "azure_trainer", "completion", "bash"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shim = f'azure-trainer() {{ "{sys.executable}" -m azure_trainer "$@"; }}; export -f azure-trainer'
    probe = (
        f"{shim}\n{script}\n"
        'COMP_WORDS=(azure-trainer valid); COMP_CWORD=1; COMP_LINE="azure-trainer valid"; COMP_POINT=${#COMP_LINE}\n'
        '_python_argcomplete azure-trainer valid azure-trainer; echo "[${COMPREPLY[*]}]"\n'
    )
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.stdout.strip().endswith("[validate ]"), result.stderr


def test_help_validate_and_a_local_report_import_no_heavy_or_drawing_library(tmp_path):
    from report_fixtures import make_run

    run = make_run(tmp_path / "run")
    code = (
        "import json, sys\nfrom azure_trainer.cli import main\n"
        f"assert main(['validate', 'jobs/digits.yaml', '-q']) == 0\n"
        f"assert main(['report', {str(run)!r}]) == 0\n"
        "print('MODULES=' + json.dumps(sorted(m for m in ('azure.ai.ml', 'torch', 'rich', 'argcomplete', 'mlflow') if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "MODULES=[]"


# -- validate over many files ----------------------------------------------------------------------


def test_validate_checks_every_file_and_fails_if_any_fails(in_repo, capsys):
    code, out, err = cli(capsys, "validate", *JOBS)
    lines = [
        re.sub(r" \(\d+ warning\(s\)\)$", "", line) for line in out.splitlines()
    ]  # offline checks' warnings
    assert code == 0 and lines == [f"{j}: valid" for j in JOBS] + [f"{len(JOBS)} of {len(JOBS)} valid"]
    code, out, err = cli(capsys, "validate", JOBS[0], BAD, JOBS[1])
    assert code == 2
    lines = [re.sub(r" \(\d+ warning\(s\)\)$", "", line) for line in out.splitlines()]
    assert lines == [f"{JOBS[0]}: valid", f"{JOBS[1]}: valid"]
    assert err.splitlines() == [
        f"azure-trainer: error: {BAD}:6: displayname: unknown key 'displayname'; did you mean 'display_name'?",
        "2 of 3 valid",
    ]


def test_validate_quiet_prints_only_errors(in_repo, capsys):
    assert cli(capsys, "validate", "-q", *JOBS) == (0, "", "")
    code, out, err = cli(capsys, "validate", "--quiet", JOBS[0], BAD)
    assert code == 2 and out == "" and err.count("\n") == 1 and BAD in err


def test_validate_json_is_one_object_per_file(in_repo, capsys):
    code, out, err = cli(capsys, "validate", "--json", BAD, JOBS[0])
    assert code == 2 and err == ""
    bad, good = json.loads(out)
    assert (
        bad == {"file": BAD, "valid": False, "error": bad["error"], "exit_code": 2}
        and "did you mean" in bad["error"]
    )
    assert (
        good["valid"] is True and good["exit_code"] == 0 and good["summary"].startswith(f"{JOBS[0]}: valid")
    )


def test_a_file_the_checks_refuse_is_not_called_valid(tmp_path, capsys):
    # the config loads and plans, but the offline checks find an error (a secret in the environment):
    # neither the summary's first line nor --json's summary may say "valid"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    job = tmp_path / "job.yaml"
    job.write_text(  # an azureml-examples-style command job (code: src, environment_variables)
        "code: src\ncommand: python train.py\nenvironment: azureml:env:1\ncompute: cpu-cluster\n"
        "environment_variables: {DB_PASSWORD: hunter2-Xy9z}\n"
    )
    code, out, err = cli(capsys, "validate", str(job))
    assert code == 1
    assert out.splitlines()[0] == f"{job}: loads and plans, but the checks found 1 error(s)"
    code, out, err = cli(capsys, "validate", "--json", str(job))
    [result] = json.loads(out)
    assert code == 1 and result["valid"] is False
    assert not result["summary"].splitlines()[0].endswith(": valid")


def test_one_file_still_prints_its_summary(in_repo, capsys):
    code, out, _ = cli(capsys, "validate", "jobs/digits.yaml")
    assert code == 0 and out.startswith("jobs/digits.yaml: valid\n  job          command job\n  experiment")


def test_the_pre_commit_hook_calls_validate_on_job_files():
    import yaml

    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "azure-trainer-validate" and hook["entry"].split()[:2] == [
        "azure-trainer",
        "validate",
    ]
    assert hook["language"] == "python" and hook.get("pass_filenames", True)
    assert re.search(hook["files"], "jobs/digits.yaml") and not re.search(
        hook["files"], "environments/gpu.yaml"
    )


# -- --json everywhere, errors too -------------------------------------------------------------------


def test_run_local_json_prints_a_config_error_as_json(capsys):
    code, out, err = cli(capsys, "run-local", BAD, "--json")
    assert code == 2 and "did you mean" in err
    assert json.loads(out) == {"error": err.strip().removeprefix("azure-trainer: error: "), "exit_code": 2}


@pytest.fixture
def workspace(fake, monkeypatch):
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", fake.subscription_id)
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", fake.resource_group)
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", fake.workspace_name)
    return fake


def submitted(fake, tmp_path, capsys, name: str) -> str:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    job = tmp_path / "job.yaml"
    job.write_text(
        "experiment_name: conv\ncode: src\nscript: train.py\ncompute: cpu-cluster\nenvironment: azureml:pytorch-cpu:1\n"
    )
    assert main(["submit", str(job), "--name", name], client_factory=fake.client_factory()) == 0
    capsys.readouterr()
    return name


def test_logs_cancel_and_download_speak_json(workspace, tmp_path, capsys):
    fake = workspace
    name = submitted(fake, tmp_path, capsys, "conv-json-1")
    fake.add_job_log(name, "epoch 1 loss 0.5\n")
    fake.script_job_status(name, "Running", "Running", "Running", "Completed")  # one GET a look
    code, out, err = cli(capsys, "logs", name, "--json", fake=fake)
    assert code == 0 and "epoch 1 loss 0.5" in err  # the log lines: stderr
    result = json.loads(out)  # stdout: nothing but the JSON
    assert result["name"] == name and result["status"] == "Completed" and result["exit_code"] == 0
    running = submitted(fake, tmp_path, capsys, "conv-json-2")
    code, out, _ = cli(capsys, "cancel", running, "--json", fake=fake)
    assert code == 0 and json.loads(out) == {"name": running, "cancel_requested": True}
    code, out, _ = cli(capsys, "download", name, "-o", str(tmp_path / "dl"), "--json", fake=fake)
    assert code == 0 and json.loads(out) == {"name": name, "downloaded_to": str(tmp_path / "dl")}


@pytest.mark.parametrize("command", ["logs", "cancel", "download", "status"])
def test_their_errors_are_json_too(workspace, capsys, command):
    code, out, err = cli(capsys, command, "no-such-job", "--json", fake=workspace)
    assert code == 1 and "no-such-job" in err
    assert json.loads(out) == {"error": err.strip().removeprefix("azure-trainer: error: "), "exit_code": 1}


def test_logs_waits_for_the_job_to_start_under_a_spinner_at_a_terminal(
    workspace, tmp_path, capsys, monkeypatch
):
    fake = workspace
    name = submitted(fake, tmp_path, capsys, "conv-wait-1")
    fake.add_job_log(name, "first line\n")
    fake.script_job_status(
        name, "Queued", "Queued", "Preparing", "Running", "Running", "Running", "Running", "Completed"
    )
    shown: list[str] = []

    class Recorder:
        def __init__(self, text, file):
            shown.append(text)

        def update(self, text):
            shown.append(text)

        def stop(self):
            shown.append("<stop>")

    monkeypatch.setattr(progress, "interactive", lambda **_: True)
    monkeypatch.setattr(progress, "_spinner", Recorder)
    monkeypatch.setattr("azure_trainer.cli.logs.POLL_S", 0)
    code, out, _ = cli(capsys, "logs", name, fake=fake)
    assert code == 0 and "first line" in out and out.rstrip().endswith(f"job {name}: Completed")
    waits = [s for s in shown if "waiting for it to start" in s]
    assert any("Queued" in s for s in waits) and any("Preparing" in s for s in waits)
    assert any("waiting for the first log line" in s for s in shown)
    assert shown.count("<stop>") == 2  # both spinners gone: none is left over the logs


# -- progress, NO_COLOR, tables ----------------------------------------------------------------------


def test_progress_is_only_for_a_person_at_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.setattr(sys, "stderr", Tty())
    monkeypatch.delenv("TERM", raising=False)
    assert progress.interactive()
    assert not progress.interactive(quiet=True) and not progress.interactive(json=True)
    monkeypatch.setenv("TERM", "dumb")
    assert not progress.interactive()
    monkeypatch.delenv("TERM")
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # piped
    assert not progress.interactive()


def trial(index, objective, exit_code=0):
    return TrialResult(index, {"lr": 0.1 * (index + 1)}, exit_code, objective, f"trial-{index:03d}", 1.0)


def draw_sweep(monkeypatch, no_color: bool) -> str:
    monkeypatch.setenv("FORCE_COLOR", "1")
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    out = io.StringIO()
    with progress.SweepProgress(True, file=out) as bar:
        bar.begin(3, "val_accuracy", "maximize")
        for i, value, code in [(0, 0.9, 0), (1, None, 1), (2, 0.95, 0)]:
            bar.trial_started(i, {})
            bar.trial_finished(trial(i, value, code))
        assert bar.status() == "· 0 running · 1 failed · best val_accuracy 0.9500 (trial 2)"
        bar._progress.refresh()
        text = out.getvalue()
    return text


def test_sweep_progress_counts_and_keeps_the_best_and_honours_no_color(monkeypatch):
    coloured = draw_sweep(monkeypatch, no_color=False)
    assert "3/3" in coloured and COLOUR.search(coloured)  # the bar is coloured at a terminal...
    plain = draw_sweep(monkeypatch, no_color=True)
    assert "3/3" in plain and not COLOUR.search(plain)  # ...and not with NO_COLOR


def test_sweep_progress_minimises_for_minimize_goals():
    bar = progress.SweepProgress(False)
    bar.begin(2, "loss", "minimize")
    bar.trial_finished(trial(0, 0.5))
    bar.trial_finished(trial(1, 0.3))
    assert bar.best == (0.3, 1)


def test_tables_are_plain_text_without_colour_or_padding_at_line_ends(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    text = progress.table(
        ["rank", "trial", "objective"], [[1, 0, "0.9500"], ["-", 1, "failed (exit 1)"]], right=[0]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["rank", "trial", "objective"] and "\x1b" not in text
    assert lines[-1].split() == ["-", "1", "failed", "(exit", "1)"] and all(
        line == line.rstrip() for line in lines
    )


def test_the_leaderboard_keeps_its_columns():
    result = LocalSweepResult(
        "acc", "maximize", "grid", Path("s"), [trial(0, 0.9), trial(1, None, 1), trial(2, 0.95)]
    )
    lines = result.leaderboard().splitlines()
    assert lines[0].split() == ["rank", "trial", "lr", "acc"]
    assert [line.split()[:2] for line in lines[1:4]] == [["1", "2"], ["2", "0"], ["-", "1"]]
    assert lines[-1].startswith("best: trial 2 (lr=0.3) acc=0.9500")


def test_the_snapshot_scan_shows_its_count_only_when_it_takes_long(tmp_path, monkeypatch):
    from azure_trainer.azureml.snapshot import scan_snapshot

    for i in range(2500):
        (tmp_path / f"f{i}.txt").write_bytes(b"")
    shown: list[str] = []

    class Recorder:
        def __init__(self, text, file):
            pass

        def update(self, text):
            shown.append(text)

        def stop(self):
            shown.append("<stop>")

    monkeypatch.setattr(progress, "_spinner", Recorder)
    with progress.scan_progress():
        scan_snapshot(tmp_path)  # quick: nothing shown
    assert shown == []
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    with progress.scan_progress():
        scan_snapshot(tmp_path)
    assert shown[0].startswith("scanning the code snapshot: ") and shown[-1] == "<stop>"


# -- exit codes: one table, true ------------------------------------------------------------------------


def test_readme_exit_code_table_is_the_code_table():
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\d+)` \| (.+?) \|$", section, re.M))
    assert {int(k): v for k, v in rows.items()} == EXIT_CODES


def test_an_inconclusive_rehearsal_says_the_script_exited_0():
    attempt = Attempt(1, 0, 3.0)
    rehearsal = Rehearsal("inconclusive", "the run finished before SIGTERM was due", "after 60s")
    result = LocalRunResult(
        1, Path("r"), 3.0, "cpu", {}, "python x.py", attempts=[attempt], preemption=rehearsal
    )
    line = result.summary().splitlines()[1]
    assert (
        line
        == "exit code:  1 (run-local's verdict: the preemption rehearsal was inconclusive; the script exited 0 (finished))"
    )
    assert result.to_dict()["script_exit_code"] == 0 and result.to_dict()["exit_code"] == 1


def test_a_script_without_a_sigterm_handler_is_143_and_said_so():
    attempt = Attempt(1, 143, 3.0, sigterm_at_s=1.0)
    rehearsal = Rehearsal(
        "failed", "the script was killed by SIGTERM without handling it (exit 143)", "after 1s"
    )
    result = LocalRunResult(
        143, Path("r"), 3.0, "cpu", {}, "python x.py", attempts=[attempt], preemption=rehearsal
    )
    assert result.summary().splitlines()[1] == "exit code:  143 (killed by SIGTERM)"
    assert explain(143) == "the script was killed by SIGTERM without a handler"


# -- the Python API -----------------------------------------------------------------------------------------


def test_load_config_takes_a_dict_of_python_values(in_repo):
    config = load_config(
        "jobs/digits.yaml", overrides={"args.epochs": 3, "args.tag": "0.01", "args.flag": None}
    )
    assert config.args["epochs"] == 3 and config.args["tag"] == "0.01" and config.args["flag"] is None
    assert load_config("jobs/digits.yaml", overrides=["args.epochs=3"]).args["epochs"] == 3


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"instance_count": "many"}, ConfigError, "overrides['instance_count']: instance_count: "),
        (
            ["args.epochs"],
            ConfigError,
            "overrides['args.epochs']: expected KEY.PATH=VALUE, e.g. overrides={'args.lr': 0.01}",
        ),
        (
            {"args.epochs": object()},
            ApiUsageError,
            "load_config(overrides={'args.epochs': ...}): the value must be",
        ),
        ("args.epochs=3", ApiUsageError, "takes a dict {'KEY.PATH': value} or a list"),
    ],
)
def test_api_errors_name_the_api_parameters_not_cli_flags(in_repo, overrides, error, words):
    with pytest.raises(error) as info:
        load_config("jobs/digits.yaml", overrides=overrides)
    assert words in str(info.value) and "--set" not in str(info.value)


def test_the_cli_still_says_set(in_repo, capsys):
    code, _, err = cli(capsys, "validate", "jobs/digits.yaml", "--set", "instance_count=many")
    assert code == 2 and "--set instance_count=many" in err


def test_results_give_the_metric_history_as_plain_rows_and_a_frame_with_pandas():
    rows = [{"metric": "acc", "step": 1, "value": 0.5}, {"metric": "acc", "step": 2, "value": 0.7}]
    run = LocalRunResult(0, Path("r"), 1.0, "cpu", {"acc": 0.7}, "x", metric_history=rows)
    t0 = trial(0, 0.7)
    t0.metric_history = rows
    sweep = LocalSweepResult("acc", "maximize", "grid", Path("s"), [t0, trial(1, None, 1)])
    assert sweep.metric_history == [{"trial": 0, **r} for r in rows]
    assert "metric_history" not in sweep.to_dict()["trials"][0]  # sweep.json stays small: run.json has them
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs pandas"):
            run.metrics_frame()
    else:
        frame = sweep.metrics_frame()
        assert list(frame.columns) == ["trial", "metric", "step", "value"] and len(frame) == 2
        assert run.metrics_frame()["value"].tolist() == [0.5, 0.7]


@pytest.mark.slow
def test_a_local_sweep_reports_progress_and_returns_each_trials_history(tmp_path):
    from azure_trainer.local.sweeps import run_local_sweep

    code_dir = REPO / "tests" / "fixtures" / "local" / "scripts"
    job = tmp_path / "sweep.yaml"
    job.write_text(
        f"type: sweep\nexperiment_name: conv-sweep\ntrial:\n  code: {code_dir}\n  script: log_mlflow.py\n"
        "  args: {epochs: 2, lr: '${{search_space.lr}}'}\n  environment: azureml:test-env:1\n"
        "sampling_algorithm: grid\nsearch_space:\n  lr: {type: choice, values: [0.1, 0.3]}\n"
        "objective: {primary_metric: accuracy, goal: maximize}\nlimits: {max_total_trials: 2}\n"
    )
    events: list[tuple] = []

    class Hook:
        def begin(self, total, metric, goal):
            events.append(("begin", total, metric, goal))

        def trial_started(self, index, params):
            events.append(("started", index))

        def trial_finished(self, t):
            events.append(("finished", t.index, t.objective))

    result = run_local_sweep(str(job), sweep_dir=tmp_path / "s", progress=Hook(), console=io.StringIO())
    assert events[0] == ("begin", 2, "accuracy", "maximize")
    assert [e[:2] for e in events[1:]] == [("started", 0), ("finished", 0), ("started", 1), ("finished", 1)]
    assert [e[2] for e in events if e[0] == "finished"] == pytest.approx([0.6, 0.8])
    assert {r["metric"] for r in result.metric_history} == {"loss", "accuracy"}
    assert {r["trial"] for r in result.metric_history} == {0, 1}
    assert os.path.isfile(tmp_path / "s" / "sweep.json")

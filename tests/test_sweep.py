"""Sweeps: the CLI v2 sweep job (config, SDK job, export), local sampling with Azure ML's meanings, a local
sweep, and submit to the fake."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest
import yaml

from azure_trainer import ConfigError, build_job, load_config, plan, submit, to_yaml
from azure_trainer.cli import main
from azure_trainer.local.sampling import sample_trials
from azure_trainer.local.sweeps import run_local_sweep, trial_spec
from azure_trainer.testing import FakeAzureML, block_network

REPO = Path(__file__).resolve().parents[1]
GPU_ENV = "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest"

# A trial script whose "accuracy" is a known function of its arguments: the best trial is predictable.
TRIAL_SCRIPT = textwrap.dedent("""\
    import argparse, json, os, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--output-dir", required=True)
    a = p.parse_args()
    if a.width == 13:
        sys.exit(3)  # a failing trial
    if a.width == 99:
        time.sleep(60)  # a trial only a timeout ends
    os.makedirs(a.output_dir, exist_ok=True)
    with open(os.path.join(a.output_dir, "objective.txt"), "w") as f:
        f.write(os.environ.get("AZURE_TRAINER_OBJECTIVE_METRIC", "<unset>"))
    with open(os.path.join(a.output_dir, "metrics.jsonl"), "w") as f:
        f.write(json.dumps({"epoch": 1, "val_accuracy": 0.1}) + "\\n")
        f.write(json.dumps({"epoch": 2, "val_accuracy": round(a.width / 100 - a.lr, 6)}) + "\\n")
        f.write(json.dumps({"final": True, "test_accuracy": 0.5}) + "\\n")
    """)


def sweep_job(tmp_path: Path, sweep: dict, **extra) -> Path:
    """A CLI v2 sweep job over the trial script: each search_space entry reaches it as ${{search_space.X}}."""
    code = tmp_path / "src"
    code.mkdir(exist_ok=True)
    (code / "trial.py").write_text(TRIAL_SCRIPT)
    args = {"lr": 0.1, "output-dir": "${{outputs.model}}"}
    args.update({name: f"${{{{search_space.{name}}}}}" for name in sweep.get("search_space", {})})
    config = {
        "type": "sweep",
        "experiment_name": "sw",
        "compute": {"gpu": "gpu-cluster", "cpu": "cpu-cluster"},
        "trial": {
            "code": "src",
            "script": "trial.py",
            "args": args,
            "environment": {"gpu": GPU_ENV, "cpu": "azureml:pytorch-cpu:1"},
        },
        "outputs": {"model": {"type": "uri_folder"}},
        "limits": {"max_total_trials": 6},
        **sweep,
        **extra,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


GRID = {
    "sampling_algorithm": "grid",
    "search_space": {
        "lr": {"type": "choice", "values": [0.01, 0.05]},
        "width": {"type": "choice", "values": [10, 13, 40]},
    },
    "objective": {"primary_metric": "val_accuracy", "goal": "maximize"},
    "limits": {"max_total_trials": 6, "max_concurrent_trials": 2},
}


def test_sample_sweep_job_exports_and_loads_back(tmp_path):
    from azure.ai.ml import load_job

    text = to_yaml(plan(load_config(REPO / "jobs/digits-sweep.yaml")), relative_to=tmp_path)
    assert text.startswith("$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json")
    (tmp_path / "job.yaml").write_text(text)
    back = load_job(tmp_path / "job.yaml")
    assert back.type == "sweep"
    assert back.objective.primary_metric == "val_accuracy" and back.objective.goal.lower() == "maximize"
    assert set(back.search_space) == {"lr", "width", "batch_size"}
    assert back.search_space["width"].values == [16, 32, 64]
    lr = back.search_space["lr"]  # natural-log exponents, as Azure ML reads loguniform
    assert (lr.min_value, lr.max_value) == (-8.1, -4.6)
    assert math.isclose(math.exp(lr.min_value), 3e-4, rel_tol=0.02) and math.isclose(
        math.exp(lr.max_value), 1e-2, rel_tol=0.02
    )
    assert back.limits.max_total_trials == 12 and back.limits.max_concurrent_trials == 4
    assert back.early_termination.slack_factor == 0.1
    assert "--lr ${{search_space.lr}}" in back.trial.command
    assert "--batch-size ${{search_space.batch_size}}" in back.trial.command
    assert back.compute == "gpu-cluster"
    assert back.trial.environment_variables["AZURE_TRAINER_REQUIRE_GPU"] == "1"
    assert not back.inputs  # the searched parameters are not also fixed inputs


SPACE = {
    "a": {"type": "choice", "values": ["x", "y"]},
    "b": {"type": "randint", "upper": 5},
    "c": {"type": "uniform", "min_value": 0, "max_value": 1},
    "d": {"type": "quniform", "min_value": 0, "max_value": 10, "q": 2},
    "e": {"type": "loguniform", "min_value": -9.2, "max_value": -2.3},
    "f": {"type": "qloguniform", "min_value": 0, "max_value": 4.6, "q": 1},
    "g": {"type": "normal", "mu": 0, "sigma": 1},
    "h": {"type": "lognormal", "mu": 0, "sigma": 1},
    "i": {"type": "qnormal", "mu": 0, "sigma": 1, "q": 1},
    "j": {"type": "qlognormal", "mu": 0, "sigma": 1, "q": 1},
}


def test_every_distribution_builds(tmp_path):
    sweep = {
        "search_space": SPACE,
        "objective": {"primary_metric": "loss", "goal": "minimize"},
        "early_termination": {"type": "median_stopping"},
    }
    spec = plan(load_config(sweep_job(tmp_path, sweep)))
    job = build_job(spec)
    kinds = {k: type(v).__name__ for k, v in job.search_space.items()}
    assert kinds == {
        "a": "Choice", "b": "Randint", "c": "Uniform", "d": "QUniform", "e": "LogUniform", "f": "QLogUniform",
        "g": "Normal", "h": "LogNormal", "i": "QNormal", "j": "QLogNormal",
    }  # fmt: skip
    assert (job.search_space["e"].min_value, job.search_space["e"].max_value) == (-9.2, -2.3)  # as written


def test_local_samples_follow_azure_mls_meaning_of_each_distribution():
    """loguniform(min, max) is exp(uniform(min, max)): the bounds are exponents, as in Azure ML."""
    from azure_trainer.config.sweep import SearchSpaceEntry
    from azure_trainer.planning.spec import SweepSpec

    space = {k: SearchSpaceEntry.model_validate(v) for k, v in SPACE.items()}
    sweep = SweepSpec(space, objective=None, limits=type("L", (), {"max_total_trials": 3})())  # type: ignore[arg-type]
    params = sample_trials(sweep, 300, seed=1)
    assert all(
        p["a"] in ("x", "y") and 0 <= p["b"] < 5 and 0 <= p["c"] <= 1 and p["d"] % 2 == 0 for p in params
    )
    lrs = [p["e"] for p in params]
    assert min(lrs) >= math.exp(-9.2) and max(lrs) <= math.exp(-2.3)  # 1e-4 ... 0.1, not -9.2 ... -2.3
    assert min(lrs) < 1e-3 and max(lrs) > 1e-2  # spread over the decades
    assert all(1 <= p["f"] <= 100 and isinstance(p["f"], int) for p in params)
    assert all(p["h"] > 0 and p["j"] >= 0 for p in params)
    assert len(sample_trials(sweep, None)) == 3  # max_total_trials by default


def test_local_sampling_honours_the_random_algorithms_seed_and_logbase(tmp_path):
    space = {"lr": {"type": "loguniform", "min_value": -4, "max_value": -1}}
    objective = {"primary_metric": "val_accuracy", "goal": "maximize"}

    def draws(algorithm: object, seed: int = 0) -> list:
        spec = plan(
            load_config(
                sweep_job(
                    tmp_path, {"search_space": space, "objective": objective, "sampling_algorithm": algorithm}
                )
            )
        )
        return [p["lr"] for p in sample_trials(spec.sweep, 50, seed=seed)]

    base10 = draws({"type": "random", "logbase": 10, "seed": 7})
    assert all(1e-4 <= v <= 0.1 for v in base10) and min(base10) < 1e-3  # 10 ** uniform(-4, -1)
    assert draws({"type": "random", "logbase": 10, "seed": 7}, seed=99) == base10  # the job's seed wins
    assert all(math.exp(-4) <= v <= math.exp(-1) for v in draws("random"))  # e by default


def test_a_nested_search_space_builds_but_is_not_run_locally(tmp_path):
    from azure_trainer import LocalRunError

    space = {
        "model": {"type": "choice", "values": [{"depth": {"type": "choice", "values": [2, 3]}}, {"width": 8}]}
    }
    sweep = {"search_space": space, "objective": {"primary_metric": "val_accuracy", "goal": "maximize"}}
    spec = plan(load_config(sweep_job(tmp_path, sweep)))
    assert type(build_job(spec).search_space["model"]).__name__ == "Choice"
    with pytest.raises(LocalRunError, match="search_space.model is a choice of nested distributions"):
        sample_trials(spec.sweep, 2)


BAD_SPACES = [
    (
        {"search_space": {"lr": {"type": "uniform", "min_value": 1, "max_value": 0.1}}},
        "search_space.lr.max_value",
        "greater than min_value",
    ),
    (
        {
            "sampling_algorithm": "grid",
            "search_space": {"lr": {"type": "uniform", "min_value": 0, "max_value": 1}},
        },
        "search_space.lr.type",
        "grid sampling needs `choice`",
    ),
    ({"sampling_algorithm": "grdi"}, "sampling_algorithm", "did you mean 'grid'"),
    ({"search_space": {"lr": {"type": "choice", "values": []}}}, "search_space.lr.values", "non-empty"),
    (
        {"search_space": {"lr": {"type": "uniformm", "min_value": 0, "max_value": 1}}},
        "search_space.lr.type",
        "did you mean 'uniform'",
    ),
    (
        {"sampling_algorithm": "bayesian", "early_termination": {"type": "median_stopping"}},
        "early_termination",
        "bayesian",
    ),
    (
        {"objective": {"primary_metric": "acc", "goal": "maximise"}},
        "objective.goal",
        "did you mean 'maximize'",
    ),
    ({"early_termination": {"type": "bandit"}}, "early_termination.slack_factor", "exactly one"),
    (
        {"early_termination": {"type": "bandid", "slack_factor": 0.1}},
        "early_termination.type",
        "did you mean 'bandit'",
    ),
]


@pytest.mark.parametrize("change, key_path, message", BAD_SPACES, ids=[b[1] + ":" + b[2] for b in BAD_SPACES])
def test_invalid_spaces_are_config_errors_with_the_key_path(tmp_path, change, key_path, message):
    sweep = {
        "search_space": {"lr": {"type": "uniform", "min_value": 0.001, "max_value": 0.1}},
        "objective": {"primary_metric": "val_accuracy", "goal": "maximize"},
    }
    sweep.update(change)
    with pytest.raises(ConfigError) as info:
        plan(load_config(sweep_job(tmp_path, sweep)))
    assert info.value.key_path == key_path, str(info.value)
    assert message in str(info.value)
    assert info.value.line is not None


def test_max_concurrent_trials_may_exceed_max_total_trials_as_the_sdk_allows(tmp_path):
    sweep = dict(GRID, limits={"max_total_trials": 2, "max_concurrent_trials": 4})
    job = build_job(plan(load_config(sweep_job(tmp_path, sweep))))
    assert (job.limits.max_total_trials, job.limits.max_concurrent_trials) == (2, 4)


@pytest.mark.slow
def test_a_sweep_over_any_command(tmp_path, monkeypatch):
    """The trial's command may be any command line: ${{search_space.X}} is where each value goes."""
    monkeypatch.chdir(tmp_path)
    path = sweep_job(tmp_path, GRID)
    data = yaml.safe_load(path.read_text())
    trial = data["trial"]
    trial.pop("script"), trial.pop("args")
    trial["command"] = (
        "python trial.py --lr ${{search_space.lr}} --width ${{search_space.width}} --output-dir ${{outputs.model}}"
    )
    path.write_text(yaml.safe_dump(data))
    result = run_local_sweep(load_config(path, use_gpu=False), parallel=2, sweep_dir=tmp_path / "s")
    assert result.best.params == {"lr": 0.01, "width": 40}


def test_a_trial_is_the_planned_job_with_the_values_and_no_replanning():
    spec = plan(load_config(REPO / "jobs/digits-sweep.yaml"))
    trial = trial_spec(spec, {"lr": 0.002, "width": 16, "batch_size": 64})
    assert trial.sweep is None and trial.type == "command" and trial.source == spec.source
    assert "${{search_space." not in trial.command and "--lr ${{inputs.lr}}" in trial.command
    assert "--batch-size ${{inputs.batch_size}}" in trial.command and "--epochs 20" in trial.command
    assert (trial.inputs["lr"].value, trial.inputs["width"].value, trial.inputs["batch_size"].value) == (
        0.002,
        16,
        64,
    )
    # the trial keeps the objective a sweep trial gets in its environment (the script contract)
    assert trial.environment_variables["AZURE_TRAINER_OBJECTIVE_METRIC"] == "val_accuracy"
    assert spec.inputs == {} and "${{search_space.lr}}" in spec.command  # the sweep's own spec is untouched


def test_a_trial_value_never_collides_with_an_input_of_the_same_name(tmp_path):
    sweep = dict(GRID)
    path = sweep_job(tmp_path, sweep, inputs={"lr": 0.5})
    data = yaml.safe_load(path.read_text())
    data["trial"]["args"]["base-lr"] = "${{inputs.lr}}"
    path.write_text(yaml.safe_dump(data))
    trial = trial_spec(plan(load_config(path)), {"lr": 0.01, "width": 10})
    assert trial.inputs["lr"].value == 0.5 and trial.inputs["search_space_lr"].value == 0.01
    assert "--lr ${{inputs.search_space_lr}}" in trial.command and "--base-lr ${{inputs.lr}}" in trial.command


@pytest.mark.slow
def test_local_grid_sweep_picks_the_best_and_reports_a_failure(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(sweep_job(tmp_path, GRID), use_gpu=False)
    result = run_local_sweep(config, parallel=2, sweep_dir=tmp_path / "sweep")
    assert len(result.trials) == 6
    failed = [t for t in result.trials if not t.ok]
    assert {t.params["width"] for t in failed} == {13} and all(t.exit_code == 3 for t in failed)
    best = result.best
    assert best.params == {"lr": 0.01, "width": 40} and math.isclose(best.objective, 0.39)
    ranked = [t.objective for t in result.ranked() if t.ok]
    assert ranked == sorted(ranked, reverse=True)
    board = result.leaderboard()
    assert board.splitlines()[1].split()[:4] == ["1", str(best.index), "0.01", "40"]
    assert "failed (exit 3)" in board
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert saved["best_trial"] == best.index and len(saved["trials"]) == 6
    best_run = json.loads((Path(best.run_dir) / "run.json").read_text())
    assert best_run["final_metrics"]["val_accuracy"] == best.objective  # the last value it logged
    # every trial is told the metric it is ranked by (the script contract's AZURE_TRAINER_OBJECTIVE_METRIC)
    told = {p.read_text() for p in (tmp_path / "sweep").rglob("objective.txt")}
    assert told == {"val_accuracy"}


@pytest.mark.slow
def test_local_sweep_minimize_and_trials_through_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sweep = dict(GRID, objective={"primary_metric": "val_accuracy", "goal": "minimize"})
    path = sweep_job(tmp_path, sweep)
    code = main(["run-local", str(path), "--cpu", "--trials", "3", "--run-dir", "out", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and len(data["trials"]) == 3
    values = [t["objective"] for t in data["trials"] if t["objective"] is not None]
    assert values[0] == min(values)


@pytest.mark.slow
def test_local_sweep_with_only_failures_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sweep = dict(
        GRID,
        search_space={
            "lr": {"type": "choice", "values": [0.01]},
            "width": {"type": "choice", "values": [13]},
        },
    )
    code = main(["run-local", str(sweep_job(tmp_path, sweep)), "--cpu"])
    out = capsys.readouterr().out
    assert code == 1 and "no trial finished" in out


@pytest.mark.slow
def test_local_random_sweep_of_the_real_script(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(
        REPO / "jobs/digits-sweep.yaml", ["trial.args.epochs=1", "trial.args.max-steps=15"], use_gpu=False
    )
    result = run_local_sweep(config, trials=3, parallel=1, sweep_dir=tmp_path / "s")
    assert len(result.trials) == 3 and all(t.ok for t in result.trials), result.leaderboard()
    assert result.best.objective == max(t.objective for t in result.trials)


@pytest.mark.slow
def test_local_sweep_of_the_real_script_with_an_unlogged_objective_fails_fast(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    job = REPO / "jobs/digits-sweep.yaml"
    code = main(
        ["run-local", str(job), "--cpu", "--trials", "2", "--set", "objective.primary_metric=accuracy"]
    )
    out = capsys.readouterr().out
    assert code == 1 and "no trial finished" in out
    assert out.count("failed (exit 2)") == 2
    logs = [p.read_text() for p in tmp_path.rglob("log.txt")]
    assert len(logs) == 2 and all(
        "objective metric 'accuracy'" in log and "epoch " not in log for log in logs
    )


@pytest.mark.slow
def test_local_sweep_honours_trial_timeout_and_sweep_timeout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    space = {"lr": {"type": "choice", "values": [0.01]}, "width": {"type": "choice", "values": [99, 10]}}
    slow_first = dict(GRID, search_space=space)
    # limits.trial_timeout stops the slow trial only; the next one runs and wins.
    sweep = dict(slow_first, limits={"max_total_trials": 2, "max_concurrent_trials": 1, "trial_timeout": 4})
    result = run_local_sweep(load_config(sweep_job(tmp_path, sweep), use_gpu=False), sweep_dir=tmp_path / "a")
    by_width = {t.params["width"]: t for t in result.trials}
    assert by_width[99].exit_code == 124 and not by_width[99].ok and by_width[99].duration_s < 30
    assert by_width[10].ok and result.best is by_width[10]
    # each trial's note names where its limit came from (not --timeout, which was not given)
    assert "time limit 4s (the sweep's `limits.trial_timeout`)" in capsys.readouterr().err
    # limits.timeout bounds the whole sweep: the slow trial uses it up, the next never starts.
    sweep = dict(slow_first, limits={"max_total_trials": 2, "max_concurrent_trials": 1, "timeout": 2})
    code = main(["run-local", str(sweep_job(tmp_path, sweep)), "--cpu", "--run-dir", "b"])
    board, notes = capsys.readouterr()
    assert code == 1 and "failed (exit 124)" in board and "not run: the sweep's timeout passed" in board
    assert "(what is left of the sweep's `limits.timeout`)" in notes and "(--timeout)" not in notes
    # --timeout overrides limits.trial_timeout for every trial (0: none; here a short one, yet long enough
    # for the quick trial to start and finish on a loaded machine)
    sweep = dict(slow_first, limits={"max_total_trials": 2, "max_concurrent_trials": 1, "trial_timeout": 600})
    code = main(["run-local", str(sweep_job(tmp_path, sweep)), "--cpu", "--timeout", "4", "--run-dir", "c"])
    assert code == 0 and "failed (exit 124)" in capsys.readouterr().out


def test_submit_creates_one_sweep_job(tmp_path):
    fake = FakeAzureML()
    with block_network() as attempts, fake.patch_sdk():
        ml = fake.ml_client()
        result = submit(load_config(sweep_job(tmp_path, GRID), use_gpu=True), ml)
    assert attempts == [] and fake.unhandled == []
    puts = fake.requests_matching("PUT", r"/jobs/[^/?]+(\?|$)")
    assert len(puts) == 1 and list(fake.jobs) == [result.name]
    props = puts[0].json["properties"]
    assert props["jobType"] == "Sweep"
    assert (
        props["objective"]["goal"].lower() == "maximize"
        and props["objective"]["primaryMetric"] == "val_accuracy"
    )
    assert props["samplingAlgorithm"]["samplingAlgorithmType"] == "Grid"
    space = props["searchSpace"]
    assert space["lr"] == ["choice", [[0.01, 0.05]]] and space["width"] == ["choice", [[10, 13, 40]]]
    assert props["computeId"].endswith("/computes/gpu-cluster")
    assert "--lr ${{search_space.lr}}" in props["trial"]["command"]
    assert props["trial"]["environmentVariables"]["AZURE_TRAINER_OBJECTIVE_METRIC"] == "val_accuracy"
    assert props["trial"]["environmentId"] == GPU_ENV


def test_submit_sweep_is_preflighted_on_the_trials_compute(tmp_path):
    fake = FakeAzureML()
    with block_network(), fake.patch_sdk():
        from azure_trainer import PreflightError

        with pytest.raises(PreflightError) as info:
            submit(
                load_config(sweep_job(tmp_path, GRID, compute="cpu-cluster"), use_gpu=True), fake.ml_client()
            )
    assert "gpu-on-cpu-vm" in {f.code for f in info.value.findings}
    assert fake.requests_matching("PUT", r"/jobs/") == []


@pytest.mark.slow
def test_strict_device_reaches_every_trial(tmp_path, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: strict mode would train")
    monkeypatch.chdir(tmp_path)
    code = main(
        ["run-local", str(REPO / "jobs/digits-sweep.yaml"), "--gpu", "--trials", "2", "--strict-device"]
    )
    board = capsys.readouterr().out
    assert code == 1 and board.count("failed (exit 78)") == 2


def test_validate_counts_grid_trials(tmp_path, capsys):
    space = {
        "lr": {"type": "choice", "values": [0.01, 0.02, 0.03]},
        "width": {"type": "choice", "values": [8, 16, 32]},
    }
    for limit, expected in (
        (12, "9 trials (9 grid combinations)"),
        (4, "4 trials (9 grid combinations, capped"),
    ):
        sweep = dict(GRID, search_space=space, limits={"max_total_trials": limit, "max_concurrent_trials": 1})
        assert main(["validate", str(sweep_job(tmp_path, sweep))]) == 0
        assert expected in capsys.readouterr().out


def test_a_local_trials_run_folder_never_holds_the_trials_secret(tmp_path):
    """A sweep's variables sit under `trial:`: the run folder's config.yaml redacts them there too."""
    from azure_trainer.local.run_folder import config_yaml_text

    secret = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    path = sweep_job(tmp_path, GRID)
    data = yaml.safe_load(path.read_text())
    data["trial"]["environment_variables"] = {"GITHUB_TOKEN": secret, "MODE": "fast"}
    path.write_text(yaml.safe_dump(data))
    spec = plan(load_config(path))
    text = config_yaml_text(trial_spec(spec, {"lr": 0.01, "width": 10}))
    assert secret not in text and "GITHUB_TOKEN: '***'" in text and "MODE: fast" in text

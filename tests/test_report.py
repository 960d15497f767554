"""``azure-trainer report``: run, sweep and benchmark pages from run-local's folders and the benchmarks'
JSON, and an Azure ML job's report from its MLflow metrics over the fake. In-process; the page in a
real browser is tests/test_report_browser.py."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from report_fixtures import CLI_STARTUP, TRAIN_BENCH, Elements, make_run, make_sweep

from azure_trainer.cli import main
from azure_trainer.report import RunData, SweepData, TrialData, load_local, render
from azure_trainer.report.page import MARKER
from azure_trainer.report.svg import make_scale, nice_ticks


def report(capsys, *argv, fake=None):
    code = main(["report", *argv], client_factory=fake.client_factory() if fake else None)
    out, err = capsys.readouterr()
    return code, out, err


# -- local runs and sweeps ----------------------------------------------------------------------


def test_a_run_folder_gets_its_summary_final_metrics_and_one_curve_per_metric(tmp_path, capsys):
    run = make_run(tmp_path / "run", accuracy=0.97, loss=0.2)
    code, out, err = report(capsys, str(run))
    assert code == 0 and err == ""
    assert out.strip() == f"wrote {run / 'report.html'}"
    html = (run / "report.html").read_text()
    assert html.startswith(MARKER)
    page = Elements(html)
    # train_loss, val_loss and val_accuracy were logged at 4 steps each; test_* once (table only)
    curves = page.find("g", "curve")
    assert sorted(c["data-name"] for c in curves) == ["train_loss", "val_accuracy", "val_loss"]
    assert len(page.find("circle", "point")) == 3 * 4
    final_rows = re.search(r'<table class="data final-metrics">.*?</table>', html, re.S).group(0)
    assert final_rows.count("<tr") == 1 + 5 and "test_accuracy" in final_rows and "0.96" in final_rows
    assert "0 (success)" in html and "cpu (reported by the script)" in html


def test_the_page_loads_nothing_from_anywhere(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    report(capsys, str(run))
    html = (run / "report.html").read_text()
    assert "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html


def test_a_sweep_folder_gets_a_leaderboard_parallel_coordinates_and_a_scatter_per_parameter(tmp_path, capsys):
    sweep = make_sweep(tmp_path / "sweep")
    code, out, _ = report(capsys, str(sweep), "--json")
    assert code == 0
    result = json.loads(out)
    assert result == {
        "report": str(sweep / "report.html"),
        "kind": "sweep",
        "metric": "val_accuracy",
        "goal": "maximize",
        "trials": 4,
        "best_trial": "trial 0",
    }
    html = (sweep / "report.html").read_text()
    page = Elements(html)
    board = re.search(r'<table class="data leaderboard">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr class=\"(best|)\">(.*?)</tr>", board, re.S)
    assert len(rows) == 4
    first_cells = [re.findall(r"<td[^>]*>(.*?)</td>", r[1]) for r in rows]
    assert [c[1] for c in first_cells] == ["trial 0", "trial 1", "trial 2", "trial 3"]  # ranked
    assert rows[0][0] == "best" and first_cells[-1][0] == "-" and "failed (exit 1" in first_cells[-1][-1]
    assert len(page.find("path", "trial-line")) == 3  # finished trials only
    assert len(page.find("path", "best")) == 1
    scatters = page.find("svg", "scatter-chart")
    assert [s["aria-label"] for s in scatters] == [
        "val_accuracy vs lr",
        "val_accuracy vs width",
        "val_accuracy vs batch-size",
    ]
    assert len(page.find("circle", "point")) >= 3 * 3  # 3 finished trials in each scatter


def test_a_moved_sweep_folder_still_finds_its_trials(tmp_path, capsys):
    sweep = make_sweep(tmp_path / "sweep")
    moved = tmp_path / "elsewhere"
    shutil.move(sweep, moved)
    data = load_local(moved)
    assert isinstance(data, SweepData)
    assert all(t.history for t in data.trials)  # each trial's run.json found under the moved folder


def test_run_json_and_sweep_json_paths_are_accepted_too(tmp_path):
    sweep = make_sweep(tmp_path / "sweep")
    assert isinstance(load_local(sweep / "sweep.json"), SweepData)
    assert isinstance(load_local(sweep / "trial-001" / "run.json"), RunData)


def test_a_failed_and_rehearsed_run_says_so(tmp_path, capsys):
    rehearsal = {
        "verdict": "failed",
        "message": "the script was killed by SIGTERM without handling it (exit 143)",
        "trigger": "at step 40",
    }
    run = make_run(tmp_path / "r", exit_code=143, preemption=rehearsal, gpu_requirement_ignored=True)
    report(capsys, str(run))
    html = (run / "report.html").read_text()
    assert "143 (the script was killed by SIGTERM without a handler)" in html
    assert "FAILED — the script was killed by SIGTERM" in html
    assert "ignored the GPU requirement" in html


# -- benchmarks -----------------------------------------------------------------------------------


def test_benchmark_json_renders_cpu_vs_gpu_and_mfu_bars(tmp_path, capsys):
    (tmp_path / "train_bench.json").write_text(json.dumps(TRAIN_BENCH))
    (tmp_path / "cli_startup.json").write_text(json.dumps(CLI_STARTUP))
    (tmp_path / "notes.json").write_text(json.dumps({"unrelated": [1, 2]}))
    code, out, _ = report(capsys, str(tmp_path), "-o", str(tmp_path / "bench.html"), "--json")
    assert code == 0
    assert json.loads(out)["benchmarks"] == ["cli_startup", "train_bench"]
    page = Elements((tmp_path / "bench.html").read_text())
    titles = [s["aria-label"] for s in page.find("svg", "bar-chart")]
    assert titles == [
        "CLI start-up, median",
        "CLI start-up / import azure.ai.ml (dashed: the goal)",
        "training throughput (CPU vs GPU)",
        "model FLOPs utilisation",
    ]
    assert len(page.find("rect", "bar")) == 3 + 2 + 2 + 2
    assert len(page.find("line", "goal")) == 1


def test_gpu_check_json_embedding_train_bench_is_found_where_it_nests(tmp_path):
    gpu_check = {
        "gpu": True,
        "ok": True,
        "strict": {"hidden_gpu_rc": 78},
        "train_bench": TRAIN_BENCH,
        "precision": {"bf16": {"mean": 0.99}, "fp32": {"mean": 0.991}},
    }
    (tmp_path / "gpu_check.json").write_text(json.dumps(gpu_check))
    (bench,) = load_local(tmp_path / "gpu_check.json")
    titles = [title for title, *_ in bench.charts]
    assert titles == [
        "training throughput (CPU vs GPU)",
        "model FLOPs utilisation",
        "mean test accuracy by precision",
    ]
    labels = [b.label for b in bench.charts[0][2]]
    assert labels == ["train_bench/cpu (x86_64)", "train_bench/cuda (NVIDIA H200)"]


# -- what the page is made from: rows -------------------------------------------------------------


def test_the_page_takes_plain_metric_rows():
    rows = [{"metric": "loss", "step": s, "value": 1 / (s + 1)} for s in range(5)]
    rows += [
        {"metric": "loss", "step": 5, "value": float("nan")},
        {"metric": "note", "step": 1, "value": "text"},
    ]
    page = Elements(render(RunData("r", [("status", "Completed")], rows), source="rows"))
    assert len(page.find("circle", "point")) == 5  # NaN and text values are left out


def test_a_sweep_with_text_parameters_plots_them_as_categories():
    trials = [
        TrialData(f"t{i}", {"optimizer": opt, "lr": lr}, acc, "finished")
        for i, (opt, lr, acc) in enumerate([("adam", 1e-4, 0.9), ("sgd", 1e-2, 0.8), ("adam", 1e-1, 0.7)])
    ]
    html = render(SweepData("s", "acc", "maximize", trials), source="rows")
    assert "optimizer" in html and ">adam<" in html and ">sgd<" in html
    assert "lr (log scale)" in html  # 1e-4 .. 1e-1 spans three decades


def test_scales_and_ticks():
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(3, 97)[0] <= 3 and nice_ticks(3, 97)[-1] >= 97
    scale = make_scale([1e-4, 1e-2], 0, 100)
    assert scale.log and 0 < scale(1e-3) < 100
    assert [label for _, label in make_scale(["b", "a", "b"], 0, 10).ticks()] == ["b", "a"]


# -- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "not found"),
        (lambda p: p.mkdir(), "not a run folder (no run.json)"),
        (lambda p: (p.mkdir(), (p / "run.json").write_text("{not json")), "not valid JSON"),
        (
            lambda p: (p.mkdir(), (p / "run.json").write_text('{"exit_code": 0}')),
            "not a run-local file: metric_history missing",
        ),
        (lambda p: (p.mkdir(), (p / "x.json").write_text("[]")), "no benchmark JSON in it"),
        (lambda p: (p.mkdir(), (p / "run.json").write_bytes(b'{"a": "caf\xe9"}')), "is not UTF-8 text"),
        (lambda p: p.write_bytes("{}".encode("utf-16")), "is not UTF-8 text"),
    ],
)
def test_what_is_not_a_report_source_is_one_line_exit_2(tmp_path, capsys, setup, message):
    target = tmp_path / "target"
    setup(target)
    code, out, err = report(capsys, str(target))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and str(target) in err


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("a" * 5000, "not a usable path: File name too long"),
        ("run\x00dir", "'run\\x00dir': not a usable path (it holds a NUL byte)"),
    ],
)
def test_a_path_no_file_system_takes_is_one_line_exit_2(tmp_path, capsys, monkeypatch, path, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = report(capsys, path)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("output", ["r\x00.html", "a" * 5000 + ".html"])
def test_an_output_no_file_system_takes_is_one_line_exit_2(tmp_path, capsys, output):
    run = make_run(tmp_path / "run")
    code, out, err = report(capsys, str(run), "-o", str(tmp_path / output))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_errors_are_json_too_with_json(tmp_path, capsys):
    code, out, err = report(capsys, str(tmp_path / "nope"), "--json")
    assert code == 2
    assert json.loads(out) == {
        "error": f"{tmp_path / 'nope'}: not found; give a run folder, a sweep folder or a benchmark JSON file",
        "exit_code": 2,
    }


def test_a_file_not_made_by_report_is_never_overwritten(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    code, _, err = report(capsys, str(run), "-o", str(mine))
    assert code == 2 and "is not a report made by azure-trainer" in err
    assert mine.read_text() == "<p>my notes</p>"
    assert report(capsys, str(run), "-o", str(tmp_path / "r.html"))[0] == 0
    assert report(capsys, str(run), "-o", str(tmp_path / "r.html"))[0] == 0  # its own report: replaced


def test_folder_and_job_together_or_neither_is_a_usage_error(tmp_path, capsys):
    assert report(capsys)[0] == 2
    code, _, err = report(capsys, str(tmp_path), "--job", "j1")
    assert code == 2 and "not both or neither" in err


# -- an Azure ML job, from its MLflow metrics (the fake's MLflow API) ----------------------------------


def submit_job(fake, tmp_path, capsys, yaml_text: str, name: str) -> None:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    job = tmp_path / f"{name}.yaml"
    job.write_text(yaml_text)
    code = main(["submit", str(job), "--name", name], client_factory=fake.client_factory())
    assert code == 0, capsys.readouterr()
    fake.set_job_status(name, "Completed")
    capsys.readouterr()


COMMAND_JOB = """\
experiment_name: report-exp
code: src
script: train.py
compute: cpu-cluster
environment: azureml:pytorch-cpu:1
"""

SWEEP_JOB = """\
type: sweep
experiment_name: report-exp
compute: cpu-cluster
trial:
  code: src
  script: train.py
  args: {lr: "${{search_space.lr}}"}
  environment: azureml:pytorch-cpu:1
sampling_algorithm: random
search_space:
  lr: {type: loguniform, min_value: -9.2, max_value: -2.3}
objective: {primary_metric: val_accuracy, goal: maximize}
limits: {max_total_trials: 3}
"""


@pytest.fixture
def workspace_env(fake, monkeypatch):
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", fake.subscription_id)
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", fake.resource_group)
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", fake.workspace_name)
    return fake


def test_an_azure_ml_job_report_reads_its_mlflow_metric_history_page_by_page(
    workspace_env, tmp_path, capsys, monkeypatch
):
    fake = workspace_env
    submit_job(fake, tmp_path, capsys, COMMAND_JOB, "report-job-1")
    rows = [{"metric": "loss", "step": s, "value": 1 / (s + 1)} for s in range(7)]
    fake.log_mlflow_run("report-job-1", rows + [{"metric": "accuracy", "step": 6, "value": 0.93}])
    monkeypatch.setattr(fake.mlflow, "page_size", 3)  # 7 values: three pages
    out_file = tmp_path / "job.html"
    code, out, err = report(capsys, "--job", "report-job-1", "-o", str(out_file), "--json", fake=fake)
    assert code == 0, err
    assert json.loads(out) == {
        "report": str(out_file),
        "kind": "run",
        "metrics": ["accuracy", "loss"],
        "values": 8,
    }
    page = Elements(out_file.read_text())
    assert len(page.find("circle", "point")) == 7
    history_calls = fake.requests_matching("GET", r"/api/2\.0/mlflow/metrics/get-history")
    assert len(history_calls) == 3 + 1  # loss in 3 pages, accuracy in 1
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in history_calls)
    assert not fake.unhandled
    assert "Completed" in out_file.read_text()


def test_an_azure_ml_sweep_report_lists_its_child_runs(workspace_env, tmp_path, capsys, monkeypatch):
    fake = workspace_env
    monkeypatch.chdir(tmp_path)
    submit_job(fake, tmp_path, capsys, SWEEP_JOB, "report-sweep-1")
    fake.log_mlflow_run("report-sweep-1", [])
    for i, (lr, acc) in enumerate([(0.001, 0.91), (0.03, 0.95), (0.0002, None)]):
        rows = (
            [{"metric": "val_accuracy", "step": s, "value": acc * (s + 1) / 3} for s in range(3)]
            if acc
            else []
        )
        fake.log_mlflow_run(
            f"report-sweep-1_{i}",
            rows,
            parent="report-sweep-1",
            tags={"hyperparameters": json.dumps({"lr": lr})},
            status="FINISHED" if acc else "FAILED",
        )
    code, out, err = report(capsys, "--job", "report-sweep-1", "--json", fake=fake)
    assert code == 0, err
    result = json.loads(out)
    assert result["kind"] == "sweep" and result["metric"] == "val_accuracy" and result["trials"] == 3
    assert result["best_trial"] == "report-sweep-1_1"
    assert result["report"] == "report-report-sweep-1.html"
    html = (tmp_path / "report-report-sweep-1.html").read_text()
    page = Elements(html)
    assert len(page.find("path", "trial-line")) == 2 and len(page.find("svg", "scatter-chart")) == 1
    assert "failed, no val_accuracy logged" in html


def test_an_unknown_azure_ml_job_is_one_line(workspace_env, capsys):
    code, out, err = report(capsys, "--job", "no-such-job", fake=workspace_env)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "no-such-job" in err

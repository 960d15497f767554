"""What a job will cost before it runs, from the published ``estimatedVMPrices`` of the region's VM size
list (tests/fixtures/rest/vm_sizes_eastus.json, after VirtualMachineSize/list.json), and what a finished
job's run time cost."""

from __future__ import annotations

import copy
import dataclasses
import json
import textwrap
from pathlib import Path

import pytest
import yaml

from azure_trainer import load_config, plan, preflight
from azure_trainer.azureml.compute_info import ComputeInfo, vm_sizes_table
from azure_trainer.azureml.cost import cost_findings, estimate_cost
from azure_trainer.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "rest"
SIZES = json.loads((FIXTURES / "vm_sizes_eastus.json").read_text())["body"]["value"]
GPU_ENV = "azureml://registries/azureml/environments/acpt-pytorch-2.2-cuda12.1/labels/latest"
CLUSTER = ComputeInfo("gpu-cluster", "amlcompute", "STANDARD_NC24ADS_A100_V4", max_nodes=8)


def spec_of(tmp_path: Path, body: str = "", use_gpu: bool = True):
    code = tmp_path / "src"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text("print('hi')\n")
    config = {
        "experiment_name": "exp",
        "code": "src",
        "script": "train.py",
        "compute": {"gpu": "gpu-cluster", "cpu": "cpu-cluster"},
        "environment": {"gpu": GPU_ENV, "cpu": "azureml:pytorch-cpu:1"},
        "limits": {"timeout": 7200},
        "use_gpu": use_gpu,
    }
    config.update(yaml.safe_load(textwrap.dedent(body)) or {})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in config.items() if v is not None}))
    return plan(load_config(path))


def sweep_of(search_space: str, limits: str = "{max_total_trials: 2}") -> str:
    """A CLI v2 sweep job body for write_job: the defaults' code, script and environment move into its trial."""
    trial = {
        "code": "src",
        "script": "train.py",
        "environment": {"gpu": GPU_ENV, "cpu": "azureml:pytorch-cpu:1"},
    }
    return (
        "type: sweep\ncode: ~\nscript: ~\nargs: ~\nenvironment: ~\n"
        f"trial: {json.dumps(trial)}\nsampling_algorithm: random\n"
        f"search_space: {search_space}\nobjective: {{primary_metric: acc, goal: maximize}}\nlimits: {limits}\n"
    )


def test_price_per_hour_is_nodes_times_the_published_price_and_the_worst_case_runs_to_the_timeout(tmp_path):
    spec = spec_of(tmp_path, "resources: {instance_count: 2}\ndistribution: {type: pytorch}\n")
    cost = estimate_cost(spec, SIZES, CLUSTER)
    assert (cost.vm_size, cost.tier, cost.nodes, cost.currency) == (
        "Standard_NC24ads_A100_v4",
        "dedicated",
        2,
        "USD",
    )
    assert cost.price_per_node_hour == 3.67 and cost.per_hour == pytest.approx(7.34)
    assert cost.hours == 2 and cost.worst_case == pytest.approx(14.68)
    assert cost.text() == (
        "cost: 2 x Standard_NC24ads_A100_v4 (dedicated) at USD 3.67/h each = USD 7.34/h; at most USD 14.68 if "
        "it runs to its limits.timeout (2h 00m); list prices, before discounts"
    )
    assert cost.to_dict()["worst_case"] == pytest.approx(14.68)


def test_the_tier_follows_the_cluster_or_the_queue(tmp_path):
    spec = spec_of(tmp_path)
    low = estimate_cost(spec, SIZES, dataclasses.replace(CLUSTER, low_priority=True))
    assert (low.tier, low.price_per_node_hour) == ("low_priority", 0.73) and "(low-priority)" in low.text()
    serverless = spec_of(
        tmp_path,
        "compute: ~\nresources: {instance_type: Standard_NC24ads_A100_v4}\nqueue_settings: {job_tier: spot}\n",
    )
    spot = estimate_cost(serverless, SIZES)
    assert (spot.tier, spot.price_per_node_hour) == ("spot", 0.81)
    # only Linux prices count: the size's Windows price is never used
    assert (
        estimate_cost(dataclasses.replace(serverless, queue_settings=None), SIZES).price_per_node_hour == 3.67
    )


@pytest.mark.parametrize(
    "compute, reason",
    [
        (
            ComputeInfo("t4", "amlcompute", "STANDARD_NC4AS_T4_V3"),
            "no dedicated price is published for Standard_NC4as_T4_v3",
        ),
        (
            ComputeInfo("old", "amlcompute", "STANDARD_NC6"),
            "STANDARD_NC6 is not in the region's VM size list",
        ),
        (
            ComputeInfo("aks", "kubernetes"),
            "Kubernetes compute 'aks' is billed as its cluster's nodes, not per job",
        ),
        (
            ComputeInfo("a100-spot", "amlcompute", "STANDARD_NC6S_V3", low_priority=True),
            None,
        ),
    ],
)
def test_no_published_price_is_price_unknown_never_a_guess(tmp_path, compute, reason):
    cost = estimate_cost(spec_of(tmp_path), SIZES, compute)
    if reason is None:
        assert cost.price_per_node_hour == 0.61
        return
    assert cost.per_hour is None and cost.worst_case is None and cost.unknown_reason == reason
    assert cost.text() == f"cost: price unknown ({reason})"


def test_a_sweep_holds_its_concurrent_trials_and_is_bounded_by_its_timeouts(tmp_path):
    sweep = sweep_of(
        "{lr: {type: choice, values: [0.1, 0.2, 0.3, 0.4, 0.5]}}",
        "{max_total_trials: 5, max_concurrent_trials: 2, trial_timeout: 1800}",
    )
    cost = estimate_cost(spec_of(tmp_path, sweep), SIZES, CLUSTER)
    assert cost.nodes == 2 and cost.hours == 1.5  # 3 waves of 2 trials x 30 min
    capped = sweep.replace("trial_timeout: 1800", "trial_timeout: 1800, timeout: 3600")
    assert estimate_cost(spec_of(tmp_path, capped), SIZES, CLUSTER).hours == 1.0


def test_a_gpu_job_without_a_timeout_is_warned_about(tmp_path):
    spec = spec_of(tmp_path, "limits: ~\n")
    cost = estimate_cost(spec, SIZES, CLUSTER)
    assert cost.hours is None and "no limits.timeout, so no upper bound" in cost.text()
    (finding,) = cost_findings(spec, cost)
    assert (finding.severity, finding.code) == (
        "warning",
        "no-timeout",
    ) and "limits.timeout" in finding.message
    cpu = spec_of(tmp_path, "limits: ~\n", use_gpu=False)
    assert (
        cost_findings(cpu, estimate_cost(cpu, SIZES, ComputeInfo("c", "amlcompute", "STANDARD_DS3_V2"))) == []
    )


@pytest.mark.parametrize(
    "body, expected",
    [
        ("preflight: {max_cost: 20}\n", []),  # worst case 7.34
        ("preflight: {max_cost: 5}\n", [("error", "cost-over-limit", "up to USD 7.34")]),
        (
            "preflight: {max_cost: 5}\nlimits: ~\n",
            [("warning", "no-timeout", ""), ("error", "cost-over-limit", "no upper bound")],
        ),
        ("preflight: {max_cost: 5}\ncompute: t4\n", [("warning", "cost-unknown", "could not be checked")]),
    ],
)
def test_max_cost_refuses_a_worst_case_above_it(tmp_path, body, expected):
    spec = spec_of(tmp_path, body)
    compute = ComputeInfo("t4", "amlcompute", "STANDARD_NC4AS_T4_V3") if "t4" in body else CLUSTER
    findings = cost_findings(spec, estimate_cost(spec, SIZES, compute))
    assert [(f.severity, f.code) for f in findings] == [(s, c) for s, c, _ in expected]
    for finding, (_, _, text) in zip(findings, expected, strict=True):
        assert text in finding.message


def test_max_cost_must_be_a_positive_number(tmp_path):
    from azure_trainer import ConfigError

    with pytest.raises(ConfigError, match="max_cost"):
        spec_of(tmp_path, "preflight: {max_cost: 0}\n")


def test_sizes_are_read_from_sdk_objects_rest_dicts_alike(ml):
    from_sdk = vm_sizes_table(ml.compute.list_sizes())
    assert from_sdk["standard_ds3_v2"].prices == {"dedicated": 0.29, "low_priority": 0.06}
    assert vm_sizes_table(SIZES)["standard_nc24ads_a100_v4"].prices["spot"] == 0.81


def test_preflight_and_submit_dry_run_print_the_cost(fake, tmp_path, capsys, monkeypatch):
    for var, value in (
        ("AZURE_SUBSCRIPTION_ID", fake.subscription_id),
        ("AZURE_RESOURCE_GROUP", fake.resource_group),
        ("AZUREML_WORKSPACE_NAME", fake.workspace_name),
    ):
        monkeypatch.setenv(var, value)
    spec = spec_of(tmp_path, "preflight: {max_cost: 1}\n")
    assert "cost-over-limit" in {f.code for f in preflight(spec, fake.ml_client())}
    code = main(["submit", str(tmp_path / "job.yaml"), "--dry-run"], client_factory=fake.client_factory())
    err = capsys.readouterr().err
    assert code == 1 and "cost-over-limit" in err and "nothing was submitted" in err
    spec_of(tmp_path)  # no max_cost
    code = main(["submit", str(tmp_path / "job.yaml"), "--dry-run"], client_factory=fake.client_factory())
    err = capsys.readouterr().err
    assert (
        code == 0 and "cost: 1 x Standard_NC24ads_A100_v4 (dedicated) = USD 3.67/h; at most USD 7.34" in err
    )
    code = main(
        ["submit", str(tmp_path / "job.yaml"), "--dry-run", "--json"], client_factory=fake.client_factory()
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["cost"]["per_hour"] == 3.67 and data["cost"]["worst_case"] == 7.34


def test_status_shows_a_finished_jobs_billed_time(fake, capsys, monkeypatch):
    for var, value in (
        ("AZURE_SUBSCRIPTION_ID", fake.subscription_id),
        ("AZURE_RESOURCE_GROUP", fake.resource_group),
        ("AZUREML_WORKSPACE_NAME", fake.workspace_name),
    ):
        monkeypatch.setenv(var, value)
    done = json.loads((FIXTURES / "job_completed.json").read_text())["body"]  # 1h 30m on 2 nodes
    fake.jobs["done-1"] = copy.deepcopy(done)
    code = main(["status", "done-1"], client_factory=fake.client_factory())
    out = capsys.readouterr().out
    assert code == 0, out
    assert (
        "billed        1h 30m x 2 nodes of Standard_NC24ads_A100_v4 (dedicated): about USD 11.01 at list price"
        in out
    )
    code = main(["status", "done-1", "--json"], client_factory=fake.client_factory())
    billed = json.loads(capsys.readouterr().out)["billed"]
    assert billed["seconds"] == 5400 and billed["worst_case"] == pytest.approx(11.01)
    # a job that never ran, and a running one: nothing billed / no estimate yet
    fake.jobs["queued-1"] = copy.deepcopy(done)
    fake.jobs["queued-1"]["properties"]["status"] = "Canceled"
    for key in ("StartTimeUtc", "EndTimeUtc"):
        del fake.jobs["queued-1"]["properties"]["properties"][key]
    main(["status", "queued-1"], client_factory=fake.client_factory())
    assert "never started running" in capsys.readouterr().out
    fake.jobs["done-1"]["properties"]["status"] = "Running"
    main(["status", "done-1"], client_factory=fake.client_factory())
    assert "billed" not in capsys.readouterr().out

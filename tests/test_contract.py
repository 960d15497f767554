"""The submitter/script contract: train_scripts/contract.py (the script's own copy, uploaded alone) must say
exactly what azure_trainer/contract.py says."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import re
import time
from pathlib import Path
from types import ModuleType

import pytest

from azure_trainer import contract

REPO = Path(__file__).resolve().parents[1]
SCRIPT_DIR = REPO / "train_scripts"
SCRIPT_CONTRACT = SCRIPT_DIR / "contract.py"

SHARED = (
    "REQUIRE_GPU_ENV",
    "PREEMPT_AT_STEP_ENV",
    "STATUS_FILE_ENV",
    "EVENT_DEVICE",
    "EVENT_GPU_MISSING",
    "EVENT_START",
    "EVENT_METRICS",
    "EVENT_PREEMPTED",
    "EVENT_FINISHED",
    "STATUS_EVENTS",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXIT_PREEMPTED",
    "EXIT_NO_GPU",
    "DISTRIBUTED_ENV",
    "OBJECTIVE_METRIC_ENV",
)


def public_constants(module: ModuleType) -> dict[str, object]:
    return {name: value for name, value in vars(module).items() if re.fullmatch(r"[A-Z][A-Z0-9_]*", name)}


@pytest.fixture(scope="module")
def script_contract() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_train_scripts_contract_under_test", SCRIPT_CONTRACT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", SHARED)
def test_shared_constant_is_equal(script_contract, name):
    assert hasattr(script_contract, name), f"train_scripts/contract.py lacks {name}"
    assert getattr(script_contract, name) == getattr(contract, name)


def test_known_values():
    assert contract.REQUIRE_GPU_ENV == "AZURE_TRAINER_REQUIRE_GPU"
    assert not hasattr(contract, "USE_GPU_ENV")  # nothing read it: removed from the contract
    assert contract.STATUS_FILE_ENV == "AZURE_TRAINER_STATUS_FILE"
    assert contract.STATUS_EVENTS == ("device", "gpu_missing", "start", "metrics", "preempted", "finished")
    assert (contract.EXIT_OK, contract.EXIT_USAGE, contract.EXIT_PREEMPTED, contract.EXIT_NO_GPU) == (
        0,
        2,
        75,
        78,
    )
    assert contract.DISTRIBUTED_ENV == (
        "RANK",
        "WORLD_SIZE",
        "LOCAL_RANK",
        "NODE_RANK",
        "MASTER_ADDR",
        "MASTER_PORT",
    )


def test_every_constant_of_the_script_copy_is_in_the_package(script_contract):
    package = public_constants(contract)
    for name, value in public_constants(script_contract).items():
        assert name in package, f"train_scripts/contract.py has {name}, azure_trainer/contract.py does not"
        assert package[name] == value, name


def test_every_status_event_is_documented_in_the_package_docstring():
    doc = contract.__doc__
    for event in contract.STATUS_EVENTS:
        assert f'{{"event": "{event}"' in doc, event
    for name in (contract.STATUS_FILE_ENV, contract.REQUIRE_GPU_ENV, contract.PREEMPT_AT_STEP_ENV):
        assert name in doc


def test_script_copy_is_standalone():
    text = SCRIPT_CONTRACT.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from|import)\s+azure_trainer", text, re.M)


def test_training_script_uses_its_copy():
    text = (SCRIPT_DIR / "train.py").read_text(encoding="utf-8")
    assert re.search(r"^from contract import \(?[^)]*\bREQUIRE_GPU_ENV\b", text, re.M)
    assert re.search(r"^from contract import \(?[^)]*\bOBJECTIVE_METRIC_ENV\b", text, re.M)
    assert "EXIT_NO_GPU" in text and "EXIT_PREEMPTED" in text


@pytest.mark.parametrize("use_gpu, flag", [(True, "1"), (False, "0")])
def test_contract_env(use_gpu, flag):
    assert contract.contract_env(use_gpu) == {contract.REQUIRE_GPU_ENV: flag}


def test_contract_env_names_a_sweeps_objective_metric():
    env = contract.contract_env(False, "val_accuracy")
    assert env[contract.OBJECTIVE_METRIC_ENV] == "val_accuracy"
    assert contract.OBJECTIVE_METRIC_ENV == "AZURE_TRAINER_OBJECTIVE_METRIC"


# -- the status channel's writer (train_scripts/contract.py) -----------------------------------------


def test_status_records_are_one_json_line_each_with_event_rank_and_time(
    script_contract, tmp_path, monkeypatch
):
    path = tmp_path / "status.jsonl"
    script_contract.write_status("device", device="cpu")  # no variable: nothing written, no error
    assert not path.exists()
    monkeypatch.setenv(contract.STATUS_FILE_ENV, str(path))
    monkeypatch.delenv("RANK", raising=False)
    script_contract.write_status("device", device="cpu", name="x", gpu_required=False)
    monkeypatch.setenv("RANK", "3")
    script_contract.write_status("metrics", step=7, values={"loss": 0.5})
    first, second = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert first["event"] == "device" and first["rank"] == 0 and isinstance(first["time"], float)
    assert (first["device"], first["name"], first["gpu_required"]) == ("cpu", "x", False)
    assert second == {**second, "event": "metrics", "rank": 3, "step": 7, "values": {"loss": 0.5}}
    assert abs(second["time"] - time.time()) < 60


def test_finite_values_keeps_real_numbers_only(script_contract):
    import torch

    values = {
        "a": 1,
        "b": 2.5,
        "nan": float("nan"),
        "inf": float("inf"),
        "flag": True,
        "text": "x",
        "t": torch.tensor(0.25),
    }
    assert script_contract.finite_values(values) == {"a": 1.0, "b": 2.5, "t": 0.25}


def test_a_status_file_that_cannot_be_written_is_one_warning(script_contract, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(script_contract, "_status_warned", False)
    monkeypatch.setenv(contract.STATUS_FILE_ENV, str(tmp_path / "no" / "such" / "dir" / "status.jsonl"))
    script_contract.write_status("start", resumed_from_step=0)
    script_contract.write_status("finished", step=1)
    err = capsys.readouterr().err
    assert err.count("WARNING: cannot write the status file") == 1 and "training goes on" in err


def _write_many(module_path: str, path: str, rank: int, n: int) -> None:
    spec = importlib.util.spec_from_file_location("_status_writer", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.environ[contract.STATUS_FILE_ENV] = path
    os.environ["RANK"] = str(rank)
    for step in range(n):
        module.write_status("metrics", step=step, values={f"v{i}": float(i) for i in range(400)})


def test_records_of_concurrent_ranks_never_interleave(tmp_path):
    path = tmp_path / "status.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_write_many, args=(str(SCRIPT_CONTRACT), str(path), r, 100)) for r in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 400 and len(records[0]["values"]) == 400
    for rank in range(4):
        assert [r["step"] for r in records if r["rank"] == rank] == list(range(100))

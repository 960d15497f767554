"""The submitter/script contract: train_scripts/contract.py (the script's own copy, uploaded alone) must say
exactly what azure_trainer/contract.py says."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from azure_trainer import contract

REPO = Path(__file__).resolve().parents[1]
SCRIPT_DIR = REPO / "train_scripts"
SCRIPT_CONTRACT = SCRIPT_DIR / "contract.py"

SHARED = (
    "REQUIRE_GPU_ENV",
    "USE_GPU_ENV",
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
    assert contract.USE_GPU_ENV == "AZURE_TRAINER_USE_GPU"
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


def test_preempt_at_step_env_equal_where_present(script_contract):
    assert contract.PREEMPT_AT_STEP_ENV == "AZURE_TRAINER_PREEMPT_AT_STEP"
    if hasattr(script_contract, "PREEMPT_AT_STEP_ENV"):
        assert script_contract.PREEMPT_AT_STEP_ENV == contract.PREEMPT_AT_STEP_ENV


def test_script_honours_preempt_at_step(script_contract):
    # BUG: azure_trainer/contract.py documents AZURE_TRAINER_PREEMPT_AT_STEP ("the script sends itself SIGTERM
    # when it reaches optimizer step N") and run-local --preempt-at-step sets it, but the training script's
    # copy has no PREEMPT_AT_STEP_ENV and train_scripts/ never reads the variable, so the rehearsal cannot
    # preempt at a step. Add the constant to train_scripts/contract.py and act on it in the training loop.
    assert getattr(script_contract, "PREEMPT_AT_STEP_ENV", None) == contract.PREEMPT_AT_STEP_ENV
    sources = "\n".join(
        p.read_text(encoding="utf-8") for p in SCRIPT_DIR.glob("*.py") if p != SCRIPT_CONTRACT
    )
    assert "PREEMPT_AT_STEP_ENV" in sources


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
    assert contract.contract_env(use_gpu) == {contract.REQUIRE_GPU_ENV: flag, contract.USE_GPU_ENV: flag}


def test_contract_env_names_a_sweeps_objective_metric():
    env = contract.contract_env(False, "val_accuracy")
    assert env[contract.OBJECTIVE_METRIC_ENV] == "val_accuracy"
    assert contract.OBJECTIVE_METRIC_ENV == "AZURE_TRAINER_OBJECTIVE_METRIC"

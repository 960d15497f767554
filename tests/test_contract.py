"""The submitter/script contract: train_scripts/contract.py (the script's own copy, uploaded alone) must say
exactly what azure_trainer/contract.py says."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
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
    sys.modules[spec.name] = module  # dataclasses look their module up there
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


def _is_contract_constant(name: str, value: object) -> bool:
    """A name of the contract itself (not one of the helper's own settings such as TRAIN_DISABLE_MLFLOW)."""
    return (
        name.startswith(("EXIT_", "EVENT_", "STATUS_"))
        or name == "DISTRIBUTED_ENV"
        or (isinstance(value, str) and value.startswith("AZURE_TRAINER_"))
    )


def test_the_copies_agree_on_every_contract_constant_both_ways(script_contract):
    package, script = public_constants(contract), public_constants(script_contract)
    for name, value in package.items():
        assert name in script, f"azure_trainer/contract.py has {name}, train_scripts/contract.py does not"
        assert script[name] == value, name
    for name, value in script.items():
        if _is_contract_constant(name, value):
            assert name in package, (
                f"train_scripts/contract.py has {name}, azure_trainer/contract.py does not"
            )


def test_every_status_event_is_documented_in_the_package_docstring():
    doc = contract.__doc__
    for event in contract.STATUS_EVENTS:
        assert f'{{"event": "{event}"' in doc, event
    for name in (contract.STATUS_FILE_ENV, contract.REQUIRE_GPU_ENV, contract.PREEMPT_AT_STEP_ENV):
        assert name in doc


def test_script_copy_is_standalone():
    text = SCRIPT_CONTRACT.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from|import)\s+azure_trainer", text, re.M)


def test_the_reference_script_honours_the_contract_only_through_the_helper():
    """One implementation: no other module of train_scripts/ reads the contract's variables, installs a
    signal handler or starts a process group itself."""
    for path in SCRIPT_DIR.glob("*.py"):
        if path == SCRIPT_CONTRACT:
            continue
        text = path.read_text(encoding="utf-8")
        for duplicate in ("AZURE_TRAINER_", "signal.signal(", "init_process_group(", "os.replace("):
            assert duplicate not in text, f"{path.name} has {duplicate!r}: use train_scripts/contract.py"
    assert re.search(r"^import contract\b", (SCRIPT_DIR / "train.py").read_text(encoding="utf-8"), re.M)


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
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    os.environ[contract.STATUS_FILE_ENV] = path
    os.environ["RANK"] = str(rank)
    for step in range(n):
        module.write_status("metrics", step=step, values={f"v{i}": float(i) for i in range(400)})


@pytest.mark.slow
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


# -- the drop-in helper (train_scripts/contract.py), in this process -----------------------------------

CUDA0 = None


@pytest.fixture
def helper(script_contract):
    import torch

    global CUDA0
    CUDA0 = torch.device("cuda", 0)
    return script_contract


@pytest.fixture
def fake_gpus(monkeypatch):
    """Pretend this CPU machine has ``count`` CUDA GPUs of compute capability ``capability``."""
    import torch

    def install(count: int, capability=(9, 0), bf16_emulated: bool = True):
        chosen = []
        monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        # what the precision choice must NOT trust: true on V100/T4 too, where bf16 is only emulated
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_emulated)
        return chosen

    return install


@pytest.mark.parametrize(
    "gpu, capability, precision, scaler",
    [
        ("V100 (NCv3)", (7, 0), "fp16", True),
        ("T4 (NCasT4_v3)", (7, 5), "fp16", True),
        ("A100 (NC A100 v4, ND A100 v4)", (8, 0), "bf16", False),
        ("H100 / H200 (NC H100 v5, ND H100/H200 v5)", (9, 0), "bf16", False),
        ("P100 / K80 (no tensor cores)", (6, 0), "fp32", False),
    ],
)
def test_precision_follows_the_gpus_native_capability(helper, fake_gpus, gpu, capability, precision, scaler):

    chosen = fake_gpus(1, capability)
    device = helper.select_device("auto")
    assert device == CUDA0 and chosen == [0], gpu
    assert helper.choose_precision(device) == precision, gpu
    assert helper.native_bf16(device) is (capability >= (8, 0))
    made = helper.grad_scaler(device, helper.choose_precision(device))
    assert (made is not None) is scaler and (not scaler or type(made).__name__ == "GradScaler")
    assert helper.choose_precision(device, "fp32") == "fp32"  # an explicit choice is kept


def test_without_a_gpu_the_cpu_trains_in_fp32(helper, fake_gpus, monkeypatch):
    import torch

    monkeypatch.delenv(contract.REQUIRE_GPU_ENV, raising=False)
    fake_gpus(0)
    device = helper.select_device("auto")
    assert device == torch.device("cpu") and helper.choose_precision(device) == "fp32"
    assert helper.grad_scaler(device, "fp32") is None and helper.grad_scaler(device, "bf16") is None
    assert isinstance(helper.autocast(device, "fp32"), contextlib.nullcontext)


def test_each_local_process_gets_its_own_gpu_or_a_clear_error(helper, fake_gpus, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    chosen = fake_gpus(2)
    assert helper.select_device("auto", local_rank=1, local_world_size=2) == helper.torch.device("cuda", 1)
    assert chosen == [1]
    for local_rank, local_world in ((2, None), (0, 4)):  # rank 0 knows too when LOCAL_WORLD_SIZE is set
        with pytest.raises(helper.TooManyProcessesError, match=r"but 2 GPUs visible.*at most 2"):
            helper.select_device("auto", local_rank=local_rank, local_world_size=local_world)
    # A launcher that gives each process one GPU of its own (CUDA_VISIBLE_DEVICES=3): device 0 is ours.
    fake_gpus(1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert helper.select_device("auto", local_rank=5, local_world_size=8).index == 0


def test_process_group_gets_device_id_only_where_init_has_the_parameter(helper):
    import torch

    def torch_2_2_init(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None):
        """init_process_group's signature in torch 2.2 (no device_id)."""

    def newer_init(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, device_id=None):
        """... and from torch 2.3 on."""

    assert helper.process_group_device_kwargs(CUDA0, torch_2_2_init) == {}
    assert helper.process_group_device_kwargs(CUDA0, newer_init) == {"device_id": CUDA0}
    assert helper.process_group_device_kwargs(torch.device("cpu"), newer_init) == {}  # gloo: no device


def test_the_process_group_timeout_is_the_contracts_collective_timeout(helper, monkeypatch, capsys):
    monkeypatch.delenv(contract.COLLECTIVE_TIMEOUT_ENV, raising=False)
    assert helper.collective_timeout_s() == contract.DEFAULT_COLLECTIVE_TIMEOUT_S == 300.0
    monkeypatch.setenv(contract.COLLECTIVE_TIMEOUT_ENV, "45")
    assert helper.collective_timeout_s() == 45.0
    for bad in ("soon", "-3", "nan"):
        monkeypatch.setenv(contract.COLLECTIVE_TIMEOUT_ENV, bad)
        assert helper.collective_timeout_s() == 300.0
        assert "is not a positive number of seconds" in capsys.readouterr().err


def test_tf32_is_set_through_the_api_this_torch_has(helper, monkeypatch):
    from types import SimpleNamespace

    import torch

    # torch >= 2.9: fp32_precision beside the legacy flags; both are set, so they agree.
    new_matmul = SimpleNamespace(fp32_precision="none", allow_tf32=False)
    new_cudnn = SimpleNamespace(
        allow_tf32=True,
        conv=SimpleNamespace(fp32_precision="none"),
        rnn=SimpleNamespace(fp32_precision="tf32"),
    )
    monkeypatch.setattr(torch.backends.cuda, "matmul", new_matmul)
    monkeypatch.setattr(torch.backends, "cudnn", new_cudnn)
    helper.set_tf32(False)
    assert (new_matmul.fp32_precision, new_cudnn.conv.fp32_precision, new_cudnn.rnn.fp32_precision) == (
        "ieee",
        "ieee",
        "ieee",
    )
    assert (new_matmul.allow_tf32, new_cudnn.allow_tf32) == (False, False)
    assert helper.tf32_enabled() is False
    helper.set_tf32(True)
    assert helper.tf32_enabled() is True and new_cudnn.conv.fp32_precision == "tf32"
    assert new_matmul.allow_tf32 and new_cudnn.allow_tf32 and new_cudnn.rnn.fp32_precision == "tf32"
    # Older torch (2.2 ... 2.8): the allow_tf32 flags.
    old_matmul, old_cudnn = (
        SimpleNamespace(allow_tf32=False),
        SimpleNamespace(allow_tf32=False, benchmark=False),
    )
    monkeypatch.setattr(torch.backends.cuda, "matmul", old_matmul)
    monkeypatch.setattr(torch.backends, "cudnn", old_cudnn)
    helper.configure_math(CUDA0)
    assert old_matmul.allow_tf32 and old_cudnn.allow_tf32 and old_cudnn.benchmark and helper.tf32_enabled()
    helper.configure_math(CUDA0, deterministic=True, tf32=False)
    assert not old_matmul.allow_tf32 and not old_cudnn.benchmark


READ_EVERY_TF32_FLAG = """
import importlib.util, json, sys, torch
spec = importlib.util.spec_from_file_location("c", sys.argv[1])
c = importlib.util.module_from_spec(spec); sys.modules["c"] = c; spec.loader.exec_module(c)
m, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
readers = {
    "matmul.allow_tf32": lambda: m.allow_tf32,
    "get_float32_matmul_precision": torch.get_float32_matmul_precision,
    "cudnn.allow_tf32": lambda: cudnn.allow_tf32,
}
if hasattr(m, "fp32_precision"):
    readers["matmul.fp32_precision"] = lambda: m.fp32_precision
    readers["cudnn.conv.fp32_precision"] = lambda: cudnn.conv.fp32_precision
out = {}
for enabled in (True, False, True):
    c.set_tf32(enabled)
    seen = {}
    for name, read in readers.items():
        try:
            seen[name] = read()
        except RuntimeError as exc:
            seen[name] = "RAISED " + str(exc)[:80]
    seen["tf32_enabled"] = c.tf32_enabled()
    out[str(enabled)] = seen
print(json.dumps(out))
"""


def test_tf32_setting_leaves_every_reader_of_the_real_torch_consistent():
    """torch >= 2.9 raises on a legacy read after only the new flags were set; Inductor reads the
    legacy ones (get_float32_matmul_precision, cudnn.allow_tf32) when it autotunes. These are global
    flags that a CPU build of torch holds too, so a fresh interpreter can read every one."""
    proc = subprocess.run(
        [sys.executable, "-c", READ_EVERY_TF32_FLAG, str(SCRIPT_CONTRACT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    states = json.loads(proc.stdout.strip().splitlines()[-1])
    for enabled, seen in states.items():
        on = enabled == "True"
        assert not [v for v in seen.values() if str(v).startswith("RAISED")], seen
        assert seen["matmul.allow_tf32"] is on and seen["cudnn.allow_tf32"] is on, seen
        assert seen["get_float32_matmul_precision"] == ("high" if on else "highest"), seen
        assert seen["tf32_enabled"] is on, seen
        if "matmul.fp32_precision" in seen:
            want = "tf32" if on else "ieee"
            assert (seen["matmul.fp32_precision"], seen["cudnn.conv.fp32_precision"]) == (want, want)


def test_checkpoints_by_time_or_steps_rotated_newest_valid_first(helper, tmp_path, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(helper.time, "monotonic", lambda: now[0])
    store = helper.CheckpointStore(tmp_path / "ck", keep=2, every_s=60, every_steps=0)
    store.prepare()
    assert not store.due(1)
    now[0] += 61
    assert store.due(2)
    for step in (2, 4, 6):
        store.save({"step": step}, step)
    assert not store.due(7)  # saving resets the clock
    assert [p.name for p in helper.list_checkpoints(store.directory)] == [
        "ckpt-000000006.pt",
        "ckpt-000000004.pt",
    ]
    newest = store.directory / "ckpt-000000006.pt"
    newest.write_bytes(newest.read_bytes()[:20])  # truncated mid-write
    warnings = []
    state, path = store.load_latest(required=("step",), log=lambda *a, **k: warnings.append(a[0]))
    assert state == {"step": 4} and path.name == "ckpt-000000004.pt"
    assert len(warnings) == 1 and "skipping unreadable checkpoint" in warnings[0]
    assert helper.CheckpointStore(tmp_path / "s", every_s=0, every_steps=5).due(10)
    moved = store.move_aside()
    assert sorted(p.name for p in moved.iterdir()) == ["ckpt-000000004.pt", "ckpt-000000006.pt"]
    assert helper.list_checkpoints(store.directory) == [] and store.move_aside() is None


def test_metrics_are_read_and_written_by_the_background_thread(helper, tmp_path, monkeypatch):
    import torch

    status = tmp_path / "status.jsonl"
    monkeypatch.setenv(contract.STATUS_FILE_ENV, str(status))
    monkeypatch.delenv("RANK", raising=False)
    release, seen, threads = threading.Event(), [], set()

    def slow_sink(step, record):
        release.wait(30)  # a tracking server that hangs: the training loop must not wait for it
        threads.add(threading.current_thread().name)
        seen.append((step, record))

    def broken_sink(step, record):
        raise OSError("disk full")

    logger = helper.MetricsLogger(enabled=True, sinks=[broken_sink, slow_sink], mlflow=False)
    logger.log(1, {"loss": torch.tensor(0.5, requires_grad=True) * 1, "seconds": lambda: 2.0, "tag": "x"})
    logger.log(2, {"loss": 0.25, "nan": float("nan")})
    assert seen == []  # log() returned while the sink still waits
    release.set()
    logger.flush()
    assert seen == [
        (1, {"loss": 0.5, "seconds": 2.0, "tag": "x"}),
        (2, {"loss": 0.25, "nan": seen[1][1]["nan"]}),
    ]
    assert threads == {"azure-trainer-metrics"}
    records = [json.loads(line) for line in status.read_text().splitlines()]
    assert [(r["event"], r["step"], r["values"]) for r in records] == [
        ("metrics", 1, {"loss": 0.5, "seconds": 2.0}),
        ("metrics", 2, {"loss": 0.25}),
    ]
    logger.close()
    logger.log(3, {"loss": 1.0})  # after close: ignored, no error
    assert len(seen) == 2


def test_metrics_logger_warns_once_per_failing_sink(helper, capsys):
    def broken(step, record):
        raise OSError("disk full")

    logger = helper.MetricsLogger(enabled=True, sinks=[broken], mlflow=False)
    for step in range(3):
        logger.log(step, {"loss": 1.0})
    logger.close()
    assert capsys.readouterr().err.count("disk full") == 1


class _Counter:
    """A minimal stateful object (like a model or optimizer) for Job.resume."""

    def __init__(self):
        self.value = 0

    def state_dict(self):
        return {"value": self.value}

    def load_state_dict(self, state):
        self.value = state["value"]


def _job(helper, tmp_path, monkeypatch, **env):
    monkeypatch.setenv(contract.STATUS_FILE_ENV, str(tmp_path / "status.jsonl"))
    monkeypatch.setenv("TRAIN_DISABLE_MLFLOW", "1")
    for name in (contract.REQUIRE_GPU_ENV, contract.PREEMPT_AT_STEP_ENV, "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    previous = signal.getsignal(signal.SIGTERM)
    job = helper.start(tmp_path / "ck", device="cpu", banner=False)
    return job, previous


def _events(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "status.jsonl").read_text().splitlines()]


def test_job_resumes_saves_on_preemption_and_exits_75(helper, tmp_path, monkeypatch):
    job, previous = _job(helper, tmp_path, monkeypatch, **{contract.PREEMPT_AT_STEP_ENV: "3"})
    counter = _Counter()
    assert job.resume(counter=counter) == 0 and job.device.type == "cpu" and job.precision == "fp32"
    for step in (1, 2):
        counter.value = step
        job.step(step, loss=1.0 / step)
    counter.value = 3
    with pytest.raises(SystemExit) as info:
        job.step(3, loss=0.3)  # the rehearsal's real SIGTERM, to ourselves, at step 3
    assert info.value.code == contract.EXIT_PREEMPTED
    assert signal.getsignal(signal.SIGTERM) == previous  # put back by close()
    events = _events(tmp_path)
    assert [e["event"] for e in events] == ["device", "start", "metrics", "metrics", "metrics", "preempted"]
    assert events[-1]["step"] == 3 and events[-1]["checkpoint"].endswith("ckpt-000000003.pt")

    monkeypatch.delenv(contract.PREEMPT_AT_STEP_ENV)
    job = helper.start(tmp_path / "ck", device="cpu", banner=False)
    again = _Counter()
    assert job.resume(counter=again) == 3 and again.value == 3
    job.step(4, loss=0.1)
    job.finish()
    events = _events(tmp_path)
    assert events[-3]["event"] == "start" and events[-3]["resumed_from_step"] == 3
    assert events[-3]["checkpoint"].endswith("ckpt-000000003.pt")
    assert events[-1] == {**events[-1], "event": "finished", "step": 4}
    assert helper.list_checkpoints(tmp_path / "ck")[0].name == "ckpt-000000004.pt"  # the final checkpoint


def test_sigterm_from_outside_stops_at_the_next_step(helper, tmp_path, monkeypatch):
    job, _ = _job(helper, tmp_path, monkeypatch)
    job.resume(counter=_Counter())
    job.step(1)
    os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(SystemExit) as info:
        job.step(2)
    assert info.value.code == 75 and _events(tmp_path)[-1]["event"] == "preempted"


def test_a_required_gpu_that_is_missing_exits_78_before_anything_else(
    helper, tmp_path, monkeypatch, fake_gpus, capsys
):
    fake_gpus(0)
    monkeypatch.setenv(contract.STATUS_FILE_ENV, str(tmp_path / "status.jsonl"))
    monkeypatch.setenv(contract.REQUIRE_GPU_ENV, "1")
    with pytest.raises(SystemExit) as info:
        helper.start(tmp_path / "ck")
    assert info.value.code == contract.EXIT_NO_GPU
    assert "GPU required (AZURE_TRAINER_REQUIRE_GPU=1)" in capsys.readouterr().err
    assert [e["event"] for e in _events(tmp_path)] == ["gpu_missing"] and not (tmp_path / "ck").exists()


def test_an_unwritable_checkpoint_folder_is_a_one_line_error(helper, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRAIN_DISABLE_MLFLOW", "1")
    monkeypatch.delenv(contract.REQUIRE_GPU_ENV, raising=False)
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(SystemExit) as info:
        helper.start(afile / "ck", device="cpu")
    err = capsys.readouterr().err
    assert info.value.code == contract.EXIT_USAGE and err.startswith(
        f"ERROR: checkpoint folder {afile / 'ck'}"
    )
    assert len(err.strip().splitlines()) == 1

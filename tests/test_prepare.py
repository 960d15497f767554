"""``prepare(spec, options, host, run_dir)``: everything a local run will do, checked without a process.

The Host is a made-up machine: no torch, a GPU, four cores, an outer launch's RANK leaking in...
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from azure_trainer import LocalRunError, load_config, plan
from azure_trainer.contract import PREEMPT_AT_STEP_ENV, REQUIRE_GPU_ENV, STATUS_FILE_ENV
from azure_trainer.local.prepare import NO_GPU_WARNING, RANK_TEE, Host, LocalOptions, prepare, status_file

FIX = Path(__file__).resolve().parent / "fixtures" / "local"
PYTHON = "/opt/py/bin/python3"


def host(**facts) -> Host:
    values = {
        "python": PYTHON,
        "environ": {"PATH": "/usr/bin", "HOME": "/home/u"},
        "cpu_count": 4,
        "port": 40123,
    }
    return Host(**{**values, **facts})


def spec_of(name: str, *overrides: str, use_gpu: bool | None = None):
    return plan(load_config(FIX / name, list(overrides), use_gpu=use_gpu))


def test_a_single_process_job_is_bash_c_in_the_code_folder_with_this_python(tmp_path):
    launch = prepare(spec_of("argv.yaml"), LocalOptions(), host(), tmp_path / "run")
    (agent,) = launch.agents
    assert agent.argv == agent.shown == launch.launcher == ["bash", "-c", launch.shell_text]
    assert launch.shell_text.startswith(PYTHON + " echo_argv.py ")
    assert launch.cwd == (FIX / "scripts").resolve() and not launch.distributed and launch.nproc == 1
    assert launch.env["PATH"].split(os.pathsep)[0] == "/opt/py/bin"
    # placeholders travel in variables, never pasted into the shell text
    assert "${{" not in launch.shell_text and launch.env["AZT_INPUTS_data"] == str((FIX / "data").resolve())
    assert launch.env["AZT_OUTPUTS_result"] == str(tmp_path / "run" / "outputs" / "result")
    assert tmp_path / "run" / "outputs" / "result" in launch.output_dirs
    assert launch.env["MLFLOW_TRACKING_URI"] == (tmp_path / "run" / "mlruns").as_uri()
    assert launch.env["MY_SETTING"] == "hello world" and launch.env[REQUIRE_GPU_ENV] == "0"
    assert not (tmp_path / "run").exists()  # pure: nothing was created


def test_a_code_file_runs_in_its_folder_with_a_warning(tmp_path):
    """`code:` may be one file (azureml-examples' hello-model-as-input.yml): Azure ML uploads it alone;
    here the command runs in its folder, and the warning says the neighbours are visible."""
    spec = spec_of("argv.yaml", "code=" + str(FIX / "scripts" / "echo_argv.py"))
    assert spec.code == FIX / "scripts" / "echo_argv.py" and spec.code_dir == FIX / "scripts"
    launch = prepare(spec, LocalOptions(), host(), tmp_path / "run")
    assert launch.cwd == FIX / "scripts"
    assert f"cd {FIX / 'scripts'}" in launch.files["command.sh"]
    assert any("code is one file, echo_argv.py" in w for w in launch.warnings)
    assert not any(
        "one file" in w for w in prepare(spec_of("argv.yaml"), LocalOptions(), host(), tmp_path).warnings
    )


def test_the_run_folder_files_are_decided_up_front_and_never_hold_a_secret(tmp_path):
    launch = prepare(spec_of("argv.yaml"), LocalOptions(), host(), tmp_path / "run")
    assert set(launch.files) == {"config.yaml", "command.sh"}
    secret = "sk-live-0123456789abcdefghijklmnop"
    assert launch.env["MY_API_KEY"] == secret  # the child gets it...
    assert all(secret not in text for text in launch.files.values())  # ...the files do not
    assert "MY_API_KEY looks like a secret and is not written here" in launch.files["command.sh"]


def test_a_distributed_job_runs_one_torchrun_agent_per_node_on_a_free_port(tmp_path):
    """ranks.yaml: 2 nodes x 1 process, as Azure ML runs it: node i gets NODE_RANK=i, RANK=i, LOCAL_RANK=0."""
    launch = prepare(
        spec_of("ranks.yaml"), LocalOptions(), host(environ={"RANK": "3", "PATH": "/bin"}), tmp_path
    )
    assert launch.distributed and launch.wrapped and (launch.nodes, launch.nproc) == (2, 2)
    for node, agent in enumerate(launch.agents):
        argv = agent.argv
        assert argv[:3] == [PYTHON, "-m", "torch.distributed.run"] and agent.env == {"NODE_RANK": str(node)}
        flags = {flag: argv[argv.index(flag) + 1] for flag in ("--nnodes", "--node-rank", "--nproc-per-node")}
        assert flags == {"--nnodes": "2", "--node-rank": str(node), "--nproc-per-node": "1"}
        assert argv[argv.index("--master-port") + 1] == "40123"  # one rendezvous for every node
        assert str(RANK_TEE) in argv and str(RANK_TEE) not in agent.shown
    assert "RANK" not in launch.env  # an outer launch's rank must not leak in; torchrun sets its own
    assert launch.env["OMP_NUM_THREADS"] == "2"  # 4 cores / 2 ranks
    assert launch.env["AZURE_TRAINER_COLLECTIVE_TIMEOUT_S"] == "300" and launch.collective_timeout == 300
    script = launch.files["command.sh"]
    assert script.count("NODE_RANK=0 ") == 1 and script.count("NODE_RANK=1 ") == 1 and "wait" in script


@pytest.mark.parametrize(
    "distribution, missing",
    [
        ("{type: pytorch, process_count_per_instance: 1}", None),
        ("{type: mpi, process_count_per_instance: 1}", "the OMPI_* variables"),
        ("{type: tensorflow, worker_count: 2}", "TF_CONFIG"),
        ("{type: ray}", "no Ray cluster is started"),
    ],
)
def test_a_distribution_torchrun_does_not_rehearse_says_what_is_missing(tmp_path, distribution, missing):
    launch = prepare(spec_of("ranks.yaml", f"distribution={distribution}"), LocalOptions(), host(), tmp_path)
    notes = [w for w in launch.warnings if "runs through torchrun locally" in w]
    assert launch.nodes == 2 and len(notes) == (missing is not None)
    assert all(missing in note for note in notes)


def test_nodes_times_processes_per_node_and_nproc_sets_the_processes_per_node(tmp_path):
    spec = spec_of("ranks.yaml", "distribution.process_count_per_instance=2")
    launch = prepare(spec, LocalOptions(), host(), tmp_path)
    assert (launch.nodes, launch.nproc) == (2, 4)
    assert {a.argv[a.argv.index("--nproc-per-node") + 1] for a in launch.agents} == {"2"}
    assert prepare(spec, LocalOptions(nproc=3), host(), tmp_path).nproc == 6


def test_a_multi_node_job_without_a_distribution_runs_the_command_once_per_node(tmp_path):
    spec = dataclasses.replace(spec_of("ranks.yaml"), distribution=None)  # Azure ML: each node runs it
    launch = prepare(spec, LocalOptions(), host(), tmp_path)
    assert not launch.distributed and launch.wrapped and (launch.nodes, launch.nproc) == (2, 2)
    assert [a.env for a in launch.agents] == [{"NODE_RANK": "0"}, {"NODE_RANK": "1"}]
    assert all(a.shown[:2] == ["bash", "-c"] and str(RANK_TEE) in a.argv for a in launch.agents)
    assert "torch.distributed.run" not in " ".join(launch.agents[0].argv)


def test_the_collective_timeout_comes_from_the_job_and_must_be_a_number(tmp_path):
    spec = spec_of("ranks.yaml", "environment_variables.AZURE_TRAINER_COLLECTIVE_TIMEOUT_S=12")
    assert prepare(spec, LocalOptions(), host(), tmp_path).collective_timeout == 12
    bad = spec_of("ranks.yaml", "environment_variables.AZURE_TRAINER_COLLECTIVE_TIMEOUT_S=soon")
    with pytest.raises(
        LocalRunError, match="AZURE_TRAINER_COLLECTIVE_TIMEOUT_S='soon'.*give a number of seconds"
    ):
        prepare(bad, LocalOptions(), host(), tmp_path)


@pytest.mark.parametrize(
    ("overrides", "nproc", "message"),
    [
        ((), 100_000, r"200000 processes here \(2 node\(s\) x 100000 from --nproc 100000\)"),
        (
            ("resources.instance_count=100", "distribution.process_count_per_instance=8"),
            None,
            "800 processes",
        ),
    ],
)
def test_more_processes_than_one_machine_should_start_is_refused_before_any_start(
    tmp_path, overrides, nproc, message
):
    spec = spec_of("ranks.yaml", *overrides)
    with pytest.raises(LocalRunError, match=f"{message}.*at most 128 on one machine.*--nproc 2"):
        prepare(spec, LocalOptions(nproc=nproc), host(), tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert prepare(spec_of("ranks.yaml"), LocalOptions(nproc=64), host(), tmp_path).nproc == 128


def test_nproc_overrides_and_a_job_without_distribution_warns(tmp_path):
    launch = prepare(spec_of("fail.yaml"), LocalOptions(nproc=3), host(), tmp_path)
    assert launch.distributed and launch.nproc == 3 and len(launch.agents) == 1
    assert any("Azure ML would run one process per node" in w for w in launch.warnings)


@pytest.mark.parametrize(
    ("facts", "options", "require_gpu", "warning"),
    [
        ({"cuda": False}, LocalOptions(), "0", NO_GPU_WARNING),
        ({"cuda": False}, LocalOptions(strict_device=True), "1", "--strict-device: the script should stop"),
        ({"cuda": True}, LocalOptions(), "1", None),
    ],
)
def test_use_gpu_on_this_machine(tmp_path, facts, options, require_gpu, warning):
    spec = spec_of("fail.yaml", "compute=gpu-cluster", use_gpu=True)
    launch = prepare(spec, options, host(**facts), tmp_path)
    assert launch.env[REQUIRE_GPU_ENV] == require_gpu
    if warning:
        assert any(warning in w for w in launch.warnings)
    else:
        assert launch.warnings == []


def test_missing_torch_and_bash_are_one_line_errors_naming_the_fix(tmp_path):
    with pytest.raises(LocalRunError, match=r"pip install 'azure-trainer\[train\]'"):
        prepare(spec_of("ranks.yaml"), LocalOptions(), host(has_torch=False), tmp_path)
    with pytest.raises(LocalRunError, match="needs bash"):
        prepare(spec_of("fail.yaml"), LocalOptions(), host(has_bash=False), tmp_path)


def test_each_attempt_reports_to_its_own_status_file_and_only_the_first_is_preempted(tmp_path):
    launch = prepare(spec_of("fail.yaml"), LocalOptions(preempt_at_step=5), host(), tmp_path)
    first, second = launch.attempt_env(1), launch.attempt_env(2)
    assert first[STATUS_FILE_ENV] == str(status_file(tmp_path, 1)) != second[STATUS_FILE_ENV]
    assert first[PREEMPT_AT_STEP_ENV] == "5" and PREEMPT_AT_STEP_ENV not in second


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (LocalOptions(nproc=0), "--nproc 0: give a number of processes >= 1"),
        (LocalOptions(timeout=float("nan")), "--timeout nan: give a number of seconds >= 0"),
        (LocalOptions(preempt_after=-1), "--preempt-after -1: give a number of seconds > 0"),
        (LocalOptions(preempt_at_step=0), "--preempt-at-step 0: give a step >= 1"),
    ],
)
def test_unusable_options_are_refused_before_anything(tmp_path, options, message):
    with pytest.raises(LocalRunError, match=message.replace("(", r"\(")):
        prepare(spec_of("fail.yaml"), options, host(), tmp_path)


def test_time_limit_comes_from_the_job_unless_timeout_says_otherwise(tmp_path):
    spec = spec_of("fail.yaml", "limits.timeout=30")
    assert prepare(spec, LocalOptions(), host(), tmp_path).time_limit == 30
    assert prepare(spec, LocalOptions(timeout=5), host(), tmp_path).time_limit == 5
    assert prepare(spec, LocalOptions(timeout=0), host(), tmp_path).time_limit is None


def test_the_rank_wrapper_and_the_supervisor_agree_on_where_ranks_report():
    """_rank_tee.py is standalone (it runs under torchrun), so it spells the variable itself."""
    import importlib.util

    from azure_trainer.local.supervisor import RANK_STATE_ENV

    spec = importlib.util.spec_from_file_location("rank_tee", RANK_TEE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.STATE_ENV == RANK_STATE_ENV

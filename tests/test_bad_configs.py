"""The bad-config corpus: every broken config gives exit 2 and ONE located line on stderr.

Each ``tests/bad_configs/*.yaml`` starts with a ``# expected:`` comment (key path and why); the table
below is the machine-checked version: (file, line, key path, message part, file the error must name).
Helper files that are not cases themselves live in ``tests/bad_configs/bases/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from azure_trainer.cli import main

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "bad_configs"
PREFIX = "azure-trainer: error: "
ANY = object()  # the key is not written in the file: any line (or none) will do


class Case:
    def __init__(self, file, line, key, message, named=None):
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        self.named = named or f"tests/bad_configs/{file}"

    def __repr__(self) -> str:
        return self.file


CASES = [
    Case("tab_indent.yaml", 4, None, "invalid YAML"),
    Case("unclosed_bracket.yaml", 7, None, "invalid YAML"),
    Case("duplicate_key.yaml", 5, "experiment_name", "duplicate key 'experiment_name'"),
    Case("top_level_list.yaml", 1, None, "top level must be a mapping"),
    Case("unknown_top_key.yaml", 6, "displayname", "did you mean 'display_name'?"),
    Case("unknown_nested_key.yaml", 9, "inputs.data.moed", "did you mean 'mode'?"),
    Case("instance_count_word.yaml", 7, "resources.instance_count", "valid integer (got 'two')"),
    Case("use_gpu_maybe.yaml", 6, "use_gpu", "valid boolean (got 'maybe')"),
    Case("args_list.yaml", 6, "args", "valid dictionary"),
    Case("missing_environment.yaml", ANY, "environment", "required key is missing"),
    Case("empty_file.yaml", ANY, "environment", "required key is missing"),
    Case(
        "missing_code_folder.yaml",
        3,
        "code",
        "does not exist (a relative path is relative to the config file's folder)",
    ),
    Case("script_not_in_code.yaml", 4, "script", "'trian.py' not found"),
    Case("command_and_script.yaml", 5, "command", "not both"),
    Case("neither_command_nor_script.yaml", ANY, "command", "not neither"),
    Case("args_with_command.yaml", 6, "args", "`args` goes with `script`"),
    Case(
        "distribution_horovod.yaml",
        9,
        "distribution.type",
        "'horovod' is not one of pytorch, mpi, tensorflow, ray",
    ),
    Case("distribution_typo.yaml", 7, "distribution.type", "did you mean 'pytorch'?"),
    Case(
        "distribution_field_of_other_type.yaml",
        10,
        "distribution.worker_count",
        "a pytorch distribution takes process_count_per_instance, not worker_count",
    ),
    Case("bad_input_mode.yaml", 9, "inputs.data.mode", "did you mean 'ro_mount'?"),
    Case("input_rw_mount.yaml", 9, "inputs.data.mode", "'rw_mount' is not one of ro_mount, download, direct"),
    Case("literal_input_with_path.yaml", 9, "inputs.lr.path", "a literal input takes only `value`"),
    Case("literal_input_typed.yaml", 8, "inputs.epochs.type", "a literal input is written as its value"),
    Case(
        "literal_input_old_default.yaml",
        9,
        "inputs.lr.default",
        "unknown key 'default': a literal input is written as its value in Azure ML job YAML",
    ),
    Case("local_path_only.yaml", 7, "inputs.data.path", "for local data write `path: LOCAL_PATH`"),
    Case("gpu_missing_in_compute.yaml", 7, "compute", "no GPU compute"),
    Case("gpu_without_any_compute.yaml", ANY, "compute", "no GPU compute"),
    Case("env_ref_bad.yaml", 5, "environment", "azureml:NAME:VERSION"),
    Case(
        "env_bare_path.yaml",
        5,
        "environment",
        "an environment file is written file:PATH in Azure ML job YAML",
    ),
    Case("env_registry_ref_bad.yaml", 8, "environment.gpu", "registry references look like"),
    Case("env_file_missing.yaml", 7, "environment.cpu", "no-such-env.yaml not found"),
    Case(
        "env_file_invalid.yaml",
        2,
        "image",
        "an environment needs exactly one of `image`",
        named="tests/bad_configs/bases/env_no_image.yaml",
    ),
    Case("inline_env_typo.yaml", 6, "environment.imag", "unknown key 'imag'; did you mean 'image'?"),
    Case("env_var_nested.yaml", 7, "environment_variables.OPTS", "valid string"),
    Case("env_var_name_equals.yaml", 7, "environment_variables.A=B", "is not an environment variable name"),
    Case("env_var_name_empty.yaml", 7, "environment_variables.", "'' is not an environment variable name"),
    Case(
        "extends_cycle.yaml",
        2,
        "extends",
        "`extends` cycle: tests/bad_configs/extends_cycle.yaml -> "
        "tests/bad_configs/bases/cycle_b.yaml -> tests/bad_configs/extends_cycle.yaml",
        named="tests/bad_configs/bases/cycle_b.yaml",
    ),
    Case("extends_missing.yaml", 3, "extends", "'no-such-base.yaml' not found"),
    Case("extends_list_missing.yaml", 5, "extends", "'bases/no-such-base.yaml' not found"),
    Case(
        "error_in_base.yaml",
        7,
        "limits.timout",
        "did you mean 'timeout'?",
        named="tests/bad_configs/bases/base_with_typo.yaml",
    ),
    Case("experiment_spaces.yaml", 2, "experiment_name", "letters, digits"),
    Case("shm_size_lots.yaml", 7, "resources.shm_size", "optional unit"),
    Case("timeout_negative.yaml", 7, "limits.timeout", "greater than or equal to 1"),
    Case("placeholder_undeclared.yaml", 6, "args", "${{inputs.data}} names no declared input"),
    Case("command_placeholder_undeclared.yaml", 5, "command", "${{outputs.model}} names no declared output"),
    Case("yaml_merge_key.yaml", 8, None, "merge keys (<<) are not supported"),
    Case("queue_priority_bad.yaml", 7, "queue_settings.priority", "'urgent' is not one of low, medium, high"),
    Case("identity_bad.yaml", 7, "identity.type", "did you mean 'managed'?"),
    # the YAML itself: no RecursionError, no endless alias expansion, one line for a tag
    Case("alias_refers_to_itself.yaml", 7, None, "alias *layers refers to itself"),
    Case("nested_too_deeply.yaml", 7, None, "nested too deeply (more than 100 levels"),
    Case("alias_bomb.yaml", 12, None, "more than 100,000 values once aliases are expanded"),
    Case("yaml_python_tag.yaml", 6, None, "the YAML tag !!python/object:os.system is not supported"),
    # blank names are not "not set"
    Case("compute_gpu_blank.yaml", 8, "compute.gpu", "must not be empty or blank"),
    Case("instance_type_empty.yaml", 8, "resources.instance_type", "must not be empty or blank"),
    Case("environment_blank.yaml", 7, "environment.cpu", "must not be empty or blank"),
    Case("code_blank.yaml", 3, "code", "must not be empty or blank"),
    Case("command_blank.yaml", 5, "command", "must not be empty or blank"),
    # values no job can use (a traceback before)
    Case("code_nul.yaml", 3, "code", "holds a NUL byte"),
    Case("script_too_long.yaml", 4, "script", "is not a usable path: longer than 4096 characters"),
    Case("environment_too_long.yaml", 5, "environment", "is not a usable path"),
    Case("compute_url.yaml", 6, "compute", "is not a compute name"),
    # input and output names follow Azure ML's rule
    Case("output_name_escapes.yaml", 7, "outputs.../../../escaped", "'../../../escaped' is not a valid name"),
    Case("input_name_space.yaml", 7, "inputs.a b", "letters, digits and '_'"),
    # placeholders
    Case("placeholder_unknown_namespace.yaml", 5, "command", "${{foo.bar}} is not a placeholder"),
    Case("placeholder_unclosed.yaml", 5, "command", "unclosed placeholder ${{inputs.data"),
    Case(
        "search_space_in_command.yaml",
        5,
        "command",
        "${{search_space.lr}} is only valid in a sweep job's trial",
    ),
    Case("script_outside_code.yaml", 4, "script", "a path inside the `code` folder"),
    Case("preflight_skip_unknown.yaml", 9, "preflight.skip[1]", "did you mean 'quota-unknown'?"),
    # wording
    Case("args_list_of_lists.yaml", 7, "args.epochs", "a flat list of scalars; this list holds a list"),
    Case("extends_folder.yaml", 2, "extends", "base config 'bases' is a folder"),
    Case(
        "script_not_the_code_file.yaml",
        3,
        "code",
        "README.md is one file (Azure ML uploads it alone) but script",
    ),
    # azure-trainer's old names: the error names the Azure ML key
    Case("old_experiment.yaml", 2, "experiment", "it is `experiment_name` in Azure ML job YAML"),
    Case(
        "old_instance_count.yaml",
        6,
        "instance_count",
        "it is `resources.instance_count` in Azure ML job YAML",
    ),
    Case(
        "old_instance_type.yaml", 6, "instance_type", "it is `resources.instance_type` in Azure ML job YAML"
    ),
    Case("old_timeout.yaml", 6, "timeout", "it is `limits.timeout` in Azure ML job YAML"),
    Case("old_queue.yaml", 6, "queue", "it is `queue_settings` in Azure ML job YAML"),
    Case("old_sweep_section.yaml", 6, "sweep", "a sweep is `type: sweep` with `trial`, `search_space`"),
    Case("objective_old_metric.yaml", 8, "objective.metric", "it is `objective.primary_metric`"),
    # keys of the other job type
    Case("search_space_in_command_job.yaml", 6, "search_space", "belongs to a sweep job: add `type: sweep`"),
    Case("sweep_command_top_level.yaml", 3, "command", "in a sweep job, `command` goes under `trial:`"),
    # sweeps
    Case("search_space_undeclared.yaml", 7, "trial.args", "${{search_space.lr}} names no search_space entry"),
    Case("loguniform_bounds.yaml", 13, "search_space.lr.max_value", "must be greater than min_value (-2)"),
    Case("grid_continuous.yaml", 11, "search_space.lr.type", "grid sampling needs `choice` values"),
]

LINE_RE = re.compile(r"^azure-trainer: error: (?P<file>[^:\n]+?)(?::(?P<line>\d+))?: (?P<rest>.*)$")


def check_one_error_line(err: str, case: Case) -> None:
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, f"expected one line, got:\n{err}"
    match = LINE_RE.match(err.rstrip("\n"))
    assert match, err
    assert match["file"] == case.named
    if case.line is None:
        assert match["line"] is None, err
    elif case.line is not ANY:
        assert match["line"] is not None and int(match["line"]) == case.line, err
    rest = match["rest"]
    if case.key is not None:
        assert rest.startswith(f"{case.key}: "), f"key path {case.key!r} expected: {err}"
    assert case.message in rest, err


def test_corpus_is_large_enough_and_fully_tabled():
    files = sorted(p.name for p in CORPUS.glob("*.yaml"))
    assert len(files) >= 20
    assert files == sorted(c.file for c in CASES)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.yaml")), ids=lambda p: p.name)
def test_each_case_states_its_expectation(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expected: "), path.name
    case = next(c for c in CASES if c.file == path.name)
    if case.key is not None:
        assert case.key.split(".")[0] in first, f"{path.name}: comment does not name {case.key}"


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("AZURE_TRAINER_DEBUG", raising=False)


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_config_validate(case, capsys, in_repo):
    code = main(["validate", f"tests/bad_configs/{case.file}"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    check_one_error_line(captured.err, case)


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c.file
        in (
            "unknown_nested_key.yaml",
            "gpu_missing_in_compute.yaml",
            "env_file_missing.yaml",
            "error_in_base.yaml",
            "placeholder_undeclared.yaml",
        )
    ],
    ids=repr,
)
def test_bad_config_export(case, capsys, in_repo):
    code = main(["export", f"tests/bad_configs/{case.file}"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    check_one_error_line(captured.err, case)


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c.file
        in (
            "tab_indent.yaml",
            "duplicate_key.yaml",
            "unknown_nested_key.yaml",
            "gpu_missing_in_compute.yaml",
            "extends_missing.yaml",
        )
    ],
    ids=repr,
)
def test_bad_config_in_a_subprocess(case):
    result = subprocess.run(
        [sys.executable, "-m", "azure_trainer", "validate", f"tests/bad_configs/{case.file}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "AZURE_TRAINER_DEBUG": ""},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    check_one_error_line(result.stderr, case)


def test_gpu_flag_turns_a_cpu_only_config_into_an_error(capsys, in_repo):
    # valid on the CPU (env_file_missing aside, cpu-only configs validate) ...
    assert main(["validate", "tests/bad_configs/bases/valid_base.yaml"]) == 0
    capsys.readouterr()
    # ... but --gpu asks for a GPU compute nobody named
    assert main(["validate", "tests/bad_configs/bases/valid_base.yaml", "--gpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{PREFIX}tests/bad_configs/bases/valid_base.yaml")
    assert ": compute: use_gpu is true but no GPU compute is set" in err


def test_debug_flag_shows_the_traceback(in_repo):
    from azure_trainer.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["--debug", "validate", "tests/bad_configs/timeout_negative.yaml"])


def test_debug_variable_shows_the_traceback_in_validate_too(in_repo, monkeypatch):
    # README (CLI reference): `--debug` (or AZURE_TRAINER_DEBUG=1) shows the traceback; validate
    # catches each file's error itself, so it must see the variable as well as the flag
    from azure_trainer.errors import ConfigError

    monkeypatch.setenv("AZURE_TRAINER_DEBUG", "1")
    with pytest.raises(ConfigError):
        main(["validate", "tests/bad_configs/timeout_negative.yaml"])


@pytest.mark.parametrize("argv", [["--output-dir", "x"], ["--output-dir=x"]])
def test_run_locals_old_output_dir_flag_names_run_dir(argv, capsys, in_repo):
    # README, Old azure-trainer names: `run-local --output-dir DIR` (a flag) is `run-local --run-dir DIR`
    with pytest.raises(SystemExit) as exit_:
        main(["run-local", "jobs/digits.yaml", *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert "unrecognized arguments: --output-dir" in err and "run folder is `--run-dir DIR` now" in err


def test_missing_job_file(capsys, in_repo):
    assert main(["validate", "jobs/no-such-job.yaml"]) == 2
    err = capsys.readouterr().err
    assert err == f"{PREFIX}jobs/no-such-job.yaml: file not found; check the path\n"


# ---------------------------------------------------------------------------------------------
# bad --set overrides (on a valid job)
# ---------------------------------------------------------------------------------------------

SET_CASES = [
    # (setting, key path or None, message part)
    ("experiment", None, "expected KEY.PATH=VALUE"),
    ("=3", None, "expected KEY.PATH=VALUE"),
    ("args=", "args", "valid dictionary"),
    ("use_gpu.x=1", "use_gpu", "not a mapping; cannot set use_gpu.x"),
    ("compute.gpu.name=x", "compute.gpu", "not a mapping"),
    ("args.x=[", None, "not valid YAML"),
    ("args.x='", None, "not valid YAML"),
    ("experiment_nme=x", "experiment_nme", "did you mean 'experiment_name'?"),
    ("experiment=x", "experiment", "it is `experiment_name` in Azure ML job YAML"),
    ("timeout=60", "timeout", "it is `limits.timeout` in Azure ML job YAML"),
    ("resources.instance_count=two", "resources.instance_count", "valid integer"),
    ("use_gpu=maybe", "use_gpu", "valid boolean"),
    (
        "distribution.type=horovod",
        "distribution.type",
        "'horovod' is not one of pytorch, mpi, tensorflow, ray",
    ),
    ("limits.timeout=-1", "limits.timeout", "greater than or equal to 1"),
    ("experiment_name=", "experiment_name", "letters, digits"),
    ("queue_settings.priority=urgent", "queue_settings.priority", "is not one of low, medium, high"),
    ("compute=[a, b]", "compute", "valid string"),
    ("compute=https://evil/?a=b", "compute", "is not a compute name"),
    # BUG: the tag value `a` is a mapping created by this --set, but the error names jobs/digits.yaml:9
    # (the file's `tags:` line) instead of the --set.
    ("tags.a.b=1", "tags.a", "valid string"),
    ("args.x={a: 1}", "args.x", ""),
    ("args.epochs.x=1", "args.epochs", "args.epochs is an integer, not a mapping"),
    # blank names and references
    ("compute=", "compute", "must not be empty or blank"),
    ("compute.gpu=", "compute.gpu", "must not be empty or blank"),
    ("compute.gpu='  '", "compute.gpu", "must not be empty or blank"),
    ('resources.instance_type={gpu: ""}', "resources.instance_type.gpu", "must not be empty or blank"),
    ("environment=", "environment", "must not be empty or blank"),
    ("environment.gpu=", "environment.gpu", "must not be empty or blank"),
    ("code=", "code", "must not be empty or blank"),
    ("script=' '", "script", "must not be empty or blank"),
    ("display_name=", "display_name", "must not be empty or blank"),
    ("command=", "command", "must not be empty or blank"),
    # names, paths and placeholders
    ("outputs={'../../../escaped': {type: uri_folder}}", "outputs.../../../escaped", "not a valid name"),
    ('inputs={"a b": 3}', "inputs.a b", "not a valid name"),
    ("extends=other.yaml", "extends", "`extends` is read from the config file only"),
    ("code=README.md", "code", "is one file (Azure ML uploads it alone) but script is 'train.py'"),
    ("code=no-such-folder", "code", "(a relative path from --set is relative to the current folder)"),
    ("environment.gpu=file:no-such-env.yaml", "environment.gpu", "relative to the current folder"),
    ("environment.gpu=no-such-env.yaml", "environment.gpu", "an environment file is written file:PATH"),
    ("script=../jobs/digits.yaml", "script", "a path inside the `code` folder"),
    ("script=/etc/hostname", "script", "no absolute paths"),
    ("args.data=${{foo.bar}}", "args.data", "${{foo.bar}} is not a placeholder"),
    ("args.data=[a, '${{inputs.data']", "args.data", "unclosed placeholder ${{inputs.data:"),
    ("preflight.skip=[not-a-code]", "preflight.skip[0]", "unknown finding code 'not-a-code'; known codes: "),
    # YAML in the value
    ("args.x=&a [*a]", "args.x", "alias *a refers to itself"),
    ("args.x=!!python/object:os.system ls", "args.x", "the YAML tag !!python/object:os.system"),
]


@pytest.mark.parametrize("setting, key, message", SET_CASES, ids=[c[0] for c in SET_CASES])
def test_bad_set(setting, key, message, capsys, in_repo):
    code = main(["validate", "jobs/digits.yaml", "--set", "args.epochs=1", "--set", setting])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    err = captured.err
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    head = f"{PREFIX}--set {setting}: "
    assert err.startswith(head), err
    rest = err[len(head) :]
    if key is not None:
        assert rest.startswith(f"{key}: "), err
    assert message in rest, err


def test_bad_set_with_a_long_value_is_one_short_line(capsys, in_repo):
    deep = "[" * 5000
    levels = "abcdefghi"  # a: 9 strings; b: 9 aliases of a; ... i: 9**9 strings once expanded
    bomb = ", ".join(
        [f"a: &a [{', '.join(['lol'] * 9)}]"]
        + [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip(levels, levels[1:], strict=False)]
    )
    for setting, message in [
        (f"args.x={deep}", "args.x: nested too deeply (more than 100 levels"),
        (f"tags={{{bomb}}}", "tags: alias *"),
    ]:
        assert main(["validate", "jobs/digits.yaml", "--set", setting]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(f"{PREFIX}--set {setting[: setting.index('=') + 1]}") and len(err) < 400, err
        assert message in err, err


SECRET_SETTINGS = [
    # (setting, key path that must be named)
    ("environment_variables.DB_PASSWORD=[hunter2]", "environment_variables.DB_PASSWORD"),
    ("environment_variables.PLAIN={x: hunter2}", "environment_variables.PLAIN"),
    ("environment_variables.X=[hunter2", "environment_variables.X"),
    ("environment_variables.X=*hunter2", "environment_variables.X"),
    ("environment_variables={DB_PASSWORD: [hunter2]}", "environment_variables.DB_PASSWORD"),
    ("args.api_token={a: hunter2}", "args.api_token"),
    ("tags.password.x=hunter2", "tags.password"),
    ("args.url=[https://me:hunter2@example.com, {a: 1}]", "args.url"),
    ("environment_variables.DB_PASSWORD: hunter2", None),
]


@pytest.mark.parametrize("setting, key", SECRET_SETTINGS, ids=[c[0] for c in SECRET_SETTINGS])
def test_bad_set_never_prints_a_secret_value(setting, key, capsys, in_repo):
    assert main(["validate", "jobs/digits.yaml", "--set", setting]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    if key is not None:
        assert f": {key}: " in err, err


def test_bad_non_utf8_job_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("job.yaml").write_bytes(b"experiment: x\ndescription: caf\x96\n")
    assert main(["validate", "job.yaml"]) == 2
    assert capsys.readouterr().err == (
        f"{PREFIX}job.yaml: is not a UTF-8 text file (a job config is YAML text); is it the right file?\n"
    )
    Path("job.yaml").write_bytes(b"experiment: x\ndescription: a\x00b\n")
    assert main(["validate", "job.yaml"]) == 2
    assert capsys.readouterr().err == (
        f"{PREFIX}job.yaml:2: not a text file: it holds the control character #x0000; is it the right file?\n"
    )


def test_bad_set_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "azure_trainer", "validate", "jobs/digits.yaml", "--set", "use_gpu.x=1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"{PREFIX}--set use_gpu.x=1: use_gpu: use_gpu is a boolean, not a mapping; cannot set use_gpu.x\n"
    )


# ---------------------------------------------------------------------------------------------
# several problems: all of them, each located (a top-level typo is never hidden)
# ---------------------------------------------------------------------------------------------


def test_every_problem_is_listed_with_its_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    Path("job.yaml").write_text(
        "experiment: old-name\n"  # 1
        "code: src\n"
        "command: python x.py\n"
        "environment: azureml:env:1\n"
        "resources:\n"  # 5
        "  instance_count: two\n"
        "limits:\n"
        "  timeout: -1\n"
        "tiemout: 5\n",  # 9
        encoding="utf-8",
    )
    assert main(["validate", "job.yaml"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"{PREFIX}job.yaml: 4 problems:"
    assert lines[1:] == [
        "  job.yaml:1: experiment: unknown key 'experiment': it is `experiment_name` in Azure ML job YAML",
        "  job.yaml:6: resources.instance_count: Input should be a valid integer (got 'two')",
        "  job.yaml:8: limits.timeout: Input should be greater than or equal to 1 (got -1)",
        "  job.yaml:9: tiemout: unknown key 'tiemout'; did you mean 'timeout'? "
        "it is `limits.timeout` in Azure ML job YAML",
    ]


def test_a_long_list_of_problems_is_capped(tmp_path, capsys, monkeypatch):
    from azure_trainer.config import load_config
    from azure_trainer.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    body = "command: x\nenvironment: azureml:env:1\n" + "".join(f"zz{i}: 1\n" for i in range(30))
    Path("job.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config("job.yaml")
    assert len(info.value.problems) == 30
    text = str(info.value).splitlines()
    assert text[0] == "job.yaml: 30 problems:" and len(text) == 22 and text[-1] == "  ... and 10 more"
    assert text[1].startswith("  job.yaml:3: zz0: unknown key 'zz0'; allowed: $schema, args, code, ")


# ---------------------------------------------------------------------------------------------
# a job file must be a regular, reasonably small file (no hang, no unbounded read)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "device", "huge", "folder", "socket"])
def test_a_job_file_that_is_not_a_small_regular_file_is_refused_at_once(kind, tmp_path, capsys, monkeypatch):
    import socket

    monkeypatch.chdir(tmp_path)
    target = "job.yaml"
    if kind == "fifo":
        os.mkfifo(target)  # opening it would block forever
    elif kind == "device":
        target = "/dev/zero"  # reading it would grow memory without bound
    elif kind == "huge":
        Path(target).write_text("description: " + "x" * (2 << 20) + "\n", encoding="utf-8")
    elif kind == "folder":
        os.mkdir(target)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(target)
    assert main(["validate", target]) == 2
    err = capsys.readouterr().err
    expected = {
        "fifo": "is a FIFO (named pipe), not a regular file",
        "device": "is a character device, not a regular file",
        "huge": "is larger than 1024 KiB",
        "folder": "is a folder, expected a YAML file",
        "socket": "is a socket, not a regular file",
    }[kind]
    assert err.startswith(f"{PREFIX}{target}: ") and expected in err and err.count("\n") == 1, err


def test_an_environment_file_that_is_a_fifo_is_refused_at_once(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkfifo("env.yml")
    Path("job.yaml").write_text("command: echo\nenvironment: file:env.yml\n", encoding="utf-8")
    assert main(["validate", "job.yaml"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"{PREFIX}env.yml: is a FIFO (named pipe), not a regular file; an environment file is a YAML file\n"
    )


@pytest.mark.parametrize("path", ["a\0b.yaml", "x" * 5000 + ".yaml", "/".join(["d" * 200] * 30) + ".yaml"])
def test_an_unusable_job_path_is_one_line(path, capsys):
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and len(err) < 400, err


# ---------------------------------------------------------------------------------------------
# fuzzing: whatever a job file says, loading and planning raise AzureTrainerError or succeed
# ---------------------------------------------------------------------------------------------

_FUZZ_VALUES = [
    None, True, 0, -1, 2**70, 1.5, float("nan"), "", " ", "\0", "x" * 5000, "A=B", "../..", "/", "file:",
    "file:/dev/zero", "azureml:", "azureml://registries/", "${{inputs.x}}", "$[[", "https://evil/?a=b",
    [], [1, [2]], {}, {"gpu": None}, {"gpu": "x", "cpu": ""}, {"type": "ray", "port": 99999},
    {"image": "x", "build": {"path": "."}}, {"value": None}, {"a": {"b": {"c": []}}},
]  # fmt: skip
_FUZZ_KEYS = [
    "type", "name", "experiment_name", "compute", "code", "command", "script", "args", "environment",
    "environment.gpu", "environment.image", "environment.conda_file", "environment_variables",
    "environment_variables.X", "inputs", "inputs.data", "inputs.data.path", "inputs.data.mode",
    "outputs.model", "resources", "resources.instance_type", "resources.instance_count", "distribution",
    "distribution.type", "limits.timeout", "services.s", "identity", "queue_settings", "tags.t",
    "use_gpu", "preflight.skip", "trial", "search_space", "search_space.lr", "sampling_algorithm",
    "objective", "early_termination", "limits",
]  # fmt: skip


def _fuzz(count: int, seed: int) -> int:
    import random

    from azure_trainer.config import load_config
    from azure_trainer.errors import AzureTrainerError
    from azure_trainer.planning.spec import plan

    rng = random.Random(seed)
    errors = 0
    for job in ("jobs/digits.yaml", "jobs/digits-sweep.yaml"):
        for _ in range(count // 2):
            settings = []
            for _ in range(rng.randint(1, 3)):
                key = rng.choice(_FUZZ_KEYS)
                if job.endswith("sweep.yaml") and rng.random() < 0.5 and key.split(".")[0] in (
                    "code", "command", "script", "args", "environment", "resources", "distribution",
                ):  # fmt: skip
                    key = "trial." + key
                value = rng.choice(_FUZZ_VALUES)
                settings.append(f"{key}={_yaml(value)}")
            try:
                plan(load_config(job, settings, use_gpu=rng.choice([None, True, False])))
            except AzureTrainerError as exc:
                errors += 1
                assert "Traceback" not in str(exc)
    return errors


def _yaml(value: object) -> str:
    import json

    if isinstance(value, float) and value != value:
        return ".nan"
    return json.dumps(value)


def test_fuzzed_configs_only_ever_raise_azure_trainer_errors(in_repo):
    assert _fuzz(1000, seed=11) > 500  # most mutations are errors; none is anything else


@pytest.mark.slow
def test_fuzzed_configs_many_more(in_repo):
    assert _fuzz(3000, seed=12) > 1500

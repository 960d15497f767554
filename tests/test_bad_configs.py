"""The bad-config corpus: every broken config gives exit 2 and ONE located line on stderr.

Each ``tests/bad_configs/*.yaml`` starts with a ``# expected:`` comment (key path and why); the table
below is the machine-checked version: (file, line, key path, message part, file the error must name).
Helper files that are not cases themselves live in ``tests/bad_configs/bases/``.
"""

from __future__ import annotations

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
    Case("duplicate_key.yaml", 5, "experiment", "duplicate key 'experiment'"),
    Case("top_level_list.yaml", 1, None, "top level must be a mapping"),
    Case("unknown_top_key.yaml", 6, "displayname", "did you mean 'display_name'?"),
    Case("unknown_nested_key.yaml", 9, "inputs.data.moed", "did you mean 'mode'?"),
    Case("instance_count_word.yaml", 6, "instance_count", "valid integer (got 'two')"),
    Case("use_gpu_maybe.yaml", 6, "use_gpu", "valid boolean (got 'maybe')"),
    Case("args_list.yaml", 6, "args", "valid dictionary"),
    Case("missing_experiment.yaml", ANY, "experiment", "required key is missing"),
    Case("empty_file.yaml", ANY, "experiment", "required key is missing"),
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
    Case("distribution_horovod.yaml", 8, "distribution.type", "'horovod' is not one of pytorch, mpi"),
    Case("distribution_typo.yaml", 7, "distribution.type", "did you mean 'pytorch'?"),
    Case("bad_input_mode.yaml", 9, "inputs.data.mode", "did you mean 'ro_mount'?"),
    Case("literal_input_with_path.yaml", 7, "inputs.lr", "takes `default`, not path"),
    Case("literal_input_no_default.yaml", 7, "inputs.epochs", "needs a `default`"),
    Case("compute_and_instance_type.yaml", 7, "instance_type", "not both"),
    Case("gpu_missing_in_compute.yaml", 7, "compute", "no GPU compute"),
    Case("gpu_without_any_compute.yaml", ANY, "compute", "no GPU compute"),
    Case("env_ref_no_version.yaml", 5, "environment.cpu", "azureml:NAME:VERSION"),
    Case("env_registry_ref_bad.yaml", 8, "environment.gpu", "registry references look like"),
    Case("env_file_missing.yaml", 7, "environment.cpu", "no-such-env.yaml not found"),
    Case("env_var_nested.yaml", 7, "environment_variables.OPTS", "valid string"),
    # BUG: the cycle error names bases/cycle_b.yaml but no line; its `extends:` is on line 2.
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
        6,
        "timout",
        "did you mean 'timeout'?",
        named="tests/bad_configs/bases/base_with_typo.yaml",
    ),
    Case("experiment_spaces.yaml", 2, "experiment", "letters, digits"),
    Case("shm_size_lots.yaml", 6, "shm_size", "optional unit"),
    Case("timeout_negative.yaml", 6, "timeout", "greater than or equal to 1"),
    Case("placeholder_undeclared.yaml", 6, "args", "${{inputs.data}} names no declared input"),
    Case("command_placeholder_undeclared.yaml", 5, "command", "${{outputs.model}} names no declared output"),
    Case(
        "instance_count_no_distribution.yaml",
        6,
        "instance_count",
        "instance_count > 1 needs a `distribution`",
    ),
    Case("yaml_merge_key.yaml", 8, None, "merge keys (<<) are not supported"),
    Case("queue_priority_bad.yaml", 7, "queue.priority", "'urgent' is not one of low, medium, high"),
    # the YAML itself: no RecursionError, no endless alias expansion, one line for a tag
    Case("alias_refers_to_itself.yaml", 7, None, "alias *layers refers to itself"),
    Case("nested_too_deeply.yaml", 7, None, "nested too deeply (more than 100 levels"),
    Case("alias_bomb.yaml", 12, None, "more than 100,000 values once aliases are expanded"),
    Case("yaml_python_tag.yaml", 6, None, "the YAML tag !!python/object:os.system is not supported"),
    # blank names are not "not set"
    Case("compute_gpu_blank.yaml", 8, "compute.gpu", "must not be empty or blank"),
    Case("instance_type_empty.yaml", 7, "instance_type", "expected a VM size, got an empty string"),
    Case("environment_blank.yaml", 7, "environment.cpu", "must not be empty or blank"),
    Case("code_blank.yaml", 3, "code", "must not be empty or blank"),
    Case("command_blank.yaml", 5, "command", "must not be empty or blank"),
    # input and output names follow Azure ML's rule
    Case("output_name_escapes.yaml", 7, "outputs.../../../escaped", "'../../../escaped' is not a valid name"),
    Case("input_name_space.yaml", 7, "inputs.a b", "letters, digits and '_'"),
    # placeholders
    Case("placeholder_unknown_namespace.yaml", 5, "command", "${{foo.bar}} is not a placeholder"),
    Case("placeholder_unclosed.yaml", 5, "command", "unclosed placeholder ${{inputs.data"),
    Case("script_outside_code.yaml", 4, "script", "a path inside the `code` folder"),
    Case("preflight_skip_unknown.yaml", 9, "preflight.skip[1]", "did you mean 'quota-unknown'?"),
    # wording
    Case("args_list_of_lists.yaml", 7, "args.epochs", "a flat list of scalars; this list holds a list"),
    Case("extends_folder.yaml", 2, "extends", "base config 'bases' is a folder"),
    Case("code_is_a_file.yaml", 3, "code", "README.md is a file, not a folder"),
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
    ("experimnt=x", "experimnt", "did you mean 'experiment'?"),
    ("instance_count=two", "instance_count", "valid integer"),
    ("use_gpu=maybe", "use_gpu", "valid boolean"),
    ("distribution.type=horovod", "distribution.type", "'horovod' is not one of pytorch, mpi"),
    ("timeout=-1", "timeout", "greater than or equal to 1"),
    ("experiment=", "experiment", "letters, digits"),
    ("queue.priority=urgent", "queue.priority", "is not one of low, medium, high"),
    ("compute=[a, b]", "compute", "compute name"),
    # BUG: the tag value `a` is a mapping created by this --set, but the error names jobs/digits.yaml:9
    # (the file's `tags:` line) instead of the --set.
    ("tags.a.b=1", "tags.a", "valid string"),
    # BUG: the key path leaks pydantic's union branch name: "args.x.str: ... (and 4 more problems)".
    ("args.x={a: 1}", "args.x", ""),
    ("args.epochs.x=1", "args.epochs", "args.epochs is an integer, not a mapping"),
    # blank names and references
    ("compute=", "compute", "expected a compute name, got an empty string"),
    ("compute.gpu=", "compute.gpu", "must not be empty or blank"),
    ("compute.gpu='  '", "compute.gpu", "must not be empty or blank"),
    ('instance_type={gpu: "", cpu: ""}', "instance_type.gpu", "must not be empty or blank"),
    ("environment=", "environment", "expected an environment reference, got an empty string"),
    ("environment.gpu=", "environment.gpu", "must not be empty or blank"),
    ("code=", "code", "must not be empty or blank"),
    ("script=' '", "script", "must not be empty or blank"),
    ("display_name=", "display_name", "must not be empty or blank"),
    ("command=", "command", "must not be empty or blank"),
    # names, paths and placeholders
    ("outputs={'../../../escaped': {type: uri_folder}}", "outputs.../../../escaped", "not a valid name"),
    ('inputs={"a b": 3}', "inputs.a b", "not a valid name"),
    ("extends=other.yaml", "extends", "`extends` is read from the config file only"),
    ("code=README.md", "code", "is a file, not a folder"),
    ("code=no-such-folder", "code", "(a relative path from --set is relative to the current folder)"),
    ("environment.gpu=no-such-env.yaml", "environment.gpu", "relative to the current folder"),
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

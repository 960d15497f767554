"""Tests of command rendering (script + args -> shell text) and local placeholder substitution."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from azure_trainer.planning.command_line import (
    env_var_for,
    localize_command,
    placeholder_problem,
    placeholders,
    quote_token,
    render_args,
    script_command,
)

NASTY = [
    "plain",
    "with space",
    "it's",
    'say "hi"',
    "$HOME",
    "${HOME}",
    "a;rm -rf /tmp/nothing",
    "`id`",
    "$(id)",
    "back\\slash",
    "new\nline",
    "tab\there",
    "*.py",
    "~",
    "a|b&c>d<e",
    "#comment",
    "",
    "--looks-like-a-flag",
    "ünïcødé €",
    "'\"'\"'",
]

ARGV_PRINTER = "import sys, json; print(json.dumps(sys.argv[1:]))"


def run_bash(text: str, env: dict[str, str] | None = None) -> list[str]:
    """Run ``text`` with bash; it must print a JSON list (the argv the program saw)."""
    result = subprocess.run(
        ["bash", "-c", text], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ---------------------------------------------------------------------------------------------
# render_args
# ---------------------------------------------------------------------------------------------


def test_render_args_scalars_flags_lists():
    args = {
        "lr": 0.01,
        "epochs": 3,
        "amp": True,
        "compile": False,
        "resume": None,
        "layers": [64, 32],
        "name": "x",
        "empty": [],
    }
    assert render_args(args) == [
        "--lr",
        "0.01",
        "--epochs",
        "3",
        "--amp",
        "--layers",
        "64",
        "32",
        "--name",
        "x",
    ]


def test_render_args_keeps_order_and_key_spelling():
    assert render_args({"b-b": 1, "a_a": 2}) == ["--b-b", "1", "--a_a", "2"]


def test_render_args_zero_and_empty_string_are_values_not_omitted():
    assert render_args({"seed": 0, "lr": 0.0, "tag": ""}) == ["--seed", "0", "--lr", "0.0", "--tag", ""]


def test_render_args_booleans_inside_lists_are_words():
    assert render_args({"flags": [True, False, 1]}) == ["--flags", "true", "false", "1"]


# ---------------------------------------------------------------------------------------------
# script_command: shell text that round-trips to the intended argv
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", NASTY, ids=[repr(v) for v in NASTY])
def test_script_command_round_trips_through_shlex(value):
    args = {"name": value, "amp": True, "off": False, "items": [value, "b c"], "n": 2}
    text = script_command("my script.py", args)
    assert shlex.split(text) == [
        "python",
        "my script.py",
        "--name",
        value,
        "--amp",
        "--items",
        value,
        "b c",
        "--n",
        "2",
    ]


def test_script_command_round_trips_through_bash():
    args = {f"v{i}": value for i, value in enumerate(NASTY)}
    rendered = script_command("-c", args)
    assert rendered.startswith("python -c ")
    # Swap in this interpreter and the argv printer by position: the interpreter's own path may contain "-c".
    text = f"{shlex.quote(sys.executable)} -c {shlex.quote(ARGV_PRINTER)} {rendered[len('python -c ') :]}"
    expected = [tok for i, value in enumerate(NASTY) for tok in (f"--v{i}", value)]
    assert run_bash(text) == expected


def test_script_command_leaves_bare_placeholders_readable():
    text = script_command("train.py", {"data": "${{inputs.data}}", "out": "${{outputs.model}}"})
    assert text == "python train.py --data ${{inputs.data}} --out ${{outputs.model}}"
    assert placeholders(text) == [("inputs", "data"), ("outputs", "model")]


def test_script_command_quotes_embedded_placeholders_but_keeps_them_findable():
    text = script_command("train.py", {"out": "${{outputs.model}}/sub dir"})
    assert shlex.split(text)[-1] == "${{outputs.model}}/sub dir"
    assert placeholders(text) == [("outputs", "model")]


def test_quote_token():
    assert quote_token("${{inputs.x}}") == "${{inputs.x}}"
    assert quote_token("${{ inputs.x }}") == "${{ inputs.x }}"
    assert quote_token("${{inputs.x}} ;") == "'${{inputs.x}} ;'"
    assert quote_token("a b") == "'a b'"


def test_placeholders():
    cmd = "python t.py ${{inputs.a}} ${{ outputs.b-c }} ${{search_space.lr}} ${{other.x}} ${inputs.y}"
    assert placeholders(cmd) == [("inputs", "a"), ("outputs", "b-c"), ("search_space", "lr")]


@pytest.mark.parametrize(
    "command",
    [
        "python t.py",
        "python t.py ${{inputs.a}} ${{ outputs.b_c }} --lr ${{search_space.lr}}",
        "python t.py $[[--opt ${{inputs.maybe}}]] $[[--more ${{inputs.x}} ${{inputs.y}}]]",
        "echo ${HOME} ${x:-y} $((1 + 2)) '{{not a placeholder}}' $[1 + 2]",
        "python t.py --out '${{outputs.model}}/sub dir'",
    ],
)
def test_placeholder_problem_accepts_what_azure_ml_fills_in(command):
    assert placeholder_problem(command) is None


@pytest.mark.parametrize(
    "command, problem",
    [
        ("python t.py ${{foo.bar}}", "${{foo.bar}} is not a placeholder Azure ML fills in"),
        ("python t.py ${{inputs}}", "${{inputs}} is not a placeholder"),
        ("python t.py ${{inputs.a b}}", "${{inputs.a b}} is not a placeholder"),
        ("python t.py ${{inputs.x", "unclosed placeholder ${{inputs.x:"),
        ("python t.py ${{inputs.x} --y 1", "unclosed placeholder ${{inputs.x} --y 1:"),
        ("python t.py ${{inputs.x ${{inputs.y}}", "unclosed placeholder ${{inputs.x ${{inputs.y}}:"),
        ("python t.py $[[--opt ${{inputs.maybe}}", "unclosed optional block $[[--opt"),
    ],
)
def test_placeholder_problem_names_the_bad_one(command, problem):
    found = placeholder_problem(command)
    assert found is not None and found.startswith(problem), found
    assert "\n" not in found


# ---------------------------------------------------------------------------------------------
# localize_command: placeholders become environment variables, values never parsed by the shell
# ---------------------------------------------------------------------------------------------

NASTY_PATHS = [v for v in NASTY if v] + ['/tmp/my data/it\'s "here"/$x;`y`\n']


@pytest.mark.parametrize("value", NASTY_PATHS, ids=[repr(v) for v in NASTY_PATHS])
def test_localize_command_passes_exact_values(value):
    printer = shlex.quote(ARGV_PRINTER)
    command = (
        f"{shlex.quote(sys.executable)} -c {printer} "
        "${{inputs.data}} "  # bare
        '"--x=${{inputs.data}}" '  # inside double quotes
        "'--y=${{inputs.data}}' "  # inside single quotes
        "pre${{outputs.model}}post "  # glued to text
        "'it'\\''s' "  # an escaped quote before a placeholder
        "${{outputs.model}}"
    )
    text, env = localize_command(command, {("inputs", "data"): value, ("outputs", "model"): value})
    assert value not in text  # the value itself never lands in shell text
    assert env == {env_var_for("inputs", "data"): value, env_var_for("outputs", "model"): value}
    assert run_bash(text, env) == [value, f"--x={value}", f"--y={value}", f"pre{value}post", "it's", value]


def test_localize_command_optional_blocks():
    printer = shlex.quote(ARGV_PRINTER)
    command = (
        f"{shlex.quote(sys.executable)} -c {printer} a $[[--opt ${{{{inputs.maybe}}}}]] "
        "$[[--given ${{inputs.given}}]] b"
    )
    text, env = localize_command(command, {("inputs", "maybe"): None, ("inputs", "given"): "x y"})
    assert run_bash(text, env) == ["a", "--given", "x y", "b"]


def test_localize_command_unknown_placeholder_raises_keyerror():
    with pytest.raises(KeyError):
        localize_command("echo ${{inputs.nope}}", {})


def test_localize_command_without_placeholders_is_unchanged():
    command = "echo 'a b' \"c\" $HOME"
    assert localize_command(command, {}) == (command, {})


def test_env_var_for():
    assert env_var_for("inputs", "data") == "AZT_INPUTS_data"
    names = ["model", "my-model.v2", "my_model_v2", "my_model.v2", "a-b", "a_b", "a.b", "a__b", "a_2D"]
    variables = [env_var_for("outputs", n) for n in names]
    assert all(re.fullmatch(r"AZT_OUTPUTS_[A-Za-z0-9_]+", v) for v in variables), variables
    assert len(set(variables)) == len(names), "distinct names must give distinct variables"
    assert env_var_for("inputs", "x") != env_var_for("outputs", "x")


def test_localize_command_distinct_names_get_distinct_variables():
    # Names map injectively to variable names: inputs `a-b` and `a_b` must not share one variable.
    printer = shlex.quote(ARGV_PRINTER)
    command = f"{shlex.quote(sys.executable)} -c {printer} ${{{{inputs.a-b}}}} ${{{{inputs.a_b}}}}"
    text, env = localize_command(command, {("inputs", "a-b"): "dash", ("inputs", "a_b"): "underscore"})
    assert run_bash(text, env) == ["dash", "underscore"]

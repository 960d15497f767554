"""Fuzzing load_config + plan (issue 16, item 7): only AzureTrainerError comes out, always one line.

The seeds are whatever job files ``jobs/`` and ``tests/fixtures/`` hold when the test runs (no key is
hard-coded, so the test follows the config format wherever it goes). Each case mutates one seed: its
data (a key dropped, a value replaced by an odd one, a mapping turned into a list, an unknown key, NULs,
absurd lengths) or its text (cut short, a character slipped in, a line doubled, a tab), sometimes with
``--set`` overrides and ``--gpu``/``--cpu``. The seeded mutator makes every failure reproducible: the
message names the seed file and case number.
"""

from __future__ import annotations

import copy
import os
import random
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml

from azure_trainer import load_config, plan
from azure_trainer.errors import AzureTrainerError

REPO = Path(__file__).resolve().parents[1]
QUICK_CASES = 3000
"""About 8 s here (2-3 ms a case: most mutations fail early), within the quick suite's budget;
test_bad_configs fuzzes --set overrides on top; the slow marker runs many more."""
SLOW_CASES = 6000

ODD_VALUES: list[Any] = [
    None,
    "",
    " ",
    0,
    -1,
    1.5,
    10**30,
    -(10**30),
    float("inf"),
    float("nan"),
    True,
    False,
    [],
    {},
    [None],
    {"": None},
    {"gpu": None},
    {"cpu": "x", "gpu": "y"},
    {"gpu": {"gpu": "x"}},
    "x" * 5000,
    "a\x00b",
    "\x00",
    "${{inputs.nope}}",
    "${{",
    "$[[",
    "}}",
    "../" * 60,
    "/dev/zero",
    "/",
    "azureml:",
    "azureml://registries/",
    "azureml:a:b:c",
    "https://evil/?a=b&c=d",
    "üñíçødé",
    "\u202e",
    "--password=hunter2",
    "$(touch /tmp/azure-trainer-fuzz)",
    "*",
    "!",
    "?",
    "~",
    ["a", 1, None],
    [[[]]],
    "\n",
    "a\nb",
    "1e400",
    "0x10",
    "yes",
]
TEXT_INSERTS = [
    "\x00",
    "\t",
    ":",
    "- ",
    "&a ",
    "*a",
    "!!binary ",
    "{",
    "]",
    "'",
    '"',
    "\\",
    "\n  x: 1",
    "%",
    "#",
]


def _seeds() -> list[tuple[Path, str, dict]]:
    """``(path, text, data)`` of every job file in jobs/ and tests/fixtures/ (a mapping at the top)."""
    found = [p for p in sorted((REPO / "jobs").glob("*.yaml"))]
    found += [p for p in sorted((REPO / "tests" / "fixtures").rglob("*.y*ml"))]
    seeds = []
    for path in found:
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            seeds.append((path, text, data))
    return seeds


def _mirror(seed: Path, root: Path) -> Path:
    """A folder where a mutated copy of ``seed`` finds what the original finds by relative path: links to
    every entry beside it and beside its folder."""
    folder = root / f"{seed.parent.parent.name}-{seed.parent.name}"
    if folder.exists():
        return folder / seed.parent.name
    inner = folder / seed.parent.name
    inner.mkdir(parents=True)
    for entry in seed.parent.parent.iterdir():
        if entry != seed.parent:
            (folder / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    for entry in seed.parent.iterdir():
        (inner / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return inner


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a YAML tree (mappings and lists)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _parent(data: Any, path: tuple) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _mutate_data(rng: random.Random, data: dict) -> None:
    paths = [p for p in _paths(data) if p]
    if not paths:
        data[rng.choice(["x", "code", "command"])] = rng.choice(ODD_VALUES)
        return
    path = rng.choice(paths)
    parent, key = _parent(data, path), path[-1]
    action = rng.randrange(6)
    if action == 0:
        del parent[key]
    elif action == 1:
        parent[key] = rng.choice(ODD_VALUES)
    elif action == 2:
        value = parent[key]
        parent[key] = [value] if not isinstance(value, list) else {"k": value}
    elif action == 3 and isinstance(parent[key], dict):
        parent[key][rng.choice(["unknown_key", "gpu", "cpu", "type", "path", "", "0"])] = rng.choice(
            ODD_VALUES
        )
    elif action == 4 and isinstance(parent, dict):
        other = rng.choice(paths)[-1]
        parent[str(other)] = parent.pop(key)  # a key renamed to another key's name
    else:
        value = parent[key]
        parent[key] = (str(value) * rng.choice([2, 500]))[:6000] if value is not None else "\x00"


def _mutate_text(rng: random.Random, text: str) -> str:
    action = rng.randrange(4)
    at = rng.randrange(len(text) + 1)
    if action == 0:
        return text[:at]
    if action == 1:
        return text[:at] + rng.choice(TEXT_INSERTS) + text[at:]
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = rng.randrange(len(lines))
    if action == 2:
        return "".join(lines[: i + 1] + lines[i:])
    return "".join(lines[:i] + ["\t" + lines[i]] + lines[i + 1 :])


def _overrides(rng: random.Random, data: dict) -> list[str]:
    if rng.random() > 0.3:
        return []
    keys = [".".join(str(k) for k in p) for p in _paths(data) if p] or ["x"]
    settings = []
    for _ in range(rng.randint(1, 2)):
        value = rng.choice(ODD_VALUES)
        text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
        settings.append(f"{rng.choice(keys + ['a.b.c', 'extends', ''])}={text}")
    return settings


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _one_case(rng: random.Random, seed: tuple[Path, str, dict], mirror: Path, index: int) -> str | None:
    """Run one mutated case; a description of the failure, or None when it behaved."""
    seed_path, text, seed_data = seed
    data = copy.deepcopy(seed_data)
    overrides = _overrides(rng, data)
    if rng.random() < 0.75:
        for _ in range(rng.randint(1, 3)):
            _mutate_data(rng, data)
        try:
            text = yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=10**6)
        except (yaml.YAMLError, ValueError):
            return None
    else:
        text = _mutate_text(rng, text)
    path = mirror / f"fuzz-{index}.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    use_gpu = rng.choice([None, None, True, False])
    try:
        plan(load_config(path, overrides, use_gpu=use_gpu))
    except AzureTrainerError as exc:
        message = str(exc)
        # several problems (ConfigError.several): a header line, then one line per problem
        lines = [str(p) for p in getattr(exc, "problems", None) or [exc]]
        if any("\n" in line or not line.strip() for line in lines) or not message.strip():
            return f"case {index} ({seed_path.name}): {type(exc).__name__} message not one line: {message[:300]!r}"
    except RecursionError:
        return f"case {index} ({seed_path.name}): RecursionError"
    except Exception as exc:  # the defect this test exists to find
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in frames if "azure_trainer" in f.filename] or frames
        where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}"
        return (
            f"case {index} ({seed_path.name}, overrides {overrides}, use_gpu {use_gpu}): "
            f"{type(exc).__name__}: {str(exc)[:120]} (from {where})"
        )
    finally:
        path.unlink(missing_ok=True)
    return None


def _fuzz(cases: int, tmp_path: Path, rng_seed: int) -> list[str]:
    seeds = _seeds()
    assert len(seeds) >= 3, "the fuzz needs job files in jobs/ and tests/fixtures/"
    rng = random.Random(rng_seed)
    mirrors = {seed[0]: _mirror(seed[0], tmp_path) for seed in seeds}
    failures = []
    for index in range(cases):
        seed = rng.choice(seeds)
        failure = _one_case(rng, seed, mirrors[seed[0]], index)
        if failure:
            failures.append(failure)
    return failures


@pytest.fixture(scope="module")
def quick_failures(tmp_path_factory):
    return _fuzz(QUICK_CASES, tmp_path_factory.mktemp("fuzz"), rng_seed=16)


def _report(failures: list[str], cases: int) -> str:
    return f"{len(failures)} of {cases} cases:\n" + "\n".join(failures[:15])


@pytest.mark.skipif(os.name == "nt", reason="symlinked mirrors")
def test_mutated_configs_fail_only_with_one_line_azure_trainer_errors(quick_failures):
    assert not quick_failures, _report(quick_failures, QUICK_CASES)


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="symlinked mirrors")
def test_many_more_mutated_configs(tmp_path):
    failures = _fuzz(SLOW_CASES, tmp_path, rng_seed=1616)
    assert not failures, _report(failures, SLOW_CASES)

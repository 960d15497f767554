"""Jobs for the leak and overwrite tests, built in ONE place so a change of the config format (the CLI v2
job YAML) touches only this file.

The commands follow the public Azure/azureml-examples command jobs (``python main.py --data
${{inputs.data}} --learning_rate ...``, ``code: src``, an ``environment_variables`` block), with secrets
put in every form a user might write them. Fake secrets are assembled from pieces so that secret
scanners do not flag this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from azure_trainer.config.model import InputConfig, Preflight
from azure_trainer.planning.spec import EnvironmentRef, JobSpec

RAND = "q7Xk2Lm9Pz4Rt8Wv1Ys6Bn3Cd5Fg0Hj"
GITHUB_TOKEN = "gh" + "p_" + RAND + "abcd"
OPENAI_KEY = "s" + "k-proj-" + RAND + "0123"
SAS = "sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&" + "sig=" + RAND + "%3D"
SAS_URL = "https://acct.blob.core.windows.net/data?" + SAS
URL_PASSWORD = "Pa55" + "word!x"
DB_URL = "postgres://admin:" + URL_PASSWORD + "@db.example.com:5432/app"
PASSWORD = "hunter2-" + "Xy9"

TRAIN_PY = '''"""A training script in the style of azureml-examples' src/main.py."""
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--data", type=str)
parser.add_argument("--learning_rate", type=float, default=0.01)
parser.add_argument("-p", "--password", help="database password")
parser.add_argument("-k", dest="api_key")
parser.add_argument("--passes", type=int, default=1)
parser.add_argument("--api-token")
parser.add_argument("--db")
args = parser.parse_args()
print("training with", args.learning_rate)
'''


def code_folder(root: Path) -> Path:
    """``root/src`` with the script above (what the jobs' ``code`` points at)."""
    code = root / "src"
    code.mkdir(parents=True, exist_ok=True)
    (code / "main.py").write_text(TRAIN_PY)
    return code


def spec(
    root: Path,
    command: str = "python main.py --learning_rate 0.01",
    *,
    env: dict[str, str] | None = None,
    inputs: dict[str, dict[str, Any]] | None = None,
    allow: list[str] | None = None,
    script: str | None = None,
    experiment: str = "leaks",
    source: str | None = None,
) -> JobSpec:
    """A planned job, built directly (no YAML): what every backend receives."""
    return JobSpec(
        type="command",
        experiment_name=experiment,
        code=code_folder(root),
        command=command,
        use_gpu=False,
        environment=EnvironmentRef("azureml:test-env:1", "workspace"),
        inputs={name: _input(item) for name, item in (inputs or {}).items()},
        user_environment_variables=dict(env or {}),
        preflight=Preflight(allow=list(allow or [])),
        script=script,
        source=source,
        record={"experiment_name": experiment, "command": command, "environment_variables": dict(env or {})},
    )


def _input(item: Any) -> InputConfig:
    """A data input ``{type, path, ...}``, or a literal: its value (CLI v2's ``NAME: value``)."""
    return InputConfig(**item) if isinstance(item, dict) else InputConfig.model_validate(item)


def write_job(root: Path, name: str = "job.yaml", **fields: Any) -> Path:
    """A job file in ``root`` (code folder ``src`` with the script above) with ``fields`` on top of a
    minimal command job."""
    code_folder(root)
    data: dict[str, Any] = {
        "experiment_name": "leaks",
        "code": "src",
        "command": "python main.py --learning_rate 0.01",
        "environment": "azureml:test-env:1",
        "compute": "cpu-cluster",
    }
    data.update(fields)
    path = root / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path

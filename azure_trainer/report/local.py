"""Read what run-local left behind: a run folder (``run.json``) or a sweep folder (``sweep.json`` and
each trial's ``run.json``), as :mod:`.data` objects.

Only the JSON files are read, not the MLflow store: ``run.json``'s ``metric_history`` already holds
every value the script logged (read back from ``RUN_DIR/mlruns`` when the run ended), and reading it
needs no mlflow. A missing or unreadable file is a one-line :class:`ConfigError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..exit_codes import explain
from .data import RunData, SweepData, TrialData
from .svg import fmt

RUN_FILE = "run.json"
SWEEP_FILE = "sweep.json"


def read_json(path: Path) -> Any:
    """``path``'s JSON, or a ConfigError that says what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("not found", file=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError(
            "is not UTF-8 text, so not JSON run-local wrote; is it the right file?", file=str(path)
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror or exc}", file=str(path)) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(
            f"not valid JSON ({exc}); is the run still being written?", file=str(path)
        ) from None


def _mapping(data: Any, path: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict) or any(k not in data for k in keys):
        missing = ", ".join(k for k in keys if not isinstance(data, dict) or k not in data)
        raise ConfigError(f"not a run-local file: {missing} missing", file=str(path))
    return data


def load_run(folder: Path) -> RunData:
    """A run folder as :class:`RunData` (``folder/run.json``)."""
    path = folder / RUN_FILE
    data = _mapping(read_json(path), path, ("exit_code", "metric_history"))
    history = [r for r in data.get("metric_history") or [] if isinstance(r, dict)]
    return RunData(
        folder.name, run_facts(data), history, dict(data.get("final_metrics") or {}), run_notes(data)
    )


def run_facts(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary lines of a run.json, in the order run-local prints them."""
    code = data.get("exit_code")
    facts = [("exit code", f"{code} ({explain(code)})")]
    if isinstance(data.get("duration_s"), (int, float)):
        nproc = data.get("nproc") or 1
        facts.append(
            ("duration", f"{data['duration_s']:.1f} s" + (f", {nproc} processes" if nproc > 1 else ""))
        )
    device = data.get("device")
    visible = data.get("device_visible")
    facts.append(
        (
            "device",
            (f"{device} (reported by the script)" if device else "not reported by the script")
            + (f"; this machine offers {visible}" if visible else ""),
        )
    )
    if data.get("metrics_source"):
        facts.append(("metrics from", str(data["metrics_source"])))
    attempts = data.get("attempts") or []
    if len(attempts) > 1:
        facts.append(
            ("attempts", ", ".join(f"#{a.get('number')} exit {a.get('exit_code')}" for a in attempts))
        )
    if data.get("resumed_from_step"):
        facts.append(("resumed", f"from a checkpoint at step {data['resumed_from_step']}"))
    rehearsal = data.get("preemption")
    if isinstance(rehearsal, dict):
        facts.append(
            ("preemption rehearsal", f"{str(rehearsal.get('verdict')).upper()} — {rehearsal.get('message')}")
        )
    if data.get("command"):
        facts.append(("command", str(data["command"])))
    return facts


def run_notes(data: dict[str, Any]) -> list[str]:
    """What a reader of a local run's report should know beyond its numbers: the run's warnings, an
    ignored GPU requirement, a time limit that stopped it."""
    notes = [str(w) for w in data.get("warnings") or []]
    if data.get("gpu_requirement_ignored"):
        notes.append(
            "the script ignored the GPU requirement (told a GPU is required, none visible, it finished anyway)"
        )
    if data.get("timed_out"):
        notes.append(f"stopped after the time limit of {data.get('time_limit_s')} s")
    return notes


def load_sweep(folder: Path) -> SweepData:
    """A sweep folder as :class:`SweepData` (``folder/sweep.json`` plus each trial's run.json)."""
    path = folder / SWEEP_FILE
    data = _mapping(read_json(path), path, ("metric", "goal", "trials"))
    trials = [_trial(folder, t) for t in data["trials"] if isinstance(t, dict)]
    trials.sort(key=lambda t: t.name)
    done = sum(t.ok for t in trials)
    facts = [
        ("objective", f"{data['goal']} {data['metric']}"),
        ("sampling", str(data.get("sampling"))),
        ("trials", f"{len(trials)}: {done} with a value for the objective, {len(trials) - done} without"),
    ]
    sweep = SweepData(folder.name, str(data["metric"]), str(data["goal"]), trials, facts)
    if sweep.best is not None:
        params = ", ".join(f"{k}={fmt(v)}" for k, v in sweep.best.params.items())
        facts.append(("best", f"{sweep.best.name} ({params}): {data['metric']} {fmt(sweep.best.objective)}"))
    return sweep


def _trial(folder: Path, t: dict[str, Any]) -> TrialData:
    index = t.get("index")
    code = t.get("exit_code")
    status = (
        "finished"
        if t.get("objective") is not None
        else t.get("error") or f"failed (exit {code}: {explain(code)})"
    )
    return TrialData(
        name=f"trial {index}",
        params=dict(t.get("params") or {}),
        objective=t.get("objective"),
        status=str(status),
        history=_trial_history(folder, t),
        duration_s=t.get("duration_s"),
    )


def _trial_history(folder: Path, t: dict[str, Any]) -> list[dict[str, Any]]:
    """The trial's metric history from its run.json (looked up under the sweep folder first, so a moved
    sweep folder still reports); empty when the trial never wrote one."""
    run_dir = t.get("run_dir")
    candidates = [folder / f"trial-{t.get('index', 0):03d}"] if isinstance(t.get("index"), int) else []
    if run_dir:
        candidates += [folder / Path(run_dir).name, Path(run_dir)]
    for candidate in candidates:
        path = candidate / RUN_FILE
        if path.is_file():
            try:
                data = read_json(path)
            except ConfigError:
                return []
            return (
                [r for r in (data.get("metric_history") or []) if isinstance(r, dict)]
                if isinstance(data, dict)
                else []
            )
    return []

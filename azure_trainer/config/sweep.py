"""A sweep job, as Azure ML job YAML writes it (azure-ai-ml's ``SweepJobSchema``); imported only for sweeps.

``search_space`` maps each hyperparameter to a distribution; the trial's command refers to it as
``${{search_space.NAME}}``. Bounds mean what they mean to Azure ML: ``loguniform``'s ``min_value`` and
``max_value`` are natural-log exponents (the value is ``exp(uniform(min_value, max_value))``), ``lognormal``
is ``exp(normal(mu, sigma))``, and a ``q`` variant rounds to a multiple of ``q``. A ``choice`` may hold
mappings of nested distributions (a conditional space). The sampling rules Azure ML enforces when the sweep
is created (grid over choices only, Bayesian over choice/uniform/quniform without early termination)
are checked here, before anything is sent.
"""

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from .fields import IoName, NonBlank, Strict, camel_to_snake, enum
from .model import CommandFields, JobConfig, QueueSettings, Resources, TrialConfig

SAMPLING_ALGORITHMS = ("random", "grid", "bayesian")
_FIELDS = {  # the keys each distribution takes (azure-ai-ml's search space schemas)
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "loguniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "qlognormal": ("mu", "sigma", "q"),
}
Number = int | float


class SearchSpaceEntry(Strict):
    """One searched hyperparameter: a distribution and its parameters."""

    type: enum(*_FIELDS)
    values: list[Any] | None = Field(
        default=None,
        description="choice: the values (numbers, strings, or mappings of nested distributions).",
    )
    upper: int | None = Field(default=None, description="randint: values 0..upper-1.")
    min_value: Number | None = Field(
        default=None, description="uniform: the bound; loguniform: the exponent."
    )
    max_value: Number | None = Field(
        default=None, description="uniform: the bound; loguniform: the exponent."
    )
    mu: Number | None = None
    sigma: Number | None = None
    q: Number | None = Field(default=None, description="q variants: round to a multiple of q.")

    @field_validator("values")
    @classmethod
    def _values(cls, values: list[Any] | None) -> list[Any] | None:
        for value in values or []:
            if isinstance(value, bool) or not isinstance(value, (int, float, str, dict)):
                raise ValueError("choice values are numbers, strings or mappings (nested distributions)")
            if isinstance(value, dict):
                for nested in value.values():
                    if isinstance(nested, dict):
                        SearchSpaceEntry.model_validate(nested)
        return values

    @model_validator(mode="after")
    def _check(self) -> "SearchSpaceEntry":
        t = self.type
        wanted = _FIELDS[t]
        for stray in sorted(self.model_fields_set - {"type", *wanted}):
            raise ValueError(f"@{stray}: a {t} distribution takes {', '.join(wanted)}, not {stray}")
        for key in wanted:
            if getattr(self, key) is None:
                raise ValueError(f"@{key}: a {t} distribution needs {', '.join(wanted)}")
        if t == "choice" and not self.values:
            raise ValueError("@values: a choice needs a non-empty list of `values`")
        if t == "randint" and self.upper < 1:  # type: ignore[operator]
            raise ValueError("@upper: randint needs `upper` >= 1 (values 0..upper-1)")
        if "max_value" in wanted and self.min_value >= self.max_value:  # type: ignore[operator]
            raise ValueError(f"@max_value: must be greater than min_value ({self.min_value})")
        if "sigma" in wanted and self.sigma <= 0:  # type: ignore[operator]
            raise ValueError("@sigma: must be > 0")
        if "q" in wanted and self.q <= 0:  # type: ignore[operator]
            raise ValueError("@q: must be > 0")
        return self

    @property
    def is_nested(self) -> bool:
        """A choice of mappings (a conditional space)."""
        return self.type == "choice" and any(isinstance(v, dict) for v in self.values or [])


class SamplingAlgorithm(Strict):
    """The object form of ``sampling_algorithm``; ``seed``, ``logbase`` and ``rule`` belong to random."""

    type: enum(*SAMPLING_ALGORITHMS, transform=camel_to_snake)
    seed: int | None = None
    logbase: Number | str | None = Field(default=None, description="random: base of log distributions, or e.")
    rule: enum("random", "sobol", transform=camel_to_snake) | None = None

    @model_validator(mode="after")
    def _random_only(self) -> "SamplingAlgorithm":
        extra = sorted(self.model_fields_set & {"seed", "logbase", "rule"})
        if extra and self.type != "random":
            raise ValueError(f"@{extra[0]}: {extra[0]} belongs to random sampling, not {self.type}")
        if isinstance(self.logbase, str) and self.logbase != "e":
            raise ValueError("@logbase: a number > 0, or e")
        if isinstance(self.logbase, (int, float)) and self.logbase <= 0:
            raise ValueError("@logbase: a number > 0, or e")
        return self


def _sampling_kind(value: Any) -> str:
    return "object" if isinstance(value, (dict, SamplingAlgorithm)) else "name"


SamplingAlgorithmField = Annotated[
    Annotated[enum(*SAMPLING_ALGORITHMS), Tag("name")] | Annotated[SamplingAlgorithm, Tag("object")],
    Discriminator(_sampling_kind),
]


def sampling_type(value: str | SamplingAlgorithm | None) -> str:
    """``random``, ``grid`` or ``bayesian`` (Azure ML's default, random, when not given)."""
    if value is None:
        return "random"
    return value if isinstance(value, str) else value.type


class Objective(Strict):
    """The metric the sweep ranks trials by (one the script logs to MLflow)."""

    primary_metric: NonBlank = Field(description="Metric name the script logs (MLflow), e.g. val_accuracy.")
    goal: enum("maximize", "minimize", transform=camel_to_snake)


class EarlyTermination(Strict):
    """An early termination policy: bandit, median_stopping or truncation_selection."""

    type: enum("bandit", "median_stopping", "truncation_selection", transform=camel_to_snake)
    evaluation_interval: int | None = Field(default=None, ge=0)
    delay_evaluation: int | None = Field(default=None, ge=0)
    slack_factor: float | int | None = Field(default=None, ge=0)
    slack_amount: float | int | None = Field(default=None, ge=0)
    truncation_percentage: int | None = Field(default=None, ge=1, le=99)

    @model_validator(mode="after")
    def _check_policy(self) -> "EarlyTermination":
        own = {"bandit": {"slack_factor", "slack_amount"}, "truncation_selection": {"truncation_percentage"}}
        for key in ("slack_factor", "slack_amount", "truncation_percentage"):
            if key in self.model_fields_set and key not in own.get(self.type, set()):
                raise ValueError(f"@{key}: {key} does not belong to a {self.type} policy")
        if self.type == "bandit" and (self.slack_factor is None) == (self.slack_amount is None):
            raise ValueError(
                "@slack_factor: a bandit policy needs exactly one of slack_factor or slack_amount"
            )
        if self.type == "truncation_selection" and self.truncation_percentage is None:
            raise ValueError(
                "@truncation_percentage: truncation selection needs truncation_percentage (1-99)"
            )
        return self


class SweepLimits(Strict):
    """How many trials, how many at once, and time limits (seconds)."""

    max_total_trials: int = Field(ge=1)
    max_concurrent_trials: int | None = Field(default=None, ge=1)
    timeout: int | None = Field(default=None, ge=1, description="Seconds for the whole sweep.")
    trial_timeout: int | None = Field(default=None, ge=1, description="Seconds per trial.")


def sampling_problem(
    sampling: str, search_space: dict[str, SearchSpaceEntry], early_termination: EarlyTermination | None
) -> tuple[str, str] | None:
    """``(key path, message)`` for a search the sampling algorithm cannot run (Azure ML refuses it when the
    sweep is created), or None."""
    for key, entry in search_space.items():
        if sampling == "grid" and entry.type != "choice":
            return (
                f"search_space.{key}.type",
                f"grid sampling needs `choice` values, not a continuous {entry.type} range; "
                "use random or bayesian sampling",
            )
        if sampling == "bayesian" and entry.type not in ("choice", "uniform", "quniform"):
            return (
                f"search_space.{key}.type",
                "bayesian sampling supports choice, uniform and quniform only",
            )
    if sampling == "bayesian" and early_termination is not None:
        return ("early_termination", "bayesian sampling does not support early termination")
    return None


class SweepJobConfig(JobConfig):
    """An Azure ML sweep job (``type: sweep``): ``trial`` runs once per sampled point of ``search_space``."""

    type: Literal["sweep"]
    trial: TrialConfig
    search_space: dict[IoName, SearchSpaceEntry]
    sampling_algorithm: SamplingAlgorithmField | None = None
    objective: Objective
    early_termination: EarlyTermination | None = None
    limits: SweepLimits
    resources: Resources | None = Field(
        default=None, description="The sweep's own resources (see trial.resources)."
    )
    queue_settings: QueueSettings | None = None

    @property
    def runs(self) -> CommandFields:
        return self.trial

    @property
    def sampling(self) -> str:
        return sampling_type(self.sampling_algorithm)

    @model_validator(mode="after")
    def _check_search(self) -> "SweepJobConfig":
        if not self.search_space:
            raise ValueError("@search_space: give at least one hyperparameter to search")
        problem = sampling_problem(self.sampling, self.search_space, self.early_termination)
        if problem is not None:
            raise ValueError(f"@{problem[0]}: {problem[1]}")
        return self

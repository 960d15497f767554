"""A job's inputs and outputs, as Azure ML job YAML writes them (azure-ai-ml's ``InputsField`` and
``OutputsField``), plus ``local_path`` on an input: where ``run-local`` finds it on this machine.

A literal input is its value (``epochs: 10``) or ``{value: 10}``; a data input is a mapping with a
``path`` (``uri_folder``, ``uri_file``, ``mltable`` or a model type). An optional input is not declared:
the command refers to it inside ``$[[...]]``, and Azure ML drops that block when it is not given.
"""

from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator

from .fields import NonBlank, PathText, Strict, Stringified, enum

LITERAL_TYPES = ("string", "integer", "number", "boolean")
DATA_TYPES = ("uri_folder", "uri_file", "mltable", "custom_model", "mlflow_model", "triton_model")
_MODES = {  # what azure-ai-ml's Data/Model/MLTable input schemas allow
    "mltable": ("ro_mount", "download", "direct", "eval_mount", "eval_download"),
}
_DEFAULT_MODES = ("ro_mount", "download", "direct")
OUTPUT_TYPES = ("uri_folder", "uri_file", "mltable", "custom_model", "mlflow_model", "triton_model")


def literal_type(value: Any) -> str:
    """The Azure ML literal type of a YAML scalar: boolean, integer, number or string."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


class InputConfig(Strict):
    """A job input: data (a path, with a type and mode) or a literal value."""

    type: enum(*DATA_TYPES, *LITERAL_TYPES) = Field(
        default="uri_folder",
        description="uri_folder (default), uri_file, mltable, custom_model, mlflow_model, triton_model. "
        "Literal inputs are written as their value.",
    )
    path: PathText | None = Field(
        default=None,
        description="azureml:NAME:VERSION, azureml:NAME@latest, azureml://datastores/..., https://..., "
        "wasbs://..., or a local path (relative to the job file; uploaded at submit).",
    )
    mode: enum("ro_mount", "download", "direct", "eval_mount", "eval_download") | None = None
    path_on_compute: NonBlank | None = None
    datastore: NonBlank | None = None
    local_path: PathText | None = Field(
        default=None,
        description="azure-trainer: the file or folder run-local uses for this input (relative to the job file).",
    )
    value: str | bool | int | float | None = Field(default=None, description="A literal input's value.")

    _written_as_value: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _literal(cls, data: Any, handler: Any) -> Any:
        as_value = isinstance(data, dict) and "value" in data
        if not isinstance(data, dict):
            data = {"value": data, "type": literal_type(data)}  # `epochs: 10`
        elif as_value:  # `epochs: {value: 10}`
            others = sorted(set(data) - {"value"})
            if others:
                raise ValueError(
                    f"@{others[0]}: a literal input takes only `value` (write it as `NAME: VALUE`); "
                    "`type`, `path` and `mode` are for data inputs"
                )
            data = {**data, "type": literal_type(data["value"])}
        item = handler(data)
        item._written_as_value = as_value
        return item

    @field_validator("value")
    @classmethod
    def _value_set(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("a literal input needs a value")
        return value

    @model_validator(mode="after")
    def _value_as_azure_reads_it(self) -> "InputConfig":
        # azure-ai-ml reads `{value: X}` as the first of str, bool, int, float that accepts X: 0.5 becomes
        # 0 and 1 becomes True on Azure ML. Refuse rather than run another value there than here.
        if self._written_as_value and not isinstance(self.value, (str, bool)):
            read = bool(self.value) if self.value in (0, 1) else int(self.value)
            if read != self.value or type(read) is not type(self.value):
                raise ValueError(
                    f"@value: azure-ai-ml reads {{value: {self.value}}} as {read!r} (it tries booleans and "
                    f"integers before numbers); write the input as its value, `NAME: {self.value}`"
                )
        return self

    @model_validator(mode="after")
    def _check(self) -> "InputConfig":
        if self.is_literal:
            if self.value is None:
                raise ValueError(
                    f"@type: {self.type} is not an input type of an Azure ML job; a literal input is written "
                    "as its value: `NAME: 5` or `NAME: {value: 5}`"
                )
            return self
        allowed = _MODES.get(self.type, _DEFAULT_MODES)
        if self.mode is not None and self.mode not in allowed:
            raise ValueError(f"@mode: a {self.type} input's mode is one of {', '.join(allowed)}")
        if self.path_on_compute is not None and self.type not in ("uri_folder", "uri_file", "mltable"):
            raise ValueError(f"@path_on_compute: a {self.type} input has no path_on_compute")
        if self.path is None:
            if self.local_path is not None:
                raise ValueError(
                    "@path: `local_path` is for an input whose `path` is on Azure ML; for local data "
                    "write `path: LOCAL_PATH` (run-local uses it, submit uploads it)"
                )
            raise ValueError("@path: give the input a `path` (where Azure ML reads it)")
        return self

    @property
    def is_literal(self) -> bool:
        return self.type in LITERAL_TYPES

    @property
    def written_as_value(self) -> bool:
        """A literal written ``{value: X}`` rather than as the bare value."""
        return self._written_as_value


class OutputConfig(Strict):
    """A job output; ``${{outputs.NAME}}`` in the command is its path at run time. ``NAME:`` alone (null)
    is an output with Azure ML's defaults (a uri_folder on the workspace's datastore)."""

    type: enum(*OUTPUT_TYPES) = "uri_folder"
    path: NonBlank | None = Field(default=None, description="azureml://datastores/... destination.")
    mode: enum("rw_mount", "upload", "mount", "direct") | None = None
    name: NonBlank | None = Field(default=None, description="Register the output as this data/model asset.")
    version: Stringified | None = None

    @property
    def is_default(self) -> bool:
        """Written as ``NAME:`` (or ``{}``): nothing set."""
        return not self.model_fields_set

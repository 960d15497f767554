"""An Azure ML environment definition: written inline in a job (``environment: {image: ...}``) or in the
YAML file a ``file:`` reference names.

These are the keys azure-ai-ml's ``AnonymousEnvironmentSchema`` reads for a job's environment (a job's
environment is registered anonymously, so a ``name``/``version`` in it is read and then not used, as
``az ml`` does). The model adds the one check the SDK only makes at submit time: exactly one of ``image``
and ``build``. A reference to a registered environment is a string, checked in :mod:`.model`.
"""

from typing import Any

from pydantic import Field, model_validator

from .fields import NonBlank, PathText, Strict, Stringified, enum


class BuildContext(Strict):
    """A Docker build context: a local folder (or URL) holding a Dockerfile."""

    path: PathText = Field(
        description="Folder (relative to the file it is written in) or URL of the context."
    )
    dockerfile_path: NonBlank | None = Field(default=None, description="Dockerfile inside the context.")


class EnvironmentConfig(Strict):
    """An environment's definition: a Docker ``image`` or ``build`` context, with an optional conda file."""

    schema_: str | None = Field(default=None, alias="$schema")
    name: NonBlank | None = Field(
        default=None, description="Read but not used: a job's environment is registered anonymously."
    )
    version: Stringified | None = None
    description: str | None = None
    tags: dict[str, Stringified] | None = None
    properties: dict[str, Stringified] | None = None
    image: NonBlank | None = Field(
        default=None, description="Docker image, e.g. mcr.microsoft.com/azureml/..."
    )
    build: BuildContext | None = None
    conda_file: PathText | dict[str, Any] | None = Field(
        default=None, description="Conda file: a path (relative to the file it is written in) or inline."
    )
    os_type: enum("linux", "windows") | None = None
    datastore: NonBlank | None = None
    inference_config: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_a_conda_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("dependencies" in data or "channels" in data):
            raise ValueError(
                "this is a conda file, not an environment: write `conda_file: FILE` (and an `image`) "
                "in the environment instead"
            )
        return data

    @model_validator(mode="after")
    def _image_or_build(self) -> "EnvironmentConfig":
        if (self.image is None) == (self.build is None):
            raise ValueError(
                "@image: an environment needs exactly one of `image` (a Docker image) or `build` "
                "(a Docker build context)" + (", not both" if self.image is not None else "")
            )
        return self

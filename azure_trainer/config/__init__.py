"""The job config layer: YAML in, a validated :class:`JobConfig` out. Imports neither azure.ai.ml nor torch."""

from .._pydantic import skip_plugin_discovery

skip_plugin_discovery()  # before the first validator is built

from .loader import load_config, validate_config  # noqa: E402
from .model import JobConfig  # noqa: E402

__all__ = ["JobConfig", "load_config", "validate_config"]

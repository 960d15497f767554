"""The job config layer: YAML in, a validated :class:`JobConfig` out. Imports neither azure.ai.ml nor torch."""

from .loader import load_config, validate_config
from .model import JobConfig

__all__ = ["JobConfig", "load_config", "validate_config"]

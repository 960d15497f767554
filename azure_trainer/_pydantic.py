"""The one use of a pydantic internal, in one place: skip plugin discovery when plugins are off.

pydantic looks for plugins when it builds its first validator, by importing ``pydantic.plugin._loader``,
which imports ``importlib.metadata`` (and through it email, zipfile, csv, socket, ...): about 15 ms of
``validate``'s start-up, spent even when ``PYDANTIC_DISABLE_PLUGINS`` says there are none. With plugins
off, ``get_plugins()`` returns nothing, so a stand-in module that returns nothing behaves the same. The
CLI installs it unconditionally (our models need no plugins) without setting the variable, which the
processes it starts (run-local's script) would inherit. pydantic is capped below 3 in pyproject.toml;
its only use of the module is ``from ._loader import get_plugins`` (pydantic/plugin/_schema_validator.py).
"""

from __future__ import annotations

import os
import sys
import types

_LOADER = "pydantic.plugin._loader"


def skip_plugin_discovery(*, force: bool = False) -> None:
    """Stand in for pydantic's plugin loader when ``PYDANTIC_DISABLE_PLUGINS`` disables all plugins (or
    ``force``: this process needs none), unless pydantic has loaded it already."""
    disabled = force or os.environ.get("PYDANTIC_DISABLE_PLUGINS") in ("__all__", "1", "true")
    if not disabled or _LOADER in sys.modules:
        return
    loader = types.ModuleType(_LOADER, "azure-trainer's stand-in: plugins are disabled, none are loaded")
    loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
    sys.modules[_LOADER] = loader

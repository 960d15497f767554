"""Shared fixtures: the in-process fake Azure ML and a real MLClient over it."""

from __future__ import annotations

import os

import pytest

from azure_trainer.testing import FakeAzureML, block_network


def pytest_configure(config):
    # mlflow (a dev dependency) takes seconds to import in every training run the suite starts, and
    # without a tracking server it has nowhere to write: tracking is off unless a test turns it on
    # (tests/test_train_script.py::test_metrics_reach_mlflow_under_the_same_names does).
    os.environ.setdefault("TRAIN_DISABLE_MLFLOW", "1")
    # validate caches each script's --help (azure_trainer/checks/script_args.py): never in the user's ~/.cache
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="azt-test-cache-")


@pytest.fixture
def fake():
    """A FakeAzureML with the SDK's blob client routed to it; fails the test if anything reached the network
    or asked for a route the fake does not serve."""
    f = FakeAzureML()
    with block_network() as attempts, f.patch_sdk():
        yield f
        assert attempts == [], f"something bypassed the fake transport: {attempts}"
    assert f.unhandled == [], f"requests the fake did not serve: {f.unhandled}"


@pytest.fixture
def ml(fake):
    """The real azure.ai.ml MLClient, talking to ``fake``."""
    return fake.ml_client()

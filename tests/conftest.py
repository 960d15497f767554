"""Shared fixtures: the in-process fake Azure ML and a real MLClient over it."""

from __future__ import annotations

import pytest

from azure_trainer.testing import FakeAzureML, block_network


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

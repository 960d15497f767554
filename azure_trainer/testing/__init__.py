"""Test doubles for Azure ML, shipped with the package (like ``httpx.MockTransport``).

* :class:`FakeAzureML` – an azure-core transport serving the Azure ML REST API (ARM, registry, run history,
  blob storage) in-process, for the *real* ``azure.ai.ml.MLClient``.
* :class:`FakeMLClient` – a duck-typed stand-in for ``MLClient`` for fast tests above the SDK.
* :class:`FakeCredential` / :class:`FailingCredential` – token credentials (always works / "not logged in").
"""

from ._blobstore import FakeBlobStore
from ._http import FakeResponse, RecordedRequest
from .credentials import FailingCredential, FakeCredential
from .fake_azureml import FakeAzureML, azure_error
from .fake_mlclient import Call, FakeEntity, FakeMLClient, FakePoller, JobStatus
from .network import block_network

__all__ = [
    "Call",
    "FakeAzureML",
    "FakeEntity",
    "FakeMLClient",
    "FakePoller",
    "JobStatus",
    "block_network",
    "FakeBlobStore",
    "FakeCredential",
    "FailingCredential",
    "FakeResponse",
    "RecordedRequest",
    "azure_error",
]

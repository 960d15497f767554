"""The fake Azure ML, shipped with the package (like ``httpx.MockTransport``).

* :class:`FakeAzureML` – an azure-core transport serving the Azure ML REST API (ARM, registry, run
  history, MLflow, blob storage) in-process, for the *real* ``azure.ai.ml.MLClient``; split by resource
  in ``_state``, ``_compute``, ``_assets``, ``_jobs``, ``_runs``, ``_mlflow``, ``_blobstore``,
  ``_paging`` and ``_http``.
* :class:`FakeCredential` / :class:`FailingCredential` – token credentials (always works / "not logged in").
* :class:`FolderStore` – keeps a fake in a folder, shared by processes (the offline workspace's).
* :func:`block_network` – proves nothing bypassed the fake.
"""

from ._blobstore import FakeBlobStore
from ._http import FakeResponse, RecordedRequest, azure_error
from ._state import FakeState
from ._store import FolderStore, StoreError
from .credentials import FailingCredential, FakeCredential
from .fake_azureml import FakeAzureML
from .network import block_network

__all__ = [
    "FailingCredential",
    "FakeAzureML",
    "FakeBlobStore",
    "FakeCredential",
    "FakeResponse",
    "FakeState",
    "FolderStore",
    "RecordedRequest",
    "StoreError",
    "azure_error",
    "block_network",
]

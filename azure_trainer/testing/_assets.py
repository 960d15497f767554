"""Assets of the fake: the workspace itself, environments (workspace and registry), datastores and code
versions with their pending upload (ARM, and the registry's data plane)."""

from __future__ import annotations

import base64
import copy
import re
import uuid
from typing import Any

from ._http import FakeResponse, RecordedRequest, azure_error
from ._state import STORAGE_ACCOUNT, TENANT_ID, FakeState, system_data

FAKE_ACCOUNT_KEY = base64.b64encode(b"fake-storage-account-key-0123456789").decode()


def environment_body(
    state: FakeState,
    name: str,
    version: str = "1",
    *,
    image: str | None = None,
    conda_file: str | None = None,
    registry: str | None = None,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A workspace environment version (``Workspace/EnvironmentVersion/get.json``, 2023-04-01-preview), or
    (``registry=NAME``) a registry one."""
    if registry:
        rid = f"azureml://registries/{registry}/environments/{name}/versions/{version}"
        kind = "Microsoft.MachineLearningServices/registries/environments/versions"
    else:
        rid = f"{state.workspace_arm_id}/environments/{name}/versions/{version}"
        kind = "Microsoft.MachineLearningServices/workspaces/environments/versions"
    return {
        "id": rid,
        "name": version,
        "type": kind,
        "properties": {
            "description": description,
            "tags": dict(tags or {}),
            "properties": {},
            "isAnonymous": False,
            "environmentType": "Curated" if registry else "UserCreated",
            "image": image,
            "condaFile": conda_file,
            "build": None,
            "inferenceConfig": None,
        },
        "systemData": system_data(),
    }


def datastore_body(
    state: FakeState, name: str, container: str, *, default: bool = False, account: str = STORAGE_ACCOUNT
) -> dict[str, Any]:
    """An AzureBlob datastore with account-key credentials (``Datastore/get.json``, 2024-10-01-preview)."""
    return {
        "id": f"{state.workspace_arm_id}/datastores/{name}",
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/datastores",
        "properties": {
            "description": None,
            "tags": {},
            "isDefault": default,
            "properties": None,
            "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey"}},
            "datastoreType": "AzureBlob",
            "accountName": account,
            "containerName": container,
            "endpoint": "core.windows.net",
            "protocol": "https",
        },
        "systemData": system_data(),
    }


class AssetService:
    """Workspace GET, environments, registries, datastores and code versions."""

    def __init__(self, state: FakeState) -> None:
        self.state = state

    def install(self, add: Any, ws: str, reg: str, seg: Any) -> None:
        add("GET", ws, self.get_workspace)
        env = ws + "/environments/" + seg("name") + "/versions"
        add("GET", env, self.list_env_versions)
        add("GET", env + "/" + seg("version"), self.get_env_version)
        add("PUT", env + "/" + seg("version"), self.put_env_version)
        add("GET", ws + "/datastores", self.list_datastores)
        add("GET", ws + "/datastores/" + seg("name"), self.get_datastore)
        add("POST", ws + "/datastores/" + seg("name") + "/listSecrets", self.list_secrets)
        code = ws + "/codes/" + seg("name") + "/versions"
        add("GET", code, self.list_code_versions)
        add("GET", code + "/" + seg("version"), self.get_code_version)
        add("PUT", code + "/" + seg("version"), self.put_code_version)
        add("POST", code + "/" + seg("version") + "/startPendingUpload", self.start_pending_upload)
        add(
            "GET",
            r"/registrymanagement/v1\.0/registries/" + seg("reg") + "/discovery",
            self.registry_discovery,
        )
        reg_env = r"/mferp/managementfrontend" + reg + "/environments/" + seg("name") + "/versions"
        add("GET", reg_env, self.list_registry_env_versions)
        add("GET", reg_env + "/" + seg("version"), self.get_registry_env_version)

    # -- the workspace --
    def get_workspace(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        """``Workspace/get.json`` (2024-10-01-preview); ``workspaceId`` and ``mlFlowTrackingUri`` are
        read-only fields of the schema the example leaves out (azure-ai-ml reads them)."""
        err = self.state.scope_error(sub, rg, ws)
        if err:
            return err
        state, loc, arm = self.state, self.state.location, self.state.workspace_arm_id
        providers = f"{state.rg_id}/providers"
        return FakeResponse(
            200,
            {
                "id": arm,
                "name": state.workspace_name,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": loc,
                "identity": {
                    "principalId": str(uuid.UUID(int=1)),
                    "tenantId": TENANT_ID,
                    "type": "SystemAssigned",
                },
                "properties": {
                    "keyVault": f"{providers}/Microsoft.KeyVault/vaults/fakekeyvault",
                    "applicationInsights": f"{providers}/microsoft.insights/components/fakeappinsights",
                    "storageAccount": f"{providers}/Microsoft.Storage/storageAccounts/{STORAGE_ACCOUNT}",
                    "discoveryUrl": f"https://{loc}.api.azureml.ms/discovery",
                    "friendlyName": state.workspace_name,
                    "description": "FakeAzureML workspace",
                    "hbiWorkspace": False,
                    "privateLinkCount": 0,
                    "allowPublicAccessWhenBehindVnet": False,
                    "publicNetworkAccess": "Enabled",
                    "managedNetwork": {"isolationMode": "Disabled", "outboundRules": {}},
                    "workspaceId": state.workspace_id,
                    "mlFlowTrackingUri": f"azureml://{loc}.api.azureml.ms/mlflow/v1.0{arm}",
                },
            },
        )

    # -- environments --
    def _env_404(self, name: str, version: str, where: str) -> FakeResponse:
        return azure_error(
            404, "UserError", f"Could not find asset with ID: {where}/environments/{name}/versions/{version}"
        )

    def list_env_versions(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        versions = self.state.environments.get(name, {})
        return FakeResponse(200, {"value": order_versions(versions, rec), "nextLink": None})

    def get_env_version(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        res = self.state.environments.get(name, {}).get(version)
        return FakeResponse(200, res) if res else self._env_404(name, version, self.state.workspace_arm_id)

    def put_env_version(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        props = (rec.json or {}).get("properties", {})
        res = environment_body(
            self.state,
            name,
            version,
            image=props.get("image"),
            conda_file=props.get("condaFile"),
            description=props.get("description") or "",
            tags=props.get("tags"),
        )
        self.state.environments.setdefault(name, {})[version] = res
        return FakeResponse(201, res)

    def registry_discovery(self, rec: RecordedRequest, reg: str) -> FakeResponse:
        loc = self.state.location
        return FakeResponse(
            200,
            {
                "registryName": reg,
                "primaryRegion": loc,
                "regions": [loc],
                "subscriptionId": self.state.subscription_id,
                "resourceGroup": f"registry-{reg}-rg",
                "primaryRegionResourceProviderUri": f"https://cert-{loc}.experiments.azureml.net/",
                "registryFqdns": {loc: {"api": f"https://{loc}.api.azureml.ms"}},
                "registryId": str(uuid.UUID(int=0xABC)),
            },
        )

    def list_registry_env_versions(
        self, rec: RecordedRequest, sub: str, rg: str, reg: str, name: str
    ) -> FakeResponse:
        versions = self.state.registry_environments.get(reg, {}).get(name, {})
        return FakeResponse(200, {"value": order_versions(versions, rec), "nextLink": None})

    def get_registry_env_version(
        self, rec: RecordedRequest, sub: str, rg: str, reg: str, name: str, version: str
    ) -> FakeResponse:
        res = self.state.registry_environments.get(reg, {}).get(name, {}).get(version)
        return FakeResponse(200, res) if res else self._env_404(name, version, f"azureml://registries/{reg}")

    # -- datastores --
    def list_datastores(self, rec: RecordedRequest, sub: str, rg: str, ws: str) -> FakeResponse:
        values = list(self.state.datastores.values())
        if rec.query.get("isDefault", "").lower() == "true":
            values = [d for d in values if d["properties"]["isDefault"]]
        return FakeResponse(200, {"value": values, "nextLink": None})

    def get_datastore(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        if name not in self.state.datastores:
            return azure_error(404, "UserError", f"Datastore {name} not found in workspace {ws}.")
        return FakeResponse(200, self.state.datastores[name])

    def list_secrets(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        return FakeResponse(200, {"secretsType": "AccountKey", "key": FAKE_ACCOUNT_KEY})

    # -- code assets --
    def list_code_versions(self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str) -> FakeResponse:
        content_hash = rec.query.get("hash")
        if content_hash:
            # The service dedupes snapshots by content hash across *all* code assets (the SDK names anonymous
            # code with a fresh uuid and parses name/version back from the returned id).
            versions = [
                v
                for by_version in self.state.codes.values()
                for v in by_version.values()
                if str(v["properties"].get("properties", {}).get("hash_sha256")) == content_hash
            ]
        else:
            versions = list(self.state.codes.get(name, {}).values())
        return FakeResponse(200, {"value": versions, "nextLink": None})

    def get_code_version(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        res = self.state.codes.get(name, {}).get(version)
        if not res:
            return azure_error(
                404,
                "UserError",
                f"Could not find asset with ID: {self.state.workspace_arm_id}/codes/{name}/versions/{version}",
            )
        return FakeResponse(200, res)

    def put_code_version(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        body = copy.deepcopy(rec.json or {})
        props = body.setdefault("properties", {})
        for key, default in (("description", None), ("tags", {}), ("properties", {}), ("isAnonymous", False)):
            props.setdefault(key, default)
        res = {  # Workspace/CodeVersion/createOrUpdate.json (2023-04-01): the properties sent, echoed
            "id": f"{self.state.workspace_arm_id}/codes/{name}/versions/{version}",
            "name": version,
            "type": "Microsoft.MachineLearningServices/workspaces/codes/versions",
            "properties": props,
            "systemData": system_data(),
        }
        existed = version in self.state.codes.get(name, {})
        self.state.codes.setdefault(name, {})[version] = res
        return FakeResponse(200 if existed else 201, res)

    def start_pending_upload(
        self, rec: RecordedRequest, sub: str, rg: str, ws: str, name: str, version: str
    ) -> FakeResponse:
        asked = rec.json or {}
        upload_id = asked.get("pendingUploadId") or uuid.uuid4().hex
        # a fresh container per upload with a container SAS, as the service does
        blob_uri = f"https://{STORAGE_ACCOUNT}.blob.core.windows.net/{uuid.uuid4().hex}"
        sas = "sv=2021-10-04&se=2099-01-01T00%3A00%3A00Z&sr=c&sp=rcwl&sig=ZmFrZQ%3D%3D"
        return FakeResponse(  # Workspace/CodeVersion/createOrGetStartPendingUpload.json (2023-04-01)
            200,
            {
                "pendingUploadId": upload_id,
                "pendingUploadType": asked.get("pendingUploadType", "TemporaryBlobReference"),
                "blobReferenceForConsumption": {
                    "blobUri": blob_uri,
                    "storageAccountArmId": f"{self.state.rg_id}"
                    f"/providers/Microsoft.Storage/storageAccounts/{STORAGE_ACCOUNT}",
                    "credential": {"credentialType": "SAS", "sasUri": f"{blob_uri}?{sas}"},
                },
            },
        )


def order_versions(versions: dict[str, dict[str, Any]], rec: RecordedRequest) -> list[dict[str, Any]]:
    """Versions newest first (what the SDK asks for with ``$orderBy=createdtime desc``), ``$top`` of them."""
    values = sorted(
        versions.values(), key=lambda r: (r["systemData"]["createdAt"], _version_key(r["name"])), reverse=True
    )
    top = rec.query.get("$top")
    return values[: int(top)] if top else values


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.\-]", version))

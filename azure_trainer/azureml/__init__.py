"""The Azure ML side of a :class:`~azure_trainer.planning.spec.JobSpec`: the job built with azure-ai-ml
(build, document, sweep; ``export``), the code snapshot, preflight (compute, quota, cost, environment),
submit and the job lifecycle, the workspace and its credential, and the offline workspace.

Everything that calls Azure does it through an injected ``MLClient`` (tests pass the real client over
the fake); ``ml_client=None`` builds the real one lazily with DefaultAzureCredential. The secrets and
snapshot checks (:mod:`.offline_findings`) and the CLI v2 document need no Azure and no azure.ai.ml;
every use of azure-ai-ml's internals is in :mod:`._sdk`.
"""

"""The Azure ML side: workspace and credentials, preflight checks, submit and the job lifecycle.

Everything here talks to Azure through an injected ``MLClient`` (tests pass a fake); ``ml_client=None``
builds the real one lazily with DefaultAzureCredential.
"""

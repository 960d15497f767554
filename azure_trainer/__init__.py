"""azure-trainer: bring back ``use_gpu`` for PyTorch jobs on Azure ML (SDK v2)."""

__version__ = "0.1.0"

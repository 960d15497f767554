"""Checks that need no Azure (``validate``, the start of ``submit``): see :mod:`.offline`.

Light on purpose: nothing here imports azure.ai.ml or torch, so ``validate`` stays fast.
"""

from .offline import OfflineReport, offline_checks

__all__ = ["OfflineReport", "offline_checks"]
